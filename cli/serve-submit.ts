/**
 * What `nasflow serve` does with a submitted spec, in order: take one of
 * the `--max-searches` slots (a 429 when none is free), parse the spec, check
 * the data files it names against the data folders (`serve-data.ts`), run the
 * CPU-heavy checks in a worker thread (`serve-preflight.ts`), store the
 * experiment and start its search. The slot is held until that search's
 * process ends, and given back at once if anything before fails.
 */
import { TooManySearchesError } from '../shared/api/index.js';
import { SpecError } from '../shared/errors.js';
import type { Experiment } from '../shared/experiment/model.js';
import { submitExperiment } from '../shared/steps/submit.js';
import { parseExperimentSpec } from '../shared/spec/experiment.js';
import type { ExperimentStore } from '../shared/store/experiment-store.js';
import type { DataGate } from './serve-data.js';
import type { Preflight } from './serve-preflight.js';

/** Starts a stored experiment's search; a returned promise settles when the search ends (its slot is held until then). */
export type Launch = (experiment: Experiment) => Promise<unknown> | void;

/** Default cap on searches started by one server that run at once. */
export const DEFAULT_MAX_SEARCHES = 2;

export interface SubmitDeps {
  readonly store: ExperimentStore;
  readonly data: DataGate;
  readonly preflight: Preflight;
  readonly launch: Launch;
  readonly maxSearches: number;
}

/** The server's `submit` for `createApi`. */
export function serverSubmit(deps: SubmitDeps): (spec: unknown) => Promise<Experiment> {
  let running = 0;
  const take = (): (() => void) => {
    if (running >= deps.maxSearches) {
      const n = deps.maxSearches;
      throw new TooManySearchesError(`${n} search${n === 1 ? '' : 'es'} started by this server ${n === 1 ? 'is' : 'are'} running (nasflow serve --max-searches ${n}): submit again when one has ended, or stop one`);
    }
    running++;
    let held = true;
    return () => {
      if (held) running--;
      held = false;
    };
  };

  return async (raw) => {
    const release = take();
    try {
      const spec = parseExperimentSpec(raw);
      const dataIssues = await deps.data.issues(spec);
      if (dataIssues.length) throw new SpecError(dataIssues);
      const estimateSeconds = await deps.preflight.check(raw);
      // The files were checked above, off the event loop.
      const experiment = await submitExperiment(raw, deps.store, { estimateSeconds, checkFiles: false });
      const search = deps.launch(experiment);
      if (search) void search.then(release, release);
      else release();
      return experiment;
    } catch (e) {
      release();
      throw e;
    }
  };
}
