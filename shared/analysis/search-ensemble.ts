/**
 * The ensemble of a search: greedy selection (`ensemble.ts`) over the
 * validation predictions its trainer stored, compared with the single model
 * a user would otherwise take (the best-ranked model with stored
 * predictions), on validation and, when the trainer measured test, on test.
 * Reads only the artifact store: the same locally and on S3.
 */
import { trialArtifactKeys } from '../contract.js';
import type { Trial } from '../experiment/model.js';
import type { Objective } from '../objectives/objectives.js';
import { leaderboard } from '../report/report.js';
import type { ArtifactStore } from '../train/ports.js';
import { loadPredictions, type Predictions } from '../train/predictions.js';
import { ensembleProbs, quality, selectEnsemble, type Quality, type SelectionMetric } from './ensemble.js';

export interface EnsembleMember {
  readonly trialId: string;
  readonly weight: number;
  readonly rank: number;
}

/** Single model against ensemble on one split. */
export interface SplitComparison {
  readonly single: Quality;
  readonly ensemble: Quality;
}

export interface SearchEnsemble {
  readonly members: readonly EnsembleMember[];
  /** Trials whose predictions were candidates. */
  readonly candidates: number;
  readonly metric: SelectionMetric;
  readonly rounds: number;
  /** The single model compared against: the best-ranked candidate. */
  readonly single: { readonly trialId: string; readonly rank: number };
  readonly validation: SplitComparison;
  /** Present when every candidate's test predictions were stored. */
  readonly test?: SplitComparison;
}

export interface SearchEnsembleOptions {
  readonly rounds?: number;
  readonly metric?: SelectionMetric;
  /** At most this many best-ranked models are candidates (default 50), among the top 4 × this of the leaderboard. */
  readonly maxCandidates?: number;
}

/**
 * Builds the ensemble of a search's trials; undefined when fewer than two
 * leaderboard models have stored predictions. Candidates are leaderboard
 * entries (one per architecture, its highest fidelity) with validation
 * predictions, and, when any has test predictions, only those that have them.
 */
export async function searchEnsemble(
  trials: readonly Trial[],
  objectives: readonly Objective[],
  artifacts: ArtifactStore,
  options: SearchEnsembleOptions = {},
): Promise<SearchEnsemble | undefined> {
  const found: { trialId: string; rank: number; val: Predictions; test?: Predictions }[] = [];
  const max = options.maxCandidates ?? 50;
  // Only the top of the leaderboard is looked at: a search of thousands of table trials stores no predictions at all.
  for (const e of leaderboard(trials, objectives).slice(0, 4 * max)) {
    const keys = trialArtifactKeys(e.trialId);
    const val = await loadPredictions(artifacts, keys.validationPredictions);
    if (!val) continue;
    const test = await loadPredictions(artifacts, keys.testPredictions);
    found.push({ trialId: e.trialId, rank: e.rank, val, ...(test ? { test } : {}) });
  }
  const withTest = found.filter((c) => c.test !== undefined);
  const candidates = (withTest.length >= 2 ? withTest : found).slice(0, max);
  if (candidates.length < 2) return undefined;
  const rounds = options.rounds ?? 25;
  const metric = options.metric ?? 'log_loss';
  const sel = selectEnsemble(candidates.map((c) => c.val), { rounds, metric });
  const members = sel.members.map((j, k) => ({ trialId: candidates[j]!.trialId, weight: sel.weights[k]!, rank: candidates[j]!.rank }));
  const best = candidates[0]!;
  const compare = (pick: (c: (typeof candidates)[number]) => Predictions): SplitComparison => {
    const single = pick(best);
    const probs = ensembleProbs(sel.members.map((j) => pick(candidates[j]!)), sel.weights);
    return { single: quality(single.probs, single.labels, single.classes), ensemble: quality(probs, single.labels, single.classes) };
  };
  const allTest = candidates.every((c) => c.test !== undefined);
  return {
    members,
    candidates: candidates.length,
    metric,
    rounds,
    single: { trialId: best.trialId, rank: best.rank },
    validation: compare((c) => c.val),
    ...(allTest ? { test: compare((c) => c.test!) } : {}),
  };
}
