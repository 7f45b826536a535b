/**
 * Precomputed proxy scores (`nasflow proxies --all --scores FILE.csv`) as a
 * scorer a strategy can call: an architecture's score by its cell string.
 * Light on purpose (no TensorFlow.js): the search steps load it.
 */
import { readRegularFile } from '../data/file.js';
import { DataError } from '../errors.js';
import type { Architecture, Space } from '../space/space.js';

/** A proxy score per architecture (higher: predicted better); -Infinity for a network whose output no path reaches. */
export type ProxyScorer = (arch: Architecture) => number;

const cache = new Map<string, Map<string, number>>();

/** The `column` of a scores CSV by `arch_str`; errors name the file and the column. */
export function loadScores(path: string, column: string): Map<string, number> {
  const key = `${path}\u0000${column}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const lines = readRegularFile(path, (p) => `cannot read proxy scores ${path}: ${p.replace(/^cannot read: /, '')}`).toString('utf8').split('\n').filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').split(',');
  const a = header.indexOf('arch_str');
  const c = header.indexOf(column);
  if (a < 0 || c < 0) throw new DataError(`${path}: expected columns "arch_str" and "${column}" (columns: ${header.join(', ')})`);
  const out = new Map<string, number>();
  lines.slice(1).forEach((l, i) => {
    const cells = l.split(',');
    const v = Number(cells[c]);
    if (Number.isNaN(v)) throw new DataError(`${path}: line ${i + 2}: column "${column}" does not hold a number`);
    out.set(cells[a] as string, v);
  });
  cache.set(key, out);
  return out;
}

/** A scorer over precomputed scores; an architecture the file does not hold is an error naming it. */
export function tableScorer(path: string, column: string, space: Space): ProxyScorer {
  const scores = loadScores(path, column);
  return (arch) => {
    const s = space.archStr(arch);
    const v = scores.get(s);
    if (v === undefined) throw new DataError(`${path}: no proxy score for ${s}`);
    return v;
  };
}
