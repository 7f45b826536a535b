import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AloneFile } from '../../../bench/oneshot-alone.js';

const setup = { dataset: 'fashion-mnist', seed: 0, trainSize: 2000, valSize: 1000, epochs: 3, skeleton: { channels: 8, stages: 3, cellsPerStage: 1 } };

describe('bench:oneshot --alone FILE (stand-alone accuracies shared by every supernet variant)', () => {
  it('reads stored rows, adds a new one to the file at once, and keeps the rows it had', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'nasflow-alone-')), 'alone.json');
    writeFileSync(path, JSON.stringify({ setup, rows: [{ arch: 'a', alone: 0.7, spos: 0.4 }] }));
    const f = AloneFile.open(path, setup);
    expect(f.get('a')?.alone).toBe(0.7);
    expect(f.get('b')).toBeUndefined();
    f.add({ arch: 'b', alone: 0.65, trainSeconds: 12 });
    const again = AloneFile.open(path, setup);
    expect(again.size).toBe(2);
    expect(again.get('a')).toEqual({ arch: 'a', alone: 0.7, spos: 0.4 });
    expect(again.get('b')?.alone).toBe(0.65);
  });

  it('an absent file is empty; a file of another setup or with malformed rows is refused, naming the option', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nasflow-alone-'));
    expect(AloneFile.open(join(dir, 'none.json'), setup).size).toBe(0);
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ setup: { ...setup, epochs: 5 }, rows: [] }));
    expect(() => AloneFile.open(other, setup)).toThrow(/--alone .*other\.json: its setup .*"epochs":5.* differs/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ setup, rows: [{ arch: 'a', alone: '0.7' }] }));
    expect(() => AloneFile.open(bad, setup)).toThrow(/--alone .*bad\.json: expected rows/);
    expect(readFileSync(bad, 'utf8')).toContain('"0.7"');
  });
});
