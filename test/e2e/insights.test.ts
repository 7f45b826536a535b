/**
 * What a search learned, through the real CLI: decision importance in
 * `status --json` and the report (a table search), and a real-training CSV
 * search whose ensemble `export --ensemble` writes and whose predict helper
 * reproduces the ensemble the report measured.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ensembleProbs } from '../../shared/analysis/ensemble.js';
import { trialArtifactKeys } from '../../shared/contract.js';
import { loadData } from '../../shared/data/sources.js';
import { FsArtifactStore } from '../../shared/train/ports.js';
import { loadPredictions, type Predictions } from '../../shared/train/predictions.js';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = process.env.NASFLOW_BENCH_TABLE ?? resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');

function nasflow(args: string[], timeout = 240_000) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout });
}

const reportOf = (home: string): Record<string, unknown> & { insights: { importance?: Record<string, unknown>; ensemble?: Record<string, unknown> } } => {
  const dir = join(home, 'reports');
  return JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!, 'report.json'), 'utf8'));
};

describe('decision importance of a table search', () => {
  it('status --json reports fractions summing to 1 by decision path; the report draws importance, dependence and per-edge effects', () => {
    // Arrange: 60 NAS-Bench-201 trials answered from the table (seconds).
    const home = mkdtempSync(join(tmpdir(), 'nasflow-importance-'));
    const spec = join(home, 'spec.json');
    writeFileSync(spec, JSON.stringify({ name: 'imp', dataset: { source: 'table', path: TABLE, metrics: { val_accuracy: 'val_acc_200ep' }, secondsPerEpoch: 0 }, space: { kind: 'cell' }, epochs: 200, strategy: 'random', budget: { trials: 60 }, seed: 3 }));
    expect(nasflow(['search', spec, '--home', home]).status).toBe(0);
    // Act
    const status = nasflow(['status', '--json', '--home', home]);
    // Assert
    expect(status.status, status.stderr).toBe(0);
    const importance = JSON.parse(status.stdout).importance as Record<string, number>;
    expect(Object.keys(importance).sort()).toEqual(['1<-0', '2<-0', '2<-1', '3<-0', '3<-1', '3<-2']);
    expect(Object.values(importance).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
    const report = reportOf(home);
    const imp = report.insights.importance as { importance: Record<string, number>; cellEffects: { edges: string[]; ops: string[]; effect: number[][] } };
    expect(imp.importance).toEqual(importance);
    expect(imp.cellEffects.edges).toHaveLength(6);
    expect(imp.cellEffects.ops).toContain('nor_conv_3x3');
    // NAS-Bench-201: a 3×3 convolution on the last edge into the output beats `none` there.
    const row = imp.cellEffects.effect[imp.cellEffects.edges.indexOf('3<-2')]!;
    expect(row[imp.cellEffects.ops.indexOf('nor_conv_3x3')]!).toBeGreaterThan(row[imp.cellEffects.ops.indexOf('none')]!);
    const html = readFileSync(join(home, 'reports', readdirSync(join(home, 'reports'))[0]!, 'report.html'), 'utf8');
    expect(html).toMatch(/<svg class="importance"/);
    expect(html).toMatch(/<svg class="dependence"/);
    expect(html).toMatch(/<svg class="cell-effects"/);
    // A table search trains nothing: no ensemble, and export --ensemble says why.
    expect(report.insights.ensemble).toBeUndefined();
    const ex = nasflow(['export', '--ensemble', '--home', home, '--out', join(home, 'export')]);
    expect(ex.status).toBe(2);
    expect(ex.stderr).toMatch(/no ensemble: fewer than two trained models/);
    expect(existsSync(join(home, 'export'))).toBe(false);
  }, 240_000);
});

describe('the ensemble of a real-training CSV search', () => {
  // The helper imports TensorFlow.js by package name: its folder must sit where this repository's node_modules resolve.
  const out = join(ROOT, 'node_modules', '.cache', `nasflow-ensemble-${process.pid}`);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('export --ensemble writes members, weights and a predict helper that reproduces the stored ensemble on test', async () => {
    // Arrange: the example CSV split into a training file and a test file; 6 MLPs of 10 epochs.
    const home = mkdtempSync(join(tmpdir(), 'nasflow-ensemble-'));
    const lines = readFileSync(join(ROOT, 'examples', 'tabular.csv'), 'utf8').trim().split('\n');
    writeFileSync(join(home, 'train.csv'), [lines[0], ...lines.slice(1, 101)].join('\n') + '\n');
    writeFileSync(join(home, 'test.csv'), [lines[0], ...lines.slice(101)].join('\n') + '\n');
    const dataset = { source: 'csv', path: join(home, 'train.csv'), testPath: join(home, 'test.csv'), validation: 0.3 };
    const spec = { name: 'ens', dataset, space: { kind: 'chain', depth: { int: [1, 2] }, layer: { type: 'dense', width: { choice: [8, 32] }, activation: { choice: ['relu', 'tanh'] } }, learningRate: { float: [0.001, 0.03], log: true }, batchSize: 16 }, epochs: 10, strategy: 'random', budget: { trials: 6 }, parallel: 1, seed: 4 };
    writeFileSync(join(home, 'spec.json'), JSON.stringify(spec));
    const run = nasflow(['search', join(home, 'spec.json'), '--home', home]);
    expect(run.status, run.stderr).toBe(0);
    // Act
    const ex = nasflow(['export', '--ensemble', '--home', home, '--out', out]);
    // Assert
    expect(ex.status, ex.stderr).toBe(0);
    expect(ex.stdout).toMatch(/ensemble of \d+ \(from \d+\) .* test accuracy .* single → .* ensemble, ECE/);
    const written = JSON.parse(readFileSync(join(out, 'ensemble', 'ensemble.json'), 'utf8')) as { members: { trialId: string; weight: number; dir: string }[]; test: { ensemble: { accuracy: number } } };
    expect(written.members.reduce((a, m) => a + m.weight, 0)).toBeCloseTo(1, 9);
    for (const m of written.members) expect(existsSync(join(out, 'ensemble', m.dir, 'model.json'))).toBe(true);
    // The report shows the same ensemble.
    nasflow(['report', '--home', home]);
    expect((reportOf(home).insights.ensemble as { members: unknown[] }).members).toHaveLength(written.members.length);
    // The helper's probabilities on the test split (prepared as the trainer prepared it) are the stored members' weighted mean.
    const artifacts = new FsArtifactStore(join(home, 'artifacts'));
    const stored: Predictions[] = [];
    for (const m of written.members) stored.push((await loadPredictions(artifacts, trialArtifactKeys(m.trialId).testPredictions))!);
    const expected = ensembleProbs(stored, written.members.map((m) => m.weight));
    const test = loadData({ ...(dataset as { source: 'csv'; path: string }), seed: 4 }).test!;
    const helper = (await import(join(out, 'ensemble', 'predict.mjs'))) as { loadEnsemble: () => Promise<{ predict: (x: tf.Tensor) => tf.Tensor; dispose: () => void }> };
    const ensemble = await helper.loadEnsemble();
    const got = ensemble.predict(tf.tensor(test.x, [test.size, ...test.shape])).dataSync();
    ensemble.dispose();
    expect(got.length).toBe(expected.length);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
    expect(worst).toBeLessThan(1e-4);
  }, 300_000);
});
