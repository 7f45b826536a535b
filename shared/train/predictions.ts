/**
 * A trained model's class probabilities on one split, with the split's labels:
 * what ensemble selection needs without loading any model. Stored by the
 * trainer through the artifact store (so it works the same on S3), as a small
 * binary record: magic `NFP1`, uint32 examples, uint32 classes, float32
 * probabilities (row-major), int32 labels, all little-endian.
 */
import type { ArtifactStore } from './ports.js';

/** Class probabilities of `n` examples (`probs[i * classes + c]`) and their true labels. */
export interface Predictions {
  readonly n: number;
  readonly classes: number;
  readonly probs: Float32Array;
  readonly labels: Int32Array;
}

const MAGIC = 0x3150464e; // 'NFP1' read little-endian

/** The binary record of a prediction set. */
export function encodePredictions(p: Predictions): Uint8Array {
  if (p.probs.length !== p.n * p.classes || p.labels.length !== p.n) throw new RangeError(`predictions: expected ${p.n}×${p.classes} probabilities and ${p.n} labels`);
  const buf = new ArrayBuffer(12 + 4 * p.n * p.classes + 4 * p.n);
  const view = new DataView(buf);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, p.n, true);
  view.setUint32(8, p.classes, true);
  let o = 12;
  for (const v of p.probs) {
    view.setFloat32(o, v, true);
    o += 4;
  }
  for (const v of p.labels) {
    view.setInt32(o, v, true);
    o += 4;
  }
  return new Uint8Array(buf);
}

/** Reads a record written by `encodePredictions`; throws on anything else. */
export function decodePredictions(bytes: Uint8Array): Predictions {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 12 || view.getUint32(0, true) !== MAGIC) throw new Error('not a predictions record (expected the NFP1 header)');
  const n = view.getUint32(4, true);
  const classes = view.getUint32(8, true);
  if (bytes.byteLength !== 12 + 4 * n * classes + 4 * n) throw new Error(`predictions record of ${bytes.byteLength} bytes does not hold ${n}×${classes} probabilities and ${n} labels`);
  const probs = new Float32Array(n * classes);
  const labels = new Int32Array(n);
  let o = 12;
  for (let i = 0; i < probs.length; i++, o += 4) probs[i] = view.getFloat32(o, true);
  for (let i = 0; i < n; i++, o += 4) labels[i] = view.getInt32(o, true);
  return { n, classes, probs, labels };
}

/** A stored prediction set, or undefined when the key was never written. */
export async function loadPredictions(store: ArtifactStore, key: string): Promise<Predictions | undefined> {
  const b = await store.get(key);
  return b === undefined ? undefined : decodePredictions(b);
}
