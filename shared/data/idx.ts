/**
 * The IDX file format (MNIST's): two zero bytes, a type byte, the number of
 * dimensions, then each dimension as a big-endian 32-bit integer, then the
 * values, big-endian.
 */
import { readFileSync } from 'node:fs';
import { DataError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';

export interface IdxArray {
  readonly dims: readonly number[];
  /** Values as numbers; unsigned bytes stay a Uint8Array. */
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { size: number; name: string }> = {
  0x08: { size: 1, name: 'ubyte' },
  0x09: { size: 1, name: 'byte' },
  0x0b: { size: 2, name: 'short' },
  0x0c: { size: 4, name: 'int' },
  0x0d: { size: 4, name: 'float' },
  0x0e: { size: 8, name: 'double' },
};

/** Parses IDX bytes; `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const fail = (problem: string): never => {
    throw new DataError(`${file}: not a valid IDX file: ${problem}`);
  };
  if (bytes.length < 4) fail(`only ${bytes.length} bytes`);
  if (bytes[0] !== 0 || bytes[1] !== 0) fail('the first two bytes must be zero');
  const type = TYPES[bytes[2]!];
  if (type === undefined) return fail(`unknown value type 0x${bytes[2]!.toString(16)}`);
  const rank = bytes[3]!;
  if (rank === 0) fail('zero dimensions');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = 4 + 4 * rank;
  if (bytes.length < header) fail(`header needs ${header} bytes, file has ${bytes.length}`);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = header + count * type.size;
  if (bytes.length !== expected) fail(`dimensions [${dims.join(', ')}] of ${type.name} need ${expected} bytes, file has ${bytes.length}`);
  const body = header;
  switch (type.size === 1 ? type.name : type.name) {
    case 'ubyte':
      return { dims, data: bytes.slice(body, expected) };
    case 'byte':
      return { dims, data: new Int8Array(bytes.slice(body, expected).buffer) };
    default: {
      const out = type.name === 'short' ? new Int16Array(count) : type.name === 'int' ? new Int32Array(count) : type.name === 'float' ? new Float32Array(count) : new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const at = body + i * type.size;
        out[i] = type.name === 'short' ? view.getInt16(at, false) : type.name === 'int' ? view.getInt32(at, false) : type.name === 'float' ? view.getFloat32(at, false) : view.getFloat64(at, false);
      }
      return { dims, data: out };
    }
  }
}

export function readIdx(file: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new DataError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, { cause: e });
  }
  return parseIdx(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file);
}

/**
 * Images and labels from a pair of IDX files. Images of rank 3 ([n, h, w])
 * get a channel axis; unsigned bytes are scaled to [0, 1].
 */
export function loadIdxPair(imagesFile: string, labelsFile: string, numClasses?: number): Dataset {
  const images = readIdx(imagesFile);
  const labels = readIdx(labelsFile);
  if (labels.dims.length !== 1) throw new DataError(`${labelsFile}: labels must have one dimension, got [${labels.dims.join(', ')}]`);
  const n = images.dims[0]!;
  if (labels.dims[0] !== n) throw new DataError(`${labelsFile}: ${labels.dims[0]} labels for ${n} examples in ${imagesFile}`);
  const shape = images.dims.slice(1);
  if (shape.length === 2) shape.push(1);
  const scale = images.data instanceof Uint8Array ? 1 / 255 : 1;
  const x = new Float32Array(images.data.length);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i]! * scale;
  const y = Int32Array.from(labels.data as ArrayLike<number>);
  let max = 0;
  for (const v of y) {
    if (!Number.isInteger(v) || v < 0) throw new DataError(`${labelsFile}: label ${v} is not a class index`);
    max = Math.max(max, v);
  }
  const classes = numClasses ?? max + 1;
  if (max >= classes) throw new DataError(`${labelsFile}: label ${max} is outside 0..${classes - 1}`);
  return makeDataset(x, y, shape, classes);
}
