/**
 * The search over supernet scores: regularized evolution (Real et al. 2019,
 * the search SPOS runs on its supernet) where a candidate's fitness is its
 * one-shot score, so thousands of candidates cost seconds each instead of a
 * training each. Every distinct network is scored once (scores are cached
 * by the space's canonical key).
 */
import { Rng } from '../rng.js';
import type { Architecture, Space } from '../space/space.js';
import { EventLoopTurns } from '../train/turns.js';

export interface ScoreSearch {
  /** Distinct candidates to score in all. */
  readonly candidates: number;
  /** Members of the aging population (default 50). */
  readonly population?: number;
  /** Tournament size (default 10). */
  readonly sample?: number;
  readonly seed: number;
  /** Called every 25 scored candidates (progress). */
  readonly onProgress?: (scored: number) => Promise<void> | void;
  /** Aborting stops after the candidate being scored (the event loop runs between candidates, as in training); the caller sees `signal.aborted`. */
  readonly signal?: AbortSignal;
}

export interface Scored {
  readonly arch: Architecture;
  readonly score: number;
}

/** Every scored candidate, best first (ties: the earlier scored first). */
export async function evolveOnScores(space: Space, score: (arch: Architecture) => number, o: ScoreSearch): Promise<Scored[]> {
  const rng = Rng.seeded(o.seed);
  const populationSize = o.population ?? 50;
  const sampleSize = o.sample ?? 10;
  const scored = new Map<string, Scored>();
  const population: Scored[] = [];
  const limit = Math.min(o.candidates, space.size());
  let misses = 0;
  const turns = new EventLoopTurns();
  while (scored.size < limit && misses < 1000 && o.signal?.aborted !== true) {
    let arch: Architecture;
    if (population.length < populationSize) {
      arch = space.sample(rng);
    } else {
      let best: Scored | undefined;
      for (let i = 0; i < sampleSize; i++) {
        const m = population[rng.int(population.length)]!;
        if (!best || m.score > best.score) best = m;
      }
      arch = space.mutate(best!.arch, rng);
    }
    const key = space.key(arch);
    if (scored.has(key)) {
      misses++;
      continue;
    }
    misses = 0;
    const s = { arch, score: score(arch) };
    scored.set(key, s);
    population.push(s);
    if (population.length > populationSize) population.shift();
    if (scored.size % 25 === 0) await o.onProgress?.(scored.size);
    await turns.due();
  }
  return [...scored.values()].map((s, i) => ({ s, i })).sort((a, b) => b.s.score - a.s.score || a.i - b.i).map(({ s }) => s);
}
