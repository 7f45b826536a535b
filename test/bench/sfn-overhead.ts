/**
 * Overhead of running a search through the state machine definition locally
 * (`test/support/sfn/`): a NAS-Bench-201 table search, one worker slot, through
 * the synthesized definition with the real handlers over dynalite and
 * s3rver and the real trainer as Batch jobs. Reports, as JSON:
 *
 * - per state transition: the engine's own time (wall time minus the time
 *   inside Lambda handlers and Batch jobs, over the transitions; one slot,
 *   so nothing overlaps);
 * - per Lambda call: the handler's time (store round trips included) and
 *   the state's time around it (JSONPath, the {Payload} envelope, the copy);
 * - per Batch job, excluding the trainer's own time (its first to last log
 *   line): process start and exit, module loading, the emulator.
 *
 *   npm run bench:sfn -- --table ../shared/benchmarks/nb201-cifar10.csv --trials 30 --out sfn-overhead.json
 *
 * Options: --trials N (30), --seed N (1), --from-source (run the trainer
 * through tsx instead of the esbuild bundle), --out FILE.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { submitExperiment } from '../../shared/steps/submit.js';
import { listAllTrials } from '../../shared/store/experiment-store.js';
import { bundledTrainer, removeBundledTrainer, trainerFromSource } from '../support/sfn/trainer.js';
import { startLocalAws } from '../support/local-aws.js';
import { createRig, loadPipeline } from '../e2e/sfn-rig.js';

const LAMBDA_STATES = ['Propose', 'Record', 'Finalize'];
const round = (x: number, digits = 2) => Number(x.toFixed(digits));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      table: { type: 'string', default: process.env.NASFLOW_BENCH_TABLE },
      trials: { type: 'string', default: '30' },
      seed: { type: 'string', default: '1' },
      'from-source': { type: 'boolean', default: false },
      out: { type: 'string' },
    },
  });
  if (!values.table) throw new Error('--table (or NASFLOW_BENCH_TABLE): path of the NAS-Bench-201 CSV');
  const trials = Number(values.trials);
  if (!Number.isInteger(trials) || trials < 1) throw new Error(`--trials: expected a positive integer, got ${values.trials}`);
  const root = resolve(import.meta.dirname, '..', '..');
  const table = resolve(values.table);

  const tSynth = performance.now();
  const pipeline = loadPipeline();
  const synthMs = performance.now() - tSynth;
  const aws = await startLocalAws({ dynamo: true, s3: true, sqs: false });
  const trainer = values['from-source'] ? trainerFromSource(root) : await bundledTrainer(root);
  try {
    const rig = await createRig(aws, pipeline, { trainer, cwd: root });
    const raw = {
      name: 'sfn-bench',
      dataset: { source: 'table', path: table, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0 },
      space: { kind: 'cell' },
      epochs: 200,
      budget: { trials },
      parallel: 1,
      seed: Number(values.seed),
    };
    const exp = await submitExperiment(raw, rig.store);
    const load0 = loadavg()[0] as number;
    const t0 = performance.now();
    await rig.start(exp.id);
    await rig.machine.idle();
    const wallMs = performance.now() - t0;
    const done = await rig.store.getExperiment(exp.id);
    const finished = await listAllTrials(rig.store, exp.id);
    const failed = rig.machine.list().filter((e) => e.status !== 'SUCCEEDED');
    if (failed.length || done?.state !== 'COMPLETED') throw new Error(`the search did not complete: ${JSON.stringify(failed.map((e) => e.error))} (experiment ${done?.state})`);

    const s = rig.machine.stats;
    const st = (name: string) => s.states[name] ?? { entered: 0, calls: 0, totalMs: 0, integrationMs: 0 };
    const lambdaCalls = LAMBDA_STATES.reduce((n, x) => n + st(x).calls, 0);
    const lambdaHandlerMs = LAMBDA_STATES.reduce((n, x) => n + st(x).integrationMs, 0);
    const lambdaStateMs = LAMBDA_STATES.reduce((n, x) => n + st(x).totalMs, 0);
    const train = st('Train');
    const b = rig.batch.stats;
    const engineMs = wallMs - lambdaHandlerMs - train.integrationMs;
    const report = {
      what: 'a NAS-Bench-201 table search through the synthesized state machine, run locally (one worker slot)',
      machine: { cpus: cpus().length, loadAverageAtStart: round(load0), node: process.version },
      trainer: values['from-source'] ? 'tsx (from source)' : 'esbuild bundle',
      synthMs: round(synthMs, 0),
      trials: finished.length,
      wallMs: round(wallMs, 0),
      transitions: s.transitions,
      historyEvents: s.events,
      perTransitionMs: round(engineMs / s.transitions, 3),
      lambda: {
        calls: lambdaCalls,
        handlerMsPerCall: round(lambdaHandlerMs / lambdaCalls),
        stateOverheadMsPerCall: round((lambdaStateMs - lambdaHandlerMs) / lambdaCalls, 3),
        byState: Object.fromEntries(LAMBDA_STATES.map((x) => [x, { calls: st(x).calls, handlerMsPerCall: round(st(x).integrationMs / Math.max(1, st(x).calls)) }])),
      },
      batch: {
        jobs: b.jobs,
        attempts: b.attempts,
        stateMsPerJob: round(train.totalMs / b.jobs),
        trainerOwnMsPerJob: round(b.trainerMs / b.jobs),
        overheadMsPerJobExcludingTrainer: round((train.totalMs - b.trainerMs) / b.jobs),
        processStartAndExitMsPerJob: round((b.containerMs - b.trainerMs) / b.jobs),
        emulatorMsPerJob: round((train.integrationMs - b.containerMs) / b.jobs, 3),
      },
      shareOfWall: {
        engine: round(engineMs / wallMs, 3),
        lambdaHandlers: round(lambdaHandlerMs / wallMs, 3),
        batchJobs: round(train.integrationMs / wallMs, 3),
      },
      states: s.states,
    };
    const text = JSON.stringify(report, null, 2);
    if (values.out) writeFileSync(values.out, `${text}\n`);
    process.stdout.write(`${text}\n`);
  } finally {
    await aws.stop();
    if (!values['from-source']) removeBundledTrainer(trainer);
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench:sfn: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
