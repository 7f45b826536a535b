/**
 * The structured form of a frozen architecture: what a model builder needs,
 * and nothing a search strategy needs. A `Space` turns an `Architecture`
 * (flat decision values) into one of these with `space.network(arch)`.
 */

/** NAS-Bench-201 cell operations. */
export const CELL_OPS = ['none', 'skip_connect', 'nor_conv_1x1', 'nor_conv_3x3', 'avg_pool_3x3'] as const;
export type CellOp = (typeof CELL_OPS)[number];

/** The six edges of a NAS-Bench-201 cell, in the order of the benchmark's `arch_str`. */
export const CELL_EDGES = ['1<-0', '2<-0', '2<-1', '3<-0', '3<-1', '3<-2'] as const;
export type CellEdge = (typeof CELL_EDGES)[number];

/** Training hyperparameters shared by every kind of network. */
export interface TrainingHparams {
  readonly learningRate: number;
  readonly batchSize: number;
  readonly optimizer: 'adam' | 'sgd' | 'rmsprop';
  readonly weightDecay: number;
}

export const DEFAULT_TRAINING: TrainingHparams = {
  learningRate: 0.001,
  batchSize: 64,
  optimizer: 'adam',
  weightDecay: 0,
};

/**
 * A NAS-Bench-201 style network: a stem convolution, `stages` stages of
 * `cellsPerStage` copies of the cell, a residual reduction block between
 * stages (channels doubled, resolution halved), global average pooling and a
 * classifier.
 */
export interface CellNetwork {
  readonly kind: 'cell';
  /** One op per edge, in `CELL_EDGES` order. */
  readonly ops: readonly CellOp[];
  readonly channels: number;
  readonly cellsPerStage: number;
  readonly stages: number;
  readonly training: TrainingHparams;
}

export type ChainLayerType = 'dense' | 'conv2d' | 'sepconv2d' | 'maxpool' | 'avgpool' | 'batchnorm' | 'dropout';
export type Activation = 'relu' | 'relu6' | 'swish' | 'gelu' | 'tanh' | 'sigmoid' | 'elu' | 'linear';

/**
 * One layer of a chain. Fields that do not apply to a layer type are absent.
 * `dense` flattens its input first when the input is not already flat.
 */
export interface ChainLayer {
  readonly type: ChainLayerType;
  /** dense: output units; conv2d / sepconv2d: output filters. */
  readonly width?: number;
  /** conv2d / sepconv2d / maxpool / avgpool: square kernel size. */
  readonly kernel?: number;
  /** conv2d / sepconv2d / maxpool / avgpool: stride (pools default to their kernel). */
  readonly stride?: number;
  readonly activation?: Activation;
  /** dense / conv2d / sepconv2d: batch normalisation after the layer, before the activation. */
  readonly batchNorm?: boolean;
  /** dropout: the rate; dense / conv layers: dropout after the activation when > 0. */
  readonly dropout?: number;
  /**
   * dense / conv2d / sepconv2d: add the layer's input to its output (a
   * residual connection; a 1×1 projection is inserted when shapes differ).
   */
  readonly skip?: boolean;
}

/** A macro network: layers in sequence, then a softmax classifier. */
export interface ChainNetwork {
  readonly kind: 'chain';
  readonly layers: readonly ChainLayer[];
  readonly training: TrainingHparams;
}

export type Network = CellNetwork | ChainNetwork;
