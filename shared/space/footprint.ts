/**
 * The largest model a space can build, bounded from the spec alone (no
 * model is built): parameters, activations per example and the bytes to
 * train it. Every field is taken at its largest possible value and every
 * layer at its most expensive possible type, so the figures are upper
 * bounds; a space above the limits is refused with the field whose
 * reduction helps most, before any pre-flight build allocates it.
 */
import type { SpecIssue } from '../errors.js';
import type { Value } from './decision.js';
import { gridValues } from './decision.js';
import { DEFAULT_TRAINING } from './network.js';
import type { Space } from './space.js';
import { formatPath } from './spec.js';

/** Most parameters a space may build (200 MB of float32 weights). */
export const MAX_PARAMS = 50_000_000;
/** Most bytes a space's largest model may need to train at its largest batch (the estimate of `trainingBytes`). */
export const MAX_TRAINING_BYTES = 16 * 2 ** 30;

/** Upper bounds for the largest network of a space. */
export interface Footprint {
  readonly params: number;
  readonly activationsPerExample: number;
  readonly batchSize: number;
  /** Weights, gradients and Adam's two slots, plus three floats per activation of the batch (as `shared/model/cost.ts` estimates it). */
  readonly trainingBytes: number;
}

/** Classes assumed for the classifier head when the data's are unknown. */
const HEAD_CLASSES = 100;

type Reader = (decisionName: string, fixedName: string, dflt: Value) => Value[];

/** Every value a field can take: its decision's (floats: the range's ends), its fixed value, or the default. */
function valuesOf(space: Space): Reader {
  return (decisionName, fixedName, dflt) => {
    const d = space.decision(decisionName);
    if (d) return d.domain.type === 'choice' ? d.domain.values.slice() : [d.domain.low, d.domain.high];
    const f = space.fixed[fixedName];
    return [f ?? dflt];
  };
}

function maxNumber(vs: readonly Value[], dflt: number): number {
  const ns = vs.filter((v): v is number => typeof v === 'number');
  return ns.length ? Math.max(...ns) : dflt;
}

/** Fields a bound can be lowered by, as (spec field, decision name pattern): pinned to their smallest value to find the culprit. */
type Pins = Readonly<Record<string, number>>;

function chainBound(space: Space, shape: readonly number[], pins: Pins): Footprint {
  const read = valuesOf(space);
  const num = (field: string, dn: string, fixed: string, dflt: number) => pins[field] ?? maxNumber(read(dn, fixed, dflt), dflt);
  const depth = num('depth', 'depth', 'depth', 1);
  const batchSize = num('batchSize', 'batchSize', 'batchSize', DEFAULT_TRAINING.batchSize);
  const image = shape.length === 3;
  let spatial = image ? (shape[0] as number) * (shape[1] as number) : 1;
  let channels = image ? (shape[2] as number) : shape.reduce((a, b) => a * b, 1);
  let params = 0;
  let acts = spatial * channels;
  for (let i = 0; i < depth; i++) {
    const at = (f: string) => `layers.${i}.${f}`;
    const types = read(at('type'), 'layer.type', 'dense').map(String);
    const width = num('layer.width', at('width'), 'layer.width', 32);
    const kernel = num('layer.kernel', at('kernel'), 'layer.kernel', 3);
    const skip = read(at('skip'), 'layer.skip', false).includes(true);
    const pools = read(at('pool'), 'layer.pool', 'none');
    let p = 0;
    let a = 0;
    let out = channels;
    for (const t of types) {
      // Weights, bias, batch norm's four vectors, and a projection when the skip changes the shape.
      if (t === 'dense') {
        p = Math.max(p, spatial * channels * width + 5 * width + (skip ? spatial * channels * width : 0));
        a = Math.max(a, 5 * width);
      } else if (t === 'conv2d' || t === 'sepconv2d') {
        const weights = t === 'conv2d' ? kernel * kernel * channels * width : kernel * kernel * channels + channels * width;
        p = Math.max(p, weights + 5 * width + (skip ? channels * width : 0));
        a = Math.max(a, spatial * (5 * width + (t === 'sepconv2d' ? channels : 0)));
      } else {
        p = Math.max(p, t === 'batchnorm' ? 4 * channels : 0);
        a = Math.max(a, spatial * channels);
      }
      if (t === 'dense' || t === 'conv2d' || t === 'sepconv2d') out = Math.max(out, width);
    }
    params += p;
    acts += a;
    channels = out;
    // Only a pooling every possible layer does is sure to shrink the next one's input.
    if (types.every((t) => t === 'conv2d' || t === 'sepconv2d') && !pools.includes('none')) spatial = Math.ceil(spatial / 4);
  }
  params += spatial * channels * HEAD_CLASSES + HEAD_CLASSES;
  return finish(params, acts, batchSize);
}

function cellBound(space: Space, shape: readonly number[], pins: Pins): Footprint {
  const read = valuesOf(space);
  const num = (field: string, dflt: number) => pins[field] ?? maxNumber(read(field, field, dflt), dflt);
  const c0 = num('channels', 16);
  const cells = num('cellsPerStage', 5);
  const stages = num('stages', 3);
  const batchSize = num('batchSize', DEFAULT_TRAINING.batchSize);
  const ops = new Set(space.decisions.filter((d) => d.name.includes('<-')).flatMap((d) => gridValues(d.domain, 0)).concat(Object.entries(space.fixed).filter(([k]) => k.includes('<-')).map(([, v]) => v)));
  const k2 = ops.has('nor_conv_3x3') ? 9 : ops.has('nor_conv_1x1') ? 1 : 0;
  const inChannels = shape.length === 3 ? (shape[2] as number) : 1;
  let spatial = shape.length === 3 ? (shape[0] as number) * (shape[1] as number) : 1;
  let c = c0;
  let params = 9 * inChannels * c + 4 * c;
  let acts = 2 * spatial * c;
  for (let s = 0; s < stages; s++) {
    if (s > 0) {
      const prev = c;
      c *= 2;
      spatial = Math.ceil(spatial / 4);
      params += 9 * prev * c + 9 * c * c + prev * c + 8 * c;
      acts += 8 * spatial * c;
    }
    // Six edges of ReLU → conv → BN, three sums: about 24 tensors of the stage's size per cell.
    params += cells * 6 * (k2 * c * c + 4 * c);
    acts += cells * 24 * spatial * c;
  }
  params += 4 * c + c * HEAD_CLASSES + HEAD_CLASSES;
  return finish(params, acts, batchSize);
}

function finish(params: number, activationsPerExample: number, batchSize: number): Footprint {
  return { params, activationsPerExample, batchSize, trainingBytes: 4 * (4 * params + 3 * batchSize * activationsPerExample) };
}

/** Upper bounds for the largest network `space` builds for examples of `shape` (`[28, 28, 1]`, `[13]`). */
export function largestModel(space: Space, shape: readonly number[], pins: Pins = {}): Footprint {
  return space.kind === 'cell' ? cellBound(space, shape, pins) : chainBound(space, shape, pins);
}

/** The fields that size a network, by space kind, as spec paths under `space`. */
const SIZE_FIELDS = { chain: ['layer.width', 'depth', 'layer.kernel', 'batchSize'], cell: ['channels', 'cellsPerStage', 'stages', 'batchSize'] } as const;

/**
 * An issue when the largest network of the space exceeds `MAX_PARAMS` or
 * `MAX_TRAINING_BYTES`, at the path of the field whose smallest value
 * lowers the excess most; undefined when the space fits.
 */
export function oversizedSpace(space: Space, shape: readonly number[], prefix: readonly (string | number)[] = ['space']): SpecIssue | undefined {
  const f = largestModel(space, shape);
  const tooMany = f.params > MAX_PARAMS;
  const tooBig = f.trainingBytes > MAX_TRAINING_BYTES;
  if (!tooMany && !tooBig) return undefined;
  const measure = (x: Footprint) => (tooMany ? x.params / MAX_PARAMS : 0) + (tooBig ? x.trainingBytes / MAX_TRAINING_BYTES : 0);
  let culprit: string = SIZE_FIELDS[space.kind][0];
  let best = Infinity;
  for (const field of SIZE_FIELDS[space.kind]) {
    if (!tooBig && field === 'batchSize') continue;
    const m = measure(largestModel(space, shape, { [field]: 1 }));
    if (m < best) {
      best = m;
      culprit = field;
    }
  }
  const over = [
    tooMany ? `${fmt(f.params)} parameters (limit ${fmt(MAX_PARAMS)})` : '',
    tooBig ? `${(f.trainingBytes / 2 ** 30).toFixed(1)} GiB to train at batch size ${f.batchSize} (limit ${MAX_TRAINING_BYTES / 2 ** 30} GiB)` : '',
  ].filter(Boolean);
  return {
    path: formatPath([...prefix, ...culprit.split('.')]),
    message: `the largest network of this space, for examples of shape ${JSON.stringify(shape)}, may have ${over.join(' and ')}: lower this field's largest value`,
  };
}

function fmt(n: number): string {
  return n >= 1e12 ? n.toExponential(2) : n >= 1e9 ? `${(n / 1e9).toPrecision(3)} billion` : n >= 1e6 ? `${(n / 1e6).toPrecision(3)} million` : String(Math.round(n));
}
