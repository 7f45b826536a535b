/**
 * `nasflow proxies` through the real CLI on the shared NAS-Bench-201 table:
 * a small seeded sample with a data-free and a data proxy (which says its
 * batch is random when only a table is given), and bad flags refused with
 * the flag named and no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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

  it('--all scores every distinct network once, one row per table row, and resumes from its partial file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-proxies-all-'));
    // The header and five rows of the real table, plus the first cell again under another index: 5 networks, 6 rows.
    const lines = readFileSync(TABLE, 'utf8').split('\n');
    const table = join(dir, 't.csv');
    writeFileSync(table, [...lines.slice(0, 6), lines[1]!.replace(/^\d+,/, '99,')].join('\n') + '\n');
    const scores = join(dir, 's.csv');
    const first = lines[1]!.split(',')[1]!;
    // A partial file from an earlier run: its row is kept, not scored again.
    writeFileSync(`${scores}.partial`, `arch_str,params,params_ms\n${first},12345,1.00\n`);
    const r = cli('--table', table, '--all', '--scores', scores, '--proxies', 'params', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/5 distinct networks, 6 rows/);
    const rows = readFileSync(scores, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('arch_str,params,params_ms');
    expect(rows).toHaveLength(7);
    expect(rows[1]).toBe(`${first},12345,1.00`);
    expect(rows[6]).toBe(`${first},12345,1.00`);
    for (const row of rows.slice(2, 6)) expect(Number(row.split(',')[1])).toBeGreaterThan(1000);
    expect(existsSync(`${scores}.partial`)).toBe(false);
  }, 120_000);

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
