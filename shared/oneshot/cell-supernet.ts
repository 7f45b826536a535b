/**
 * The supernet of a cell space: one network holding every candidate
 * operation of every edge of every cell, with the macro skeleton of
 * `buildModel`'s cell network (stem, stages of cells, residual reductions,
 * head). A path — one op per edge, the same cell repeated as NAS-Bench-201
 * has it — selects the layers a forward pass runs through, so a path's
 * forward is exactly the stand-alone network's forward with the weights the
 * path inherits (`test/unit/oneshot/cell-supernet.test.ts`).
 *
 * Layers are tfjs-layers objects applied eagerly: weights are created once,
 * shared by every path that goes through them, and named by position
 * (`s0.c1.e3.nor_conv_3x3.conv`), so a checkpoint restores them by name.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { SpecError } from '../errors.js';
import { Rng } from '../rng.js';
import { batchNorm, type InputSpec } from '../model/build.js';
import { CELL_EDGES, type CellOp } from '../space/network.js';
import { EDGE_NODES } from '../space/cell.js';
import type { Supernet } from './supernet.js';

/** The macro skeleton the cells sit in (the cell space's fixed fields). */
export interface CellMacro {
  readonly channels: number;
  readonly stages: number;
  readonly cellsPerStage: number;
}

/** One op per edge, in `CELL_EDGES` order. */
export type CellPath = readonly CellOp[];

const PARAMETRIC: readonly CellOp[] = ['nor_conv_1x1', 'nor_conv_3x3'];

/** Whether a cell has no parametric op on an edge that reaches its output: the collapse DARTS is known for. */
export function isParameterFree(path: CellPath): boolean {
  return !path.some((op) => PARAMETRIC.includes(op));
}

export class CellSupernet implements Supernet<CellPath> {
  /** Every weighted layer, by position name. */
  readonly layers = new Map<string, tfl.layers.Layer>();
  private readonly rng: Rng;
  private readonly avgPool3 = tfl.layers.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' });
  private readonly avgPool2 = tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' });

  constructor(
    readonly macro: CellMacro,
    readonly input: InputSpec,
    /** The candidate ops of every edge. */
    readonly ops: readonly CellOp[],
    seed: number,
  ) {
    if (input.shape.length !== 3) throw new SpecError([{ path: 'space.kind', message: `a cell supernet needs image input, got shape ${JSON.stringify(input.shape)}` }], 'network');
    this.rng = Rng.seeded(seed);
    this.create();
  }

  private init(): ReturnType<typeof tfl.initializers.glorotUniform> {
    return tfl.initializers.glorotUniform({ seed: this.rng.nextU32() % 2147483647 });
  }

  private conv(name: string, filters: number, kernel: number, stride: number): void {
    this.layers.set(name, tfl.layers.conv2d({ filters, kernelSize: kernel, strides: stride, padding: 'same', useBias: false, kernelInitializer: this.init(), name }));
  }

  private bn(name: string): void {
    this.layers.set(name, batchNorm(name));
  }

  /** Creates every layer (weights are built by the first forward, which visits them all). */
  private create(): void {
    let c = this.macro.channels;
    this.conv('stem', c, 3, 1);
    this.bn('stem.bn');
    for (let s = 0; s < this.macro.stages; s++) {
      if (s > 0) {
        c *= 2;
        this.conv(`s${s}.red.a.conv`, c, 3, 2);
        this.bn(`s${s}.red.a.bn`);
        this.conv(`s${s}.red.b.conv`, c, 3, 1);
        this.bn(`s${s}.red.b.bn`);
        this.conv(`s${s}.red.short`, c, 1, 1);
      }
      for (let i = 0; i < this.macro.cellsPerStage; i++) {
        CELL_EDGES.forEach((_, e) => {
          for (const op of this.ops) {
            if (op !== 'nor_conv_1x1' && op !== 'nor_conv_3x3') continue;
            this.conv(`s${s}.c${i}.e${e}.${op}.conv`, c, op === 'nor_conv_1x1' ? 1 : 3, 1);
            this.bn(`s${s}.c${i}.e${e}.${op}.bn`);
          }
        });
      }
    }
    this.bn('head.bn');
    this.layers.set('logits', tfl.layers.dense({ units: this.input.numClasses, kernelInitializer: this.init(), name: 'logits' }));
    // Build every weight: one forward per op touches each edge's layers of that op.
    tf.tidy(() => {
      const x = tf.zeros([1, ...this.input.shape]);
      for (const op of this.ops) this.logits(x, CELL_EDGES.map(() => op), false);
    });
  }

  private apply(name: string, x: tf.Tensor, training: boolean, used?: tfl.layers.Layer[]): tf.Tensor {
    const layer = this.layers.get(name)!;
    used?.push(layer);
    return layer.apply(x, { training }) as tf.Tensor;
  }

  /** NAS-Bench-201's ReLU → Conv → BN. */
  private reluConvBn(prefix: string, convName: string, x: tf.Tensor, training: boolean, used?: tfl.layers.Layer[]): tf.Tensor {
    return this.apply(`${prefix}.bn`, this.apply(convName, tf.relu(x), training, used), training, used);
  }

  private op(prefix: string, op: CellOp, x: tf.Tensor, training: boolean, used?: tfl.layers.Layer[]): tf.Tensor | undefined {
    switch (op) {
      case 'none':
        return undefined;
      case 'skip_connect':
        return x;
      case 'avg_pool_3x3':
        return this.avgPool3.apply(x) as tf.Tensor;
      case 'nor_conv_1x1':
      case 'nor_conv_3x3':
        return this.reluConvBn(`${prefix}.${op}`, `${prefix}.${op}.conv`, x, training, used);
    }
  }

  /**
   * The logits of a batch through one path (`used` collects the weighted
   * layers the path runs through, in the order `buildModel` creates the
   * stand-alone network's).
   */
  logits(x: tf.Tensor, path: CellPath, training: boolean, used?: tfl.layers.Layer[]): tf.Tensor2D {
    if (path.length !== CELL_EDGES.length) throw new SpecError([{ path: 'ops', message: `a cell has ${CELL_EDGES.length} edges, got ${path.length} ops` }], 'network');
    const bad = path.find((op) => !this.ops.includes(op));
    if (bad !== undefined) throw new SpecError([{ path: 'ops', message: `op "${bad}" is not a candidate of this supernet (${this.ops.join(', ')})` }], 'network');
    return tf.tidy(() => {
      let h = this.apply('stem.bn', this.apply('stem', x, training, used), training, used);
      for (let s = 0; s < this.macro.stages; s++) {
        if (s > 0) {
          const a = this.reluConvBn(`s${s}.red.a`, `s${s}.red.a.conv`, h, training, used);
          const main = this.reluConvBn(`s${s}.red.b`, `s${s}.red.b.conv`, a, training, used);
          const short = this.apply(`s${s}.red.short`, this.avgPool2.apply(h) as tf.Tensor, training, used);
          h = tf.add(main, short);
        }
        for (let i = 0; i < this.macro.cellsPerStage; i++) {
          const nodes: tf.Tensor[] = [h];
          for (let j = 1; j <= 3; j++) {
            const terms: tf.Tensor[] = [];
            EDGE_NODES.forEach(([to, from], e) => {
              if (to !== j) return;
              const out = this.op(`s${s}.c${i}.e${e}`, path[e]!, nodes[from]!, training, used);
              if (out !== undefined) terms.push(out);
            });
            nodes.push(terms.length === 0 ? tf.zerosLike(h) : terms.length === 1 ? terms[0]! : tf.addN(terms));
          }
          h = nodes[3]!;
        }
      }
      h = tf.relu(this.apply('head.bn', h, training, used));
      return this.apply('logits', tf.mean(h, [1, 2]), training, used) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const layer of this.layers.values()) for (const w of layer.weights) w.dispose();
  }
}
