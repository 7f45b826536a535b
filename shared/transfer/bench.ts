/**
 * Transfer mode of `nasflow bench` (`--transfer-from CSV:COLUMN`): before
 * each seed's target search, the default strategy searches the source column
 * for `trials` trials with the same seed (a realistic earlier search, not the
 * whole table) into the store the target search then uses, and the target's
 * spec names it in `warmStart.experiments` — the product's own path.
 * `shuffle` permutes the source's values across architectures (per seed): an
 * unrelated task of the same shape.
 */
import { benchSpec, simulateSearch } from '../bench/harness.js';
import type { BenchTable } from '../bench/table.js';
import { Rng } from '../rng.js';
import type { ExperimentStore } from '../store/experiment-store.js';
import { DEFAULT_STRATEGY } from '../strategies/index.js';

/** What the source search is. */
export interface TransferBenchOptions {
  /** The table the source column is in (may be the target's). */
  readonly table: BenchTable;
  readonly column: string;
  /** Trials of the source search. */
  readonly trials: number;
  /** Permute the source's values across architectures. */
  readonly shuffle: boolean;
  readonly isomorphism?: 'merge' | 'distinct';
  readonly workers: number;
}

/** The experiment id of the source search in the bench's store. */
export const SOURCE_ID = 'source';

/** A `BenchOptions.transfer` hook: runs seed `seed`'s source search into `store`, returns the target's `warmStart`. */
export function transferSource(o: TransferBenchOptions): (seed: number, store: ExperimentStore) => Promise<Record<string, unknown>> {
  const base = o.table.column(o.column);
  return async (seed, store) => {
    let table = o.table;
    let column = o.column;
    if (o.shuffle) {
      const perm = Rng.seeded(seed + 7919).shuffled([...base.keys()]);
      column = `${o.column}~shuffled`;
      table = o.table.withColumn(column, Float64Array.from(perm, (i) => base[i] as number));
    }
    const raw = benchSpec(table, { metrics: { y: column }, objectives: [{ metric: 'y', goal: 'max' }], strategy: DEFAULT_STRATEGY, seed, isomorphism: o.isomorphism, workers: o.workers }, { budget: { trials: o.trials } });
    await simulateSearch(table, raw, { workers: o.workers, store, id: SOURCE_ID });
    return { experiments: [SOURCE_ID] };
  };
}
