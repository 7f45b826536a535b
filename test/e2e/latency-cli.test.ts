/**
 * `nasflow latency` through the real CLI: a tiny space's seeded sample timed
 * on node-wasm in the CLI's process and in Debian's Chromium (wasm backend,
 * through playwright-core, as the dashboard tests launch it); runtimes that
 * cannot run here are named with the reason; bad flags and specs are
 * refused by name without a stack trace.
 */
import { skipWithout } from '../support/externals.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chromiumUnavailable } from '../../shared/latency/chromium.js';

const ROOT = resolve(import.meta.dirname, '../..');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'latency', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 110_000 });

/** A spec over MLPs of 8 features and 3 classes: one or two dense layers, 8 to 256 wide (latencies far apart). */
function tinySpec(): { dir: string; spec: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nasflow-latency-cli-'));
  const rows = Array.from({ length: 12 }, (_, i) => `${Array.from({ length: 8 }, (_, j) => (i * j) % 5).join(',')},${i % 3}`);
  writeFileSync(join(dir, 'd.csv'), [`${Array.from({ length: 8 }, (_, j) => `f${j}`).join(',')},label`, ...rows].join('\n') + '\n');
  const spec = join(dir, 'spec.yaml');
  writeFileSync(
    spec,
    ['name: tiny', `dataset: { source: csv, path: ${JSON.stringify(join(dir, 'd.csv'))} }`, 'space:', '  kind: chain', '  depth: { int: [1, 2] }', '  layer: { type: dense, width: { choice: [8, 256] } }', 'budget: { trials: 2 }', ''].join('\n'),
  );
  return { dir, spec };
}

type Result = {
  runtimes: Record<string, { measured: boolean; reason?: string }>;
  input: { shape: number[]; numClasses: number };
  architectures: { hash: string; params: number; flops: number; latencyMs: Record<string, number> }[];
  spearmanBetweenRuntimes: Record<string, number>;
};

describe('nasflow latency', () => {
  it('times a seeded sample on node-wasm, and names the runtimes that cannot run here with why', () => {
    const { dir, spec } = tinySpec();
    const out = join(dir, 'r.json');
    const r = cli(spec, '--sample', '3', '--runtimes', 'node-wasm,node-native,chromium-webgl', '--runs', '3', '--out', out);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8')) as Result;
    expect(result.input).toEqual({ shape: [8], numClasses: 3 });
    expect(result.runtimes['node-wasm']).toEqual({ measured: true });
    expect(result.runtimes['chromium-webgl']).toEqual({ measured: false, reason: expect.stringMatching(/tfjs-backend-webgl is not a dependency/) });
    // tfjs-node is an optional dependency: measured where it is installed, else named as missing.
    const native = result.runtimes['node-native']!;
    if (!native.measured) expect(native.reason).toMatch(/tfjs-node/);
    expect(result.architectures).toHaveLength(3);
    for (const a of result.architectures) {
      expect(a.latencyMs['node-wasm']).toBeGreaterThan(0);
      expect(a.params).toBeGreaterThan(0);
    }
    expect(r.stderr).toMatch(/chromium-webgl: not measured: /);
    // The same seed measures the same architectures.
    const again = cli(spec, '--sample', '3', '--runtimes', 'node-wasm', '--runs', '1');
    expect(again.status, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as Result).architectures.map((a) => a.hash)).toEqual(result.architectures.map((a) => a.hash));
  }, 120_000);

  it.skipIf(skipWithout(chromiumUnavailable(), 'latency in headless Chromium'))('times the same sample in headless Chromium (wasm) and compares the two runtimes\' rankings', () => {
    const { spec } = tinySpec();
    const r = cli(spec, '--sample', '3', '--runtimes', 'node-wasm,chromium-wasm', '--runs', '3');
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as Result;
    expect(result.runtimes['chromium-wasm']).toEqual({ measured: true });
    for (const a of result.architectures) expect(a.latencyMs['chromium-wasm']).toBeGreaterThan(0);
    const rho = result.spearmanBetweenRuntimes['node-wasm~chromium-wasm']!;
    expect(rho).toBeGreaterThanOrEqual(-1);
    expect(rho).toBeLessThanOrEqual(1);
  }, 120_000);

  it('refuses bad flags and a bad spec by name, without a stack trace', () => {
    const { spec } = tinySpec();
    const bad = cli(spec, '--runtimes', 'node-wasm,tpu');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--runtimes: unknown runtime "tpu" \(expected node-wasm, node-native, chromium-wasm, chromium-webgl\)/);
    const sample = cli(spec, '--sample', '0');
    expect(sample.status).toBe(2);
    expect(sample.stderr).toMatch(/--sample/);
    const missing = cli(join(tmpdir(), 'no-such-spec.yaml'));
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/no-such-spec\.yaml/);
    const { dir } = tinySpec();
    writeFileSync(join(dir, 'bad.yaml'), `name: tiny\ndataset: { source: csv, path: ${JSON.stringify(join(dir, 'd.csv'))} }\nspace: { kind: chain, depth: 1, layer: { type: dense, width: 8 } }\nbudget: { trials: 2 }\ndevice: { runtime: tpu }\n`);
    const badSpec = cli(join(dir, 'bad.yaml'));
    expect(badSpec.status).toBe(2);
    expect(badSpec.stderr).toMatch(/device\.runtime: expected a runtime nasflow measures on/);
    for (const x of [bad, sample, missing, badSpec]) expect(x.stderr).not.toMatch(/\n\s+at /);
  }, 120_000);
});
