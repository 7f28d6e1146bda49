/**
 * The recorded training step and evaluation (native backend): the same loss and gradients as the eager step on
 * batches other than the one it was recorded on, drop path noise included; heads without clips get no gradient; the
 * same evaluation scores; a recording that reads a value fails cleanly. On other backends the step runs eagerly (the tests that need the recorder skip, saying why;
 * CI runs the suite again on the native backend, where they run).
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { compileModeFromEnv, GraphFunction, GraphUnavailableError, graphSupport } from "../../src/backend/graph";
import { modelConfig } from "../../src/model/config";
import { TimeSformer } from "../../src/model/timesformer";
import type { Batch, BatchGroup } from "../../src/data/batches";
import { clipScores, CompiledScores } from "../../src/train/evaluate";
import { CompiledSteps, compiledSteps, lossAndGradients } from "../../src/train/step";
import { maxAbsDiff, withBackend } from "../helpers/tf";

before(() => withBackend());

const needsRecorder = () => {
  const support = graphSupport();
  return support.available ? false : support.why;
};

function group(dataset: string, n: number, frames: number, seed: number, classes: number): BatchGroup {
  const shape: BatchGroup["shape"] = [n, frames, 16, 16, 3];
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(seed * 5.1 + i * 0.37));
  return { dataset, x, shape, labels: Int32Array.from({ length: n }, (_, i) => (i + seed) % classes) };
}

function relativeDiff(a: tf.Tensor, b: tf.Tensor): number {
  const scale = tf.tidy(() => tf.max(tf.abs(b)).dataSync()[0]);
  return maxAbsDiff(a.dataSync(), b.dataSync()) / Math.max(scale, 1e-12);
}

const classes = { motion: 3, appearance: 4, images: 5 };
const weights = { motion: 1, appearance: 0.5, images: 0.25 };

test("the recorded step computes the eager step's loss and gradients on other batches, drop path included", { skip: needsRecorder() }, () => {
  const model = TimeSformer.create(modelConfig("micro", { classifiers: classes, timeEmbedInit: "trunc_normal", dropPath: 0.2 }), 3);
  const trainable = new Map(model.params);
  const compiled = new CompiledSteps(false);
  try {
    // the same layout each time (3 + 2 video clips, 2 images), other clips, labels and seeds
    for (let call = 0; call < 3; call++) {
      const batch: Batch = { groups: [group("motion", 3, 4, call, 3), group("images", 2, 1, call + 7, 5), group("appearance", 2, 4, call + 3, 4)] };
      const options = { labelSmoothing: 0.1, seed: 11 + call, trainable };
      const eager = lossAndGradients(model, batch, weights, options);
      const recorded = lossAndGradients(model, batch, weights, { ...options, compiled });
      assert.ok(Math.abs(recorded.losses.total - eager.losses.total) < 1e-5 * Math.abs(eager.losses.total), `call ${call}: ${recorded.losses.total} vs ${eager.losses.total}`);
      assert.deepEqual(Object.keys(recorded.losses.perDataset).sort(), ["appearance", "images", "motion"]);
      assert.deepEqual([...recorded.grads.keys()], [...eager.grads.keys()]);
      for (const [name, g] of eager.grads) {
        assert.ok(relativeDiff(recorded.grads.get(name)!, g) < 1e-4, `call ${call}: ${name} differs by ${relativeDiff(recorded.grads.get(name)!, g)}`);
      }
      tf.dispose([...eager.grads.values(), ...recorded.grads.values()]);
    }
    assert.match(compiled.summary(), /graph functions for 1 batch layouts .*1 checked against the eager step\), 0 eager/);
    assert.deepEqual(compiled.notes, []);
  } finally {
    compiled.dispose();
  }
});

test("drop path noise is an input of the recorded step: another seed gives other gradients", { skip: needsRecorder() }, () => {
  const model = TimeSformer.create(modelConfig("micro", { classifiers: classes, timeEmbedInit: "trunc_normal", dropPath: 0.5 }), 4);
  const trainable = new Map(model.params);
  const compiled = new CompiledSteps(false);
  try {
    const batch: Batch = { groups: [group("motion", 4, 4, 1, 3)] };
    const a = lossAndGradients(model, batch, weights, { labelSmoothing: 0, seed: 1, trainable, compiled });
    const b = lossAndGradients(model, batch, weights, { labelSmoothing: 0, seed: 2, trainable, compiled });
    const eagerB = lossAndGradients(model, batch, weights, { labelSmoothing: 0, seed: 2, trainable });
    assert.notEqual(a.losses.total, b.losses.total, "the noise of the recording was reused");
    assert.ok(Math.abs(b.losses.total - eagerB.losses.total) < 1e-5 * Math.abs(eagerB.losses.total));
    tf.dispose([...a.grads.values(), ...b.grads.values(), ...eagerB.grads.values()]);
  } finally {
    compiled.dispose();
  }
});

test("a head whose dataset has no clips in the batch gets no gradient, also when its pass computes it", { skip: needsRecorder() }, () => {
  const model = TimeSformer.create(modelConfig("micro", { classifiers: classes, timeEmbedInit: "trunc_normal" }), 5);
  const trainable = new Map(model.params);
  const compiled = new CompiledSteps(false);
  try {
    const both: Batch = { groups: [group("motion", 2, 4, 1, 3), group("appearance", 2, 4, 2, 4)] };
    tf.dispose([...lossAndGradients(model, both, weights, { labelSmoothing: 0, seed: 1, trainable, compiled }).grads.values()]);
    // now the video pass computes both heads (both were seen), but only motion has clips
    const motionOnly: Batch = { groups: [group("motion", 4, 4, 3, 3)] };
    const recorded = lossAndGradients(model, motionOnly, weights, { labelSmoothing: 0, seed: 2, trainable, compiled });
    const eager = lossAndGradients(model, motionOnly, weights, { labelSmoothing: 0, seed: 2, trainable });
    assert.deepEqual(Object.keys(recorded.losses.perDataset), ["motion"]);
    assert.ok(![...recorded.grads.keys()].some((n) => n.includes("heads.appearance") || n.includes("heads.images")));
    assert.deepEqual([...recorded.grads.keys()], [...eager.grads.keys()]);
    tf.dispose([...recorded.grads.values(), ...eager.grads.values()]);
  } finally {
    compiled.dispose();
  }
});

test("recorded evaluation gives the eager scores, frames in order and reversed", { skip: needsRecorder() }, () => {
  const model = TimeSformer.create(modelConfig("micro", { classifiers: classes, timeEmbedInit: "trunc_normal" }), 6);
  const compiled = new CompiledScores(false);
  try {
    for (const reverse of [false, true]) {
      for (let call = 0; call < 3; call++) {
        const g = group("motion", 6, 4, call, 3); // 2 clips x 3 views
        const batch = { x: g.x, shape: g.shape, views: 3, labels: new Int32Array(2) };
        const eager = clipScores(model, "motion", batch, reverse);
        const recorded = clipScores(model, "motion", batch, reverse, compiled);
        assert.equal(recorded.length, 2 * 3);
        assert.ok(maxAbsDiff(recorded, eager) < 1e-5, `reverse ${reverse} call ${call}: ${maxAbsDiff(recorded, eager)}`);
      }
    }
    assert.match(compiled.summary(), /graph functions for 2 batch shapes .*2 checked .*\), 0 eager/);
  } finally {
    compiled.dispose();
  }
});

test("graph functions: inputs change per call, other tensors are captured by value; reading a value fails the recording", { skip: needsRecorder() }, () => {
  const x = tf.tensor1d([1, 2, 3]);
  const captured = tf.tensor1d([10, 20, 30]);
  const fn = GraphFunction.record([x], () => [tf.add(tf.mul(x, 2), captured)], { xla: false });
  try {
    const [y] = fn.run([tf.tensor1d([4, 5, 6])]);
    assert.deepEqual([...y.dataSync()], [18, 30, 42]);
    assert.throws(() => fn.run([tf.tensor1d([1, 2])]), /another shape or dtype than recorded/);
  } finally {
    fn.dispose();
  }
  assert.throws(() => GraphFunction.record([x], () => { tf.sum(x).dataSync(); return [x]; }, { xla: false }), GraphUnavailableError);
  // nothing is left recording: eager ops run as usual
  assert.deepEqual([...tf.add(x, 1).dataSync()], [2, 3, 4]);
});

test("without the native recorder the step runs eagerly; COVER_COMPILE is checked", () => {
  if (!graphSupport().available) assert.equal(compiledSteps("graph", () => {}), undefined);
  assert.equal(compiledSteps("off", () => {}), undefined);
  const saved = process.env.COVER_COMPILE;
  try {
    process.env.COVER_COMPILE = "fast";
    assert.throws(() => compileModeFromEnv(), /COVER_COMPILE must be one of off, graph, xla, got 'fast'/);
    delete process.env.COVER_COMPILE;
    assert.equal(compileModeFromEnv(), "graph");
  } finally {
    if (saved === undefined) delete process.env.COVER_COMPILE; else process.env.COVER_COMPILE = saved;
  }
});
