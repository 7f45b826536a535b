import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../../shared/errors.js';
import { parseExperimentSpec } from '../../../shared/spec/experiment.js';
import { inputShape, preflight } from '../../../shared/spec/preflight.js';

const dir = mkdtempSync(join(tmpdir(), 'nasflow-preflight-'));
const csv = join(dir, 'rows.csv');
writeFileSync(csv, 'a,b,c,label\n1,2,3,x\n4,5,6,y\n');
// An IDX image file: ubyte, rank 3, 5 images of 8×6 (only the header is read for the shape; the size must match it).
const idx = join(dir, 'images.idx');
writeFileSync(idx, Buffer.concat([Buffer.from([0, 0, 0x08, 3, 0, 0, 0, 5, 0, 0, 0, 8, 0, 0, 0, 6]), Buffer.alloc(5 * 8 * 6)]));

const chain = (types: string[]) => ({ kind: 'chain', depth: { int: [1, 3] }, layer: { type: { choice: types }, width: 8 } });

async function problems(raw: Record<string, unknown>) {
  try {
    await preflight(parseExperimentSpec({ name: 'p', budget: { trials: 2 }, ...raw }));
    return [];
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    return (e as SpecError).issues;
  }
}

describe('preflight', () => {
  it('reads the input shape from headers, not by loading the data', () => {
    const spec = (dataset: unknown) => parseExperimentSpec({ name: 'p', dataset, space: chain(['dense']), budget: { trials: 1 } });
    expect(inputShape(spec({ source: 'mnist' }))).toEqual([28, 28, 1]);
    expect(inputShape(spec({ source: 'csv', path: csv }))).toEqual([3]);
    expect(inputShape(spec({ source: 'idx', images: idx, labels: idx }))).toEqual([8, 6, 1]);
  });

  it('rejects a space that cannot build a model for the data, naming why', async () => {
    const got = await problems({ dataset: { source: 'csv', path: csv }, space: chain(['conv2d', 'dense']) });
    expect(got).toEqual([{ path: 'space', message: expect.stringMatching(/of 12 sampled architectures cannot be built .*csv, shape \[3\].*conv2d needs an image input/) }]);
    const cell = await problems({ dataset: { source: 'csv', path: csv }, space: { kind: 'cell' } });
    expect(cell).toEqual([{ path: 'space', message: expect.stringMatching(/12 of 12 .*cell network needs image input/) }]);
  });

  it('accepts spaces that build, and reports missing files by field path first', async () => {
    expect(await problems({ dataset: { source: 'csv', path: csv }, space: chain(['dense']) })).toEqual([]);
    expect(await problems({ dataset: { source: 'mnist' }, space: chain(['conv2d', 'sepconv2d', 'dense']) })).toEqual([]);
    expect(await problems({ dataset: { source: 'csv', path: join(dir, 'nope.csv'), testPath: join(dir, 'nope2.csv') }, space: chain(['conv2d']) })).toEqual([
      { path: 'dataset.path', message: expect.stringMatching(/file not found/) },
      { path: 'dataset.testPath', message: expect.stringMatching(/file not found/) },
    ]);
  });
});
