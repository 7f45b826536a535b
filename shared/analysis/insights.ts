/**
 * Everything `nasflow report`, the dashboard and `status --json` say about
 * what a search learned, computed from its stored trials (and, for the
 * ensemble, its stored predictions).
 */
import type { Experiment, Trial } from '../experiment/model.js';
import { specObjectives, specSpace } from '../report/report.js';
import type { ArtifactStore } from '../train/ports.js';
import { searchInsights, type SearchInsights } from './importance.js';
import { searchEnsemble, type SearchEnsemble } from './search-ensemble.js';

/** Decision importance and the ensemble of a search; each absent when there is too little to say. */
export interface ReportInsights {
  readonly importance?: SearchInsights;
  readonly ensemble?: SearchEnsemble;
}

/** The importance part only: trials are enough (what `status --json` reports). */
export function experimentImportance(experiment: Experiment, trials: readonly Trial[]): SearchInsights | undefined {
  const space = specSpace(experiment.spec);
  return space ? searchInsights(space, trials, specObjectives(experiment.spec)) : undefined;
}

/** Importance and, when an artifact store is given and predictions were stored, the ensemble. */
export async function experimentInsights(experiment: Experiment, trials: readonly Trial[], artifacts?: ArtifactStore): Promise<ReportInsights> {
  const importance = experimentImportance(experiment, trials);
  const ensemble = artifacts ? await searchEnsemble(trials, specObjectives(experiment.spec), artifacts) : undefined;
  return { ...(importance ? { importance } : {}), ...(ensemble ? { ensemble } : {}) };
}
