/**
 * The experiment spec: the one file a user writes. Parsed once at the edge
 * with zod; every problem is reported at once with its field path.
 *
 * ```yaml
 * name: mnist-small-cnn
 * dataset: { source: mnist, validation: 0.1 }
 * space: { kind: chain, ... }                 # see shared/space/spec.ts
 * objectives: [ { metric: val_accuracy, goal: max }, { metric: latency_ms, goal: min } ]
 * constraints: [ "params <= 300000" ]
 * strategy: bo                                 # or { name: evolution, options: { population: 30 } }
 * fidelity: { scheduler: asha, resource: epochs, min: 1, max: 9, eta: 3 }
 * budget: { trials: 40, hours: 0.25, dollars: 0, minutes: 15 }
 * parallel: 2
 * seed: 7
 * ```
 */
import { z } from 'zod';
import { SpecError, type SpecIssue } from '../errors.js';
import { constraintSchema, objectiveSchema } from '../objectives/objectives.js';
import { finishSpecSchema } from './finish.js';
import { remeasureSpecSchema } from './remeasure.js';
import { parseFidelitySpec, type FidelitySpec } from '../schedulers/spec.js';
import { Space } from '../space/space.js';
import { describeInput, zodIssues, formatPath, nestingIssue } from '../space/spec.js';
import { oneshotSpecIssues } from '../oneshot/spec.js';
import { PROXY_NAMES } from '../proxies/names.js';
import { DEFAULT_STRATEGY, isStrategyName, STRATEGY_NAMES, strategyOptionIssues } from '../strategies/index.js';
import { DEVICE_RUNTIMES } from '../latency/device.js';

const fraction = (what: string) => z.number({ error: `expected ${what}` });
/** Control characters: never part of a path or a name, and what would reach a terminal raw. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** A file path: bounded like the system's own (PATH_MAX). */
const filePath = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, `expected ${what}`).max(4096, 'expected a path of at most 4096 characters').refine((p) => !CONTROL.test(p), 'expected a path without control characters');
/** A metric or column name. */
const name = (what: string) =>
  z.string({ error: `expected ${what}` }).min(1, `expected ${what}`).max(256, `expected ${what} of at most 256 characters`).refine((n) => !CONTROL.test(n), `expected ${what} without control characters`);
/** Metric name → column: a handful, not thousands. */
const columns = (what: string) => z.record(name('a metric name'), name(what)).refine((m) => Object.keys(m).length <= 64, 'expected at most 64 metrics');

/** Longest simulated epoch of a table trial: a real wait, and the cost charged for it. */
export const MAX_SECONDS_PER_EPOCH = 60;
/** Longest wall-clock budget: 30 days. */
export const MAX_BUDGET_MINUTES = 30 * 24 * 60;
/** Most epochs a trial trains. */
export const MAX_EPOCHS = 10_000;

/**
 * `proxy:` — either precomputed scores (`{ scores: FILE.csv, column }`, from
 * `nasflow proxies --all --scores`) or live scoring (`{ live: naswot,
 * candidates, batch }`): the search scores candidates itself on the
 * dataset's training examples (docs/proxies.md).
 */
const proxySchema = z
  .object({
    scores: z.string().min(1, 'expected the path of a scores CSV').optional(),
    column: z.string().min(1).optional(),
    live: z.enum(PROXY_NAMES, { error: `expected one of ${PROXY_NAMES.join(', ')}` }).optional(),
    candidates: z.int({ error: 'expected a whole number of candidates from 1 to 100000' }).min(1, 'expected a whole number of candidates from 1 to 100000').max(100_000, 'expected a whole number of candidates from 1 to 100000').optional(),
    batch: z.int({ error: 'expected a whole number of examples from 2 to 1024' }).min(2, 'expected a whole number of examples from 2 to 1024').max(1024, 'expected a whole number of examples from 2 to 1024').optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.scores === undefined) === (p.live === undefined)) ctx.addIssue({ code: 'custom', path: [p.live === undefined ? 'scores' : 'live'], message: 'expected exactly one of scores (a precomputed scores CSV) or live (a proxy scored during the search)' });
    if (p.live !== undefined && p.column !== undefined) ctx.addIssue({ code: 'custom', path: ['column'], message: 'column names a column of a scores CSV: it goes with scores, not live' });
    if (p.scores !== undefined && p.candidates !== undefined) ctx.addIssue({ code: 'custom', path: ['candidates'], message: 'candidates are scored live: it goes with live, not scores (bo option proxyPool sets the warm-up pool of precomputed scores)' });
    if (p.scores !== undefined && p.batch !== undefined) ctx.addIssue({ code: 'custom', path: ['batch'], message: 'batch is the live data proxies\' batch: it goes with live, not scores' });
  })
  .transform((p) => (p.live !== undefined ? { live: p.live, candidates: p.candidates ?? DEFAULT_LIVE_CANDIDATES, batch: p.batch ?? DEFAULT_LIVE_BATCH } : { scores: p.scores as string, column: p.column ?? 'synflow' }));

/** Candidates a live proxy scores for bo's warm-up (its `init` trials are the best of them). */
export const DEFAULT_LIVE_CANDIDATES = 200;
/** Training examples in a live data proxy's batch. */
export const DEFAULT_LIVE_BATCH = 64;

const datasetSchema = z.discriminatedUnion(
  'source',
  [
    z.object({ source: z.literal('mnist'), validation: fraction('a fraction in (0, 1)').gt(0).lt(1).optional(), fraction: fraction('a fraction in (0, 1]').gt(0).max(1).optional() }).strict(),
    z.object({ source: z.literal('fashion-mnist'), validation: fraction('a fraction in (0, 1)').gt(0).lt(1).optional(), fraction: fraction('a fraction in (0, 1]').gt(0).max(1).optional() }).strict(),
    z
      .object({
        source: z.literal('csv'),
        path: filePath('the CSV file path'),
        labelColumn: z.union([name('a column name'), z.int().nonnegative().max(100_000)], { error: 'expected a column name or a 0-based column index' }).optional(),
        testPath: filePath('the test CSV file path').optional(),
        validation: fraction('a fraction in (0, 1)').gt(0).lt(1).optional(),
        fraction: fraction('a fraction in (0, 1]').gt(0).max(1).optional(),
      })
      .strict(),
    z
      .object({
        source: z.literal('idx'),
        images: filePath('the IDX images file path'),
        labels: filePath('the IDX labels file path'),
        testImages: filePath('the IDX test images file path').optional(),
        testLabels: filePath('the IDX test labels file path').optional(),
        validation: fraction('a fraction in (0, 1)').gt(0).lt(1).optional(),
        fraction: fraction('a fraction in (0, 1]').gt(0).max(1).optional(),
      })
      .strict(),
    z
      .object({
        source: z.literal('table'),
        /** A NAS-Bench-201-format CSV (see ../shared/benchmarks/README.md). */
        path: filePath('the table path'),
        /** Metric name → column, e.g. { val_accuracy: val_acc_200ep, latency_ms: latency_ms_pixel3 }. */
        metrics: columns('a column name').refine((m) => Object.keys(m).length > 0, 'expected at least one metric: column pair'),
        /** Metric name → `;`-separated seeds column (one draw per evaluation). */
        noisy: columns('a column name').optional(),
        /** Fidelity (epochs) → its own metric columns, e.g. { "12": { val_accuracy: val_acc_12ep } }. */
        fidelities: z
          .record(z.string().regex(/^\d{1,5}$/, 'expected a whole number of epochs'), columns('a column name'))
          .refine((f) => Object.keys(f).length <= 64, 'expected at most 64 fidelities')
          .optional(),
        /** Seconds of simulated training per epoch (a real wait; 0 answers at once). Default 0.01. */
        secondsPerEpoch: z.number({ error: `expected seconds from 0 to ${MAX_SECONDS_PER_EPOCH}` }).nonnegative().max(MAX_SECONDS_PER_EPOCH).optional(),
      })
      .strict(),
  ],
  { error: (iss) => (iss.code === 'invalid_union' ? 'expected source to be one of mnist, fashion-mnist, csv, idx, table' : undefined) },
);

const strategySchema = z.union([
  z.enum(STRATEGY_NAMES, { error: (iss) => `unknown strategy ${JSON.stringify(iss.input)} (expected one of ${STRATEGY_NAMES.join(', ')})` }),
  z
    .object({
      name: z.enum(STRATEGY_NAMES, { error: (iss) => `unknown strategy ${JSON.stringify(iss.input)} (expected one of ${STRATEGY_NAMES.join(', ')})` }),
      options: z.record(z.string(), z.unknown()).optional(),
    })
    .strict(),
], {
  error: (iss) =>
    iss.code === 'invalid_union'
      ? `expected a strategy name (${STRATEGY_NAMES.join(', ')}) or { name, options }, got ${JSON.stringify(iss.input)}`
      : undefined,
});

const budgetSchema = z
  .object({
    trials: z.int({ error: 'expected a whole number of trials from 1 to 1,000,000' }).positive().max(1_000_000).optional(),
    /** Compute-hours (worker time), counted even when the price is 0. */
    hours: z.number({ error: 'expected compute-hours above 0 and at most 1,000,000' }).positive().max(1_000_000).optional(),
    dollars: z.number({ error: 'expected dollars from 0 to 1,000,000,000' }).nonnegative().max(1e9).optional(),
    /** Wall-clock minutes for the whole search. */
    minutes: z.number({ error: `expected minutes above 0 and at most ${MAX_BUDGET_MINUTES} (30 days)` }).positive().max(MAX_BUDGET_MINUTES).optional(),
  })
  .strict()
  .refine((b) => b.trials !== undefined || b.hours !== undefined || b.dollars !== undefined || b.minutes !== undefined, 'expected at least one limit: trials, hours, dollars or minutes');

/** The share of a trial's epochs an inheriting child trains, unless the spec says otherwise (docs/morphism.md: measured). */
export const DEFAULT_INHERIT_EPOCHS = 1 / 3;

const inheritanceSchema = z.union(
  [
    z.boolean(),
    z
      .object({
        /** The share of a trial's epochs (its fidelity) an inheriting child trains, in (0, 1]; at least one epoch. */
        epochs: z.number({ error: 'expected the share of epochs an inheriting child trains, in (0, 1]' }).gt(0, 'expected a share above 0').max(1, 'expected a share of at most 1').default(DEFAULT_INHERIT_EPOCHS),
      })
      .strict(),
  ],
  { error: (iss) => `expected true, false or { epochs: share in (0, 1] }, got ${JSON.stringify(iss.input)}` },
);

/** Most architectures a device calibration measures (each is built and timed before the search starts). */
export const MAX_DEVICE_MEASURE = 200;

/** `device`: the runtime `latency_ms` is for; `measure` architectures are timed there, the rest predicted (docs/latency.md). */
const deviceSchema = z
  .object({
    runtime: z.enum(DEVICE_RUNTIMES, { error: (iss) => `expected a runtime nasflow measures on: ${DEVICE_RUNTIMES.join(' or ')}, got ${JSON.stringify(iss.input)}` }),
    measure: z
      .int({ error: `expected how many architectures to measure: a whole number from 3 to ${MAX_DEVICE_MEASURE}` })
      .min(3, `expected at least 3 architectures to measure (the fit needs them), at most ${MAX_DEVICE_MEASURE}`)
      .max(MAX_DEVICE_MEASURE, `expected at most ${MAX_DEVICE_MEASURE} architectures to measure`)
      .default(10),
  })
  .strict();

/** `warmStart`: earlier experiments of the same space as sources (up to five, as SageMaker's warm start), architectures evaluated first. */
const warmStartSchema = z
  .object({
    experiments: z.array(z.string().min(1, 'expected an experiment id'), { error: 'expected a list of experiment ids' }).max(5, 'expected at most 5 source experiments').default([]),
    architectures: z.array(z.unknown(), { error: 'expected a list of architectures ({ values: { ... } })' }).max(1000, 'expected at most 1000 architectures').default([]),
  })
  .strict();

export const experimentSpecSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected 1-64 letters, digits, dot, dash or underscore'),
    dataset: datasetSchema,
    space: z.unknown(),
    // Exact hypervolume is exponential in the number of objectives: a few.
    objectives: z.array(objectiveSchema).min(1, 'expected at least one objective').max(4, 'expected at most 4 objectives').default([{ metric: 'val_accuracy', goal: 'max' }]),
    constraints: z.array(constraintSchema).max(32, 'expected at most 32 constraints').default([]),
    strategy: strategySchema.default(DEFAULT_STRATEGY),
    /** Multi-fidelity schedule; validated by the scheduler module. */
    fidelity: z.unknown().optional(),
    /** Epochs per trial when there is no multi-fidelity schedule. */
    epochs: z.int({ error: `expected a whole number of epochs from 1 to ${MAX_EPOCHS}` }).positive().max(MAX_EPOCHS).default(3),
    budget: budgetSchema,
    /** How the search ends: its leaders trained to full fidelity and tested (`./finish.ts`). */
    finish: finishSpecSchema,
    /** Instance type and its price per hour (locally 0; compute-hours still count). */
    instance: z
      .object({ type: name('an instance type').default('local'), pricePerHour: z.number({ error: 'expected dollars per hour from 0 to 1,000,000,000' }).nonnegative().max(1e9).default(0) })
      .strict()
      .default({ type: 'local', pricePerHour: 0 }),
    parallel: z.int().positive().max(256).optional(),
    seed: z.int().default(0),
    /** Zero-cost proxy for bo's warm-up and surrogate: precomputed scores (`scores`, a table search) or scored live on the dataset (`live`, shared/proxies/live.ts). */
    proxy: proxySchema.optional(),
    /** Weight inheritance (docs/morphism.md): a mutated child starts from its parent's trained weights and trains `epochs` of its epochs. */
    inheritance: inheritanceSchema.optional(),
    /** Learn from earlier searches (shared/transfer): their trials as sources, listed architectures first. */
    warmStart: warmStartSchema.optional(),
    /** The target device of `latency_ms`: measured on `measure` architectures, predicted for the rest (shared/latency/device.ts). */
    device: deviceSchema.optional(),
    /** A noisy objective: architectures may be measured again with a new seed, ranked by a noise-aware estimate (./remeasure.ts). */
    remeasure: remeasureSpecSchema.optional(),
  })
  .strict();

export type ExperimentSpec = z.infer<typeof experimentSpecSchema> & { readonly compiledSpace: Space };

/**
 * Parses an experiment spec: structure, the search space, and the checks
 * that need both (a table source needs a cell space; objectives and
 * constraints must name metrics the evaluator reports). Throws one SpecError
 * listing every problem.
 */
export function parseExperimentSpec(raw: unknown): ExperimentSpec {
  // Depth first: the schemas, JSON.stringify and the stores all recurse.
  const deep = nestingIssue(raw);
  if (deep) throw new SpecError([deep]);
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SpecError([{ path: '(root)', message: `expected a spec: an object with name, dataset, space and budget, got ${describeInput(raw)}` }]);
  }
  const issues: SpecIssue[] = [];
  const r = experimentSpecSchema.safeParse(raw, { reportInput: true });
  if (!r.success) issues.push(...zodIssues(r.error));
  // Options are checked by the strategy named, whatever else is wrong.
  const strategy = (raw as { strategy?: unknown }).strategy as { name?: unknown; options?: unknown } | undefined;
  if (strategy !== null && typeof strategy === 'object' && isStrategyName(strategy.name) && strategy.options !== undefined) {
    issues.push(...strategyOptionIssues(strategy.name, strategy.options));
  }
  let space: Space | undefined;
  const rawSpace = (raw as { space?: unknown } | null)?.space;
  if (rawSpace === undefined) issues.push({ path: 'space', message: 'required field is missing: the search space ({ kind: chain, ... } or { kind: cell })' });
  else {
    try {
      space = Space.fromSpec(rawSpace, ['space']);
    } catch (e) {
      if (e instanceof SpecError) issues.push(...e.issues);
      else throw e;
    }
  }
  if (r.success && space) {
    const d = r.data.dataset;
    if (d.source === 'table' && r.data.inheritance !== undefined && r.data.inheritance !== false) {
      issues.push({ path: 'inheritance', message: 'weight inheritance needs trained weights: a table dataset answers without training (remove inheritance or train on real data)' });
    }
    const re = r.data.remeasure;
    if (re !== undefined && re !== false && r.data.objectives.length > 1) issues.push({ path: 'remeasure', message: 'expected one objective: re-measuring ranks architectures by one noisy value (remove remeasure or keep one objective)' });
    if (d.source === 'table' && space.kind !== 'cell') issues.push({ path: 'space.kind', message: 'a table dataset answers cell spaces only: use kind: cell' });
    const proxy = r.data.proxy;
    if (proxy?.live !== undefined && d.source === 'table') issues.push({ path: 'proxy.live', message: 'a live proxy scores networks on the dataset\'s examples: a table dataset has none (use proxy.scores, from nasflow proxies --all --scores)' });
    if (proxy && (typeof r.data.strategy === 'string' ? r.data.strategy : r.data.strategy.name) !== 'bo') issues.push({ path: 'proxy', message: 'only strategy bo uses a proxy (its warm-up and surrogate): set strategy: bo or remove proxy' });
    if ((typeof r.data.strategy === 'string' ? r.data.strategy : r.data.strategy.name) === 'oneshot') issues.push(...oneshotSpecIssues(d.source, space, raw));
    if (r.data.device && d.source === 'table' && d.metrics['latency_ms'] !== undefined) {
      issues.push({ path: 'device', message: `latency_ms is both the table's column "${d.metrics['latency_ms']}" and the device's: remove one (dataset.metrics.latency_ms or device)` });
    }
    const known = d.source === 'table' ? [...Object.keys(d.metrics), ...(r.data.device ? ['latency_ms'] : [])] : TRAINING_METRICS;
    r.data.objectives.forEach((o, i) => {
      if (!known.includes(o.metric)) issues.push({ path: formatPath(['objectives', i, 'metric']), message: `unknown metric "${o.metric}" (this dataset reports ${known.join(', ')})` });
    });
    r.data.constraints.forEach((c, i) => {
      if (!known.includes(c.metric)) issues.push({ path: formatPath(['constraints', i]), message: `unknown metric "${c.metric}" (this dataset reports ${known.join(', ')})` });
    });
  }
  if (r.success && space) r.data.warmStart?.architectures.forEach((a, i) => issues.push(...architectureIssues(space, a, ['warmStart', 'architectures', i])));
  const rawFidelity = (raw as { fidelity?: unknown } | null)?.fidelity;
  if (rawFidelity !== undefined) {
    try {
      const f = parseFidelitySpec(rawFidelity);
      const re = r.success ? r.data.remeasure : undefined;
      if (re !== undefined && re !== false && f.rungs.length > 1) issues.push({ path: 'remeasure', message: `expected one fidelity: a re-measure is a full training, and this schedule has rungs ${f.rungs.join(', ')} (remove remeasure or the multi-fidelity schedule)` });
      const d = r.success ? r.data.dataset : undefined;
      if (d?.source === 'table') {
        // A table answers the fidelities it has columns for: its main metrics (the top rung) and `fidelities`.
        const have = [...new Set([f.max, ...Object.keys(d.fidelities ?? {}).map(Number)])].sort((a, b) => a - b);
        const missing = f.rungs.filter((x) => !have.includes(x));
        if (missing.length) {
          issues.push({ path: 'fidelity', message: `rung${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (epochs) ha${missing.length > 1 ? 've' : 's'} no columns in this table, which answers ${have.join(' and ')} epochs (dataset.metrics for the top rung, dataset.fidelities for the others): set fidelity.rungs to some of ${JSON.stringify(have)}` });
        }
      }
    } catch (e) {
      if (e instanceof SpecError) issues.push(...e.issues);
      else throw e;
    }
  }
  if (issues.length || !r.success || !space) throw new SpecError(issues);
  return { ...r.data, compiledSpace: space };
}

/** Why `raw` is not an architecture of `space`, each issue under `path`. */
function architectureIssues(space: Space, raw: unknown, path: readonly (string | number)[]): SpecIssue[] {
  try {
    space.parseArchitecture(raw);
    return [];
  } catch (e) {
    if (e instanceof SpecError) return e.issues.map((x) => ({ path: `${formatPath(path)}.${x.path}`, message: x.message }));
    throw e;
  }
}

/** The spec's fidelity schedule; without one, every trial trains `epochs` epochs. */
export function fidelityOf(spec: Pick<ExperimentSpec, 'fidelity' | 'epochs'>): FidelitySpec {
  return parseFidelitySpec(spec.fidelity ?? { scheduler: 'none', resource: 'epochs', min: spec.epochs, max: spec.epochs, eta: 3 });
}

/** Metrics every trained trial reports (`activation_bytes` and a device's `latency_ms` from the pre-flight, shared/steps/preflight.ts). */
export const TRAINING_METRICS = ['val_accuracy', 'val_loss', 'accuracy', 'loss', 'params', 'flops', 'activation_bytes', 'latency_ms', 'peak_rss_bytes', 'train_seconds'];
