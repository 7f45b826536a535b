/**
 * The zero-cost proxy of a search (spec `proxy:`), as the steps hand it to
 * the strategy: precomputed scores read from a CSV (`scores`), or a live
 * scorer (`live`, shared/proxies/live.ts) whose scores and scoring time are
 * kept in the snapshot envelope. Scoring is compute the search does, so its
 * time counts against the compute budget like a trial's (`withProxyCost`);
 * under `budget.minutes` it is inside the wall clock anyway.
 */
import { NasError } from '../errors.js';
import type { Experiment } from '../experiment/model.js';
import type { CandidateCost, LiveProxy, LiveProxyState } from '../proxies/live.js';
import type { Architecture } from '../space/space.js';
import { tableScorer } from '../proxies/scores.js';
import { fidelityOf, type ExperimentSpec } from '../spec/experiment.js';
import { warmUpShareSeconds } from '../spec/warm-up-share.js';
import type { StrategyContext } from '../strategies/strategy.js';
import type { EstimateSeconds } from './estimate.js';
import type { StepPorts } from './ports.js';
import type { DeviceCalibration } from '../latency/device.js';
import { preflightContext } from './preflight.js';

/** What the strategy context gets from the spec's proxy, and the live scorer when there is one. */
export interface SearchProxy {
  readonly context: Pick<StrategyContext, 'proxy' | 'proxyCandidates' | 'proxyCached'>;
  readonly live?: LiveProxy;
}

/** shared/proxies/live.ts, once a spec with a live proxy needed it. */
let liveModule: typeof import('../proxies/live.js') | undefined;

/** How long the lease is renewed for while a live proxy scores its candidates (a step's own lease lives as long). */
const PREPARE_LEASE_MS = 60_000;

/**
 * The spec's proxy for the strategy, ready: a live one starts from `state`
 * (the snapshot envelope's scores) and scores the warm-up's candidates now,
 * asynchronously, renewing `owner`'s lease on the experiment as it goes.
 * `estimateSeconds` (the step's estimator): under a time, compute or dollar
 * budget, the candidates are only those the budget affords many of
 * (`warmUpShareSeconds`, shared/proxies/live.ts `affordableIndices`).
 */
export async function prepareSearchProxy(ports: StepPorts, spec: ExperimentSpec, exp: Experiment, state?: LiveProxyState, owner?: string, estimateSeconds?: () => EstimateSeconds): Promise<SearchProxy> {
  if (spec.proxy?.live !== undefined) {
    // Loaded only here: TensorFlow.js stays out of every search (and Lambda) without a live proxy.
    liveModule ??= await import('../proxies/live.js');
    await liveModule.readyLiveProxy();
  }
  const share = spec.proxy?.live !== undefined && state === undefined && estimateSeconds ? warmUpShareSeconds(spec, { exp, now: ports.now(), ...(ports.slots !== undefined ? { slots: ports.slots } : {}) }) : undefined;
  const first = fidelityOf(spec).rungs[0] as number;
  const estimate = share !== undefined ? (estimateSeconds as () => EstimateSeconds)() : undefined;
  const cost = share !== undefined && estimate ? { share, seconds: (a: Architecture) => estimate(first, a, first) } : undefined;
  const proxy = searchProxy(spec, state, exp.device, cost);
  if (proxy.live) {
    await proxy.live.prepare(async () => {
      if (owner !== undefined) await ports.store.renewLease(exp.id, owner, PREPARE_LEASE_MS);
    });
  }
  return proxy;
}

/** The spec's proxy for the strategy; a live one starts from `state` (the snapshot envelope's scores) and scores what is missing when asked; `device`: the measured device the pre-flight's region depends on; `cost`: the budget's fair share of a candidate (`prepareSearchProxy`). */
export function searchProxy(spec: ExperimentSpec, state?: LiveProxyState, device?: DeviceCalibration, cost?: CandidateCost): SearchProxy {
  const p = spec.proxy;
  if (!p) return { context: {} };
  if (p.live === undefined) return { context: { proxy: tableScorer(p.scores, p.column, spec.compiledSpace) } };
  const d = spec.dataset;
  if (d.source === 'table') return { context: {} }; // refused by the spec parser: a table has no examples to score on
  if (!liveModule) throw new NasError('a live proxy is prepared (prepareSearchProxy) before its search is rebuilt');
  const { admissible } = preflightContext(spec, device);
  const live = new liveModule.LiveProxy({ space: spec.compiledSpace, proxy: p.live, candidates: p.candidates, batch: p.batch, data: { ...d, seed: spec.seed }, seed: spec.seed, ...(admissible ? { admissible } : {}), ...(cost ? { cost } : {}) }, state);
  return { context: { proxy: live.score, proxyCandidates: live.candidates(), proxyCached: live.cached }, live };
}

/** The experiment with the live proxy's scoring time added to what it spent (compute-hours, and dollars at the instance's price). */
export function withProxyCost(spec: ExperimentSpec, exp: Experiment, live: LiveProxy | undefined): Experiment {
  if (!live || live.ms <= 0) return exp;
  const hours = live.ms / 3_600_000;
  return { ...exp, spent: { ...exp.spent, hours: exp.spent.hours + hours, dollars: exp.spent.dollars + hours * spec.instance.pricePerHour } };
}
