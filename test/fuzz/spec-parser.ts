/**
 * A bounded fuzz run of the experiment spec parser (issue 12): generated
 * specs — the examples' specs with fields replaced by hostile values (wrong
 * types, huge and non-finite numbers, deep nesting, unicode, control bytes,
 * prototype keys), whole random JSON/YAML values, and YAML round trips of
 * both — with a fixed seed. The property: parsing either succeeds or throws
 * a SpecError whose every issue names a field path and says something; no
 * other exception, and no run takes long.
 *
 * The test suite runs it with a small count (test/unit/spec/fuzz.test.ts);
 * `npm run fuzz` runs 10,000 specs and prints the time and the result.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { SpecError } from '../../shared/errors.js';
import { largestModel } from '../../shared/space/footprint.js';
import { parseExperimentSpec } from '../../shared/spec/experiment.js';

const ROOT = resolve(import.meta.dirname, '../..');

/** The fixed seed of every run. */
export const FUZZ_SEED = 20_261_203;

/** Slowest acceptable parse of one generated spec. */
const MAX_PARSE_MS = 2_000;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The specs to mutate: every example (a space-only file becomes a spec's space) and one of each data source. */
export function seedSpecs(): Json[] {
  const dir = join(ROOT, 'examples');
  const base = { name: 'fuzz', dataset: { source: 'mnist', validation: 0.1 }, budget: { trials: 10 } };
  const out: Json[] = [];
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
    const raw = parseYaml(readFileSync(join(dir, f), 'utf8')) as Record<string, Json>;
    out.push('name' in raw ? raw : { ...base, space: raw.space ?? raw });
  }
  const chain = { kind: 'chain', depth: { int: [1, 3] }, layer: { type: { choice: ['conv2d', 'dense'] }, width: { choice: [16, 32] }, kernel: { choice: [3, 5], when: { type: 'conv2d' } } } };
  out.push(
    { ...base, space: chain, strategy: { name: 'evolution', options: { population: 10, sample: 3 } }, fidelity: { scheduler: 'asha', min: 1, max: 9, eta: 3 }, objectives: [{ metric: 'val_accuracy', goal: 'max' }, { metric: 'latency_ms', goal: 'min' }], constraints: ['params <= 300000'], parallel: 2, seed: 7 },
    { ...base, dataset: { source: 'csv', path: 'rows.csv', labelColumn: 'label', testPath: 'test.csv', fraction: 0.5 }, space: { kind: 'chain', depth: 2, layer: { type: 'dense', width: 8 } }, strategy: { name: 'reinforce', options: { bins: 4, learningRate: 0.1 } } },
    { ...base, dataset: { source: 'idx', images: 'i.idx', labels: 'l.idx' }, space: chain, strategy: { name: 'bo', options: { init: 5, maxTrain: 32, ehvi: 0 } }, instance: { type: 'g5.xlarge', pricePerHour: 1.2 } },
    { ...base, dataset: { source: 'table', path: 't.csv', metrics: { val_accuracy: 'val_acc_200ep' }, fidelities: { '12': { val_accuracy: 'val_acc_12ep' } }, secondsPerEpoch: 0 }, space: { kind: 'cell', ops: ['none', 'skip_connect', 'nor_conv_3x3'] }, fidelity: { scheduler: 'hyperband', rungs: [12, 200], eta: 3 }, strategy: { name: 'local', options: { init: 4 } }, epochs: 200 },
    { ...base, space: { kind: 'cell', channels: { choice: [8, 16] }, stages: { int: [1, 3] }, batchSize: { choice: [32, 64] }, learningRate: { float: [0.001, 0.1], log: true } }, strategy: { name: 'grid', options: { levels: 3 } }, budget: { minutes: 5, hours: 1, dollars: 2 } },
  );
  return out;
}

/** Every path in a JSON value (objects' keys and lists' indices), the root included. */
function paths(v: Json, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

/** `v` with the value at `path` replaced (or removed when `value` is undefined); new keys are added. */
function setAt(v: unknown, path: readonly (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const container = (Array.isArray(v) ? [...(v as unknown[])] : v !== null && typeof v === 'object' ? { ...(v as object) } : {}) as Record<string | number, unknown>;
  const next = setAt(container[head], rest, value);
  if (next === undefined) delete container[head];
  else Object.defineProperty(container, head, { value: next, enumerable: true, writable: true, configurable: true });
  return container;
}

/** A list or object nested `depth` deep. */
function nest(depth: number, asObject: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = asObject ? { k: v } : [v];
  return v;
}

const controlText = fc.string({ unit: fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)), maxLength: 40 });

/** Values a careless or hostile user might put in any field. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, -0, 2 ** 31, 2 ** 53 + 2, -(2 ** 53), NaN, Infinity, -Infinity, 0, 1, -1, 0.5, 1e10, 65536, 4096),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.string({ unit: 'binary', maxLength: 60 }),
  controlText,
  fc.constantFrom('', ' ', '2', 'NaN', 'Infinity', '1e308', '__proto__', 'constructor', 'toString', '\u202eevil', 'a'.repeat(5000), '../../../etc/passwd', '/dev/zero', '\x1b[2J\x1b]0;pwned\x07'),
  fc.integer({ min: 1, max: 3000 }).chain((n) => fc.boolean().map((o) => nest(n, o))),
  fc.array(fc.integer(), { maxLength: 300 }),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', '', 'a b', '\x1b[31m', 'population', 'choice', 'int', 'when'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
  fc.jsonValue({ maxDepth: 4 }),
  fc.anything({ maxDepth: 3 }),
);

/** A seed spec with 1–3 fields replaced, removed or added. */
const mutated = fc.constantFrom(...seedSpecs()).chain((spec) => {
  const all = paths(spec);
  const step = fc.tuple(fc.constantFrom(...all), fc.option(fc.string({ maxLength: 12 }), { nil: undefined }), hostile);
  return fc.array(step, { minLength: 1, maxLength: 3 }).map((steps) =>
    steps.reduce<unknown>((s, [path, newKey, value]) => setAt(s, newKey === undefined ? path : [...path, newKey], value), spec),
  );
});

/** What the parser is given: a mutated spec, a random value, or either through YAML text as the CLI reads it. */
export const specInputs: fc.Arbitrary<unknown> = fc
  .tuple(fc.oneof({ weight: 4, arbitrary: mutated }, { weight: 1, arbitrary: hostile }), fc.boolean())
  .map(([v, viaYaml]) => {
    if (!viaYaml) return v;
    try {
      return parseYaml(stringifyYaml(v));
    } catch {
      return v; // values YAML cannot hold (nesting too deep for its writer) go in as they are
    }
  });

// eslint-disable-next-line no-control-regex -- raw control bytes (line breaks aside) must not reach a message
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** The property for one input; throws (with the reason) when it does not hold. */
export function checkSpecInput(input: unknown): void {
  const start = performance.now();
  try {
    const spec = parseExperimentSpec(input);
    // An accepted space can be sized without building anything.
    const f = largestModel(spec.compiledSpace, [28, 28, 1]);
    if (!(f.params >= 0) || !(f.trainingBytes >= 0)) throw new Error(`footprint not a number: ${JSON.stringify(f)}`);
  } catch (e) {
    if (!(e instanceof SpecError)) throw new Error(`not a SpecError: ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`);
    if (e.issues.length === 0) throw new Error('a SpecError without issues');
    for (const i of e.issues) {
      if (typeof i.path !== 'string' || i.path.length === 0) throw new Error(`an issue without a field path: ${JSON.stringify(i)}`);
      if (typeof i.message !== 'string' || i.message.length === 0) throw new Error(`an issue without a message: ${JSON.stringify(i)}`);
    }
    if (RAW_CONTROL.test(e.message)) throw new Error(`raw control characters in the message: ${JSON.stringify(e.message)}`);
  }
  const ms = performance.now() - start;
  if (ms > MAX_PARSE_MS) throw new Error(`parsing took ${ms.toFixed(0)} ms`);
}

/** Runs the property over `numRuns` generated specs; throws fast-check's report (seed, counterexample) on failure. */
export function fuzzSpecParser(numRuns: number): { runs: number; accepted: number; ms: number } {
  let accepted = 0;
  const start = performance.now();
  fc.assert(
    fc.property(specInputs, (input) => {
      checkSpecInput(input);
      try {
        parseExperimentSpec(input);
        accepted++;
      } catch {
        // counted as rejected; checkSpecInput has checked the error
      }
    }),
    { seed: FUZZ_SEED, numRuns, endOnFailure: true },
  );
  return { runs: numRuns, accepted, ms: performance.now() - start };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const runs = Number(process.argv[2] ?? 10_000);
  const r = fuzzSpecParser(runs);
  process.stdout.write(`spec parser fuzz: ${r.runs} generated specs (seed ${FUZZ_SEED}), ${r.accepted} accepted, ${r.runs - r.accepted} refused with a SpecError naming field paths; no other exception; ${(r.ms / 1000).toFixed(1)} s\n`);
}
