/**
 * The IDX file format (MNIST's): two zero bytes, a type byte, the number of
 * dimensions, then each dimension as a big-endian 32-bit integer, then the
 * values, big-endian.
 */
import { DataError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';
import { readRegularFile, readRegularPrefix } from './file.js';

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

/** An IDX file's header: its dimensions and value type, checked against the file's size. */
export interface IdxHeader {
  readonly dims: readonly number[];
  readonly type: { readonly size: number; readonly name: string };
  /** Bytes before the values. */
  readonly headerBytes: number;
}

/**
 * Reads and checks an IDX header from the first bytes of a file of `size`
 * bytes. A file that is not IDX is refused without quoting any of its bytes
 * (only sizes); the dimensions are quoted once they match the size.
 */
export function parseIdxHeader(head: Uint8Array, size: number, file: string): IdxHeader {
  const fail = (problem: string): never => {
    throw new DataError(`${file}: not an IDX file: ${problem}`);
  };
  if (size < 4 || head.length < 4) fail(`only ${size} bytes`);
  if (head[0] !== 0 || head[1] !== 0) fail('it does not start with two zero bytes');
  const type = TYPES[head[2]!];
  if (type === undefined) return fail('unknown value type');
  const rank = head[3]!;
  if (rank === 0) fail('zero dimensions');
  const headerBytes = 4 + 4 * rank;
  if (size < headerBytes || head.length < headerBytes) fail(`the header needs ${headerBytes} bytes, the file has ${size}`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  if (size !== headerBytes + count * type.size) fail(`the header's dimensions and value type do not match the file's size (${size} bytes)`);
  return { dims, type, headerBytes };
}

/** The header of an IDX file on disk (a regular file), read without loading the values. */
export function readIdxHeader(file: string): IdxHeader {
  const { head, size } = readRegularPrefix(file, 4 + 4 * 255);
  return parseIdxHeader(head, size, file);
}

/** Parses IDX bytes; `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  const { dims, type, headerBytes } = parseIdxHeader(bytes, bytes.length, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.size;
  const body = headerBytes;
  switch (type.name) {
    case 'ubyte':
      return { dims: [...dims], data: bytes.slice(body, expected) };
    case 'byte':
      return { dims: [...dims], data: new Int8Array(bytes.slice(body, expected).buffer) };
    default: {
      const out = type.name === 'short' ? new Int16Array(count) : type.name === 'int' ? new Int32Array(count) : type.name === 'float' ? new Float32Array(count) : new Float64Array(count);
      for (let i = 0; i < count; i++) {
        const at = body + i * type.size;
        out[i] = type.name === 'short' ? view.getInt16(at, false) : type.name === 'int' ? view.getInt32(at, false) : type.name === 'float' ? view.getFloat32(at, false) : view.getFloat64(at, false);
      }
      return { dims: [...dims], data: out };
    }
  }
}

/** Reads an IDX file (a regular file). */
export function readIdx(file: string): IdxArray {
  const bytes = readRegularFile(file);
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
  for (const [i, v] of y.entries()) {
    if (!Number.isInteger(v) || v < 0) throw new DataError(`${labelsFile}: label #${i} is not a class index`);
    max = Math.max(max, v);
  }
  const classes = numClasses ?? max + 1;
  if (max >= classes) throw new DataError(`${labelsFile}: a label is outside 0..${classes - 1}`);
  if (classes > 100_000) throw new DataError(`${labelsFile}: labels name more than 100,000 classes`);
  return makeDataset(x, y, shape, classes);
}
