/**
 * One micro-batch of COVER's objective: L = sum_i w_i * CE_i over the datasets present in the batch (Sec. 3.3), each
 * CE_i the mean cross-entropy of dataset i's clips under its own head; images are 1-frame clips of the same model.
 */
import type { Batch, BatchGroup } from "../data/batches";
import * as tf from "@tensorflow/tfjs";
import { TimeSformer } from "../model/timesformer";

/** The clips of one dataset within a batch: x is float32 [n, T, S, S, 3]. */

export interface StepLosses { total: number; perDataset: Record<string, number> }

export interface GradientResult { grads: Map<string, tf.Tensor>; losses: StepLosses }

/**
 * Loss and gradients (by parameter name) of one micro-batch. The groups whose clips have the same shape (the video
 * datasets, sharing T; the image datasets, T = 1) go through the backbone as one pass, and their features are split
 * for the heads: fewer, larger kernels than a pass per dataset, the same function of the inputs (nothing in the
 * model mixes the clips of a batch). Drop path draws its masks per pass.
 */
export function lossAndGradients(
  model: TimeSformer, batch: Batch, lossWeights: Record<string, number>,
  options: { labelSmoothing: number; seed: number; trainable: Map<string, tf.Variable> },
): GradientResult {
  for (const g of batch.groups) {
    if (lossWeights[g.dataset] === undefined) throw new Error(`batch holds dataset '${g.dataset}', which has no loss weight`);
  }
  const perDatasetTensors: Record<string, tf.Scalar> = {};
  const names = new Map([...options.trainable.entries()].map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(() => {
    let total: tf.Scalar = tf.scalar(0);
    passesByShape(batch.groups).forEach((groups, pass) => {
      const features = model.features(stackClips(groups), { training: true, seed: options.seed * 7919 + pass });
      const perGroup = groups.length === 1 ? [features] : tf.split(features, groups.map((g) => g.labels.length), 0);
      groups.forEach((g, i) => {
        const logits = model.classify(perGroup[i] as tf.Tensor2D, g.dataset);
        const targets = tf.oneHot(tf.tensor1d(g.labels, "int32"), model.config.classifiers[g.dataset]);
        const ce = tf.losses.softmaxCrossEntropy(targets, logits, undefined, options.labelSmoothing) as tf.Scalar;
        perDatasetTensors[g.dataset] = tf.keep(ce);
        total = tf.add(total, tf.mul(ce, lossWeights[g.dataset]));
      });
    });
    return total;
  }, [...options.trainable.values()]);
  const byName = new Map<string, tf.Tensor>();
  for (const [varName, g] of Object.entries(grads)) byName.set(names.get(varName)!, g);
  const perDataset: Record<string, number> = {};
  for (const [name, t] of Object.entries(perDatasetTensors)) { perDataset[name] = t.dataSync()[0]; t.dispose(); }
  const total = value.dataSync()[0];
  value.dispose();
  return { grads: byName, losses: { total, perDataset } };
}

/** The batch's groups, those of one clip shape together, in order of first appearance. */
function passesByShape(groups: BatchGroup[]): BatchGroup[][] {
  const passes = new Map<string, BatchGroup[]>();
  for (const g of groups) {
    const key = g.shape.slice(1).join("x");
    passes.set(key, [...(passes.get(key) ?? []), g]);
  }
  return [...passes.values()];
}

/** One float32 tensor [sum of n, T, S, S, 3] of the groups' clips, in group order. */
function stackClips(groups: BatchGroup[]): tf.Tensor5D {
  if (groups.length === 1) return tf.tensor(groups[0].x, groups[0].shape) as tf.Tensor5D;
  const x = new Float32Array(groups.reduce((n, g) => n + g.x.length, 0));
  let offset = 0;
  for (const g of groups) { x.set(g.x, offset); offset += g.x.length; }
  const [, T, H, W, C] = groups[0].shape;
  return tf.tensor5d(x, [groups.reduce((n, g) => n + g.shape[0], 0), T, H, W, C]);
}

/** Variables of the model that a step may change: the backbone unless frozen, and the heads of `heads`. */
export function trainableParams(model: TimeSformer, options: { freezeBackbone: boolean; heads: string[] }): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, v] of model.params) {
    const head = /^model\.heads\.([^.]+)\./.exec(name)?.[1];
    if (head !== undefined ? options.heads.includes(head) : !options.freezeBackbone) out.set(name, v);
  }
  return out;
}
