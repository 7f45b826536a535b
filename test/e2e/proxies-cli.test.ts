/**
 * `nasflow proxies` through the real CLI on the shared NAS-Bench-201 table:
 * a small seeded sample with a data-free and a data proxy (which says its
 * batch is random when only a table is given), and bad flags refused with
 * the flag named and no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const TABLE = resolve(ROOT, '../shared/benchmarks/nb201-cifar10.csv');
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'cli/main.ts'), 'proxies', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });

describe('nasflow proxies', () => {
  it('scores a seeded sample and reports ρ and ms per architecture for each proxy', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'nasflow-proxies-')), 'r.json');
    const args = ['--table', TABLE, '--objective', 'val_acc_200ep', '--input', '16x16x3', '--classes', '120', '--proxies', 'synflow,naswot,params', '--sample', '8', '--batch', '4', '--seed', '1', '--quiet'];
    const r = cli(...args, '--out', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/no --dataset: the data proxies run on random inputs and labels/);
    const report = JSON.parse(readFileSync(out, 'utf8'));
    expect(report.sample).toBe(8);
    expect(Object.keys(report.proxies)).toEqual(['synflow', 'naswot', 'params']);
    for (const p of Object.values(report.proxies) as { spearman: number; msPerArch: number }[]) {
      expect(p.spearman).toBeGreaterThanOrEqual(-1);
      expect(p.spearman).toBeLessThanOrEqual(1);
      expect(p.msPerArch).toBeGreaterThan(0);
    }
    expect(report.data).toMatch(/random/);
  }, 180_000);

  it('refuses bad flags by name, without a stack trace', () => {
    const r = cli('--table', TABLE, '--objective', 'val_acc_200ep', '--proxies', 'synflow,zen', '--input', '32x32');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--proxies: unknown proxy "zen"/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const all = cli('--table', TABLE, '--all');
    expect(all.status).toBe(2);
    expect(all.stderr).toMatch(/--scores: required with --all/);
    const col = cli('--table', TABLE, '--objective', 'nope', '--sample', '2');
    expect(col.status).not.toBe(0);
    expect(col.stderr).toMatch(/no column "nope"/);
  }, 60_000);
});
