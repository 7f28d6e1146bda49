/**
 * A training run as a typed plain object (big_vision style): model, data mixture as {dataset: loss weight},
 * schedule, seed. COVER's objective is sum_i w_i * CE_i over the datasets of a batch (Sec. 3.3); the standard
 * paradigm is the same object with one video dataset.
 */
import { basename } from "node:path";
import { AttentionType, modelConfig, TimeSformerConfig } from "../model/config";
import { PAPER_SCHEDULE, StepSchedule } from "../train/schedule";

export interface ModelSpec {
  preset: string;
  attention?: AttentionType;
  /** Frames per clip and crop size fed to the model (default: the preset's). */
  frames?: number;
  imageSize?: number;
  dropPath?: number;
  timeEmbedInit?: TimeSformerConfig["timeEmbedInit"];
}

/** The TimeSformer config a run's model spec stands for (heads: dataset -> classes). */
export function runModelConfig(spec: ModelSpec, classifiers?: Record<string, number>): TimeSformerConfig {
  return modelConfig(spec.preset, {
    ...(classifiers && { classifiers }),
    ...(spec.attention && { attention: spec.attention }),
    ...(spec.frames && { frames: spec.frames }),
    ...(spec.imageSize && { imageSize: spec.imageSize }),
    ...(spec.dropPath !== undefined && { dropPath: spec.dropPath }),
    ...(spec.timeEmbedInit && { timeEmbedInit: spec.timeEmbedInit }),
  });
}

/** Where the initial weights come from. */
export type InitSpec =
  | { from: "scratch" }
  /**
   * A safetensors file: ours, an official TimeSformer checkpoint, or an image ViT (inflated per the official recipe).
   * A file that leaves part of the backbone unfilled is an error unless `partial` asks for it.
   */
  | { from: "weights"; path: string; strict?: boolean; partial?: boolean }
  /** The final weights of an earlier run (its weights.safetensors), e.g. transfer A -> B or image pre-training. */
  | { from: "run"; dir: string };

export interface OptimSpec {
  /** "sgd" with momentum is the paper's; "adamw" is for training from scratch at laptop scale. */
  optimizer: "sgd" | "adamw";
  epochs: number;
  /** Clips per micro-batch. */
  batchSize: number;
  /** Micro-batches per optimiser step: effective batch = batchSize x accumulate (the paper's 128). */
  accumulate: number;
  schedule: StepSchedule;
  momentum: number;
  weightDecay: number;
  labelSmoothing: number;
  /** A loss above this (or NaN) stops the run: it has diverged. */
  maxLoss: number;
}

export interface RunConfig {
  name: string;
  seed: number;
  model: ModelSpec;
  /** Training mixture: dataset (a data-manifests/ name or a manifest path) -> loss weight w_i. */
  train: Record<string, number>;
  /** Sampling weights per dataset; default: proportional to dataset size (the paper). */
  sampling?: Record<string, number>;
  /** Datasets evaluated at the end (default: the training datasets). */
  evaluate?: string[];
  splits: { train: string; eval: string };
  init: InitSpec;
  /** Train only the heads (linear probe on frozen features, Sec. 3.2). */
  freezeBackbone?: boolean;
  optim: OptimSpec;
  evalViews: "1x1" | "1x3";
  /** Optimiser steps between checkpoints (plus one at every epoch end). */
  checkpointEvery: number;
  /**
   * Frame preprocessing. Default (undefined): the official recipe, frames cached at 1.15x the crop's short side and
   * resized to the crop at test time. `cropJitter` instead caches frames at crop + 2 x jitter, so random training crops
   * shift the content by at most `cropJitter` pixels, and evaluates centre crops at that same scale (a patch-8 ViT
   * trained from scratch for a few hundred steps cannot learn tolerance to large shifts or to a test-time zoom).
   */
  input?: { cropJitter: number };
  /** Cap on the samples used per dataset and split (small-scale runs; undefined = all). */
  maxSamples?: { train?: number; eval?: number };
}

export const PAPER_OPTIM: OptimSpec = {
  optimizer: "sgd", epochs: 20, batchSize: 8, accumulate: 16, schedule: PAPER_SCHEDULE,
  momentum: 0.9, weightDecay: 1e-4, labelSmoothing: 0, maxLoss: 1e3,
};

/**
 * The config as it identifies a run, independent of where run folders lie: an init run is named by its folder's name
 * (run-cache folders are named after their config's hash), so a runs folder copied or moved elsewhere is the same.
 */
export function comparableRunConfig(c: RunConfig): RunConfig {
  if (c.init?.from !== "run") return c;
  return { ...c, init: { from: "run", dir: basename(c.init.dir) } };
}

export function validateRunConfig(c: RunConfig): void {
  const problems: string[] = [];
  if (Object.keys(c.train).length === 0) problems.push("train needs at least one dataset");
  for (const [name, w] of Object.entries(c.train)) if (!(w >= 0)) problems.push(`loss weight of '${name}' must be >= 0, got ${w}`);
  for (const [name, w] of Object.entries(c.sampling ?? {})) {
    if (!(name in c.train)) problems.push(`sampling names '${name}', which is not a training dataset`);
    if (!(w >= 0)) problems.push(`sampling weight of '${name}' must be >= 0, got ${w}`);
  }
  const o = c.optim;
  if (!(o.epochs > 0)) problems.push(`optim.epochs must be > 0, got ${o.epochs}`);
  if (!(Number.isInteger(o.batchSize) && o.batchSize > 0)) problems.push(`optim.batchSize must be a positive integer, got ${o.batchSize}`);
  if (!(Number.isInteger(o.accumulate) && o.accumulate > 0)) problems.push(`optim.accumulate must be a positive integer, got ${o.accumulate}`);
  if (c.input && !(Number.isInteger(c.input.cropJitter) && c.input.cropJitter >= 0)) problems.push(`input.cropJitter must be a non-negative integer, got ${c.input.cropJitter}`);
  if (!(c.checkpointEvery > 0)) problems.push(`checkpointEvery must be > 0, got ${c.checkpointEvery}`);
  if (problems.length) throw new Error(`run '${c.name}': ${problems.join("; ")}`);
}
