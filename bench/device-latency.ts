/**
 * How well a spec `device` ranks a space it has only measured a little of,
 * with no other device to go on: M architectures are measured on the runtime
 * (the device step's own sample and timing, shared/latency/measure.ts), then
 * over `--draws` random choices of K of them, the graph-cost model fitted on
 * those K ranks the other M − K (Spearman ρ), beside FLOPs alone. Usage:
 *   npm run bench:device-latency -- SPEC [SPEC…] [--runtime node-wasm|chromium-wasm] [--measure 40] [--samples 10] [--draws 20] [--out FILE]
 */
import { writeFileSync } from 'node:fs';
import { readSpecFile } from '../cli/space.js';
import { fitDevice } from '../shared/latency/device.js';
import { measureDevice } from '../shared/latency/measure.js';
import { Rng } from '../shared/rng.js';
import { parseExperimentSpec } from '../shared/spec/experiment.js';
import { spearman } from '../shared/stats/rank.js';
import { deviceInput } from '../shared/steps/preflight.js';
import { benchArgs, usageError } from './args.js';

const { values: args, positionals } = benchArgs({
  usage: '  npm run bench:device-latency -- SPEC [SPEC…] [--runtime node-wasm|chromium-wasm] [--measure 40] [--samples 10] [--draws 20] [--out FILE]',
  allowPositionals: true,
  numbers: ['measure', 'samples', 'draws'],
  options: {
    runtime: { type: 'string', default: 'node-wasm' },
    measure: { type: 'string', default: '40' },
    samples: { type: 'string', default: '10' },
    draws: { type: 'string', default: '20' },
    out: { type: 'string' },
  },
});
if (positionals.length === 0) usageError('expected at least one SPEC file');
const measure = Number(args.measure);
const samples = Number(args.samples);
const draws = Number(args.draws);
const dot = (w: readonly number[], r: Record<string, number>) => ['perLayer', 'dense', 'conv', 'depthwise', 'activation'].reduce((s, k, i) => s + (r[k] as number) * (w[i] as number), 0);
const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;

const report: Record<string, unknown>[] = [];
for (const file of positionals) {
  const raw = { ...(readSpecFile(file) as Record<string, unknown>), device: { runtime: args.runtime, measure } };
  const spec = parseExperimentSpec(raw);
  const t0 = performance.now();
  const cal = await measureDevice(spec, deviceInput(spec)!);
  const seconds = (performance.now() - t0) / 1000;
  const m = cal.measured;
  const rng = Rng.seeded(0);
  const model: number[] = [];
  const flops: number[] = [];
  for (let d = 0; d < draws; d++) {
    const idx = new Set<number>();
    while (idx.size < samples) idx.add(rng.int(m.length));
    const rest = m.filter((_, i) => !idx.has(i));
    const rates = fitDevice([...idx].map((i) => m[i]!));
    model.push(spearman(rest.map((x) => dot(x.work, rates as never)), rest.map((x) => x.ms)));
    // FLOPs: the dense, convolution and depthwise terms of the work.
    flops.push(spearman(rest.map((x) => (x.work[1] as number) + (x.work[2] as number) + (x.work[3] as number)), rest.map((x) => x.ms)));
  }
  const row = { spec: spec.name, runtime: cal.runtime, backend: cal.backend, measured: m.length, samples, draws, measureSeconds: Math.round(seconds), spearman: { mean: mean(model), min: Math.min(...model) }, flopsAlone: { mean: mean(flops), min: Math.min(...flops) }, msRange: [Math.min(...m.map((x) => x.ms)), Math.max(...m.map((x) => x.ms))] };
  process.stdout.write(`${JSON.stringify(row)}\n`);
  report.push(row);
}
if (args.out) writeFileSync(args.out, `${JSON.stringify(report, null, 1)}\n`);
