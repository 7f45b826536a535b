/**
 * The local main job: `nasflow search`, `resume`, `list`, `status`,
 * `export`, `report`. Embedded stores live in one folder (`--home`, env
 * NASFLOW_HOME, default `./.nasflow`): `nasflow.db` (SQLite) and `artifacts/`.
 */
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { experimentImportance, experimentInsights } from '../shared/analysis/insights.js';
import { DataError, isUserError, LeaseHeldError, printable, SpecError } from '../shared/errors.js';
import type { Experiment, Trial } from '../shared/experiment/model.js';
import { buildReport } from '../shared/report/report.js';
import { renderHtml } from '../shared/report/html.js';
import { progressSnapshot, ProgressDisplay } from '../shared/report/progress.js';
import type { Evaluator } from '../shared/runner/evaluator.js';
import { ProcessPoolEvaluator } from '../shared/runner/pool-evaluator.js';
import { failSearch, runExperiment } from '../shared/runner/search.js';
import { costModelOf } from '../shared/steps/estimate.js';
import { submitExperiment } from '../shared/steps/submit.js';
import { TableTrialEvaluator } from '../shared/runner/table-evaluator.js';
import { fidelityOf, parseExperimentSpec, type ExperimentSpec } from '../shared/spec/experiment.js';
import { datasetFileIssues, unbuildableSpace } from '../shared/spec/preflight.js';
import { requestStop } from '../shared/steps/stop.js';
import { listAllTrials, type ExperimentStore } from '../shared/store/experiment-store.js';
import { SqliteExperimentStore } from '../shared/store/sqlite.js';
import { FsArtifactStore } from '../shared/train/ports.js';
import { exportEnsemble } from './export-ensemble.js';
import { positiveFlag } from './flags.js';
import { writeTrialsFile } from './transfer.js';
import { readSpecFile } from './space.js';

interface HomeFlags {
  home?: string;
}

export function homeOf(flags: HomeFlags): string {
  return resolve(flags.home ?? process.env.NASFLOW_HOME ?? '.nasflow');
}

/** How the user named the home, for an error: the flag, the environment variable, or the default. */
function homeNamed(flags: HomeFlags, home: string): string {
  if (flags.home !== undefined) return `--home ${home}`;
  if (process.env.NASFLOW_HOME !== undefined) return `NASFLOW_HOME ${home}`;
  return `--home ${home} (the default, ./.nasflow)`;
}

/**
 * The store of a command that only acts on experiments already stored
 * (list, status, report, export, stop, resume): a home without one is a
 * mistyped path, so it is refused naming the path, and nothing is created.
 */
export function openExistingStore(flags: HomeFlags, command: string): SqliteExperimentStore {
  const home = homeOf(flags);
  const named = homeNamed(flags, home);
  const makeOne = `nasflow search SPEC${flags.home !== undefined ? ` --home ${home}` : ''} makes one`;
  if (!existsSync(home)) throw new DataError(`${named}: no such folder; ${command} reads an existing store and creates nothing (${makeOne})`);
  if (!statSync(home).isDirectory()) throw new DataError(`${named}: not a folder (the stores live in a folder: nasflow.db and artifacts/)`);
  if (!existsSync(join(home, 'nasflow.db'))) throw new DataError(`${named}: no nasflow store in this folder (no nasflow.db); ${command} creates nothing (${makeOne})`);
  return openStore(home);
}

/** A `--home` that exists must be a folder: checked before anything is started or created. */
function checkHome(home: string): void {
  if (existsSync(home) && !statSync(home).isDirectory()) throw new DataError(`--home ${home}: not a folder (the stores live in a folder: nasflow.db and artifacts/)`);
}

/** The SQLite store in `home`; a folder that cannot hold it or a file that is not one is a DataError naming it. */
export function openStore(home: string): SqliteExperimentStore {
  checkHome(home);
  const db = join(home, 'nasflow.db');
  try {
    return new SqliteExperimentStore(db);
  } catch (e) {
    const code = (e as { code?: unknown }).code ?? ((e as { cause?: { code?: unknown } }).cause)?.code;
    if (typeof code === 'string' && /^SQLITE_(NOTADB|CORRUPT)/.test(code)) throw new DataError(`${db}: not a nasflow store (SQLite: ${code === 'SQLITE_NOTADB' ? 'file is not a database' : 'the database is corrupt'}); move it away or use another --home`);
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new DataError(`--home ${home}: cannot create the store there (${code})`);
    throw e;
  }
}

/** The evaluator a spec asks for: the table, or real training in `workers` worker processes. */
export function evaluatorFor(spec: ExperimentSpec, home: string, workers: number): Evaluator {
  const d = spec.dataset;
  if (d.source === 'table') return new TableTrialEvaluator(d, spec.compiledSpace, spec.seed);
  const rungs = fidelityOf(spec).rungs;
  return new ProcessPoolEvaluator({ workers, artifacts: join(home, 'artifacts'), data: { ...d, seed: spec.seed }, seed: spec.seed, finalEpochs: Math.max(...rungs), costModel: costModelOf(spec) });
}

/** The experiment named, or the newest one. */
async function pick(store: ExperimentStore, id: string | undefined): Promise<Experiment> {
  if (id) {
    const e = await store.getExperiment(id);
    if (!e) throw new DataError(`no experiment "${id}" in this store (nasflow list shows them)`);
    return e;
  }
  const [latest] = await store.listExperiments({ limit: 1 });
  if (!latest) throw new DataError('no experiments yet: start one with nasflow search SPEC');
  return latest;
}

async function writeReports(store: ExperimentStore, home: string, exp: Experiment): Promise<string> {
  const trials = await listAllTrials(store, exp.id);
  const report = buildReport(exp, trials);
  const insights = await experimentInsights(exp, trials, new FsArtifactStore(join(home, 'artifacts')));
  const dir = join(home, 'reports', exp.id);
  mkdirSync(dir, { recursive: true });
  const put = (name: string, text: string) => {
    const tmp = join(dir, `.${name}.tmp`);
    writeFileSync(tmp, text);
    renameSync(tmp, join(dir, name));
  };
  put('report.json', JSON.stringify({ ...report, insights }, null, 1) + '\n');
  put('report.html', renderHtml(report, trials, { insights }));
  return dir;
}

/** The exit code of a process ended by a signal, as a shell reports it (128 + its number). */
const SIGNAL_EXIT: Readonly<Record<'SIGINT' | 'SIGTERM', number>> = { SIGINT: 130, SIGTERM: 143 };

/**
 * Runs a stored search with the progress display. The first SIGINT (Ctrl-C)
 * or SIGTERM interrupts it cleanly — nothing new starts, running trials stop
 * at a checkpoint, the search ends STOPPED and `nasflow resume` continues it
 * — and the command exits 130 or 143; a second one exits at once (the
 * search is then left as a kill -9 leaves it, which `resume` also continues).
 */
async function runWithProgress(store: ExperimentStore, home: string, exp: Experiment, workersFlag: string | undefined, built?: Evaluator): Promise<void> {
  let spec: ExperimentSpec;
  let workers: number;
  let evaluator: Evaluator;
  try {
    spec = parseExperimentSpec(exp.spec);
    workers = spec.parallel ?? (workersFlag ? positiveFlag('--workers', workersFlag) : availableParallelism());
    evaluator = built ?? evaluatorFor(spec, home, workers);
  } catch (e) {
    // A stored search that cannot start (a spec stored past validation, its data gone) ends FAILED with the reason, not left as it was.
    if (isUserError(e) && !(e instanceof SpecError && e.issues.some((i) => i.path === '--workers'))) await failSearch(store, exp.id, `cli:${process.pid}`, e.message);
    throw e;
  }
  const display = new ProgressDisplay(process.stderr, { objectives: spec.objectives });
  let current = exp;
  const trials = new Map<string, Trial>();
  const snap = () => progressSnapshot(current, [...trials.values()], { objectives: spec.objectives, limits: { ...spec.budget, ...(spec.budget.minutes !== undefined ? { wallClockSeconds: spec.budget.minutes * 60 } : {}) }, nowMs: Date.now() });
  const interrupt = new AbortController();
  let interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;
  const resumeHint = `nasflow resume ${exp.id}${home === homeOf({}) ? '' : ` --home ${home}`}`;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interruptedBy !== undefined) {
      display.log(`${signal} again: exiting now; \`${printable(resumeHint)}\` continues the search from its last checkpoints`);
      process.exit(SIGNAL_EXIT[signal]);
    }
    interruptedBy = signal;
    display.log(`${signal}: stopping — nothing new starts, running trials stop at their next checkpoint (${signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM'} again exits at once)`);
    interrupt.abort(`interrupted (${signal})`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const done = await runExperiment(exp.id, {
      store,
      evaluator,
      workers,
      signal: interrupt.signal,
      // `nasflow resume` (and a search) continues a stopped search: the user asked for it.
      resumeStopped: true,
      artifacts: new FsArtifactStore(join(home, 'artifacts')),
      onEvent: (e) => {
        if (e.type === 'started') {
          current = e.experiment;
          display.log(`${e.resumed ? 'resuming' : 'starting'} ${e.experiment.id} (${workers} worker${workers > 1 ? 's' : ''})`);
        } else if (e.type === 'trial-started' || e.type === 'epoch') {
          trials.set(e.trial.id, e.trial);
          display.update(snap());
        } else if (e.type === 'trial-finished') {
          trials.set(e.trial.id, e.trial);
          current = e.experiment;
          display.trialFinished(e.trial, snap());
        } else if (e.type === 'finished') current = e.experiment;
      },
    });
    for (const t of await listAllTrials(store, exp.id)) trials.set(t.id, t);
    current = done;
    display.close(snap());
    const dir = await writeReports(store, home, done);
    process.stdout.write(`${done.id}: ${done.state} (${printable(done.reason ?? '')}); report: ${printable(join(dir, 'report.html'))}\n`);
    if (interruptedBy !== undefined && done.state === 'STOPPED') {
      process.stdout.write(`${done.id} was interrupted; \`${printable(resumeHint)}\` continues it (its unfinished trials from their checkpoints)\n`);
      process.exitCode = SIGNAL_EXIT[interruptedBy];
    }
    // A search that failed says so in its exit code too (`nasflow resume` continues it).
    if (done.state === 'FAILED') process.exitCode = 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await evaluator.close();
  }
}

/** An action on the experiments of an existing store (never creates one: see `openExistingStore`). */
function withStore<A extends unknown[]>(fn: (store: SqliteExperimentStore, home: string, ...args: A) => Promise<void>) {
  return async (...args: A) => {
    // Commander passes (arguments..., options, command).
    const flags = (args[args.length - 2] ?? {}) as HomeFlags;
    const command = (args[args.length - 1] as Command | undefined)?.name() ?? 'this command';
    const home = homeOf(flags);
    const store = openExistingStore(flags, `nasflow ${command}`);
    try {
      await fn(store, home, ...args);
    } catch (e) {
      if (e instanceof LeaseHeldError) throw new DataError(`${e.message}: another nasflow process is running this experiment (wait for it, or stop it first)`);
      throw e;
    } finally {
      await store.close();
    }
  };
}

export function registerSearch(program: Command): void {
  const home = '--home <dir>';
  const homeHelp = 'folder of the embedded stores (env NASFLOW_HOME; default ./.nasflow)';

  program
    .command('search')
    .description('run a search from a spec file (YAML or JSON) on this machine: propose, train, rank, report')
    .argument('<spec>', 'experiment spec (see examples/)')
    .option(home, homeHelp)
    .option('--workers <n>', 'worker processes when the spec has no "parallel" (default: one per core)')
    .action(async (file: string, flags: HomeFlags & { workers?: string }) => {
      const h = homeOf(flags);
      // Everything that can refuse the spec runs before the store is opened: a refused spec leaves nothing behind.
      const raw = readSpecFile(file);
      const spec = parseExperimentSpec(raw);
      const workers = spec.parallel ?? (flags.workers ? positiveFlag('--workers', flags.workers) : availableParallelism());
      // Files named by the spec are regular files of their format, before anything loads them.
      const fileIssues = datasetFileIssues(spec);
      if (fileIssues.length) throw new SpecError(fileIssues);
      checkHome(h);
      const evaluator = evaluatorFor(spec, h, workers);
      // Workers start their backend and load the data while the experiment is checked and stored.
      if (evaluator instanceof ProcessPoolEvaluator) evaluator.warm();
      let store: SqliteExperimentStore | undefined;
      let exp: Experiment;
      const fresh = !existsSync(join(h, 'nasflow.db'));
      try {
        // The space builds models for this data; the budget pays for a trial (the evaluator's estimate).
        const unbuildable = await unbuildableSpace(spec);
        if (unbuildable.length) throw new SpecError(unbuildable);
        // The budget check estimates with this machine's measured rates.
        if (evaluator instanceof ProcessPoolEvaluator) await evaluator.calibrated();
        store = openStore(h);
        exp = await submitExperiment(raw, store, { estimateSeconds: (e, a, f) => evaluator.estimateSeconds(e, a, f) });
      } catch (e) {
        await evaluator.close();
        await store?.close();
        // A store created for a spec the budget check refused holds nothing: it goes too.
        if (store && fresh && e instanceof SpecError) for (const f of ['nasflow.db', 'nasflow.db-wal', 'nasflow.db-shm']) rmSync(join(h, f), { force: true });
        throw e;
      }
      try {
        await runWithProgress(store, h, exp, flags.workers, evaluator);
      } catch (e) {
        if (e instanceof LeaseHeldError) throw new DataError(`${e.message}: another nasflow process is running this experiment (wait for it, or stop it first)`);
        throw e;
      } finally {
        await store.close();
      }
    });

  program
    .command('stop')
    .description('ask a running search to stop: it proposes nothing more, lets running trials finish, and ends STOPPED')
    .argument('[id]', 'experiment id (default: the newest)')
    .option(home, homeHelp)
    .action(
      withStore(async (store, _h, id: string | undefined) => {
        const exp = await pick(store, id);
        if (exp.state === 'COMPLETED' || exp.state === 'STOPPED' || exp.state === 'FAILED') {
          process.stdout.write(`${exp.id} is already ${exp.state}; nothing to stop\n`);
          return;
        }
        await requestStop(store, exp.id);
        process.stdout.write(`${exp.id}: stop requested; running trials finish, then the search ends STOPPED (a search not running now stops when resumed)\n`);
      }),
    );

  program
    .command('resume')
    .description('continue a search after a crash, an interruption (Ctrl-C) or a stop (finished trials are kept, interrupted ones resume from their checkpoints)')
    .argument('[id]', 'experiment id (default: the newest)')
    .option(home, homeHelp)
    .option('--workers <n>', 'worker processes when the spec has no "parallel"')
    .action(
      withStore(async (store, h, id: string | undefined, flags: HomeFlags & { workers?: string }) => {
        const exp = await pick(store, id);
        if (exp.state === 'COMPLETED') {
          process.stdout.write(`${exp.id} is already complete (${printable(exp.reason ?? '')}); nothing to resume\n`);
          return;
        }
        await runWithProgress(store, h, exp, flags.workers);
      }),
    );

  program
    .command('list')
    .description('the experiments in this store, newest first')
    .option(home, homeHelp)
    .option('--json', 'machine-readable output')
    .action(
      withStore(async (store, _h, flags: HomeFlags & { json?: boolean }) => {
        const exps = await store.listExperiments();
        if (flags.json) {
          process.stdout.write(JSON.stringify(exps.map(({ spec: _s, strategyState: _st, ...e }) => e), null, 1) + '\n');
          return;
        }
        if (!exps.length) process.stdout.write('no experiments yet: start one with nasflow search SPEC\n');
        for (const e of exps) process.stdout.write(`${e.id}  ${e.state.padEnd(9)}  trials ${e.spent.trials}  ${e.spent.hours.toFixed(3)} h  created ${e.createdAt}\n`);
      }),
    );

  program
    .command('status')
    .description('state, budget and leaderboard of an experiment')
    .argument('[id]', 'experiment id (default: the newest)')
    .option(home, homeHelp)
    .option('--json', 'machine-readable output: state, budget, the leaderboard with architectures, validation and test metrics, and decision importance')
    .option('--top <k>', 'leaderboard entries to show', '10')
    .action(
      withStore(async (store, _h, id: string | undefined, flags: HomeFlags & { json?: boolean; top: string }) => {
        const exp = await pick(store, id);
        const trials = await listAllTrials(store, exp.id);
        const report = buildReport(exp, trials);
        const top = positiveFlag('--top', flags.top);
        if (flags.json) {
          // Decision importance: fractions summing to 1, empty until enough trials vary.
          const importance = experimentImportance(exp, trials)?.importance ?? {};
          process.stdout.write(JSON.stringify({ id: exp.id, state: exp.state, reason: exp.reason, budget: { limits: (exp.spec as { budget?: unknown }).budget, spent: exp.spent, reserved: exp.reserved }, screened: report.screened, skipped: report.skipped, leaderboard: report.leaderboard.slice(0, top), importance }, null, 1) + '\n');
          return;
        }
        process.stdout.write(`${exp.id}: ${exp.state}${exp.reason ? ` (${printable(exp.reason)})` : ''}\n`);
        process.stdout.write(`spent: ${exp.spent.trials} trials, ${exp.spent.hours.toFixed(4)} compute-hours, $${exp.spent.dollars.toFixed(2)}\n`);
        if (report.screened > 0) process.stdout.write(`screened out before training (static constraints): ${report.screened} candidates\n`);
        if (report.skipped > 0) process.stdout.write(`not started, could not finish before the deadline: ${report.skipped} moves\n`);
        for (const e of report.leaderboard.slice(0, top)) {
          const v = Object.entries(e.validation).map(([k, x]) => `${k} ${x.toFixed(4)}`).join(', ');
          const t = Object.entries(e.test).map(([k, x]) => `${k} ${x.toFixed(4)}`).join(', ');
          const m = e.measurements ? `  (${e.measurements.mean.toFixed(4)} ± ${e.measurements.sd.toFixed(4)}, n=${e.measurements.n})` : '';
          process.stdout.write(printable(`${String(e.rank).padStart(3)}. ${e.trialId}  ${v}${m}${t ? `  | ${t}` : ''}${e.fullFidelity ? '' : `  (partial: ${e.fidelity} epochs)`}  ${e.summary ?? ''}`) + '\n');
        }
      }),
    );

  program
    .command('export')
    .description('write the top models (TensorFlow.js folders) and a JSON leaderboard; with --ensemble, the ensemble of the search too')
    .argument('[id]', 'experiment id (default: the newest)')
    .option(home, homeHelp)
    .option('--top <k>', 'how many models', '3')
    .option('--out <dir>', 'output folder (default: ./<experiment id>-export)')
    .option('--ensemble', 'also write the ensemble (greedy selection over the stored validation predictions) to <out>/ensemble: members, weights, predict.mjs')
    .option('--trials <file.json>', 'instead: write the experiment\'s spec and finished trials to this file, for nasflow import in another store (a source for warmStart)')
    .action(
      withStore(async (store, h, id: string | undefined, flags: HomeFlags & { top: string; out?: string; ensemble?: boolean; trials?: string }) => {
        const exp = await pick(store, id);
        if (flags.trials) return writeTrialsFile(store, exp, flags.trials);
        const k = positiveFlag('--top', flags.top);
        const trials = await listAllTrials(store, exp.id);
        const report = buildReport(exp, trials);
        const out = resolve(flags.out ?? `${exp.id}-export`);
        const artifacts = new FsArtifactStore(join(h, 'artifacts'));
        // The ensemble first: a search that has none is refused before anything is written.
        const ensemble = flags.ensemble ? await exportEnsemble(exp, trials, artifacts, join(out, 'ensemble')) : undefined;
        mkdirSync(out, { recursive: true });
        const exported: unknown[] = [];
        for (const e of report.leaderboard.slice(0, k)) {
          const keys = await artifacts.list(`trials/${e.trialId}/model/`);
          const dir = join(out, `${String(e.rank).padStart(2, '0')}-${e.trialId}`);
          if (keys.length) {
            mkdirSync(dir, { recursive: true });
            for (const key of keys) copyFileSync(join(artifacts.root, key), join(dir, key.split('/').pop() as string));
          }
          exported.push({ ...e, model: keys.length ? join(dir, 'model.json') : null });
        }
        writeFileSync(join(out, 'leaderboard.json'), JSON.stringify(exported, null, 1) + '\n');
        process.stdout.write(`exported ${exported.length} entr${exported.length === 1 ? 'y' : 'ies'} to ${printable(out)}\n`);
        if (ensemble) {
          const t = ensemble.test ?? ensemble.validation;
          process.stdout.write(`ensemble of ${ensemble.members.length} (from ${ensemble.candidates}) in ${printable(join(out, 'ensemble'))}: ${ensemble.test ? 'test' : 'validation'} accuracy ${t.single.accuracy.toFixed(4)} single → ${t.ensemble.accuracy.toFixed(4)} ensemble, ECE ${t.single.ece.toFixed(4)} → ${t.ensemble.ece.toFixed(4)}\n`);
        }
      }),
    );

  program
    .command('report')
    .description('write the HTML and JSON report of an experiment')
    .argument('[id]', 'experiment id (default: the newest)')
    .option(home, homeHelp)
    .action(
      withStore(async (store, h, id: string | undefined) => {
        const exp = await pick(store, id);
        const dir = await writeReports(store, h, exp);
        process.stdout.write(`${printable(join(dir, 'report.html'))}\n${printable(join(dir, 'report.json'))}\n`);
      }),
    );
}
