/**
 * Weight inheritance, decided where a trial is made (`SearchState.propose`),
 * so every driver gets it: a new architecture that a function-preserving
 * transform reaches from a trained trial of the experiment starts from that
 * trial's weights (its checkpoint) and trains only a share of its epochs.
 *
 * The parent is found from the architectures, not from the strategy: every
 * mutation the strategies make (evolution's and local search's `mutate`,
 * bo's `neighbours`) is a one-decision change of a trained architecture, and
 * the trained trial it came from is among those a transform reaches. Of
 * those, the one that trained longest, then the best on the first
 * objective, is the parent.
 */
import type { Trial } from '../experiment/model.js';
import { planMorph } from '../morph/plan.js';
import { isSupernetArch } from './supernet.js';
import { DEFAULT_INHERIT_EPOCHS, type ExperimentSpec } from '../spec/experiment.js';
import { inputShape } from '../spec/preflight.js';
import type { Architecture } from '../space/space.js';

/** What a trial records about its inheritance (`Trial.inherit`). */
export type TrialInheritance = NonNullable<Trial['inherit']>;

/** The share of its epochs an inheriting child trains; undefined when the spec has inheritance off. */
export function inheritShare(spec: ExperimentSpec): number | undefined {
  const i = spec.inheritance;
  if (i === undefined || i === false) return undefined;
  return i === true ? DEFAULT_INHERIT_EPOCHS : i.epochs;
}

const shapes = new WeakMap<ExperimentSpec, readonly number[] | undefined>();

function shapeOf(spec: ExperimentSpec): readonly number[] | undefined {
  if (!shapes.has(spec)) {
    let shape: number[] | undefined;
    try {
      shape = inputShape(spec);
    } catch {
      shape = undefined; // the data is not readable here (a Lambda): chain networks do not inherit
    }
    shapes.set(spec, shape);
  }
  return shapes.get(spec);
}

/** Epochs a trial trained (its last reported epoch): what its checkpoint holds. */
function trainedEpochs(t: Trial): number {
  return t.curve?.at(-1)?.epoch ?? 0;
}

/**
 * The inheritance of a new trial of `arch` trained to `fidelity` epochs, or
 * undefined (inheritance off, no trained trial a transform reaches, or
 * nothing to save). The child counts the parent's epochs as its own, up to
 * all but `ceil(share × fidelity)` (at least one) of its epochs.
 */
export function inheritanceFor(spec: ExperimentSpec, arch: Architecture, fidelity: number, trials: Iterable<Trial>): TrialInheritance | undefined {
  const share = inheritShare(spec);
  // A one-shot supernet is no network of the space: it neither inherits nor passes weights on.
  if (share === undefined || isSupernetArch(arch)) return undefined;
  const space = spec.compiledSpace;
  const hash = space.hash(arch);
  const child = space.network(arch);
  const train = Math.max(1, Math.ceil(share * fidelity));
  const goal = spec.objectives[0]?.goal ?? 'max';
  let best: { t: Trial; start: number; transform: string; value: number } | undefined;
  for (const t of trials) {
    if ((t.state !== 'COMPLETED' && t.state !== 'STOPPED') || t.hash === hash || isSupernetArch(t.arch)) continue;
    const epochs = trainedEpochs(t);
    const start = Math.min(epochs, fidelity - train);
    if (start <= 0) continue;
    const raw = t.values?.[0];
    const value = raw === undefined ? -Infinity : goal === 'max' ? raw : -raw;
    if (best && (start < best.start || (start === best.start && value <= best.value))) continue;
    const plan = planMorph(space.network(t.arch), child, shapeOf(spec));
    if (plan.ok) best = { t, start, transform: plan.transform, value };
  }
  return best ? { parentId: best.t.id, transform: best.transform, startEpoch: best.start } : undefined;
}

/**
 * Epochs a trial starts from: its promotion parent's fidelity, or the epochs
 * its inheritance counts (unless it trained from scratch: metric `inherited` 0).
 */
export function startEpochOf(trial: Trial, parent: Trial | undefined): number {
  if (parent) return parent.fidelity;
  if (trial.inherit && trial.metrics?.['inherited'] !== 0) return trial.inherit.startEpoch;
  return 0;
}
