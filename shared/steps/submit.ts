/**
 * Submitting a search: the spec is checked whole before anything is stored
 * (every problem at once, by field path), then the experiment is created
 * QUEUED. Both drivers start from here: `nasflow search` and `nasflow serve`
 * locally, the API Lambda on AWS.
 */
import { randomBytes } from 'node:crypto';
import { SpecError, type SpecIssue } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import { deviceUnavailable } from '../latency/device.js';
import { supernetArch } from '../oneshot/finalists.js';
import { fidelityOf, parseExperimentSpec } from '../spec/experiment.js';
import { datasetFileIssues } from '../spec/preflight.js';
import type { ExperimentStore } from '../store/experiment-store.js';
import { loadSources } from '../transfer/source.js';
import type { EstimateSeconds } from './estimate.js';
import { supernetWork } from './supernet.js';

/** A readable, sortable experiment id: name, UTC time, random suffix. */
export function newExperimentId(name: string, now = new Date()): string {
  const t = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${name}-${t}-${randomBytes(2).toString('hex')}`;
}

/**
 * Validates the spec (throws SpecError listing every problem), checks that
 * the files it names exist and that the budget pays for at least one trial
 * (given the evaluator's estimate), and only then stores a QUEUED experiment.
 */
export async function submitExperiment(
  rawSpec: unknown,
  store: ExperimentStore,
  options: {
    readonly id?: string;
    /** The cost estimate; given an architecture (a one-shot search's supernet), it prices that trial. */
    readonly estimateSeconds?: EstimateSeconds;
    /** Check that the files the spec names exist here (default true; false where the trainer, not this process, reads them: the API Lambda). */
    readonly checkFiles?: boolean;
  } = {},
): Promise<Experiment> {
  const spec = parseExperimentSpec(rawSpec);
  const fidelity = fidelityOf(spec);
  const issues: SpecIssue[] = options.checkFiles === false ? [] : datasetFileIssues(spec);
  if (options.estimateSeconds) {
    const rung = fidelity.rungs[0] as number;
    // A one-shot search's first trial is its supernet: a budget that cannot pay for it trains nothing.
    const supernet = supernetWork(spec) ? supernetArch(spec.compiledSpace) : undefined;
    const first = options.estimateSeconds(rung, supernet, rung);
    const what = supernet ? `the supernet trial (strategy oneshot: ${supernetWork(spec)!.epochs} supernet epochs, then the scoring)` : `a first-rung trial (${rung} epochs)`;
    const b = spec.budget;
    if (b.hours !== undefined && b.hours * 3600 < first) issues.push({ path: 'budget.hours', message: `too small for one trial: ${what} is estimated at ${(first / 3600).toPrecision(3)} compute-hours` });
    if (b.minutes !== undefined && b.minutes * 60 < first) issues.push({ path: 'budget.minutes', message: `too small for one trial: ${what} is estimated at ${(first / 60).toPrecision(3)} minutes` });
    const price = spec.instance.pricePerHour;
    if (b.dollars !== undefined && price > 0 && b.dollars < (first / 3600) * price) issues.push({ path: 'budget.dollars', message: `too small for one trial: ${what} costs about $${((first / 3600) * price).toFixed(4)} at $${price}/hour` });
  }
  // The device is measured where the search proposes: a runtime this process cannot start is a mistake now, not a FAILED search later.
  const unavailable = spec.device ? deviceUnavailable(spec.device.runtime) : undefined;
  if (unavailable) issues.push({ path: 'device.runtime', message: `${spec.device?.runtime} cannot measure where this search runs: ${unavailable}` });
  // warmStart's sources: each stored, over the same space, with the same objective.
  try {
    await loadSources(store, spec);
  } catch (e) {
    if (e instanceof SpecError) issues.push(...e.issues);
    else throw e;
  }
  if (issues.length) throw new SpecError(issues);
  return store.createExperiment({ id: options.id ?? newExperimentId(spec.name), name: spec.name, spec: rawSpec, state: 'QUEUED', createdAt: new Date().toISOString() });
}
