/**
 * A training run as a typed plain object (big_vision style): model, data mixture as {dataset: loss weight},
 * schedule, seed. COVER's objective is sum_i w_i * CE_i over the datasets of a batch (Sec. 3.3); the standard
 * paradigm is the same object with one video dataset.
 */
import { basename } from "node:path";
import { z } from "zod";
import { EVAL_VIEWS } from "../data/augment";
import { ATTENTION_TYPES, modelConfig, TIME_EMBED_INITS, TimeSformerConfig } from "../model/config";
import { PAPER_SCHEDULE, StepSchedule } from "../train/schedule";
import { checkSchema, expect } from "../util/schema";

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

const MODEL_SPEC = z.object({
  preset: expect.string(),
  attention: expect.oneOf(ATTENTION_TYPES).optional(),
  /** Frames per clip and crop size fed to the model (default: the preset's). */
  frames: expect.positiveInt().optional(),
  imageSize: expect.positiveInt().optional(),
  dropPath: expect.nonNegative().optional(),
  timeEmbedInit: expect.oneOf(TIME_EMBED_INITS).optional(),
}).strict();
export type ModelSpec = z.infer<typeof MODEL_SPEC>;

/** Where the initial weights come from. */
const INIT_SPEC = z.discriminatedUnion("from", [
  z.object({ from: z.literal("scratch") }).strict(),
  /**
   * A safetensors file: ours, an official TimeSformer checkpoint, or an image ViT (inflated per the official recipe).
   * A file that leaves part of the backbone unfilled is an error unless `partial` asks for it.
   */
  z.object({ from: z.literal("weights"), path: expect.string(), strict: expect.boolean().optional(), partial: expect.boolean().optional() }).strict(),
  /** The final weights of an earlier run (its weights.safetensors), e.g. transfer A -> B or image pre-training. */
  z.object({ from: z.literal("run"), dir: expect.string() }).strict(),
], { errorMap: () => ({ message: 'expected "from": "scratch", "weights" (with "path") or "run" (with "dir")' }) });
export type InitSpec = z.infer<typeof INIT_SPEC>;

const SCHEDULE = z.object({
  baseLr: expect.positive(),
  milestones: z.array(expect.nonNegative(), { invalid_type_error: "expected a list of fractions of the run" }),
  gamma: expect.positive(),
  warmup: expect.nonNegative(),
  decay: expect.oneOf(["step", "cosine"]).optional(),
}).strict() satisfies z.ZodType<StepSchedule>;

const OPTIM_SPEC = z.object({
  /** "sgd" with momentum is the paper's; "adamw" is for training from scratch at laptop scale. */
  optimizer: expect.oneOf(["sgd", "adamw"]),
  epochs: expect.positive(),
  /** Clips per micro-batch. */
  batchSize: expect.positiveInt(),
  /** Micro-batches per optimiser step: effective batch = batchSize x accumulate (the paper's 128). */
  accumulate: expect.positiveInt(),
  schedule: SCHEDULE,
  momentum: expect.nonNegative(),
  weightDecay: expect.nonNegative(),
  labelSmoothing: expect.nonNegative(),
  /** A loss above this (or NaN) stops the run: it has diverged. */
  maxLoss: expect.positive(),
}).strict();
export type OptimSpec = z.infer<typeof OPTIM_SPEC>;

const WEIGHTS = z.record(expect.nonNegative());

/** The schema of a RunConfig, as a user's config.json gives it. */
export const RUN_CONFIG = z.object({
  name: expect.string(),
  seed: expect.integer(),
  model: MODEL_SPEC,
  /** Training mixture: dataset (a data-manifests/ name or a manifest path) -> loss weight w_i. */
  train: WEIGHTS,
  /** Sampling weights per dataset; default: proportional to dataset size (the paper). */
  sampling: WEIGHTS.optional(),
  /** Datasets evaluated at the end (default: the training datasets). */
  evaluate: z.array(expect.string(), { invalid_type_error: "expected a list of dataset names" }).optional(),
  splits: z.object({ train: expect.string(), eval: expect.string() }).strict(),
  init: INIT_SPEC,
  /** Train only the heads (linear probe on frozen features, Sec. 3.2). */
  freezeBackbone: expect.boolean().optional(),
  optim: OPTIM_SPEC,
  evalViews: expect.oneOf(EVAL_VIEWS),
  /** Optimiser steps between checkpoints (plus one at every epoch end). */
  checkpointEvery: expect.positiveInt(),
  /**
   * Frame preprocessing. Default (undefined): the official recipe, frames cached at 1.15x the crop's short side and
   * resized to the crop at test time. `cropJitter` instead caches frames at crop + 2 x jitter, so random training crops
   * shift the content by at most `cropJitter` pixels, and evaluates centre crops at that same scale (a patch-8 ViT
   * trained from scratch for a few hundred steps cannot learn tolerance to large shifts or to a test-time zoom).
   */
  input: z.object({ cropJitter: expect.nonNegativeInt() }).strict().optional(),
  /** Cap on the samples used per dataset and split (small-scale runs; undefined = all). */
  maxSamples: z.object({ train: expect.positiveInt().optional(), eval: expect.positiveInt().optional() }).strict().optional(),
}).strict();

/** See the top of this file. */
export type RunConfig = z.infer<typeof RUN_CONFIG>;

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

/**
 * Checks a run config: every field against RUN_CONFIG (`label` names where it came from, e.g. its file), then what
 * the schema cannot say alone. Returns the config itself, not a parsed copy, so its key order (and with it the run
 * cache's hash of it) stays as written.
 */
export function validateRunConfig<C>(c: C, label = `run '${(c as { name?: unknown })?.name}'`): C & RunConfig {
  const config = c as C & RunConfig;
  checkSchema(RUN_CONFIG, c, label);
  const problems: string[] = [];
  if (Object.keys(config.train).length === 0) problems.push("train needs at least one dataset");
  for (const name of Object.keys(config.sampling ?? {})) {
    if (!(name in config.train)) problems.push(`sampling names '${name}', which is not a training dataset`);
  }
  if (problems.length) throw new Error(`${label}: ${problems.join("; ")}`);
  return config;
}
