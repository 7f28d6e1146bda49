/**
 * TimeSformer (Bertasius et al. 2021) with the official semantics, for COVER: one backbone, a classification head
 * per dataset. Input video: float32 [batch, frames, height, width, 3], normalised; an image is a 1-frame video.
 *
 * Axis names: b batch, t frames, n patches per frame, d embedding width.
 * Patch tokens are kept as a 2-D matrix with rows ordered (b t n); the cls token separately as [b, d].
 */
import * as tf from "@tensorflow/tfjs";
import { AttentionType, patchesPerFrame, TimeSformerConfig, validateConfig } from "./config";
import {
  applyDropPath, dropPathMask, dropPathSeed, layerNorm, linear, mlp, multiHeadAttention, randomUniform, selectRows, UniformDraw,
} from "./layers";
import { allSpecs, headParamName, initialValue, PREFIX } from "./params";

export interface ForwardOptions {
  /** Enables drop path. */
  training?: boolean;
  /** Seed for drop path's random draws; vary it per step for stochastic depth. */
  seed?: number;
  /** Draws drop path's uniform noise (default: tf.randomUniform from the seed); a recorded step passes its own. */
  uniform?: UniformDraw;
}

/** A forward pass after the patch embedding: what every attention type's blocks start from. */
interface Embedded {
  B: number; T: number; N: number; D: number;
  /** Patch tokens with their position embedding, [(b t n), d]. */
  patches: tf.Tensor2D;
  /** The cls token with its position embedding, [1, d]. */
  cls: tf.Tensor;
  /** Runs one block; outside training its intermediates are freed when it is done. */
  block: <R extends tf.TensorContainer>(run: () => R) => R;
  dropRate: number;
  /** The next drop path mask of a pass (null where nothing is dropped). */
  dropMask: (groups: number, rate: number) => tf.Tensor2D | null;
}

export class TimeSformer {
  readonly config: TimeSformerConfig;
  /** Official checkpoint name -> variable (internal layout, see params.ts). */
  readonly params: Map<string, tf.Variable>;

  constructor(config: TimeSformerConfig, params: Map<string, tf.Variable>) {
    validateConfig(config);
    this.config = config;
    this.params = params;
  }

  /** A new model with the official initialisation, deterministic for a seed. */
  static create(config: TimeSformerConfig, seed = 0): TimeSformer {
    validateConfig(config);
    const params = new Map<string, tf.Variable>();
    allSpecs(config).forEach((spec, i) => {
      const init = initialValue(spec, seed * 100003 + i + 1); // +1: tfjs treats a seed of 0 as "no seed"
      params.set(spec.name, tf.variable(init, true, `${spec.name}#${Math.random().toString(36).slice(2)}`));
      init.dispose();
    });
    return new TimeSformer(config, params);
  }

  get headNames(): string[] { return Object.keys(this.config.classifiers); }

  private p(name: string): tf.Variable {
    const v = this.params.get(PREFIX + name);
    if (!v) throw new Error(`model has no parameter '${PREFIX}${name}'`);
    return v;
  }

  /** The backbone's pooled feature: final-norm cls token, [b, d]. */
  features(video: tf.Tensor, options: ForwardOptions = {}): tf.Tensor2D {
    const [B, T, H, W, C] = checkVideo(video, this.config);
    const { dim: D, patchSize: P } = this.config;
    const N = (H / P) * (W / P);
    const dropRate = options.training ? this.config.dropPath : 0;
    const passSeed = options.seed ?? 0;
    const uniform = options.uniform ?? randomUniform;
    let draws = 0;
    const dropMask = (groups: number, rate: number) => {
      const index = draws++;
      return dropPathMask(groups, rate, (shape) => uniform(shape, dropPathSeed(passSeed, index), index));
    };

    let patches = linear(patchify(video as tf.Tensor5D, P), this.p("patch_embed.proj.weight"), this.p("patch_embed.proj.bias"));
    const pos = resizePosEmbed(this.p("pos_embed"), patchesPerFrame(this.config), N, D);
    patches = tf.reshape(tf.add(tf.reshape(patches, [B * T, N, D]), tf.slice(pos, [1, 0], [N, D])), [B * T * N, D]);
    const cls = tf.add(tf.reshape(this.p("cls_token"), [1, D]), tf.slice(pos, [0, 0], [1, D])); // [1, d]

    // Outside training each block's intermediates are freed as soon as it is done: base 8x224 inference then fits
    // the wasm heap (4 GB). Training keeps them either way for the backward pass.
    const block = <R extends tf.TensorContainer>(run: () => R): R => (options.training ? run() : tf.tidy(run));
    const embedded: Embedded = { B, T, N, D, patches, cls, block, dropRate, dropMask };
    return layerNorm(this.blocks[this.config.attention](embedded), this.p("norm.weight"), this.p("norm.bias"));
  }

  /** Per attention type: the blocks, from the embedded patches to the pooled token before the final norm, [b, d]. */
  private readonly blocks: Record<AttentionType, (e: Embedded) => tf.Tensor2D> = {
    space_only: ({ B, T, N, D, patches, cls, block, dropRate, dropMask }) => {
      // A per-frame ViT: every frame carries its own cls token; frames are averaged after the last block.
      let x = concatCls(tf.tile(cls, [B * T, 1]), patches, B * T, N, D); // [(b t)(1+n), d]
      for (let i = 0; i < this.config.depth; i++) x = block(() => this.jointBlock(i, x, B * T, N + 1, dropRate, dropMask));
      const clsPerFrame = tf.reshape(tf.slice(tf.reshape(x, [B * T, N + 1, D]), [0, 0, 0], [B * T, 1, D]), [B, T, D]);
      return tf.mean(clsPerFrame, 1) as tf.Tensor2D;
    },
    joint_space_time: (e) => {
      const { B, T, N, D, block, dropRate, dropMask } = e;
      let x = concatCls(tf.tile(e.cls, [B, 1]), this.withTime(e), B, T * N, D);
      for (let i = 0; i < this.config.depth; i++) x = block(() => this.jointBlock(i, x, B, 1 + T * N, dropRate, dropMask));
      return tf.reshape(tf.slice(tf.reshape(x, [B, 1 + T * N, D]), [0, 0, 0], [B, 1, D]), [B, D]);
    },
    divided_space_time: (e) => {
      const { B, T, N, block, dropRate, dropMask } = e;
      let clsB = tf.tile(e.cls, [B, 1]) as tf.Tensor2D; // [b, d]
      let patches = this.withTime(e);
      for (let i = 0; i < this.config.depth; i++) [clsB, patches] = block(() => this.dividedBlock(i, clsB, patches, B, T, N, dropRate, dropMask));
      return clsB;
    },
  };

  /** The patch tokens plus the time embedding (resized to the clip's frames), [(b t n), d]. */
  private withTime({ B, T, N, D, patches }: Embedded): tf.Tensor2D {
    const time = resizeTimeEmbed(this.p("time_embed"), T, D); // [t, d]
    return tf.reshape(tf.add(tf.reshape(patches, [B, T, N, D]), tf.reshape(time, [1, T, 1, D])), [B * T * N, D]);
  }

  /** Classification logits of one named head, [b, classes]. */
  logits(video: tf.Tensor, head: string, options: ForwardOptions = {}): tf.Tensor2D {
    return this.classify(this.features(video, options), head);
  }

  classify(features: tf.Tensor2D, head: string): tf.Tensor2D {
    const weight = this.params.get(headParamName(head, "weight"));
    const bias = this.params.get(headParamName(head, "bias"));
    if (!weight || !bias) throw new Error(`unknown head '${head}' (heads: ${this.headNames.join(", ")})`);
    return linear(features, weight, bias);
  }

  /** Pre-norm block over `groups` sequences of `length` tokens (joint space-time and space-only). */
  private jointBlock(i: number, x: tf.Tensor2D, groups: number, length: number, dropRate: number, dropMask: Embedded["dropMask"]): tf.Tensor2D {
    const b = `blocks.${i}.`;
    const rate = blockDropRate(dropRate, i, this.config.depth);
    const attn = this.attention(`${b}attn`, layerNorm(x, this.p(`${b}norm1.weight`), this.p(`${b}norm1.bias`)), groups, length);
    x = tf.add(x, applyDropPath(attn, dropMask(groups, rate)));
    return tf.add(x, applyDropPath(this.mlp(b, x), dropMask(groups, rate)));
  }

  /**
   * Divided space-time block (the official Block with attention_type 'divided_space_time'):
   * temporal attention across the t frames of each patch (cls excluded) -> temporal_fc -> residual;
   * spatial attention across the n patches of each frame with the cls token repeated per frame, its t outputs averaged;
   * then the MLP.
   */
  private dividedBlock(i: number, cls: tf.Tensor2D, patches: tf.Tensor2D, B: number, T: number, N: number,
    dropRate: number, dropMask: Embedded["dropMask"]): [tf.Tensor2D, tf.Tensor2D] {
    const b = `blocks.${i}.`;
    const D = this.config.dim;
    const rate = blockDropRate(dropRate, i, this.config.depth);

    // temporal: rows (b t n) -> (b n t), attention within each (b n) group of t tokens
    const byPatch = reorder(patches, B, T, N, D);
    const tNormed = layerNorm(byPatch, this.p(`${b}temporal_norm1.weight`), this.p(`${b}temporal_norm1.bias`));
    const tAttn = applyDropPath(this.attention(`${b}temporal_attn`, tNormed, B * N, T), dropMask(B * N, rate));
    const tResidual = linear(reorder(tAttn, B, N, T, D), this.p(`${b}temporal_fc.weight`), this.p(`${b}temporal_fc.bias`));
    const xt = tf.add(patches, tResidual) as tf.Tensor2D;

    // spatial: each (b t) frame attends over [cls, its n patches]
    const framesWithCls = concatCls(tf.reshape(tf.tile(tf.reshape(cls, [B, 1, D]), [1, T, 1]), [B * T, D]), xt, B * T, N, D);
    const sNormed = layerNorm(framesWithCls, this.p(`${b}norm1.weight`), this.p(`${b}norm1.bias`));
    const sAttn = tf.reshape(applyDropPath(this.attention(`${b}attn`, sNormed, B * T, N + 1), dropMask(B * T, rate)), [B * T, N + 1, D]);
    const clsResidual = tf.mean(tf.reshape(tf.slice(sAttn, [0, 0, 0], [B * T, 1, D]), [B, T, D]), 1) as tf.Tensor2D;
    const patchResidual = tf.reshape(tf.slice(sAttn, [0, 1, 0], [B * T, N, D]), [B * T * N, D]);

    // MLP over cls and patch tokens together, drop path per sample b
    const x = tf.concat([tf.add(cls, clsResidual), tf.add(xt, patchResidual)], 0) as tf.Tensor2D; // [b + (b t n), d]
    const m = this.mlp(b, x);
    const mask = dropMask(B, rate);
    return [
      tf.add(tf.slice(x, [0, 0], [B, D]), applyDropPath(tf.slice(m, [0, 0], [B, D]), mask)) as tf.Tensor2D,
      tf.add(tf.slice(x, [B, 0], [B * T * N, D]), applyDropPath(tf.slice(m, [B, 0], [B * T * N, D]), mask)) as tf.Tensor2D,
    ];
  }

  private attention(name: string, x: tf.Tensor2D, groups: number, length: number): tf.Tensor2D {
    return multiHeadAttention(x, groups, length, this.config.numHeads,
      this.p(`${name}.qkv.weight`), this.p(`${name}.qkv.bias`), this.p(`${name}.proj.weight`), this.p(`${name}.proj.bias`));
  }

  private mlp(b: string, x: tf.Tensor2D): tf.Tensor2D {
    const normed = layerNorm(x, this.p(`${b}norm2.weight`), this.p(`${b}norm2.bias`));
    return mlp(normed, this.p(`${b}mlp.fc1.weight`), this.p(`${b}mlp.fc1.bias`), this.p(`${b}mlp.fc2.weight`), this.p(`${b}mlp.fc2.bias`));
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

function checkVideo(video: tf.Tensor, c: TimeSformerConfig): [number, number, number, number, number] {
  const s = video.shape;
  if (s.length !== 5 || s[4] !== 3) {
    throw new Error(`TimeSformer input must be float32 [batch, frames, height, width, 3]; got shape [${s.join(", ")}]`);
  }
  const [, , H, W] = s;
  if (H % c.patchSize !== 0 || W % c.patchSize !== 0) {
    throw new Error(`frame size ${H}x${W} is not a multiple of the patch size ${c.patchSize}`);
  }
  return s as [number, number, number, number, number];
}

/** Linearly increasing stochastic depth rate, as torch.linspace(0, rate, depth) in the official code. */
function blockDropRate(rate: number, i: number, depth: number): number {
  return depth > 1 ? (rate * i) / (depth - 1) : rate;
}

/**
 * [b, t, h, w, c] -> [(b t n), p*p*c] with each patch's values ordered (kh, kw, c): the conv of kernel = stride = p
 * becomes one matmul (wasm has no Conv2DBackpropFilter). Only rank-4 transposes (rank 5+ is slow on wasm).
 */
export function patchify(video: tf.Tensor5D, p: number): tf.Tensor2D {
  const [B, T, H, W, C] = video.shape;
  const rows = tf.reshape(video, [B * T * (H / p), p, W / p, p * C]); // (b t hp) kh wp (kw c)
  const patches = tf.transpose(rows, [0, 2, 1, 3]); // (b t hp) wp kh (kw c)
  return tf.reshape(patches, [B * T * (H / p) * (W / p), p * p * C]);
}

/** Rows (b, x, y) -> (b, y, x) of a [b*x*y, d] matrix. */
function reorder(t: tf.Tensor2D, B: number, X: number, Y: number, D: number): tf.Tensor2D {
  return tf.reshape(tf.transpose(tf.reshape(t, [B, X, Y, D]), [0, 2, 1, 3]), [B * X * Y, D]);
}

/** [g, d] cls tokens + [(g n), d] patch tokens -> [(g (1+n)), d], cls first in each group. */
function concatCls(cls: tf.Tensor, patches: tf.Tensor2D, groups: number, n: number, D: number): tf.Tensor2D {
  return tf.reshape(tf.concat([tf.reshape(cls, [groups, 1, D]), tf.reshape(patches, [groups, n, D])], 1), [groups * (1 + n), D]);
}

/** Nearest-neighbour resizing of the official pos_embed [1, 1+n0, d] to n patches; returns [1+n, d]. */
export function resizePosEmbed(pos: tf.Tensor, n0: number, n: number, D: number): tf.Tensor2D {
  const flat = tf.reshape(pos, [n0 + 1, D]) as tf.Tensor2D;
  if (n === n0) return flat;
  return selectRows(flat, posEmbedRows(n0, n));
}

/**
 * The pos_embed rows (cls first) that a square grid of n patches takes from one of n0 patches: nearest neighbour on
 * the 2-D grid, as the official forward pass does for an input of another size.
 */
export function posEmbedRows(n0: number, n: number): number[] {
  const side0 = Math.round(Math.sqrt(n0));
  const side = Math.round(Math.sqrt(n));
  const index: number[] = [0];
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) index.push(1 + nearest(y, side0, side) * side0 + nearest(x, side0, side));
  }
  return index;
}

/**
 * The pos_embed rows (cls first) that n patches take from n0 by nearest neighbour over the flattened patch sequence:
 * the official loader's resize of an image ViT's pos_embed (for a grid of another side it moves patches across rows).
 */
export function sequenceRows(n0: number, n: number): number[] {
  return [0, ...Array.from({ length: n }, (_, i) => 1 + nearest(i, n0, n))];
}

/** Nearest-neighbour resizing of time_embed [1, t0, d] to t frames (t = 1 for images); returns [t, d]. */
export function resizeTimeEmbed(time: tf.Tensor, t: number, D: number): tf.Tensor2D {
  const t0 = time.shape[1] as number;
  const flat = tf.reshape(time, [t0, D]) as tf.Tensor2D;
  if (t === t0) return flat;
  return selectRows(flat, Array.from({ length: t }, (_, i) => nearest(i, t0, t)));
}

/** PyTorch's F.interpolate(mode='nearest') source index: floor(i * in / out). */
function nearest(i: number, inSize: number, outSize: number): number {
  return Math.min(inSize - 1, Math.floor((i * inSize) / outSize));
}

export type { AttentionType };
