/**
 * What a step needs: the experiment store, the artifact store and a clock.
 * No AWS SDK here: the Lambda handlers build these from the AWS adapters,
 * the tests and the local runner from the embedded ones.
 */
import { randomBytes } from 'node:crypto';
import { LeaseHeldError, StoreBusyError } from '../errors.js';
import type { ExperimentStore } from '../store/experiment-store.js';
import type { ArtifactStore } from '../train/ports.js';
import type { WarmSearch } from './warm.js';

export interface StepPorts {
  readonly store: ExperimentStore;
  readonly artifacts: ArtifactStore;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** How long a step waits for another step holding the experiment (default 20 s); then `StoreBusyError` (retryable). */
  readonly lockWaitMs?: number;
  /** The driver holds the experiment's lease for its whole run and keeps the search warm here (the local runner). */
  readonly warm?: WarmSearch;
  /** Trials the driver trains at once: the local runner's workers; default the spec's `parallel`, else 1 (the state machine's slots). What a wall-clock budget's warm-up can afford depends on it (`warmUpShareSeconds`). */
  readonly slots?: number;
}

/** How long a step's lease lives: far above a step's run time, so only a crashed step's lease ever expires. */
const STEP_LEASE_MS = 60_000;

/**
 * Runs `fn` holding the experiment's lease, so steps of one experiment (a
 * propose and a record of two worker slots) never interleave: each reads the
 * store, decides, and writes as if alone. A caller that already holds the
 * lease (the local runner) passes its owner and nothing is acquired; its
 * steps still run one at a time (`WarmSearch.serialize`).
 */
export async function withExperimentLease<T>(ports: StepPorts, experimentId: string, heldBy: string | undefined, fn: (owner: string) => Promise<T>): Promise<T> {
  if (heldBy !== undefined) return ports.warm?.experimentId === experimentId ? ports.warm.serialize(() => fn(heldBy)) : fn(heldBy);
  const owner = `step:${randomBytes(6).toString('hex')}`;
  const waitUntil = Date.now() + (ports.lockWaitMs ?? 20_000);
  let pause = 10;
  for (;;) {
    try {
      await ports.store.acquireLease(experimentId, owner, STEP_LEASE_MS);
      break;
    } catch (e) {
      if (!(e instanceof LeaseHeldError)) throw e;
      if (Date.now() >= waitUntil) throw new StoreBusyError(`experiment ${experimentId} is held by ${e.holder}; try again`, { cause: e });
      await new Promise((r) => setTimeout(r, pause + Math.random() * pause));
      pause = Math.min(200, pause * 2);
    }
  }
  try {
    return await fn(owner);
  } finally {
    await ports.store.releaseLease(experimentId, owner).catch(() => undefined);
  }
}
