/**
 * One micro-batch of COVER's objective: L = sum_i w_i * CE_i over the datasets present in the batch (Sec. 3.3), each
 * CE_i the mean cross-entropy of dataset i's clips under its own head; images are 1-frame clips of the same model.
 */
import * as tf from "@tensorflow/tfjs";
import { TimeSformer } from "../model/timesformer";

/** The clips of one dataset within a batch: x is float32 [n, T, S, S, 3]. */
export interface BatchGroup { dataset: string; x: Float32Array; shape: [number, number, number, number, number]; labels: Int32Array }
export interface Batch { groups: BatchGroup[] }

export interface StepLosses { total: number; perDataset: Record<string, number> }

export interface GradientResult { grads: Map<string, tf.Tensor>; losses: StepLosses }

/** Loss and gradients (by parameter name) of one micro-batch. */
export function lossAndGradients(
  model: TimeSformer, batch: Batch, lossWeights: Record<string, number>,
  options: { labelSmoothing: number; seed: number; trainable: Map<string, tf.Variable> },
): GradientResult {
  const perDatasetTensors: Record<string, tf.Scalar> = {};
  const names = new Map([...options.trainable.entries()].map(([name, v]) => [v.name, name]));
  const { value, grads } = tf.variableGrads(() => {
    let total: tf.Scalar = tf.scalar(0);
    batch.groups.forEach((g, i) => {
      const weight = lossWeights[g.dataset];
      if (weight === undefined) throw new Error(`batch holds dataset '${g.dataset}', which has no loss weight`);
      const classes = model.config.classifiers[g.dataset];
      const logits = model.logits(tf.tensor(g.x, g.shape), g.dataset, { training: true, seed: options.seed * 7919 + i });
      const targets = tf.oneHot(tf.tensor1d(g.labels, "int32"), classes);
      const ce = tf.losses.softmaxCrossEntropy(targets, logits, undefined, options.labelSmoothing) as tf.Scalar;
      perDatasetTensors[g.dataset] = tf.keep(ce);
      total = tf.add(total, tf.mul(ce, weight));
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

/** Variables of the model that a step may change: the backbone unless frozen, and the heads of `heads`. */
export function trainableParams(model: TimeSformer, options: { freezeBackbone: boolean; heads: string[] }): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, v] of model.params) {
    const head = /^model\.heads\.([^.]+)\./.exec(name)?.[1];
    if (head !== undefined ? options.heads.includes(head) : !options.freezeBackbone) out.set(name, v);
  }
  return out;
}
