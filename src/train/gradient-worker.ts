/**
 * Data parallelism inside one training process, for backends that compute on a single thread (wasm): a copy of the
 * model in a worker thread computes the loss and gradients of the second half of each backbone pass's clips while
 * this thread computes the first half. COVER's loss is a per-clip-weighted sum (step.ts, PassTensors), so the halves'
 * losses and gradients add up to the micro-batch's; each half's drop path noise is its rows of the whole pass's draw
 * (stepParts). The worker gets every parameter's value with each micro-batch, so the optimiser stays here alone.
 *
 * The two halves are added in a fixed order, so results are deterministic for a seed; they differ from a
 * single-thread step by float rounding only (the sums run in another order).
 *
 * This thread blocks while the worker computes (Atomics.wait, then receiveMessageOnPort): a step stays synchronous,
 * like the rest of the trainer.
 */
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import type { TimeSformer } from "../model/timesformer";
import type { TimeSformerConfig } from "../model/config";
import type { BackendName } from "../backend";

/** One part of a pass, in plain arrays: rows [start, start + size) of a pass of `n` clips. */
export interface PartData {
  pass: number;
  n: number;
  start: number;
  /** [size, T, H, W, C] */
  shape: number[];
  datasets: string[];
  clips: Float32Array;
  labels: Int32Array;
  weights: Float32Array[];
}

export interface WorkRequest {
  seed: number;
  labelSmoothing: number;
  lossWeights: Record<string, number>;
  trainable: string[];
  params: { name: string; values: Float32Array }[];
  parts: PartData[];
}

export interface WorkResult {
  total: number;
  /** Per part, its datasets' summed losses (part order, then the part's datasets). */
  perDataset: number[][];
  grads: { name: string; values: Float32Array }[];
  error?: string;
}

/**
 * Clips per micro-batch from which a worker pays for its start (loading the backend and the model in a thread, about
 * a second). Measured on 2 cores, wasm, cpu scale (batch 32), 64 COVER steps: 73.4 s alone, 39.5 s with the worker.
 */
export const WORKER_MIN_CLIPS = 16;

/**
 * Whether a training on `backend` with micro-batches of `clips` clips gets a gradient worker. $COVER_GRADIENT_WORKER:
 * "off" never, "on" always (on a backend that computes on one thread: wasm), unset: on wasm with 2 cores or more and
 * micro-batches of WORKER_MIN_CLIPS clips or more.
 */
export function gradientWorkerWanted(backend: string, clips: number): boolean {
  const value = process.env.COVER_GRADIENT_WORKER;
  if (value !== undefined && value !== "on" && value !== "off") throw new Error(`COVER_GRADIENT_WORKER must be on or off, got '${value}'`);
  if (value === "off" || backend !== "wasm") return false;
  return value === "on" || (availableParallelism() >= 2 && clips >= WORKER_MIN_CLIPS);
}

export class GradientWorker {
  private constructor(private readonly worker: Worker, private readonly port: MessagePort, private readonly done: Int32Array) {}

  /** Starts the worker with a copy of the model's architecture (its values come with each request). */
  static async start(config: TimeSformerConfig, backend: BackendName): Promise<GradientWorker> {
    const { port1, port2 } = new MessageChannel();
    const done = new Int32Array(new SharedArrayBuffer(4));
    const file = join(__dirname, "gradient-worker-thread.ts");
    const code = `require(${JSON.stringify(require.resolve("tsx/cjs"))}); require(${JSON.stringify(file)});`;
    const worker = new Worker(code, { eval: true, workerData: { config, backend, port: port2, done }, transferList: [port2] });
    await new Promise<void>((resolve, reject) => {
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new Error(`the gradient worker exited (code ${code}) before it was ready`)));
      worker.once("message", (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(`gradient worker: ${m.error}`))));
    });
    worker.removeAllListeners("exit");
    worker.removeAllListeners("error");
    worker.on("error", () => undefined); // reported by the next request, which finds no answer
    return new GradientWorker(worker, port1, done);
  }

  /** Hands the worker its parts of a micro-batch (with every parameter's current value); returns at once. */
  begin(model: TimeSformer, request: Omit<WorkRequest, "params">): void {
    const params = [...model.params].map(([name, v]) => ({ name, values: v.dataSync() as Float32Array }));
    Atomics.store(this.done, 0, 0);
    this.port.postMessage({ ...request, params } satisfies WorkRequest);
  }

  /** Waits for the worker's answer to `begin` (blocking this thread). */
  finish(): WorkResult {
    for (let waited = 0; Atomics.load(this.done, 0) === 0; waited++) {
      if (Atomics.wait(this.done, 0, 0, 60_000) === "timed-out" && waited >= 10) throw new Error("the gradient worker gave no answer for 10 minutes");
    }
    const message = receiveMessageOnPort(this.port);
    if (!message) throw new Error("the gradient worker signalled an answer but sent none");
    const result = message.message as WorkResult;
    if (result.error) throw new Error(`gradient worker: ${result.error}`);
    return result;
  }

  async stop(): Promise<void> {
    this.port.close();
    await this.worker.terminate();
  }
}

/** The worker's gradients as tensors of the parameters' shapes. */
export function gradTensors(model: TimeSformer, result: WorkResult): Map<string, tf.Tensor> {
  return new Map(result.grads.map(({ name, values }) => [name, tf.tensor(values, model.params.get(name)!.shape)]));
}
