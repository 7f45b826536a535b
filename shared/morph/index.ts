/** Network morphism: function-preserving transforms between networks, and inheriting a parent's trained weights. */
export { planMorph, type MorphPlan } from './plan.js';
export { morphWeights, type MorphOptions } from './morph.js';
export { TRANSFORMS, NotPreservingError, transformName, type Transform } from './transform.js';
export { inheritWeights, type InheritResult } from './inherit.js';
