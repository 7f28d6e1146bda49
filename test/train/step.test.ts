/**
 * One backbone pass per clip shape: a COVER batch's video groups go through the backbone together (images, T = 1,
 * on their own), and the loss and gradients are those of a separate pass per dataset.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { modelConfig } from "../../src/model/config";
import { TimeSformer } from "../../src/model/timesformer";
import { AdamW } from "../../src/train/optimizer";
import type { Batch, BatchGroup } from "../../src/data/batches";
import { lossAndGradients } from "../../src/train/step";
import { maxAbsDiff, withBackend } from "../helpers/tf";

before(() => withBackend());

function group(dataset: string, n: number, frames: number, seed: number, classes: number): BatchGroup {
  const shape: BatchGroup["shape"] = [n, frames, 16, 16, 3];
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(seed * 5.1 + i * 0.37));
  return { dataset, x, shape, labels: Int32Array.from({ length: n }, (_, i) => (i + seed) % classes) };
}

test("a batch of two video datasets and an image dataset: loss and gradients of one pass per dataset", () => {
  const config = modelConfig("micro", { classifiers: { motion: 3, appearance: 4, images: 5 }, timeEmbedInit: "trunc_normal" });
  const model = TimeSformer.create(config, 3);
  const batch: Batch = { groups: [group("motion", 3, 4, 1, 3), group("images", 2, 1, 2, 5), group("appearance", 2, 4, 3, 4)] };
  const weights = { motion: 1, appearance: 0.5, images: 0.25 };
  const trainable = new Map(model.params);
  const joint = lossAndGradients(model, batch, weights, { labelSmoothing: 0.1, seed: 5, trainable });

  const vars = [...trainable.values()];
  const { value, grads } = tf.variableGrads(() => batch.groups.reduce((total, g) => {
    const logits = model.logits(tf.tensor(g.x, g.shape), g.dataset);
    const ce = tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(g.labels, "int32"), config.classifiers[g.dataset]), logits, undefined, 0.1);
    return tf.add(total, tf.mul(ce, weights[g.dataset as keyof typeof weights]));
  }, tf.scalar(0)) as tf.Scalar, vars);

  assert.ok(Math.abs(joint.losses.total - value.dataSync()[0]) < 1e-5, `${joint.losses.total} vs ${value.dataSync()[0]}`);
  assert.deepEqual(Object.keys(joint.losses.perDataset).sort(), ["appearance", "images", "motion"]);
  const byVarName = new Map(vars.map((v, i) => [v.name, [...trainable.keys()][i]]));
  let worst = 0;
  for (const [varName, g] of Object.entries(grads)) {
    const mine = joint.grads.get(byVarName.get(varName)!);
    assert.ok(mine, `no gradient for ${byVarName.get(varName)}`);
    worst = Math.max(worst, maxAbsDiff(mine.dataSync(), g.dataSync()));
  }
  assert.equal(joint.grads.size, Object.keys(grads).length);
  assert.ok(worst < 1e-5, `gradients differ by ${worst}`);
  model.dispose();
});

test("training steps (COVER loss, backward, AdamW) leak no tensors", () => {
  const config = modelConfig("micro", { classifiers: { motion: 3, images: 5 }, dropPath: 0.1 });
  const model = TimeSformer.create(config, 4);
  const trainable = new Map(model.params);
  const optimizer = new AdamW({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }, model.params);
  const batch: Batch = { groups: [group("motion", 2, 4, 1, 3), group("images", 2, 1, 2, 5)] };
  const step = (seed: number) => {
    optimizer.accumulate(lossAndGradients(model, batch, { motion: 1, images: 1 }, { labelSmoothing: 0, seed, trainable }).grads);
    optimizer.step(1e-3);
  };
  step(0);
  const before = tf.memory().numTensors;
  for (let i = 1; i <= 3; i++) step(i);
  assert.equal(tf.memory().numTensors, before);
  optimizer.dispose();
  model.dispose();
});
