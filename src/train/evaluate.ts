/**
 * Evaluation as the paper: each clip seen as 1 temporal clip x 3 spatial crops (or a single centre view), softmax
 * scores averaged over views; top-1/top-5 and a confusion matrix per dataset; optionally with the frames in reverse
 * order (Table 2). Each result keeps which clips were right (`hits`) and which clips were scored (`clipSet`), so that two
 * models scored on the same clips can be compared clip by clip (a paired difference is far less noisy).
 */
import { createHash } from "node:crypto";
import * as tf from "@tensorflow/tfjs";
import type { EvalViews } from "../data/augment";
import type { EvalBatch } from "../data/batches";
import { CompileMode, compileAvailable, compileModeFromEnv, GraphCache } from "../backend/graph";
import { TimeSformer } from "../model/timesformer";
import { throwIfStopped, yieldToEventLoop } from "../util/interrupt";
import { createProgress } from "../util/progress";
import { ClassificationMeter, ClassificationResult } from "./metrics";
import type { ModelWorker } from "./model-worker";

/** Views of n clips: x is float32 [n * views, T, S, S, 3], clip-major (clip 0's views first). */

export interface EvalSource {
  classes: Record<string, string[]>;
  evalSize(dataset: string): number;
  evalBatches(dataset: string, views: EvalViews): AsyncIterable<EvalBatch>;
}

export interface EvalOptions {
  views: EvalViews; reverseFrames: boolean; datasets: string[];
  /** How the batches run on the native backend (default: $COVER_COMPILE, else "graph"). */
  compile?: CompileMode;
  /** Scores the second half of every batch's clips in a worker thread (eager batches only; see model-worker.ts). */
  worker?: ModelWorker;
}

export interface DatasetResult extends ClassificationResult {
  views: string;
  reverseFrames: boolean;
  classes: string[];
  /** Clips of the split that could not be evaluated (bad or missing media), when there were any. */
  skippedClips?: number;
  /** Batches of which no clip could be loaded, when there were any. */
  skippedBatches?: number;
  /** Top-1 correctness per clip in evaluation order ("1" hit, "0" miss); absent in results written before it was kept. */
  hits?: string;
  /** Digest of the ids of the clips scored, in order: two results with the same clipSet scored the same clips. */
  clipSet?: string;
}

/** The clipSet of clips with these ids, in this order. */
export function clipSetOf(ids: string[]): string {
  return createHash("sha256").update(ids.join("\n")).digest("hex").slice(0, 16);
}

/** Rejects with InterruptedError when `signal` is aborted (checked between batches). */
export async function evaluateModel(model: TimeSformer, source: EvalSource, options: EvalOptions, quiet = false, signal?: AbortSignal): Promise<Record<string, DatasetResult>> {
  const compiled = compiledScores(options.compile ?? compileModeFromEnv(), quiet ? () => {} : console.error);
  try {
    return await evaluateDatasets(model, source, options, quiet, signal, compiled);
  } finally {
    compiled?.dispose();
  }
}

async function evaluateDatasets(model: TimeSformer, source: EvalSource, options: EvalOptions, quiet: boolean,
  signal: AbortSignal | undefined, compiled: CompiledScores | undefined): Promise<Record<string, DatasetResult>> {
  const results: Record<string, DatasetResult> = {};
  for (const dataset of options.datasets) {
    const classes = source.classes[dataset];
    if (!classes) throw new Error(`no evaluation data for dataset '${dataset}'`);
    if (model.config.classifiers[dataset] === undefined) throw new Error(`the model has no head for dataset '${dataset}'`);
    const meter = new ClassificationMeter(classes.length);
    const size = source.evalSize(dataset);
    const progress = createProgress({ label: `eval ${dataset}${options.reverseFrames ? " (reversed)" : ""}`, total: size, unit: "clip", silent: quiet });
    let skippedBatches = 0;
    const ids: string[] = [];
    try {
      for await (const batch of source.evalBatches(dataset, options.views)) {
        await yieldToEventLoop(); // lets a SIGINT/SIGTERM handler run between batches
        throwIfStopped(signal, `evaluation of ${dataset} stopped`);
        if (batch.labels.length === 0) { skippedBatches++; continue; } // every clip of it failed to load (each counted as a bad file)
        meter.add(clipScores(model, dataset, batch, options.reverseFrames, compiled, options.worker), batch.labels);
        ids.push(...batch.ids);
        progress.tick(batch.labels.length);
      }
    } finally {
      progress.done();
    }
    const result = meter.result();
    results[dataset] = {
      ...result, views: options.views, reverseFrames: options.reverseFrames, classes, ...skipped(size - result.samples, skippedBatches),
      hits: meter.hits(), clipSet: clipSetOf(ids),
    };
  }
  return results;
}

function skipped(clips: number, batches: number): Pick<DatasetResult, "skippedClips" | "skippedBatches"> {
  return { ...(clips > 0 && { skippedClips: clips }), ...(batches > 0 && { skippedBatches: batches }) };
}

/**
 * Softmax scores averaged over each clip's views: [n, classes]. `compiled` runs them as a recorded graph function;
 * otherwise `worker` scores the second half of the clips meanwhile.
 */
export function clipScores(model: TimeSformer, head: string, batch: Omit<EvalBatch, "ids">, reverseFrames: boolean, compiled?: CompiledScores, worker?: ModelWorker): Float32Array {
  if (batch.labels.length === 0) return new Float32Array(0); // no clip of the batch could be loaded
  const n = batch.labels.length;
  if (!compiled && worker && n >= 2) {
    const [rows, T, H, W, C] = batch.shape;
    const half = Math.ceil(n / 2) * batch.views;
    const rowSize = T * H * W * C;
    worker.begin(model, { kind: "scores", head, views: batch.views, reverseFrames, shape: [rows - half, T, H, W, C], x: batch.x.subarray(half * rowSize) });
    let mine: Float32Array;
    let theirs: Float32Array;
    const x = tf.tensor(batch.x.subarray(0, half * rowSize), [half, T, H, W, C]);
    try {
      mine = clipScoresOf(model, head, x, batch.views, reverseFrames);
    } finally {
      x.dispose();
      theirs = worker.finishScores(); // also after an error here: the answer must not be left for the next batch
    }
    const scores = new Float32Array(mine.length + theirs.length);
    scores.set(mine);
    scores.set(theirs, mine.length);
    return scores;
  }
  const x = tf.tensor(batch.x, batch.shape);
  const compute = () => scoresOf(model, head, x, batch.views, reverseFrames);
  try {
    const scores = compiled?.run(model, head, x, batch.views, reverseFrames, compute) ?? tf.tidy(compute);
    const out = scores.dataSync() as Float32Array;
    scores.dispose();
    return out;
  } finally {
    x.dispose();
  }
}

/** clipScores of the views `x` ([clips * views, T, H, W, C]), computed eagerly. */
export function clipScoresOf(model: TimeSformer, head: string, x: tf.Tensor, views: number, reverseFrames: boolean): Float32Array {
  const scores = tf.tidy(() => scoresOf(model, head, x, views, reverseFrames));
  const out = scores.dataSync() as Float32Array;
  scores.dispose();
  return out;
}

function scoresOf(model: TimeSformer, head: string, x: tf.Tensor, views: number, reverseFrames: boolean): tf.Tensor2D {
  const probs = tf.softmax(model.logits(reverseFrames ? tf.reverse(x, 1) : x, head));
  return tf.mean(tf.reshape(probs, [x.shape[0] / views, views, probs.shape[1]]), 1) as tf.Tensor2D;
}

/** Evaluation's scores as graph functions, one per head, batch shape, views and frame order (see GraphCache). */
export class CompiledScores {
  private readonly graphs: GraphCache<null>;

  constructor(xla: boolean, onNote: (line: string) => void = () => {}) {
    this.graphs = new GraphCache(xla, "evaluation", onNote);
  }

  run(model: TimeSformer, head: string, x: tf.Tensor, views: number, reverseFrames: boolean, compute: () => tf.Tensor2D): tf.Tensor2D | undefined {
    const key = JSON.stringify([head, x.shape, views, reverseFrames]);
    const result = this.graphs.run(key, [...model.params.values(), x], () => ({ outputs: [compute()], meta: null }), () => [],
      () => [tf.tidy(compute)]);
    return result?.outputs[0] as tf.Tensor2D | undefined;
  }

  summary(): string { return this.graphs.summary("batch shapes"); }

  dispose(): void { this.graphs.dispose(); }
}

/** The compiled evaluation for `mode`, or undefined where it runs eagerly (see compileAvailable). */
export function compiledScores(mode: CompileMode, log: (line: string) => void): CompiledScores | undefined {
  return compileAvailable(mode, "evaluation", log) ? new CompiledScores(mode === "xla", log) : undefined;
}
