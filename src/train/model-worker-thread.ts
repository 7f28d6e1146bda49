/**
 * The worker thread of ModelWorker: a copy of the model that computes what it is sent (the loss and gradients of
 * parts of micro-batches, or clip scores) with the parameter values sent along. Answers each request on its port,
 * then raises the shared flag the other thread waits on.
 */
import { parentPort, workerData, MessagePort } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";
import { useBackend, BackendName } from "../backend";
import type { TimeSformerConfig } from "../model/config";
import { TimeSformer } from "../model/timesformer";
import { clipScoresOf } from "./evaluate";
import { lossTensors, PassTensors } from "./step";
import type { GradientsRequest, GradientsResult, WorkAnswer, WorkRequest } from "./model-worker";

const { config, backend, port, done } = workerData as { config: TimeSformerConfig; backend: BackendName; port: MessagePort; done: Int32Array };

function setParams(model: TimeSformer, params: WorkRequest["params"]): void {
  for (const { name, values } of params) {
    const v = model.params.get(name);
    if (!v) throw new Error(`no parameter ${name} in the worker's model`);
    tf.tidy(() => v.assign(tf.tensor(values, v.shape)));
  }
}

function gradients(model: TimeSformer, request: GradientsRequest): GradientsResult {
  const trainable = new Map(request.trainable.map((name) => [name, model.params.get(name)!]));
  const passes: PassTensors[] = request.parts.map((p) => ({
    shape: p.shape.slice(1).join("x"), datasets: p.datasets, index: p.pass, rows: { of: p.n, start: p.start },
    clips: tf.tensor5d(p.clips, p.shape as [number, number, number, number, number]),
    labels: tf.tensor1d(p.labels, "int32"), weights: p.weights.map((w) => tf.tensor1d(w)),
  }));
  try {
    const step = lossTensors(model, passes, request.lossWeights, { labelSmoothing: request.labelSmoothing, seed: request.seed, trainable });
    const losses = step.perDataset.map((t) => t.dataSync()[0]);
    const perDataset: number[][] = [];
    let at = 0;
    for (const p of request.parts) { perDataset.push(losses.slice(at, at + p.datasets.length)); at += p.datasets.length; }
    const grads = [...step.grads].map(([name, g]) => ({ name, values: g.dataSync() as Float32Array }));
    const total = step.total.dataSync()[0];
    tf.dispose([step.total, ...step.perDataset, ...step.grads.values()]);
    return { total, perDataset, grads };
  } finally {
    tf.dispose(passes.flatMap((p) => [p.clips, p.labels, ...p.weights]));
  }
}

function compute(model: TimeSformer, request: WorkRequest): WorkAnswer {
  setParams(model, request.params);
  if (request.kind === "gradients") return { gradients: gradients(model, request) };
  const x = tf.tensor(request.x, request.shape);
  try {
    return { scores: clipScoresOf(model, request.head, x, request.views, request.reverseFrames) };
  } finally {
    x.dispose();
  }
}

function answer(result: WorkAnswer): void {
  port.postMessage(result);
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
}

void (async () => {
  let model: TimeSformer;
  try {
    await useBackend(backend);
    model = TimeSformer.create(config);
  } catch (err) {
    parentPort!.postMessage({ error: (err as Error).message });
    return;
  }
  port.on("message", (request: WorkRequest) => {
    try {
      answer(compute(model, request));
    } catch (err) {
      answer({ error: (err as Error).stack ?? String(err) });
    }
  });
  parentPort!.postMessage({ ready: true });
})();
