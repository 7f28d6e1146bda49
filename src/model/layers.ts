/**
 * The building blocks of the TimeSformer, written for speed on every tfjs backend.
 * Activations are kept as 2-D [rows, features] matrices so that each linear layer is one plain 2-D matmul:
 * on wasm, XNNPACK serves only 2-D matmuls without transpose flags, so the backward pass below
 * transposes explicitly instead of asking matMul to.
 *
 * The hand-written backward passes run in a tf.tidy: tfjs keeps whatever a custom gradient creates until the
 * whole backward pass ends, so without it their intermediates would pile up for the length of the step.
 */
import * as tf from "@tensorflow/tfjs";
import { nativeKernelsActive } from "../backend/active";

/** dy [m, n] -> (dx [m, k], dw [k, n]) of y = x w, as plain 2-D matmuls. */
function matMulGrads(x: tf.Tensor2D, w: tf.Tensor2D, dy: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  // TensorFlow's matmul reads transposed operands in place; elsewhere an explicit transpose keeps XNNPACK's fast path
  if (nativeKernelsActive()) return [tf.matMul(dy, w, false, true), tf.matMul(x, dy, true, false)];
  return [tf.matMul(dy, tf.transpose(w)), tf.matMul(tf.transpose(x), dy)];
}

/**
 * The column sums of a [m, n] matrix, [n]. On wasm as a [1, m] x [m, n] matmul: tfjs-backend-wasm reduces only over
 * the innermost axis, so a sum over rows first transposes the whole matrix.
 */
export function sumRows(x: tf.Tensor2D): tf.Tensor1D {
  if (nativeKernelsActive()) return tf.sum(x, 0);
  return tf.reshape(tf.matMul(tf.ones([1, x.shape[0]]), x), [x.shape[1]]);
}

/** a [m, k] x b [k, n], with a gradient made of plain 2-D matmuls (no transpose flags). */
const matMul2d = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
      tf.tidy(() => matMulGrads(saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, dy as tf.Tensor2D)),
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** x [m, k] w [k, n] + bias [n], its gradient written out as matMul2d's plus the bias's column sums. */
const affine2d = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, w, bias, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), bias),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.tidy(() => {
      const g = dy as tf.Tensor2D;
      return [...matMulGrads(saved[0] as tf.Tensor2D, saved[1] as tf.Tensor2D, g), tf.reshape(sumRows(g), bias.shape)];
    }),
  };
}) as (x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor) => tf.Tensor2D;

/** y = x W + b with W stored as [in, out] (the transpose of PyTorch's Linear.weight). */
export function linear(x: tf.Tensor2D, weight: tf.Tensor, bias?: tf.Tensor): tf.Tensor2D {
  return bias ? affine2d(x, weight as tf.Tensor2D, bias) : matMul2d(x, weight as tf.Tensor2D);
}

/**
 * LayerNorm over the last axis, eps 1e-6 as the official TimeSformer. The backward pass is written out
 * (dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dy * gamma): autodiff through moments took about
 * four times as many kernels, and kept more of the activations alive until the backward pass.
 */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor, beta: tf.Tensor, eps = 1e-6): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, g, b, save] = args as [tf.Tensor2D, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const { mean, variance } = tf.moments(xi, -1, true);
    const rstd = tf.rsqrt(tf.add(variance, eps));
    const normed = tf.mul(tf.sub(xi, mean), rstd);
    save([normed, rstd, g]);
    return {
      value: tf.add(tf.mul(normed, g), b),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.tidy(() => {
        const [xhat, r, gammaSaved] = saved;
        const d = dy as tf.Tensor2D;
        const dxhat = tf.mul(d, gammaSaved);
        const meanG = tf.mean(dxhat, -1, true);
        const meanGx = tf.mean(tf.mul(dxhat, xhat), -1, true);
        const dx = tf.mul(tf.sub(tf.sub(dxhat, meanG), tf.mul(xhat, meanGx)), r);
        return [dx, tf.reshape(sumRows(tf.mul(d, xhat)), gammaSaved.shape), tf.reshape(sumRows(d), b.shape)];
      }),
    };
  });
  return op(x, gamma, beta) as tf.Tensor2D;
}

/**
 * Exact GELU, 0.5 x (1 + erf(x / sqrt 2)), as PyTorch's nn.GELU(), with its derivative written out:
 * 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi).
 */
export const gelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
  const onePlusErf = tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1);
  save([x, onePlusErf]);
  return {
    value: tf.mul(tf.mul(x, 0.5), onePlusErf),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.tidy(() => {
      const [xs, cdf2] = saved;
      const density = tf.mul(tf.exp(tf.mul(tf.square(xs), -0.5)), 1 / Math.sqrt(2 * Math.PI));
      return [tf.mul(dy as tf.Tensor, tf.add(tf.mul(cdf2, 0.5), tf.mul(xs, density)))];
    }),
  };
}) as (x: tf.Tensor2D) => tf.Tensor2D;

/**
 * Multi-head self-attention within `groups` independent sequences of `length` tokens.
 * x: [groups * length, D] -> [groups * length, D]; weights named as the official Attention module.
 */
export function multiHeadAttention(
  x: tf.Tensor2D, groups: number, length: number, numHeads: number,
  qkvWeight: tf.Tensor, qkvBias: tf.Tensor, projWeight: tf.Tensor, projBias: tf.Tensor,
): tf.Tensor2D {
  const dim = x.shape[1];
  const headDim = dim / numHeads;
  const [q, k, v] = nativeKernelsActive()
    ? splitQkv(linear(x, qkvWeight, qkvBias), groups, length, numHeads, headDim)
    : qkvByThreeMatmuls(x, qkvWeight, qkvBias, groups, length, numHeads, headDim);
  const attended = scaledDotProductAttention(q, k, v, headDim ** -0.5); // [G*H, L, hd]
  return linear(mergeHeads(attended, groups, length, numHeads, headDim), projWeight, projBias);
}

/**
 * softmax(q k^T * scale) v over [G*H, L, hd] tensors, with the backward pass written out: it keeps q, k, v and the
 * attention weights, where autodiff kept the raw and the scaled scores as well.
 */
function scaledDotProductAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, scale: number): tf.Tensor3D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [qi, ki, vi, save] = args as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, tf.GradSaveFunc];
    const weights = tf.softmax(tf.mul(tf.matMul(qi, ki, false, true), scale)) as tf.Tensor3D;
    save([qi, ki, vi, weights]);
    return {
      value: tf.matMul(weights, vi),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.tidy(() => {
        const [qs, ks, vs, p] = saved as tf.Tensor3D[];
        const d = dy as tf.Tensor3D;
        const dWeights = tf.matMul(d, vs, false, true);
        const dScores = tf.mul(tf.mul(p, tf.sub(dWeights, tf.sum(tf.mul(dWeights, p), -1, true))), scale);
        return [tf.matMul(dScores, ks), tf.matMul(dScores, qs, true, false), tf.matMul(p, d, true, false)];
      }),
    };
  });
  return op(q, k, v) as tf.Tensor3D;
}

/**
 * Native: qkv [G*L, 3D] -> q, k, v as [G*H, L, hd] with one transpose for all three ([G, L, 3H, hd] -> [G, 3H, L, hd])
 * and a split.
 */
function splitQkv(qkv: tf.Tensor2D, groups: number, length: number, numHeads: number, headDim: number): tf.Tensor3D[] {
  return tf.split(tf.transpose(tf.reshape(qkv, [groups, length, 3 * numHeads, headDim]), [0, 2, 1, 3]), 3, 1)
    .map((t) => tf.reshape(t, [groups * numHeads, length, headDim]) as tf.Tensor3D);
}

/**
 * wasm: q, k, v as [G*H, L, hd], each from its own third of the qkv weight (columns laid out (3, heads, headDim) as
 * PyTorch's reshape). Splitting the [G*L, 3D] activations' columns instead took 35-45% of the kernel time of a
 * wasm inference step (tiny, batch 32: more than all its matmuls); slicing the [D, 3D] weight costs next to nothing.
 */
function qkvByThreeMatmuls(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor, groups: number, length: number, numHeads: number, headDim: number): tf.Tensor3D[] {
  const dim = numHeads * headDim;
  return [0, 1, 2].map((i) => {
    const t = linear(x, tf.slice(w, [0, i * dim], [w.shape[0], dim]), tf.slice(tf.reshape(b, [-1]), [i * dim], [dim]));
    return tf.reshape(tf.transpose(tf.reshape(t, [groups, length, numHeads, headDim]), [0, 2, 1, 3]), [groups * numHeads, length, headDim]) as tf.Tensor3D;
  });
}

/** [G*H, L, hd] -> [G*L, H*hd] */
function mergeHeads(t: tf.Tensor3D, groups: number, length: number, numHeads: number, headDim: number): tf.Tensor2D {
  return tf.reshape(tf.transpose(tf.reshape(t, [groups, numHeads, length, headDim]), [0, 2, 1, 3]), [groups * length, numHeads * headDim]);
}

/** fc1 -> GELU -> fc2 (dropout is 0 in TimeSformer's fine-tuning configs). */
export function mlp(x: tf.Tensor2D, fc1W: tf.Tensor, fc1B: tf.Tensor, fc2W: tf.Tensor, fc2B: tf.Tensor): tf.Tensor2D {
  return linear(gelu(linear(x, fc1W, fc1B)), fc2W, fc2B);
}

/**
 * Stochastic depth mask: per sample, 0 with probability `rate`, else 1 / (1 - rate); null when nothing is dropped.
 * The official code drops per leading entry of the tensor it is given: (batch x patch) for temporal attention,
 * (batch x frame) for spatial attention, batch for the MLP.
 */
export function dropPathMask(groups: number, rate: number, uniform: (shape: [number, number]) => tf.Tensor2D): tf.Tensor2D | null {
  if (rate <= 0) return null;
  return tf.div(tf.floor(tf.add(uniform([groups, 1]), 1 - rate)), 1 - rate) as tf.Tensor2D;
}

/**
 * Uniform noise in [0, 1) of a shape, from a seed; `index` is the draw's place in its pass (the seed is a function
 * of the pass's seed and the index, see dropPathSeed).
 */
export type UniformDraw = (shape: [number, number], seed: number, index: number) => tf.Tensor2D;

export const randomUniform: UniformDraw = (shape, seed) => tf.randomUniform(shape, 0, 1, "float32", seed);

/** The seed of a pass's index-th drop path mask (every mask of a pass, dropped or not, takes the next index). */
export function dropPathSeed(passSeed: number, index: number): number {
  return (passSeed + index + 1) * 2654435761 % 2147483647;
}

/** Scales each of the mask's groups of rows of x: [groups * rowsPerGroup, d] * [groups, 1]. */
export function applyDropPath(x: tf.Tensor2D, mask: tf.Tensor2D | null): tf.Tensor2D {
  if (!mask) return x;
  const groups = mask.shape[0];
  return tf.reshape(tf.mul(tf.reshape(x, [groups, -1, x.shape[1]]), tf.reshape(mask, [groups, 1, 1])), x.shape) as tf.Tensor2D;
}

/** Rows of `table` picked by index, as a one-hot matmul: its gradient needs no UnsortedSegmentSum (missing on wasm). */
export function selectRows(table: tf.Tensor2D, index: number[]): tf.Tensor2D {
  const oneHot = new Float32Array(index.length * table.shape[0]);
  index.forEach((row, i) => { oneHot[i * table.shape[0] + row] = 1; });
  return linear(tf.tensor2d(oneHot, [index.length, table.shape[0]]), table);
}
