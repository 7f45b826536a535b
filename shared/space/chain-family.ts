/**
 * The chain family (`kind: chain`): up to `depth` layers in sequence, each
 * layer's fields decided per layer (`layers.<i>.<field>`), a field present
 * only for the layer types it applies to, and no spatial layer after a dense
 * one (a dense layer flattens its input).
 */
import { SpecError, type SpecIssue } from '../errors.js';
import { gridValues, type Condition, type Decision, type Value } from './decision.js';
import type { SpaceFamily, Values } from './family.js';
import { orderFields, resolveWhen, type Fields } from './fields.js';
import type { ChainLayer, ChainLayerType } from './network.js';
import { FIELD_RULES, formatPath, type ChainSpaceSpec, type Param } from './spec.js';

/** Layer fields and the layer types they apply to. */
const APPLIES: Record<string, readonly ChainLayerType[]> = {
  width: ['dense', 'conv2d', 'sepconv2d'],
  kernel: ['conv2d', 'sepconv2d', 'maxpool', 'avgpool'],
  stride: ['conv2d', 'sepconv2d', 'maxpool', 'avgpool'],
  activation: ['dense', 'conv2d', 'sepconv2d'],
  batchNorm: ['dense', 'conv2d', 'sepconv2d'],
  dropout: ['dense', 'conv2d', 'sepconv2d', 'dropout'],
  pool: ['conv2d', 'sepconv2d'],
  skip: ['dense', 'conv2d', 'sepconv2d'],
};
const LAYER_DEFAULTS: Record<string, Value> = {
  width: 32,
  kernel: 3,
  stride: 1,
  activation: 'relu',
  batchNorm: false,
  dropout: 0,
  pool: 'none',
  skip: false,
};
const SPATIAL: readonly string[] = ['conv2d', 'sepconv2d', 'maxpool', 'avgpool'];

/** The family of a chain space spec. */
export function chainFamily(spec: ChainSpaceSpec): SpaceFamily {
  return {
    compile(path) {
      const issues: SpecIssue[] = [];
      const decisions: Decision[] = [];
      const fixed: Record<string, Value> = {};
      const top: Fields = {};
      for (const k of Object.keys(FIELD_RULES.chain)) top[k] = (spec as Record<string, unknown>)[k] as Param | undefined;
      if (!top.depth) issues.push({ path: formatPath([...path, 'depth']), message: 'required field is missing: the number of layers, fixed or a decision such as { int: [1, 4] }' });
      for (const name of orderFields(top, path, issues)) {
        const p = top[name] as Param;
        if ('fixed' in p) fixed[name] = p.fixed;
        else decisions.push({ name, domain: p.domain, when: resolveWhen(top, name, p, path, (s) => s, issues) });
      }
      const layer = spec.layer as Fields;
      const layerPath = [...path, 'layer'];
      if (!layer.type) issues.push({ path: formatPath([...layerPath, 'type']), message: `required field is missing: the layer type (one of ${FIELD_RULES.layer.type.oneOf.join(', ')}), fixed or a choice` });
      const order = orderFields(layer, layerPath, issues);
      const depthParam = top.depth;
      const maxDepth = !depthParam ? 0 : 'fixed' in depthParam ? (depthParam.fixed as number) : Math.max(...(gridValues(depthParam.domain, 0) as number[]));
      const typeParam = layer.type;
      const possibleTypes = !typeParam ? [] : 'fixed' in typeParam ? [typeParam.fixed] : gridValues(typeParam.domain, 0);
      for (const name of order) {
        const p = layer[name] as Param;
        if ('fixed' in p) fixed[`layer.${name}`] = p.fixed;
        else resolveWhen(layer, name, p, layerPath, (s) => s, issues); // report each problem once
      }
      if (issues.length === 0) {
        for (let i = 0; i < maxDepth; i++) {
          const depthCond: Condition[] = depthParam && 'domain' in depthParam && i > 0 ? [{ decision: 'depth', atLeast: i + 1 }] : [];
          for (const name of order) {
            const p = layer[name] as Param;
            if ('fixed' in p) continue;
            const conds = resolveWhen(layer, name, p, layerPath, (s) => `layers.${i}.${s}`, []);
            const applies = APPLIES[name];
            const typeConds: Condition[] = [];
            if (applies && possibleTypes.some((t) => !applies.includes(t as ChainLayerType))) {
              if (typeParam && 'domain' in typeParam) typeConds.push({ decision: `layers.${i}.type`, in: applies.filter((t) => possibleTypes.includes(t)) });
            }
            if (applies && typeParam && 'fixed' in typeParam && !applies.includes(typeParam.fixed as ChainLayerType)) continue;
            decisions.push({ name: `layers.${i}.${name}`, domain: p.domain, when: [...depthCond, ...typeConds, ...conds] });
          }
        }
      }
      if (issues.length) throw new SpecError(issues);
      return { decisions, fixed };
    },

    canonical: (values) => values,

    isValid(values: Values, fixed: Values) {
      const depth = (values.depth ?? fixed.depth ?? 1) as number;
      let flat = false;
      for (let i = 0; i < depth; i++) {
        const type = (values[`layers.${i}.type`] ?? fixed['layer.type']) as string;
        if (type === 'dense') flat = true;
        else if (flat && SPATIAL.includes(type)) return false;
      }
      return true;
    },

    count: () => undefined,

    network(values, get, fixed, training) {
      const depth = get('depth', 1) as number;
      const layers: ChainLayer[] = [];
      for (let i = 0; i < depth; i++) {
        const field = (f: string): Value => values[`layers.${i}.${f}`] ?? fixed[`layer.${f}`] ?? (LAYER_DEFAULTS[f] as Value);
        const type = field('type') as ChainLayerType;
        const layer: Record<string, Value> = { type };
        for (const f of ['width', 'kernel', 'stride', 'activation', 'batchNorm', 'dropout', 'skip']) {
          if ((APPLIES[f] as readonly string[]).includes(type)) layer[f] = field(f);
        }
        if (type === 'maxpool' || type === 'avgpool') {
          if (values[`layers.${i}.stride`] === undefined && fixed['layer.stride'] === undefined) layer.stride = layer.kernel as number;
        }
        if (type === 'dropout') layer.dropout = field('dropout');
        layers.push(layer as unknown as ChainLayer);
        const pool = (APPLIES.pool as readonly string[]).includes(type) ? field('pool') : 'none';
        if (pool !== 'none') layers.push({ type: pool === 'max' ? 'maxpool' : 'avgpool', kernel: 2, stride: 2 });
      }
      return { kind: 'chain', layers, training };
    },
  };
}
