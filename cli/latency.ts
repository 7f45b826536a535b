/**
 * `nasflow latency SPEC`: measures the inference latency (batch 1, median of
 * `--runs`) of a seeded sample of a spec's space on the runtimes TensorFlow.js
 * deploys to — Node's WebAssembly backend, tfjs-node where installed, and a
 * headless Chromium's WebAssembly backend — and says which could not run here
 * and why. Models are built for the dataset's input (`deviceInput`); a
 * table spec's cells as NAS-Bench-201 networks on 32×32×3 input.
 */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { SpecError } from '../shared/errors.js';
import { spearman } from '../shared/latency/linalg.js';
import { measureInNode, modelArtifacts, RUNTIMES, useNodeRuntime, type Runtime } from '../shared/latency/runtimes.js';
import { buildModel } from '../shared/model/build.js';
import { networkCost } from '../shared/model/network-cost.js';
import { Rng } from '../shared/rng.js';
import { parseExperimentSpec } from '../shared/spec/experiment.js';
import { deviceInput } from '../shared/steps/preflight.js';
import { chromiumUnavailable, openChromium } from '../shared/latency/chromium.js';
import { positiveFlag } from './flags.js';
import { readSpecFile } from './space.js';

/** Why a runtime cannot measure in this installation (undefined: it can try). */
function unavailable(runtime: Runtime): string | undefined {
  if (runtime === 'chromium-webgl') return '@tensorflow/tfjs-backend-webgl is not a dependency of nasflow (adding it is a new dependency)';
  if (runtime === 'chromium-wasm') return chromiumUnavailable();
  return undefined;
}

/** Registers `nasflow latency`. */
export function registerLatency(program: Command): void {
  program
    .command('latency')
    .description('measure inference latency of a sample of a spec\'s space on the TensorFlow.js runtimes (node-wasm, node-native, chromium-wasm, chromium-webgl)')
    .argument('<spec>', 'a spec file (its space and data shape)')
    .option('--sample <n>', 'architectures measured', '5')
    .option('--runtimes <list>', `comma-separated (${RUNTIMES.join(', ')})`, RUNTIMES.join(','))
    .option('--runs <n>', 'timed inferences per architecture (after 3 warm-up runs)', '10')
    .option('--seed <n>', 'seed of the sample', '0')
    .option('--out <file.json>', 'write the result as JSON')
    .action(async (file: string, opts: { sample: string; runtimes: string; runs: string; seed: string; out?: string }) => {
      const spec = parseExperimentSpec(readSpecFile(file));
      const sample = positiveFlag('--sample', opts.sample);
      const runs = positiveFlag('--runs', opts.runs);
      const seed = opts.seed === '0' ? 0 : positiveFlag('--seed', opts.seed);
      const asked = opts.runtimes.split(',').map((r) => r.trim()).filter((r) => r !== '');
      const bad = asked.filter((r) => !(RUNTIMES as readonly string[]).includes(r));
      if (bad.length) throw new SpecError([{ path: '--runtimes', message: `unknown runtime ${JSON.stringify(bad[0])} (expected ${RUNTIMES.join(', ')})` }], 'options');
      // The input the trainer builds for (a CSV's features and classes), as the spec's device step measures it.
      const input = deviceInput(spec);
      if (!input) throw new SpecError([{ path: 'dataset', message: 'cannot read the dataset\'s shape (its files are missing or empty)' }]);
      const { shape, numClasses } = input;
      const space = spec.compiledSpace;
      const rng = Rng.seeded(seed);
      const archs = Array.from({ length: sample }, () => space.sample(rng));
      const runtimes: Record<string, { measured: boolean; reason?: string }> = {};
      const ms: Record<string, number[]> = {};
      // Node runtimes first (models are built on this process's backend), then the browser.
      for (const runtime of asked as Runtime[]) {
        let reason = unavailable(runtime);
        if (!reason && runtime.startsWith('node-')) reason = await useNodeRuntime(runtime as 'node-wasm' | 'node-native');
        if (reason) {
          runtimes[runtime] = { measured: false, reason };
          process.stderr.write(`${runtime}: not measured: ${reason}\n`);
          continue;
        }
        const session = runtime === 'chromium-wasm' ? await openChromium('wasm') : undefined;
        try {
          ms[runtime] = [];
          for (const arch of archs) {
            const model = buildModel(space.network(arch), { shape, numClasses }, { seed: 0 });
            try {
              ms[runtime].push(session ? await session.measure(await modelArtifacts(model), runs) : measureInNode(model, runs));
            } finally {
              model.dispose();
            }
          }
        } finally {
          await session?.close();
        }
        runtimes[runtime] = { measured: true };
        process.stderr.write(`${runtime}: ${ms[runtime].map((v) => v.toFixed(2)).join(' ')} ms\n`);
      }
      const measured = Object.keys(ms);
      const agreement: Record<string, number> = {};
      for (let i = 0; i < measured.length; i++) for (let j = i + 1; j < measured.length; j++) agreement[`${measured[i]}~${measured[j]}`] = spearman(ms[measured[i] as string] as number[], ms[measured[j] as string] as number[]);
      const result = {
        spec: spec.name,
        input: { shape, numClasses },
        runs,
        runtimes,
        architectures: archs.map((arch, i) => {
          const cost = networkCost(space.network(arch), { shape, numClasses });
          return { hash: space.hash(arch), params: cost.params, flops: cost.flops, latencyMs: Object.fromEntries(measured.map((r) => [r, (ms[r] as number[])[i]])) };
        }),
        spearmanBetweenRuntimes: agreement,
      };
      const text = `${JSON.stringify(result, null, 1)}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      process.stdout.write(text);
    });
}
