/**
 * Backend parity: the ops the TimeSformer uses (2-D matmuls with and without transposes, batched attention
 * matmuls, softmax, LayerNorm moments, exact GELU via erf, the model's layers) and their gradients give the
 * same numbers on wasm and on the native backend as on the plain-JavaScript cpu backend (the reference).
 *
 * The native backend is compared when it is built; otherwise its test is skipped with the reason. With
 * COVER_BACKEND=tensorflow (or tensorflow-gpu) it is required: a missing build then fails instead.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { BackendName, useBackend } from "../../src/backend";
import { gelu, layerNorm, linear, mlp, multiHeadAttention } from "../../src/model/layers";
import { maxAbsDiff } from "../helpers/tf";

/** Deterministic values in [-scale, scale]. */
function values(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(seed * 7.13 + i * 0.731) * scale;
  return out;
}

const t2 = (rows: number, cols: number, seed: number, scale = 1) => tf.tensor2d(values(rows * cols, seed, scale), [rows, cols]);

interface Case {
  name: string;
  /** Builds its inputs and returns the outputs to compare (run inside tf.tidy). */
  run: () => tf.Tensor[];
}

const D = 16;
const HEADS = 4;

const CASES: Case[] = [
  { name: "matMul 2D", run: () => [tf.matMul(t2(24, 40, 1), t2(40, 12, 2))] },
  { name: "matMul 2D with transpose flags", run: () => [tf.matMul(t2(40, 24, 3), t2(12, 40, 4), true, true)] },
  { name: "batched matMul (attention scores)", run: () => [tf.matMul(tf.reshape(t2(6 * 5, 8, 5), [6, 5, 8]), tf.reshape(t2(6 * 5, 8, 6), [6, 5, 8]), false, true)] },
  { name: "softmax", run: () => [tf.softmax(t2(10, 7, 7, 6))] },
  { name: "moments (LayerNorm)", run: () => { const m = tf.moments(t2(9, D, 8, 3), -1, true); return [m.mean, m.variance]; } },
  { name: "erf and exact GELU", run: () => { const x = t2(8, D, 9, 4); return [tf.erf(x), gelu(x)]; } },
  { name: "rank-4 transpose (head split)", run: () => [tf.transpose(tf.reshape(t2(2 * 5, D, 10), [2, 5, HEADS, D / HEADS]), [0, 2, 1, 3])] },
  {
    name: "gradients of a pre-norm block (LayerNorm, attention, MLP, softmax cross-entropy)",
    run: () => {
      const x = t2(2 * 5, D, 11);
      const p = {
        gamma: tf.add(t2(1, D, 12, 0.1), 1), beta: t2(1, D, 13, 0.1),
        qkvW: t2(D, 3 * D, 14, 0.3), qkvB: t2(1, 3 * D, 15, 0.1), projW: t2(D, D, 16, 0.3), projB: t2(1, D, 17, 0.1),
        fc1W: t2(D, 2 * D, 18, 0.3), fc1B: t2(1, 2 * D, 19, 0.1), fc2W: t2(2 * D, D, 20, 0.3), fc2B: t2(1, D, 21, 0.1),
        headW: t2(D, 3, 22, 0.5),
      };
      const labels = tf.oneHot(tf.tensor1d([0, 2, 1, 1, 0, 2, 2, 1, 0, 1], "int32"), 3);
      const loss = (xi: tf.Tensor, ...w: tf.Tensor[]) => {
        const [gamma, beta, qkvW, qkvB, projW, projB, fc1W, fc1B, fc2W, fc2B, headW] = w;
        const h1 = tf.add(xi, multiHeadAttention(layerNorm(xi as tf.Tensor2D, gamma, beta), 2, 5, HEADS, qkvW, qkvB, projW, projB));
        const h2 = tf.add(h1, mlp(layerNorm(h1 as tf.Tensor2D, gamma, beta), fc1W, fc1B, fc2W, fc2B));
        return tf.losses.softmaxCrossEntropy(labels, linear(h2 as tf.Tensor2D, headW));
      };
      const inputs = [x, p.gamma, p.beta, p.qkvW, p.qkvB, p.projW, p.projB, p.fc1W, p.fc1B, p.fc2W, p.fc2B, p.headW];
      const { value, grads } = tf.valueAndGrads(loss)(inputs);
      return [value, ...grads];
    },
  },
];

type Results = Map<string, Float32Array[]>;

async function runAll(): Promise<Results> {
  const results: Results = new Map();
  for (const c of CASES) {
    const outs = tf.tidy(c.run);
    results.set(c.name, await Promise.all(outs.map(async (t) => (await t.data()) as Float32Array)));
    tf.dispose(outs);
  }
  return results;
}

let reference: Results | undefined;
async function referenceResults(): Promise<Results> {
  if (!reference) { await useBackend("cpu"); reference = await runAll(); }
  return reference;
}

/** Float32 tolerance relative to the output's magnitude (native kernels sum in another order: oneDNN). */
function assertClose(backend: string, results: Results, ref: Results): void {
  for (const c of CASES) {
    const got = results.get(c.name)!;
    const want = ref.get(c.name)!;
    assert.equal(got.length, want.length);
    got.forEach((g, i) => {
      const scale = Math.max(1, ...Array.from(want[i], Math.abs));
      const diff = maxAbsDiff(g, want[i]);
      assert.ok(diff <= 2e-5 * scale, `${backend}: ${c.name}, output ${i}: max |diff| ${diff.toExponential(2)} vs cpu (scale ${scale.toFixed(2)})`);
    });
  }
}

async function checkParity(backend: BackendName): Promise<void> {
  const ref = await referenceResults();
  const choice = await useBackend(backend);
  const results = await runAll();
  assertClose(`${backend} (${choice.detail})`, results, ref);
}

test("the reference itself is not degenerate (outputs vary, gradients are not zero)", async () => {
  const ref = await referenceResults();
  for (const [name, outs] of ref) {
    for (const out of outs) assert.ok(out.some((v) => v !== out[0]) || out.length === 1, `${name}: constant output`);
  }
  const grads = ref.get(CASES[CASES.length - 1].name)!.slice(1);
  for (const g of grads) assert.ok(g.some((v) => Math.abs(v) > 1e-7), "a gradient is all zeros");
});

test("wasm matches cpu", async () => {
  await checkParity("wasm");
});

const requested = process.env.COVER_BACKEND;
const nativeRequired = requested === "tensorflow" || requested === "tensorflow-gpu";
const nativeName: BackendName = requested === "tensorflow-gpu" ? "tensorflow-gpu" : "tensorflow";

test(`${nativeName} (native) matches cpu`, async (t) => {
  if (!nativeRequired) {
    try {
      await useBackend(nativeName);
    } catch (err) {
      t.skip(`native backend not available: ${(err as Error).message}`);
      return;
    }
  }
  await checkParity(nativeName);
});
