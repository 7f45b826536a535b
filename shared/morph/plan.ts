/**
 * Which function-preserving transform takes a parent network to a child, if
 * any, without TensorFlow (the steps decide a trial's inheritance with it).
 * The answer is the same walk that applies the transform (`morph.ts`), run
 * without models.
 */
import type { Network } from '../space/network.js';
import { walkCell } from './cell.js';
import { walkChain } from './chain.js';
import { NotPreservingError, transformName } from './transform.js';

/** A transform's name (`widen`, `deepen+add-batchnorm`, ...), or why none exists. */
export type MorphPlan = { readonly ok: true; readonly transform: string } | { readonly ok: false; readonly reason: string };

/**
 * Plans parent → child. `inputShape`: one example's shape (`[28, 28, 1]`);
 * chain networks need it (kernels under same padding, flatten sizes).
 */
export function planMorph(parent: Network, child: Network, inputShape: readonly number[] | undefined): MorphPlan {
  try {
    if (parent.kind !== child.kind) return { ok: false, reason: `a ${parent.kind} network cannot become a ${child.kind} one` };
    if (parent.kind === 'cell') return { ok: true, transform: transformName(walkCell(parent, child as typeof parent)) };
    if (inputShape === undefined) return { ok: false, reason: 'the input shape is not known before the data is loaded' };
    return { ok: true, transform: transformName(walkChain(parent, child as typeof parent, inputShape).transforms) };
  } catch (e) {
    if (e instanceof NotPreservingError) return { ok: false, reason: e.message };
    throw e;
  }
}
