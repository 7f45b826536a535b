/**
 * The names of the function-preserving transforms and the error that says a
 * parent cannot become a child by any of them.
 */
import { NasError } from '../errors.js';

/** The transforms a child's weights can come through (see docs/morphism.md). */
export const TRANSFORMS = ['widen', 'deepen', 'grow-kernel', 'add-skip', 'add-op', 'add-batchnorm', 'fold-batchnorm', 'copy'] as const;
export type Transform = (typeof TRANSFORMS)[number];

/** No function-preserving transform takes this parent to this child; the message says why. */
export class NotPreservingError extends NasError {
  override readonly name = 'NotPreservingError';
}

/**
 * One name for a set of transforms: the single transform, or the set joined
 * with `+` in `TRANSFORMS` order (`widen+add-batchnorm`); `copy` alone only
 * when nothing else changed.
 */
export function transformName(set: ReadonlySet<Transform>): Transform | string {
  const named = TRANSFORMS.filter((t) => set.has(t) && (t !== 'copy' || set.size === 1));
  return named.length === 0 ? 'copy' : named.join('+');
}
