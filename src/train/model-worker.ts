/**
 * Data parallelism inside one process, for backends that compute on a single thread (wasm): a copy of the model in a
 * worker thread computes the second half of each batch's clips while this thread computes the first half.
 * - Training: COVER's loss is a per-clip-weighted sum (step.ts, PassTensors), so the halves' losses and gradients
 *   add up to the micro-batch's; each half's drop path noise is its rows of the whole pass's draw. The halves are
 *   added in a fixed order: results are deterministic for a seed and differ from one thread by float rounding only.
 * - Evaluation: each half's clips are scored on their own (nothing in the model mixes the clips of a batch).
 * The worker gets every parameter's value with each request, so the optimiser stays here alone.
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

export interface GradientsRequest {
  kind: "gradients";
  seed: number;
  labelSmoothing: number;
  lossWeights: Record<string, number>;
  trainable: string[];
  parts: PartData[];
}

export interface GradientsResult {
  total: number;
  /** Per part, its datasets' summed losses (part order, then the part's datasets). */
  perDataset: number[][];
  grads: { name: string; values: Float32Array }[];
}

/** Clip scores (softmax averaged over each clip's `views` views) of `x`, [clips * views, T, H, W, C]. */
export interface ScoresRequest { kind: "scores"; head: string; views: number; reverseFrames: boolean; shape: number[]; x: Float32Array }

export type WorkRequest = (GradientsRequest | ScoresRequest) & { params: { name: string; values: Float32Array }[] };

/** What the worker answers: the request's result, or the error it hit. */
export type WorkAnswer = { gradients: GradientsResult } | { scores: Float32Array } | { error: string };

/**
 * Clips per batch from which a worker pays for its start (loading the backend and the model in a thread, about a
 * second). Measured on 2 cores, wasm, cpu scale (batch 32), 64 COVER steps: 73.4 s alone, 39.5 s with the worker.
 */
export const WORKER_MIN_CLIPS = 16;

/**
 * Whether work on `backend` in batches of `clips` clips gets a model worker. $COVER_MODEL_WORKER: "off" never, "on"
 * always (on a backend that computes on one thread: wasm), unset: on wasm with 2 cores or more and batches of
 * WORKER_MIN_CLIPS clips or more.
 */
export function modelWorkerWanted(backend: string, clips: number): boolean {
  const value = process.env.COVER_MODEL_WORKER;
  if (value !== undefined && value !== "on" && value !== "off") throw new Error(`COVER_MODEL_WORKER must be on or off, got '${value}'`);
  if (value === "off" || backend !== "wasm") return false;
  return value === "on" || (availableParallelism() >= 2 && clips >= WORKER_MIN_CLIPS);
}

/**
 * A model worker for work on `backend` in batches of `clips` clips where modelWorkerWanted says so, else undefined.
 * The one place that decides whether a run or an evaluation gets one. A worker that cannot start (a thread that fails
 * to load the backend, too little memory for a second copy of the model) costs speed, not the run: the work goes on in
 * this thread and `warn` says why, unless COVER_MODEL_WORKER=on asked for the worker, which then fails.
 */
export async function startModelWorker(
  config: TimeSformerConfig, backend: string, clips: number,
  options: { warn?: (line: string) => void; start?: typeof ModelWorker.start } = {},
): Promise<ModelWorker | undefined> {
  if (!modelWorkerWanted(backend, clips)) return undefined;
  const start = options.start ?? ModelWorker.start; // a static method that names its class, never `this`
  try {
    return await start(config, "wasm");
  } catch (err) {
    if (process.env.COVER_MODEL_WORKER === "on") throw err;
    const warn = options.warn ?? ((line: string) => console.error(line));
    warn(`model worker: could not start (${(err as Error).message}); computing on one thread`);
    return undefined;
  }
}

export class ModelWorker {
  private constructor(private readonly worker: Worker, private readonly port: MessagePort, private readonly done: Int32Array) {}

  /** Starts the worker with a copy of the model's architecture (its values come with each request). */
  static async start(config: TimeSformerConfig, backend: BackendName): Promise<ModelWorker> {
    const { port1, port2 } = new MessageChannel();
    const done = new Int32Array(new SharedArrayBuffer(4));
    const file = join(__dirname, "model-worker-thread.ts");
    const code = `require(${JSON.stringify(require.resolve("tsx/cjs"))}); require(${JSON.stringify(file)});`;
    const worker = new Worker(code, { eval: true, workerData: { config, backend, port: port2, done }, transferList: [port2] });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once("error", reject);
        worker.once("exit", (code) => reject(new Error(`the model worker exited (code ${code}) before it was ready`)));
        worker.once("message", (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new Error(`model worker: ${m.error}`))));
      });
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    worker.removeAllListeners();
    worker.on("error", () => undefined); // the next request finds no answer and says so
    worker.unref(); // never what keeps a process alive
    port1.unref();
    return new ModelWorker(worker, port1, done);
  }

  /** Hands the worker a request with every parameter's current value; returns at once. */
  begin(model: TimeSformer, request: GradientsRequest | ScoresRequest): void {
    const params = [...model.params].map(([name, v]) => ({ name, values: v.dataSync() as Float32Array }));
    Atomics.store(this.done, 0, 0);
    this.port.postMessage({ ...request, params } satisfies WorkRequest);
  }

  /** Waits for the answer to `begin` (blocking this thread). */
  finishGradients(): GradientsResult {
    const answer = this.finish();
    if (!("gradients" in answer)) throw new Error("the model worker answered a gradients request with something else");
    return answer.gradients;
  }

  finishScores(): Float32Array {
    const answer = this.finish();
    if (!("scores" in answer)) throw new Error("the model worker answered a scores request with something else");
    return answer.scores;
  }

  private finish(): WorkAnswer {
    for (let waited = 0; Atomics.load(this.done, 0) === 0; waited++) {
      if (Atomics.wait(this.done, 0, 0, 60_000) === "timed-out" && waited >= 10) throw new Error("the model worker gave no answer for 10 minutes");
    }
    const message = receiveMessageOnPort(this.port);
    if (!message) throw new Error("the model worker signalled an answer but sent none");
    const answer = message.message as WorkAnswer;
    if ("error" in answer) throw new Error(`model worker: ${answer.error}`);
    return answer;
  }

  async stop(): Promise<void> {
    this.port.close();
    await this.worker.terminate();
  }
}

/** The worker's gradients as tensors of the parameters' shapes. */
export function gradTensors(model: TimeSformer, result: GradientsResult): Map<string, tf.Tensor> {
  return new Map(result.grads.map(({ name, values }) => [name, tf.tensor(values, model.params.get(name)!.shape)]));
}
