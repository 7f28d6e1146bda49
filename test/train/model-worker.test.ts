/**
 * Data parallelism in a worker thread: a micro-batch whose passes are split between this thread and the worker gives
 * the loss and gradients of the whole micro-batch (drop path included: each half draws its rows of the pass's
 * noise), the same numbers on every run, and no leaked tensors; an evaluation batch split so gives its clips' scores.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { modelConfig } from "../../src/model/config";
import { TimeSformer } from "../../src/model/timesformer";
import type { Batch, BatchGroup } from "../../src/data/batches";
import { activeBackendName } from "../../src/backend";
import { ModelWorker, modelWorkerWanted, startModelWorker } from "../../src/train/model-worker";
import { clipScores } from "../../src/train/evaluate";
import { lossAndGradients } from "../../src/train/step";
import { maxAbsDiff, withBackend } from "../helpers/tf";

let worker: ModelWorker;
const config = modelConfig("micro", { classifiers: { motion: 3, appearance: 4, images: 5 }, timeEmbedInit: "trunc_normal", dropPath: 0.2 });

before(async () => {
  await withBackend();
  worker = await ModelWorker.start(config, activeBackendName() ?? "wasm");
});
after(() => worker.stop());

function group(dataset: string, n: number, frames: number, seed: number, classes: number): BatchGroup {
  const shape: BatchGroup["shape"] = [n, frames, 16, 16, 3];
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(seed * 5.1 + i * 0.37));
  return { dataset, x, shape, labels: Int32Array.from({ length: n }, (_, i) => (i + seed) % classes) };
}

test("half of every pass in the worker: the whole micro-batch's loss and gradients, deterministically, nothing leaked", () => {
  const model = TimeSformer.create(config, 3);
  // Video pass: 3 + 2 clips (split 3 / 2); image pass: 1 clip (stays here).
  const batch: Batch = { groups: [group("motion", 3, 4, 1, 3), group("images", 1, 1, 2, 5), group("appearance", 2, 4, 3, 4)] };
  const weights = { motion: 1, appearance: 0.5, images: 0.25 };
  const options = { labelSmoothing: 0.1, seed: 5, trainable: new Map(model.params) };
  const alone = lossAndGradients(model, batch, weights, options);
  const before = tf.memory().numTensors;
  const split = lossAndGradients(model, batch, weights, { ...options, worker });
  const again = lossAndGradients(model, batch, weights, { ...options, worker });
  assert.ok(Math.abs(split.losses.total - alone.losses.total) < 1e-5, `${split.losses.total} vs ${alone.losses.total}`);
  for (const d of Object.keys(alone.losses.perDataset)) assert.ok(Math.abs(split.losses.perDataset[d] - alone.losses.perDataset[d]) < 1e-5, d);
  assert.deepEqual([...split.grads.keys()].sort(), [...alone.grads.keys()].sort());
  let worst = 0;
  for (const [name, g] of alone.grads) worst = Math.max(worst, maxAbsDiff(split.grads.get(name)!.dataSync(), g.dataSync()));
  assert.ok(worst < 1e-5, `gradients differ by ${worst}`);
  assert.ok(worst > 0 || alone.losses.total !== 0, "compared something");
  assert.deepEqual(again.losses, split.losses, "the same split gives the same numbers");
  for (const [name, g] of split.grads) assert.deepEqual(again.grads.get(name)!.dataSync(), g.dataSync(), name);
  tf.dispose([...alone.grads.values(), ...split.grads.values(), ...again.grads.values()]);
  assert.equal(tf.memory().numTensors, before - alone.grads.size, "only the gradients outlive a step");
  model.dispose();
});

test("a micro-batch with no pass of two clips is computed here alone", () => {
  const model = TimeSformer.create(config, 4);
  const batch: Batch = { groups: [group("motion", 1, 4, 1, 3), group("images", 1, 1, 2, 5)] };
  const options = { labelSmoothing: 0, seed: 1, trainable: new Map(model.params) };
  const a = lossAndGradients(model, batch, { motion: 1, images: 1 }, options);
  const b = lossAndGradients(model, batch, { motion: 1, images: 1 }, { ...options, worker });
  assert.deepEqual(b.losses, a.losses);
  tf.dispose([...a.grads.values(), ...b.grads.values()]);
  model.dispose();
});

test("an evaluation batch split between the threads: every clip's scores, views averaged, frames reversed or not", () => {
  const model = TimeSformer.create(config, 5);
  const g = group("motion", 6, 4, 3, 3); // 3 clips x 2 views
  const batch = { x: g.x, shape: g.shape, views: 2, labels: Int32Array.from([0, 1, 2]) };
  for (const reverse of [false, true]) {
    const alone = clipScores(model, "motion", batch, reverse);
    const split = clipScores(model, "motion", batch, reverse, undefined, worker);
    assert.equal(split.length, 3 * 3);
    assert.ok(maxAbsDiff(split, alone) < 1e-6, `reverse ${reverse}: ${maxAbsDiff(split, alone)}`);
  }
  model.dispose();
});

test("a worker that cannot start: the work goes on in one thread with a warning, unless COVER_MODEL_WORKER=on asked for it", async () => {
  const failing = () => Promise.reject(new Error("no memory for a second model"));
  const saved = process.env.COVER_MODEL_WORKER;
  try {
    delete process.env.COVER_MODEL_WORKER;
    const warnings: string[] = [];
    const none = await startModelWorker(config, "wasm", 32, { start: failing, warn: (line) => warnings.push(line) });
    assert.equal(none, undefined);
    // Where the machine has one core no worker is wanted and none is tried.
    assert.deepEqual(warnings, modelWorkerWanted("wasm", 32) ? ["model worker: could not start (no memory for a second model); computing on one thread"] : []);
    process.env.COVER_MODEL_WORKER = "on";
    await assert.rejects(startModelWorker(config, "wasm", 32, { start: failing, warn: () => assert.fail("no warning when asked for") }), /no memory for a second model/);
  } finally {
    if (saved === undefined) delete process.env.COVER_MODEL_WORKER; else process.env.COVER_MODEL_WORKER = saved;
  }
});
