/**
 * From media files to answers: each video (or image) is decoded and viewed exactly as evaluation does (T frames
 * uniformly over the whole video at the frame cache's resolution, short side resized to the crop size, 1 or 3 crops,
 * the head's dataset normalisation from the weights' metadata), softmax averaged over the views, top-k classes named
 * by the weights' id2label. Also the raw-array path in the official layout, for parity checks against PyTorch.
 */
import * as tf from "@tensorflow/tfjs";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { EvalViews, evalViews, TIMESFORMER_NORM, viewCount } from "../data/augment";
import { cacheSizeForCrop } from "../data/frame-cache";
import { decodeClip, isMediaPath, MediaError } from "../data/video";
import { readNpy } from "../io/npy";
import { TimeSformer } from "../model/timesformer";
import { HeadInfo } from "../model/head-info";
import { loadModel, loadModelWithHeads } from "../model/weights";
import { clipScores } from "./evaluate";

export interface PredictOptions {
  /** Which head answers; default the only one (an error lists the heads when there are several). */
  head?: string;
  /** Spatial views per clip, as evaluation: 1x3 (default) or 1x1. */
  views?: EvalViews;
  /** Classes reported per file (default 5). */
  topK?: number;
  /** Attention heads per layer, for weights without cover-kit metadata. */
  numHeads?: number;
}

export interface ClassScore { rank: number; index: number; label: string; probability: number }

/** One file's answer: the top classes, or why the file could not be used. */
export interface FilePrediction { file: string; top: ClassScore[]; error?: string }

export interface PredictResult {
  weights: string;
  head: string;
  views: EvalViews;
  /** False for weights without class names: labels are then the class indices. */
  labelled: boolean;
  /** Things the user should know once (e.g. no class names in the weights). */
  notes: string[];
  predictions: FilePrediction[];
}

/** Predicts every media file given (folders stand for the media files directly inside them, sorted). */
export async function predictFiles(weightsPath: string, inputs: string[], options: PredictOptions = {}): Promise<PredictResult> {
  const files = expandInputs(inputs);
  const { model, heads } = loadModelWithHeads(weightsPath, { numHeads: options.numHeads });
  try {
    const head = chooseHead(model, options.head, weightsPath);
    const views = options.views ?? "1x3";
    const topK = options.topK ?? 5;
    if (!(Number.isInteger(topK) && topK >= 1)) throw new Error(`top-k must be a positive integer, got ${topK}`);
    const info: HeadInfo = heads[head] ?? {};
    const notes = [
      ...(info.labels ? [] : [`${weightsPath}: the weights carry no class names for head '${head}'; classes are shown as indices`]),
      ...(info.normalization ? [] : [`${weightsPath}: the weights carry no input normalisation for head '${head}'; TimeSformer's mean 0.45 / std 0.225 is used`]),
    ];
    const predictions: FilePrediction[] = [];
    for (const file of files) predictions.push(await predictOne(model, head, info, file, views, topK));
    return { weights: weightsPath, head, views, labelled: info.labels !== undefined, notes, predictions };
  } finally {
    model.dispose();
  }
}

/** Softmax scores averaged over the views of one media file, as evaluation computes them for a clip. */
export async function fileScores(model: TimeSformer, head: string, info: HeadInfo, file: string, views: EvalViews): Promise<Float32Array> {
  const { frames: T, imageSize: S } = model.config;
  const frames = await decodeClip(file, { frames: T, size: cacheSizeForCrop(S) });
  const v = viewCount(views);
  const x = evalViews(frames, S, views, undefined, 0, info.normalization ?? TIMESFORMER_NORM);
  return clipScores(model, head, { x, shape: [v, frames.frames, S, S, 3], views: v, labels: new Int32Array(1) }, false);
}

async function predictOne(model: TimeSformer, head: string, info: HeadInfo, file: string, views: EvalViews, topK: number): Promise<FilePrediction> {
  try {
    return { file, top: topClasses(await fileScores(model, head, info, file, views), topK, info.labels) };
  } catch (err) {
    if (err instanceof MediaError) return { file, top: [], error: err.message };
    throw err;
  }
}

export function topClasses(scores: Float32Array, k: number, labels?: string[]): ClassScore[] {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, k).map((index, i) => ({ rank: i + 1, index, label: labels?.[index] ?? String(index), probability: scores[index] }));
}

function chooseHead(model: TimeSformer, head: string | undefined, weightsPath: string): string {
  const names = model.headNames;
  if (head !== undefined) {
    if (!names.includes(head)) throw new Error(`${weightsPath}: no head '${head}' (heads: ${names.join(", ")})`);
    return head;
  }
  if (names.length === 1) return names[0];
  throw new Error(`${weightsPath}: the weights have ${names.length} heads; choose one with --head (${names.join(", ")})`);
}

/** Files as given; a folder becomes the media files directly inside it (sorted). Missing paths are an error. */
export function expandInputs(inputs: string[]): string[] {
  if (inputs.length === 0) throw new Error("no video or image given");
  return inputs.flatMap((input) => {
    let isDir: boolean;
    try { isDir = statSync(input).isDirectory(); } catch { throw new Error(`${input}: no such file or folder`); }
    if (!isDir) return [input];
    const media = readdirSync(input).filter(isMediaPath).sort().map((name) => join(input, name));
    if (media.length === 0) throw new Error(`${input}: the folder holds no video or image files`);
    return media;
  });
}

/** Logits for a batch in the official input layout [B, 3, T, H, W] (float32, already normalised). */
export function predictOfficialLayout(weights: string, input: string, options: { numHeads?: number; head?: string }): Float32Array[] {
  const model = loadModel(weights, { numHeads: options.numHeads, headName: options.head });
  try {
    const array = readNpy(input);
    if (array.dtype !== "float32" || array.shape.length !== 5 || array.shape[1] !== 3) {
      throw new Error(`${input}: expected float32 [B, 3, T, H, W], got ${array.dtype} [${array.shape.join(", ")}]`);
    }
    const [B, , T, H, W] = array.shape;
    const patch = model.config.patchSize;
    if (B < 1 || T < 1 || H < patch || W < patch) {
      throw new Error(`${input}: expected [B >= 1, 3, T >= 1, H >= ${patch}, W >= ${patch}], got [${array.shape.join(", ")}]`);
    }
    const head = options.head ?? model.headNames[0];
    if (!model.headNames.includes(head)) throw new Error(`${weights}: no head '${head}' (heads: ${model.headNames.join(", ")})`);
    let logits: tf.Tensor2D;
    try {
      logits = tf.tidy(() => {
        const video = tf.transpose(tf.tensor(array.data, array.shape), [0, 2, 3, 4, 1]); // -> [B, T, H, W, 3]
        return model.logits(video, head);
      });
    } catch (err) {
      throw new Error(`${input}: the model of ${weights} cannot take this input: ${(err as Error).message}`);
    }
    const rows = logits.arraySync().map((r) => Float32Array.from(r));
    logits.dispose();
    return rows;
  } finally {
    model.dispose();
  }
}
