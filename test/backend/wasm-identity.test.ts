/** The sharing Identity on wasm: a clone outlives its source, and a variable's assign never changes a clone. */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { useBackend } from "../../src/backend";

before(() => useBackend("wasm"));

test("a clone shares its source's data on wasm and outlives it", () => {
  const buffersBefore = tf.memory().numDataBuffers;
  const a = tf.tensor1d([1, 2, 3]);
  const b = a.clone();
  assert.equal(b.dataId, a.dataId, "one buffer for both");
  assert.equal(tf.memory().numDataBuffers - buffersBefore, 1);
  a.dispose();
  assert.deepEqual([...b.dataSync()], [1, 2, 3]);
  b.dispose();
  assert.equal(tf.memory().numDataBuffers, buffersBefore);
});

test("a clone of a variable keeps its value when the variable is assigned", () => {
  const v = tf.variable(tf.tensor1d([1, 2]));
  const saved = v.clone();
  v.assign(tf.tensor1d([5, 6]));
  assert.deepEqual([...saved.dataSync()], [1, 2]);
  assert.deepEqual([...v.dataSync()], [5, 6]);
  const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(x, x)))(tf.tensor1d([3, 4]));
  assert.deepEqual([...grad.dataSync()], [6, 8], "gradients through saved tensors");
  saved.dispose();
  v.dispose();
});
