/**
 * Where each part of a network lives in the model `buildModel` made for it:
 * the Keras layers of every chain layer (main weighted layer, its batch norm,
 * its shortcut projection) and of every cell edge, keyed by what they are.
 * The builder names layers `<kind>_<n>` with one counter in build order, so
 * the layers sorted by that counter are read back in the order the builder
 * made them; every expected kind is checked, so a change to the builder fails
 * here loudly instead of mapping weights to the wrong layers.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { NasError } from '../errors.js';
import type { CellNetwork, ChainNetwork } from '../space/network.js';
import { liveNodes } from '../space/cell.js';
import { CELL_EDGES } from '../space/network.js';

type Layer = tfl.layers.Layer;

/** The Keras layers of one chain layer (absent parts are undefined). */
export interface ChainLayerParts {
  /** dense / conv / sepconv: the weighted layer; batchnorm: the normalisation. */
  readonly main?: Layer;
  /** The batch norm after a weighted layer (`batchNorm: true`). */
  readonly bn?: Layer;
  /** The 1×1 (or dense) shortcut projection, when a skip's shapes differ. */
  readonly proj?: Layer;
}

/** A layer that does not match what the builder makes: the model and the network disagree. */
export class LayoutError extends NasError {}

/** Layers with a builder counter, in build order. */
function inBuildOrder(model: tfl.LayersModel): Layer[] {
  const numbered = model.layers.filter((l) => /_\d+$/.test(l.name));
  return numbered.sort((a, b) => counter(a) - counter(b));
}

function counter(l: Layer): number {
  return Number(/_(\d+)$/.exec(l.name)![1]);
}

class Reader {
  private i = 0;
  constructor(private readonly layers: Layer[]) {}
  /** The next layer if its kind is `kind` (consumed), else undefined. */
  maybe(kind: string): Layer | undefined {
    const l = this.layers[this.i];
    if (l !== undefined && l.name.startsWith(`${kind}_`)) {
      this.i++;
      return l;
    }
    return undefined;
  }
  take(kind: string, where: string): Layer {
    const l = this.maybe(kind);
    if (!l) throw new LayoutError(`${where}: expected a '${kind}' layer, found ${this.layers[this.i]?.name ?? 'the end of the model'}`);
    return l;
  }
  end(where: string): void {
    if (this.i < this.layers.length && !this.layers[this.i]!.name.startsWith('flatten_') && !this.layers[this.i]!.name.startsWith('gap_')) {
      throw new LayoutError(`${where}: unexpected layer ${this.layers[this.i]!.name}`);
    }
  }
}

/** The parts of each chain layer of `net` in `model` (built from `net` by `buildModel`). */
export function chainLayout(model: tfl.LayersModel, net: ChainNetwork): ChainLayerParts[] {
  const r = new Reader(inBuildOrder(model));
  const parts = net.layers.map((layer, i): ChainLayerParts => {
    const where = `layers[${i}]`;
    switch (layer.type) {
      case 'maxpool':
      case 'avgpool':
        r.take(layer.type, where);
        return {};
      case 'dropout':
        r.take('dropout', where);
        return {};
      case 'batchnorm':
        return { main: r.take('bn', where) };
      default: {
        r.maybe('flatten');
        const main = r.take(layer.type === 'dense' ? 'dense' : layer.type === 'conv2d' ? 'conv' : 'sepconv', where);
        const bn = layer.batchNorm === true ? r.take('bn', where) : undefined;
        const activation = layer.activation ?? 'relu';
        if (activation !== 'linear') r.take(activation, where);
        let proj: Layer | undefined;
        if (layer.skip === true) {
          proj = r.maybe('proj');
          r.take('add', where);
        }
        if ((layer.dropout ?? 0) > 0) r.take('dropout', where);
        return { main, ...(bn ? { bn } : {}), ...(proj ? { proj } : {}) };
      }
    }
  });
  r.end('after the last chain layer');
  return parts;
}

/**
 * The cell's ops as the model holds them: an op on an edge into a node that
 * does not reach the output computes nothing the model outputs, so its
 * layers are not in the model: `none`.
 */
export function effectiveOps(ops: readonly string[]): string[] {
  const live = liveNodes((e) => ops[e] === 'none');
  return ops.map((op, e) => (live & (1 << Number(CELL_EDGES[e]!.split('<-')[0])) ? op : 'none'));
}

/** The weighted layers of a cell network by key: `stem.conv`, `s1.red.a.bn`, `s0.c1.e3.conv`, `final.bn`, ... */
export function cellLayout(model: tfl.LayersModel, net: CellNetwork): Map<string, Layer> {
  const r = new Reader(inBuildOrder(model));
  const out = new Map<string, Layer>();
  const ops = effectiveOps(net.ops);
  const live = liveNodes((e) => net.ops[e] === 'none');
  out.set('stem.conv', r.take('stem', 'stem'));
  out.set('stem.bn', r.take('bn', 'stem'));
  for (let s = 0; s < net.stages; s++) {
    if (s > 0) {
      const w = `stage ${s} reduction`;
      for (const part of ['a', 'b']) {
        r.take('relu', w);
        out.set(`s${s}.red.${part}.conv`, r.take('conv', w));
        out.set(`s${s}.red.${part}.bn`, r.take('bn', w));
      }
      r.take('avgpool', w);
      out.set(`s${s}.red.short`, r.take('conv', w));
      r.take('add', w);
    }
    for (let c = 0; c < net.cellsPerStage; c++) {
      for (let j = 1; j <= 3; j++) {
        let terms = 0;
        CELL_EDGES.forEach((edge, e) => {
          if (Number(edge.split('<-')[0]) !== j) return;
          const op = ops[e];
          const w = `stage ${s} cell ${c} edge ${edge}`;
          if (op === 'nor_conv_1x1' || op === 'nor_conv_3x3') {
            r.take('relu', w);
            out.set(`s${s}.c${c}.e${e}.conv`, r.take('conv', w));
            out.set(`s${s}.c${c}.e${e}.bn`, r.take('bn', w));
          } else if (op === 'avg_pool_3x3') r.take('avgpool', w);
          if (op !== 'none') terms++;
        });
        if (!(live & (1 << j))) continue;
        if (terms === 0) r.take('zero', `stage ${s} cell ${c} node ${j}`);
        else if (terms > 1) r.take('add', `stage ${s} cell ${c} node ${j}`);
      }
    }
  }
  out.set('final.bn', r.take('bn', 'head'));
  r.take('relu', 'head');
  r.end('after the head');
  return out;
}
