/**
 * The flat optimisers (one concatenated buffer per step) give exactly the numbers of the textbook per-parameter
 * update, also when a parameter gets no gradient in some steps, across micro-batch accumulation and across a
 * state() / restore() round trip (what a checkpoint does), whether a step updates the model in one flat block or in
 * several; and a step's intermediates are the size of a block, not of the model.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { AdamW, MomentumSgd } from "../../src/train/optimizer";
import { withBackend } from "../helpers/tf";

const SHAPES: Record<string, number[]> = {
  "model.blocks.0.mlp.fc1.weight": [6, 5], "model.blocks.0.mlp.fc1.bias": [5], "model.pos_embed": [1, 3, 4],
  "model.heads.a.weight": [4, 3], "model.heads.b.weight": [4, 2],
};

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 3.7 + i * 1.31));
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function makeParams(): Map<string, tf.Variable> {
  return new Map(Object.entries(SHAPES).map(([name, shape], i) => [name, tf.variable(tf.tensor(values(size(shape), i), shape))]));
}

/** Gradients of step `s`: head b has none on odd steps (its dataset was not in the batch). */
function gradients(s: number, micro: number): Map<string, tf.Tensor> {
  return new Map(Object.entries(SHAPES).filter(([name]) => !(name.includes("heads.b") && s % 2 === 1))
    .map(([name, shape], i) => [name, tf.tensor(values(size(shape), 100 * s + 10 * micro + i), shape)]));
}

const noDecay = (name: string) => name.endsWith(".bias") || /(pos_embed)$/.test(name);

/** The per-parameter AdamW of PyTorch, written plainly. */
function referenceAdamW(steps: number, micro: number, lr: number, wd: number): Map<string, Float32Array> {
  const params = makeParams();
  const m = new Map<string, tf.Tensor>();
  const v = new Map<string, tf.Tensor>();
  for (let s = 0; s < steps; s++) {
    const sums = new Map<string, tf.Tensor>();
    for (let k = 0; k < micro; k++) for (const [n, g] of gradients(s, k)) sums.set(n, sums.has(n) ? tf.add(sums.get(n)!, g) : g);
    for (const [n, sum] of sums) {
      const p = params.get(n)!;
      const g = tf.mul(sum, 1 / micro);
      const mn = tf.add(tf.mul(m.get(n) ?? tf.zerosLike(g), 0.9), tf.mul(g, 1 - 0.9));
      const vn = tf.add(tf.mul(v.get(n) ?? tf.zerosLike(g), 0.999), tf.mul(tf.square(g), 1 - 0.999));
      const t = s + 1;
      let next = tf.sub(p, tf.mul(tf.div(tf.div(mn, 1 - 0.9 ** t), tf.add(tf.sqrt(tf.div(vn, 1 - 0.999 ** t)), 1e-8)), lr));
      if (!noDecay(n)) next = tf.sub(next, tf.mul(p, lr * wd));
      p.assign(next);
      m.set(n, mn);
      v.set(n, vn);
    }
  }
  return new Map([...params].map(([n, p]) => [n, p.dataSync() as Float32Array]));
}

function referenceSgd(steps: number, lr: number, mu: number, wd: number): Map<string, Float32Array> {
  const params = makeParams();
  const bufs = new Map<string, tf.Tensor>();
  for (let s = 0; s < steps; s++) {
    for (const [n, g] of gradients(s, 0)) {
      const p = params.get(n)!;
      const d = noDecay(n) ? g : tf.add(g, tf.mul(p, wd));
      const buf = bufs.has(n) ? tf.add(tf.mul(bufs.get(n)!, mu), d) : d;
      p.assign(tf.sub(p, tf.mul(buf, lr)));
      bufs.set(n, buf);
    }
  }
  return new Map([...params].map(([n, p]) => [n, p.dataSync() as Float32Array]));
}

function assertIdentical(actual: Map<string, tf.Variable>, expected: Map<string, Float32Array>): void {
  for (const [n, want] of expected) assert.deepEqual(actual.get(n)!.dataSync(), want, `${n} differs`);
}

describe("flat optimisers", () => {
  before(() => withBackend());

  for (const blockElements of [undefined, 16]) test(`AdamW: bit-identical to the per-parameter update, with accumulation, a sometimes-missing head and a checkpoint round trip (${blockElements ? `blocks of ${blockElements} values` : "one block"})`, () => {
    const expected = referenceAdamW(5, 2, 1e-2, 0.05);
    const params = makeParams();
    let opt = new AdamW({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }, params, blockElements);
    for (let s = 0; s < 5; s++) {
      if (s === 3) { // a checkpoint: the state by name, restored into a new optimiser
        const saved = new Map([...opt.state()].map(([k, t]) => [k, t.clone()]));
        assert.ok(saved.has("model.heads.b.weight.m") && saved.has("adamw.step"), [...saved.keys()].join(", "));
        assert.deepEqual(saved.get("model.heads.b.weight.v")!.shape, SHAPES["model.heads.b.weight"]);
        opt.dispose();
        opt = new AdamW({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }, params, blockElements);
        opt.restore(saved);
      }
      for (let k = 0; k < 2; k++) opt.accumulate(gradients(s, k));
      opt.step(1e-2);
    }
    assertIdentical(params, expected);
    opt.dispose();
  });

  for (const blockElements of [undefined, 16]) test(`SGD with momentum and weight decay: bit-identical to the per-parameter update (${blockElements ? `blocks of ${blockElements} values` : "one block"})`, () => {
    const expected = referenceSgd(4, 0.1, 0.9, 1e-3);
    const params = makeParams();
    const opt = new MomentumSgd({ momentum: 0.9, weightDecay: 1e-3 }, params, blockElements);
    for (let s = 0; s < 4; s++) { opt.accumulate(gradients(s, 0)); opt.step(0.1); }
    assertIdentical(params, expected);
    opt.dispose();
  });

  test("steps leak no tensors", () => {
    const params = makeParams();
    const opt = new AdamW({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }, params);
    opt.accumulate(gradients(0, 0));
    opt.step(1e-3);
    const before = tf.memory().numTensors;
    for (let s = 0; s < 4; s++) { opt.accumulate(gradients(2, s)); opt.step(1e-3); }
    assert.equal(tf.memory().numTensors, before);
    opt.dispose();
  });

  test("a step holds intermediates of one block at a time, not of the whole model", async () => {
    const params = makeParams();
    const opt = new AdamW({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }, params, 16);
    opt.accumulate(gradients(0, 0));
    opt.step(1e-3);
    opt.accumulate(gradients(2, 0));
    const before = tf.memory().numBytes;
    const { peakBytes } = await tf.profile(() => opt.step(1e-3));
    // The largest block is one parameter of 30 values; the model has 67. Holding every intermediate of a
    // whole-model update (about twenty model-sized buffers) would add over 5,000 bytes.
    const largestBlockBytes = 30 * 4;
    assert.ok(peakBytes - before <= 10 * largestBlockBytes, `a step added ${peakBytes - before} bytes at its peak, more than 10 blocks of ${largestBlockBytes}`);
    opt.dispose();
  });
});
