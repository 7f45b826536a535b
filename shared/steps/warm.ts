/**
 * A warm search: the steps' state kept in memory between calls by a driver
 * that holds the experiment's lease for its whole run (the local runner, the
 * benchmark). Nothing else writes the experiment's trials meanwhile, so the
 * `SearchState` a step leaves behind is what the next step would rebuild
 * from the store — without listing every trial and replaying the strategy
 * on every call. The steps also run one at a time here (the lease does that
 * across processes): a step never sees another one's half-written move.
 */
import type { ExperimentSpec } from '../spec/experiment.js';
import type { SearchState } from './state.js';

export class WarmSearch {
  private tail: Promise<unknown> = Promise.resolve();
  private loaded: { readonly spec: ExperimentSpec; readonly state: SearchState } | undefined;

  constructor(readonly experimentId: string) {}

  /** The state the last step left, if it is still trusted. */
  get current(): { readonly spec: ExperimentSpec; readonly state: SearchState } | undefined {
    return this.loaded;
  }

  keep(spec: ExperimentSpec, state: SearchState): void {
    this.loaded = { spec, state };
  }

  /** Forgets the state (after a step failed half-way): the next step rebuilds it from the store. */
  drop(): void {
    this.loaded = undefined;
  }

  /** Runs `fn` after every step queued before it; a step that throws drops the state. */
  serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn).catch((e: unknown) => {
      this.drop();
      throw e;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }
}
