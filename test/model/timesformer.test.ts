import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { modelConfig } from "../../src/model/config";
import { macsPerView } from "../../src/model/flops";
import { allSpecs, backboneSpecs, countParams, initialValue } from "../../src/model/params";
import { patchify, TimeSformer } from "../../src/model/timesformer";
import { loadInto, loadModel, saveWeights } from "../../src/model/weights";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors";
import { maxAbsDiff, tempDir, withBackend } from "../helpers/tf";

before(() => withBackend());

const micro = (over = {}) => modelConfig("micro", { classifiers: { a: 5, b: 3 }, ...over });
const video = (b: number, t: number, size = 16, seed = 1) => tf.randomNormal([b, t, size, size, 3], 0, 1, "float32", seed);

describe("presets", () => {
  test("TimeSformer-Base at 8x224 with 400 classes has the official 121,566,352 parameters and ~196 GMACs", () => {
    const base = modelConfig("base", { classifiers: { k400: 400 } });
    assert.equal(countParams(allSpecs(base)), 121_566_352);
    assert.ok(Math.abs(macsPerView(base) / 1e9 - 196) < 1, `${macsPerView(base) / 1e9}`);
  });
  test("invalid shapes are refused with a reason", () => {
    assert.throws(() => modelConfig("tiny", { imageSize: 30 }), /not a multiple of patchSize/);
    assert.throws(() => modelConfig("nope"), /unknown model preset 'nope'/);
  });
});

describe("forward", () => {
  test("every attention type gives finite logits of the head's shape, for videos and 1-frame images", () => {
    for (const attention of ["divided_space_time", "space_only", "joint_space_time"] as const) {
      const model = TimeSformer.create(micro({ attention }), 3);
      for (const t of [4, 1, 6]) {
        const out = tf.tidy(() => model.logits(video(2, t), "b"));
        assert.deepEqual(out.shape, [2, 3], `${attention} T=${t}`);
        assert.ok(out.dataSync().every(Number.isFinite));
        out.dispose();
      }
      model.dispose();
    }
  });

  test("patchify matches a conv with kernel = stride = patch", async () => {
    const x = video(2, 3, 16);
    const w = tf.randomNormal([8, 8, 3, 5], 0, 1, "float32", 2); // [kh, kw, c, d]
    const viaMatmul = tf.matMul(patchify(x as tf.Tensor5D, 8), tf.reshape(w, [8 * 8 * 3, 5]));
    const viaConv = tf.reshape(tf.conv2d(tf.reshape(x, [6, 16, 16, 3]) as tf.Tensor4D, w as tf.Tensor4D, 8, "valid"), [6 * 4, 5]);
    assert.ok(maxAbsDiff(viaMatmul.dataSync(), viaConv.dataSync()) < 1e-4);
  });

  test("temporal_fc starts at zero in every block but the first (official init)", () => {
    const model = TimeSformer.create(modelConfig("micro", { depth: 3 }), 0);
    const norm = (i: number) => tf.tidy(() => tf.sum(tf.abs(model.params.get(`model.blocks.${i}.temporal_fc.weight`)!)).dataSync()[0]);
    assert.ok(norm(0) > 0);
    assert.equal(norm(1), 0);
    assert.equal(norm(2), 0);
    model.dispose();
  });

  test("frame order matters to a divided model with time embeddings, not to space-only", () => {
    const x = video(1, 4);
    const reversed = tf.reverse(x, 1);
    for (const [attention, expectSame] of [["space_only", true], ["divided_space_time", false]] as const) {
      const model = TimeSformer.create(micro({ attention }), 5);
      const te = model.params.get("model.time_embed");
      te?.assign(tf.randomNormal(te.shape, 0, 0.5, "float32", 9));
      const d = maxAbsDiff(model.logits(x, "a").dataSync(), model.logits(reversed, "a").dataSync());
      assert.equal(d < 1e-4, expectSame, `${attention}: diff ${d}`);
      model.dispose();
    }
  });

  test("a wrong input shape fails with a message naming the expected layout", () => {
    const model = TimeSformer.create(micro(), 0);
    assert.throws(() => model.logits(tf.zeros([2, 3, 4, 16, 16]), "a"), /\[batch, frames, height, width, 3\]/);
    assert.throws(() => model.logits(video(1, 4), "zzz"), /unknown head 'zzz'/);
    model.dispose();
  });
});

describe("training", () => {
  test("heads stay separate: a loss on head a leaves head b's gradient at zero", () => {
    const model = TimeSformer.create(micro(), 1);
    const x = video(2, 4);
    const { grads } = tf.variableGrads(() => tf.sum(model.logits(x, "a")) as tf.Scalar, [...model.params.values()]);
    const byName = new Map([...model.params.entries()].map(([n, v]) => [v.name, n]));
    for (const [varName, g] of Object.entries(grads)) {
      const name = byName.get(varName)!;
      const norm = tf.sum(tf.abs(g)).dataSync()[0];
      if (name.startsWith("model.heads.b.")) assert.equal(norm, 0, name);
      if (name === "model.heads.a.weight" || name === "model.blocks.0.attn.qkv.weight") assert.ok(norm > 0, name);
    }
    model.dispose();
  });

  test("a few Adam steps on a fixed batch lower the loss, with drop path on", () => {
    const model = TimeSformer.create(micro({ dropPath: 0.1 }), 2);
    const x = video(4, 4);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 5);
    const opt = tf.train.adam(3e-3);
    const losses: number[] = [];
    for (let step = 0; step < 12; step++) {
      const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.logits(x, "a", { training: true, seed: step })) as tf.Scalar,
        true, [...model.params.values()])!;
      losses.push(loss.dataSync()[0]);
      loss.dispose();
    }
    assert.ok(losses[11] < losses[0] * 0.7, `losses ${losses.map((l) => l.toFixed(3)).join(" ")}`);
    model.dispose();
  });

  test("training steps do not leak tensors", () => {
    const model = TimeSformer.create(micro(), 2);
    const x = video(2, 4);
    const y = tf.oneHot(tf.tensor1d([0, 1], "int32"), 5);
    const opt = tf.train.sgd(0.01);
    const step = () => opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.logits(x, "a", { training: true })) as tf.Scalar, true, [...model.params.values()])!.dispose();
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
  });
});

describe("weights", () => {
  test("save -> load reproduces the logits exactly, with heads and config from the metadata", () => {
    const dir = tempDir("weights");
    const model = TimeSformer.create(micro(), 4);
    const path = join(dir, "m.safetensors");
    saveWeights(model, path);
    const names = [...readSafetensors(path).tensors.keys()];
    assert.ok(names.includes("model.heads.a.weight") && names.includes("model.blocks.1.temporal_fc.bias"));
    assert.deepEqual(readSafetensors(path).tensors.get("model.patch_embed.proj.weight")!.shape, [32, 3, 8, 8]);
    assert.deepEqual(readSafetensors(path).tensors.get("model.blocks.0.mlp.fc1.weight")!.shape, [64, 32]);
    const loaded = loadModel(path);
    const x = video(2, 4);
    assert.equal(maxAbsDiff(model.logits(x, "b").dataSync(), loaded.logits(x, "b").dataSync()), 0);
    model.dispose(); loaded.dispose();
  });

  test("weights of another resolution load with pos_embed resized: the new model computes what the old one does at its input", () => {
    const dir = tempDir("weights-resize");
    const low = TimeSformer.create(micro(), 4); // 16 px: a 2x2 patch grid
    const path = join(dir, "low.safetensors");
    saveWeights(low, path);
    const high = TimeSformer.create(micro({ imageSize: 24 }), 5); // 3x3
    const report = loadInto(high, path);
    assert.deepEqual(report.resized, ["model.pos_embed: [1,5,32] -> [1,10,32]"]);
    const x = video(2, 4, 24);
    assert.equal(maxAbsDiff(low.logits(x, "a").dataSync(), high.logits(x, "a").dataSync()), 0, "same logits on a 24-px clip");
    const pos = (m: TimeSformer) => m.params.get("model.pos_embed")!.arraySync() as number[][][];
    // Row y, column x of the 3x3 grid takes row floor(2y/3), column floor(2x/3) of the 2x2 one (cls stays first).
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => pos(high)[0][i]), [0, 1, 1, 2, 1, 1, 2, 3, 3, 4].map((i) => pos(low)[0][i]));
    low.dispose(); high.dispose(); x.dispose();
  });

  test("load errors name the missing, unexpected and mis-shaped keys", () => {
    const dir = tempDir("weights-bad");
    const model = TimeSformer.create(micro(), 4);
    const path = join(dir, "m.safetensors");
    saveWeights(model, path);
    const file = readSafetensors(path);
    file.tensors.delete("model.norm.bias");
    file.tensors.set("model.extra.weight", { shape: [1], data: new Float32Array(1) });
    file.tensors.set("model.cls_token", { shape: [1, 1, 7], data: new Float32Array(7) });
    writeSafetensors(path, file.tensors, file.metadata);
    assert.throws(() => loadInto(model, path), (err: Error) =>
      /missing \(1\): model\.norm\.bias/.test(err.message) && /unexpected \(1\): model\.extra\.weight/.test(err.message) &&
      /mis-shaped \(1\): model\.cls_token: file \[1,1,7\] vs model \[1,1,32\]/.test(err.message) && err.message.startsWith(path));
    model.dispose();
  });
});

test("time_embed init: zeros by default (official), sinusoidal when asked (distinct frames, unit amplitude)", () => {
  const spec = (init?: "sinusoidal") => backboneSpecs(modelConfig("micro", { frames: 4, ...(init && { timeEmbedInit: init }) })).find((s) => s.name.endsWith("time_embed"))!;
  assert.equal(spec().init, "zeros");
  const t = initialValue(spec("sinusoidal"), 1);
  const v = t.arraySync() as number[][][];
  t.dispose();
  assert.deepEqual(t.shape, [1, 4, 32]);
  assert.equal(v[0][0][0], 0); // sin(0)
  assert.equal(v[0][0][1], 1); // cos(0)
  assert.ok(Math.abs(v[0][1][0] - Math.sin(1)) < 1e-6 && Math.abs(v[0][2][1] - Math.cos(2)) < 1e-6);
  for (let a = 0; a < 4; a++) for (let b = a + 1; b < 4; b++) assert.notDeepEqual(v[0][a], v[0][b], `frames ${a} and ${b} differ`);
});
