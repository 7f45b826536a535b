/**
 * Source tasks: what earlier searches (experiments in the same store, or
 * trials imported from another) tell a new search of the same space. A
 * source is read whole when a search is rebuilt, so a cold Lambda, a resumed
 * run and a warm local run see the same sources.
 */
import { SpecError, type SpecIssue } from '../errors.js';
import { FINISHED_STATES, type Trial } from '../experiment/model.js';
import { parseExperimentSpec, type ExperimentSpec } from '../spec/experiment.js';
import type { Space } from '../space/space.js';
import { listAllTrials, type ExperimentStore } from '../store/experiment-store.js';
import type { Observation } from '../strategies/strategy.js';
import { epochSecondsOf, maxEpochSeconds } from './cost.js';

/** One earlier search as a source of the strategy's model: its finished trials at their best fidelity. */
export interface SourceTask {
  /** The experiment the observations come from. */
  readonly experimentId: string;
  /** Its objective's direction (values are oriented by it). */
  readonly goal: 'max' | 'min';
  /** One observation per architecture: its result at the highest fidelity it reached. */
  readonly observations: readonly Observation[];
  /** Per observation: seconds per training epoch the source measured for it (undefined: not measured, e.g. a table). */
  readonly epochSeconds?: readonly (number | undefined)[];
  /** The most seconds per epoch a zero-shot trial may take under the target's budget (`maxEpochSeconds` of the target's spec; undefined: any). */
  readonly maxEpochSeconds?: number;
}

/** A space's identity for transfer: its parsed spec (isomorphism included), decisions (names, domains, conditions) and fixed fields. */
export function spaceSignature(space: Space): string {
  return JSON.stringify({ spec: space.spec, decisions: space.decisions, fixed: space.fixed });
}

/** The observations of a source's trials: completed ones, the highest fidelity of each architecture, in finishing order. */
export function sourceObservations(trials: readonly Trial[]): Observation[] {
  return measuredObservations(trials).observations;
}

/** `sourceObservations`, with each architecture's measured seconds per epoch (the mean over its trials that measured it). */
export function measuredObservations(trials: readonly Trial[]): { observations: Observation[]; epochSeconds: (number | undefined)[] } {
  const byHash = new Map<string, Trial>();
  const seconds = new Map<string, number[]>();
  const done = trials.filter((t) => FINISHED_STATES.includes(t.state) && (t.state === 'COMPLETED' || t.state === 'STOPPED') && t.values !== undefined);
  done.sort((a, b) => (a.finishedSeq ?? a.seq) - (b.finishedSeq ?? b.seq));
  for (const t of done) {
    const had = byHash.get(t.hash);
    if (!had || t.fidelity >= had.fidelity) byHash.set(t.hash, t);
  }
  for (const t of trials) {
    const s = epochSecondsOf(t);
    if (s !== undefined) seconds.set(t.hash, [...(seconds.get(t.hash) ?? []), s]);
  }
  const chosen = [...byHash.values()];
  return {
    observations: chosen.map((t) => ({ arch: t.arch, status: 'completed' as const, values: t.values as number[], ...(t.feasible === false ? { feasible: false } : {}) })),
    epochSeconds: chosen.map((t) => {
      const s = seconds.get(t.hash);
      return s ? s.reduce((a, b) => a + b, 0) / s.length : undefined;
    }),
  };
}

/**
 * The sources `spec.warmStart.experiments` names, read from `store`, with
 * what each architecture cost the source and what the budget of `spec`
 * affords on `slots` workers (for the zero-shot order, shared/transfer/cost.ts). Each must exist, be over the same space (same decisions and domains) and
 * optimise the same first metric; otherwise one SpecError names every bad
 * entry under `warmStart.experiments`.
 */
export async function loadSources(store: ExperimentStore, spec: ExperimentSpec, slots?: number): Promise<SourceTask[]> {
  const ids = spec.warmStart?.experiments ?? [];
  if (ids.length === 0) return [];
  const issues: SpecIssue[] = [];
  const out: SourceTask[] = [];
  const want = spaceSignature(spec.compiledSpace);
  const metric = spec.objectives[0]?.metric;
  for (const [i, id] of ids.entries()) {
    const path = `warmStart.experiments[${i}]`;
    const exp = await store.getExperiment(id);
    if (!exp) {
      issues.push({ path, message: `no experiment "${id}" in this store (import its trials first: nasflow import FILE)` });
      continue;
    }
    let src: ExperimentSpec;
    try {
      src = parseExperimentSpec(exp.spec);
    } catch {
      issues.push({ path, message: `experiment "${id}" has a spec that no longer parses` });
      continue;
    }
    if (spaceSignature(src.compiledSpace) !== want) {
      issues.push({ path, message: `experiment "${id}" searched a different space: transfer needs the same decisions and domains as this spec's space` });
      continue;
    }
    const first = src.objectives[0];
    if (!first || first.metric !== metric) {
      issues.push({ path, message: `experiment "${id}" optimised ${first?.metric ?? 'nothing'}, this spec ${metric}: transfer needs the same first objective` });
      continue;
    }
    const { observations, epochSeconds } = measuredObservations(await listAllTrials(store, id));
    const limit = maxEpochSeconds(spec, slots);
    out.push({ experimentId: id, goal: first.goal, observations, epochSeconds, ...(limit !== undefined ? { maxEpochSeconds: limit } : {}) });
  }
  if (issues.length) throw new SpecError(issues);
  return out;
}
