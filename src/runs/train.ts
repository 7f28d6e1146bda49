/**
 * The training loop shared by every policy (image pre-training, standard fine-tuning, COVER, frozen probe):
 * mixed micro-batches -> COVER loss -> accumulated SGD-momentum steps on the paper's step schedule, with
 * metrics.jsonl, atomic checkpoints, exact resume, divergence guard, and per-dataset results at the end.
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync, mkdirSync } from "node:fs";
import { isDeepStrictEqual } from "node:util";
import { TimeSformer } from "../model/timesformer";
import { HeadInfo } from "../model/head-info";
import { saveWeights } from "../model/weights";
import { removeLeftoverTempFiles } from "../util/atomic";
import { InterruptedError, interruptedBy, withStopSignal, yieldToEventLoop } from "../util/interrupt";
import { createProgress } from "../util/progress";
import { initModel } from "./init";
import { hasCheckpoint, LoadedCheckpoint, loadCheckpoint, resumeCheckpointPath, saveCheckpoint, setAsideLatestCheckpoint } from "./checkpoint";
import { DatasetResult, evaluateModel, EvalOptions } from "../train/evaluate";
import { AdamW, MomentumSgd, Optimizer } from "../train/optimizer";
import { runSchedule } from "./plan";
import { comparableRunConfig, RunConfig, runModelConfig, validateRunConfig } from "./config";
import { acquireRunLock, RunLock } from "./lock";
import { learningRate } from "../train/schedule";
import type { Batch } from "../data/batches";
import { compiledSteps, lossAndGradients, StepLosses, trainableParams } from "../train/step";
import { ModelWorker, startModelWorker } from "../train/model-worker";
import { CompileMode, compileModeFromEnv } from "../backend/graph";
import type { BadMediaFile, RunData } from "./data";
import {
  appendStepRecord, LrOverride, readLrOverrides, readStoredConfig, RunResults, runFiles, startMetrics, StepRecord, truncateMetrics,
  writeBadFiles, writeLrOverrides, writeRunConfig, writeRunResults,
} from "./folder";

/** The trainer's own state in a checkpoint: enough to continue exactly where it stopped. */
interface TrainerState { step: number; seconds: number; lrScale?: number }

export class DivergenceError extends Error {}

export interface TrainOptions {
  resume?: boolean;
  /** Silences the progress display (tests). */
  quiet?: boolean;
  /** Stops after this many optimiser steps in this call (tests of resume; the run stays resumable). */
  stopAfterSteps?: number;
  /**
   * When aborted (the CLI's Ctrl-C), the run checkpoints its last finished step and trainRun rejects with an
   * InterruptedError; resume continues it exactly. Without one, SIGINT and SIGTERM do that while trainRun runs.
   */
  signal?: AbortSignal;
  /** Multiplies the schedule's learning rate from here on (e.g. 0.5 after a divergence); kept by later resumes. */
  lrScale?: number;
  /** The run folder's lock, when the caller took it already (to fail before opening the data). */
  heldLock?: RunLock;
  /** Whether steps and evaluation run as recorded graph functions (default: $COVER_COMPILE, else "graph"). */
  compile?: CompileMode;
}

/**
 * Trains (or resumes) a run into outDir; returns its results, or null when stopAfterSteps ended it early.
 * Rejects with InterruptedError, after checkpointing, on the stop signal (see TrainOptions.signal). The run folder is
 * locked meanwhile: a second process on the same folder fails at once (see run-lock.ts).
 */
export async function trainRun(config: RunConfig, data: RunData, outDir: string, options: TrainOptions = {}): Promise<RunResults | null> {
  return withStopSignal(options.signal, (signal) => train(config, data, outDir, options, signal));
}

async function train(config: RunConfig, data: RunData, outDir: string, options: TrainOptions, signal: AbortSignal): Promise<RunResults | null> {
  validateRunConfig(config);
  mkdirSync(outDir, { recursive: true });
  const lock = options.heldLock ?? acquireRunLock(outDir);
  try {
    return await trainLocked(config, data, outDir, options, signal);
  } finally {
    if (!options.heldLock) lock.release();
  }
}

/** A run being trained: its model, optimiser and trainer state, and the schedule's length. */
interface TrainingRun {
  model: TimeSformer;
  optimizer: Optimizer;
  state: TrainerState;
  /** True when this call continues from a checkpoint. */
  resumed: boolean;
  stepsPerEpoch: number;
  totalSteps: number;
}

async function trainLocked(config: RunConfig, data: RunData, outDir: string, options: TrainOptions, signal: AbortSignal): Promise<RunResults | null> {
  const run = openRun(config, data, outDir, options);
  const worker = await startWorker(run.model, config, options);
  try {
    await trainSteps(run, config, data, outDir, options, signal, worker);
    if (run.state.step < run.totalSteps) { writeBadFilesReport(outDir, data); disposeRun(run); return null; }
    return await finishRun(run, config, data, outDir, options, signal, worker);
  } finally {
    await worker?.stop();
  }
}

/** A model worker for the training and its evaluation where the backend computes on one thread (see model-worker.ts). */
async function startWorker(model: TimeSformer, config: RunConfig, options: TrainOptions): Promise<ModelWorker | undefined> {
  const worker = await startModelWorker(model.config, tf.getBackend(), config.optim.batchSize); // wasm only: it never compiles steps
  if (worker && !options.quiet) console.error("model worker: a second thread computes half of every batch's clips (COVER_MODEL_WORKER=off: one thread)");
  return worker;
}

/** Step 1: a fresh run (config.json written, model initialised), or the checkpoint a resume continues from. */
function openRun(config: RunConfig, data: RunData, outDir: string, options: TrainOptions): TrainingRun {
  removeLeftoverTempFiles(outDir);
  const resumed = options.resume === true && hasCheckpoint(outDir);
  if (resumed) assertSameConfig(outDir, config);
  else if (hasCheckpoint(outDir)) throw new Error(`${outDir} holds a run already; pass --resume to continue it, or choose another --out`);
  else if (existsSync(runFiles(outDir).results)) throw new Error(`${outDir} holds a finished run (results.json) and no checkpoint to resume; choose another --out`);
  writeRunConfig(outDir, config);
  const { stepsPerEpoch, totalSteps } = runSchedule(config, data.microBatchesPerEpoch);

  let run: TrainingRun;
  if (resumed) {
    const ckpt = loadCheckpoint<TrainerState>(outDir);
    try { verifyResume(ckpt, config, classCounts(data), totalSteps); } catch (err) { disposeCheckpoint(ckpt); throw err; }
    const optimizer = createOptimizer(config, ckpt.model);
    optimizer.restore(ckpt.optimizerState);
    truncateMetrics(outDir, ckpt.state.step);
    run = { model: ckpt.model, optimizer, state: ckpt.state, resumed, stepsPerEpoch, totalSteps };
  } else {
    const model = initModel(config, classCounts(data));
    startMetrics(outDir);
    run = { model, optimizer: createOptimizer(config, model), state: { step: 0, seconds: 0 }, resumed, stepsPerEpoch, totalSteps };
  }
  run.state = applyLrOverride(outDir, run.state, options.lrScale);
  return run;
}

function createOptimizer(config: RunConfig, model: TimeSformer): Optimizer {
  const { optimizer, momentum, weightDecay } = config.optim;
  return optimizer === "adamw"
    ? new AdamW({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay }, model.params)
    : new MomentumSgd({ momentum, weightDecay }, model.params);
}

/**
 * Step 2: optimiser steps until the schedule ends or `stopAfterSteps` ends this call, each recorded in metrics.jsonl,
 * checkpointed every `checkpointEvery` steps and at every epoch end. On the stop signal it checkpoints and throws.
 */
async function trainSteps(run: TrainingRun, config: RunConfig, data: RunData, outDir: string, options: TrainOptions, signal: AbortSignal, worker: ModelWorker | undefined): Promise<void> {
  const { model, optimizer, stepsPerEpoch, totalSteps } = run;
  const heads = Object.keys(config.train);
  const trainable = trainableParams(model, { freezeBackbone: config.freezeBackbone === true, heads });
  const epochOf = (step: number) => `epoch ${Math.min(Math.ceil(config.optim.epochs), Math.floor(step / stepsPerEpoch) + 1)}/${config.optim.epochs}`;
  const label = `train ${config.name}${run.resumed ? ` (resumed at step ${run.state.step})` : ""}`;
  const progress = createProgress({ label, total: totalSteps, unit: "step", silent: options.quiet, detail: epochOf });
  progress.tick(run.state.step);
  const batches = data.trainBatches(run.state.step * config.optim.accumulate);
  const compiled = compiledSteps(options.compile ?? compileModeFromEnv(), options.quiet ? () => {} : console.error);
  let lastSavedStep = run.resumed ? run.state.step : -1;
  const stopAt = options.stopAfterSteps !== undefined ? Math.min(totalSteps, run.state.step + options.stopAfterSteps) : totalSteps;
  try {
    while (run.state.step < stopAt) {
      const started = performance.now();
      const lr = learningRate(config.optim.schedule, run.state.step, totalSteps) * (run.state.lrScale ?? 1);
      const losses: StepLosses[] = [];
      for (let micro = 0; micro < config.optim.accumulate; micro++) {
        await yieldToEventLoop(); // lets a SIGINT/SIGTERM handler run between micro-batches
        if (signal.aborted) break;
        const next = await batches.next();
        if (next.done) throw new Error("the training data ran out before the schedule ended");
        if ((next.value as Batch).groups.length === 0) { micro--; continue; } // every clip of it failed to load (skipped, counted)
        const result = lossAndGradients(model, next.value as Batch, config.train, {
          labelSmoothing: config.optim.labelSmoothing, seed: config.seed * 1_000_003 + run.state.step * config.optim.accumulate + micro, trainable, compiled, worker,
        });
        checkDivergence(result.losses, config.optim.maxLoss, run.state, outDir, result.grads, lastSavedStep);
        optimizer.accumulate(result.grads);
        losses.push(result.losses);
      }
      if (losses.length < config.optim.accumulate) { // stopped part-way: the partial step's gradients are dropped
        stopRun(outDir, run, signal, false, config, data);
      }
      optimizer.step(lr);
      run.state = { ...run.state, step: run.state.step + 1, seconds: run.state.seconds + (performance.now() - started) / 1000 };
      const record = stepRecord(run.state, stepsPerEpoch, lr, losses);
      appendStepRecord(outDir, record);
      progress.tick(1, { loss: record.loss, lr });
      const epochEnd = run.state.step % stepsPerEpoch === 0;
      const checkpointDue = run.state.step % config.checkpointEvery === 0 || epochEnd || run.state.step === stopAt;
      if (checkpointDue) {
        saveCheckpoint(outDir, model, optimizer.state(), run.state, config);
        lastSavedStep = run.state.step;
      }
      if (signal.aborted && run.state.step < stopAt) stopRun(outDir, run, signal, checkpointDue, config, data);
    }
  } finally {
    progress.done();
    if (compiled && !options.quiet) console.error(compiled.summary());
    compiled?.dispose();
    await batches.return?.(undefined);
  }
}

/** Step 3: the final weights (with each head's class names), the evaluation, and results.json. */
async function finishRun(run: TrainingRun, config: RunConfig, data: RunData, outDir: string, options: TrainOptions, signal: AbortSignal, worker: ModelWorker | undefined): Promise<RunResults> {
  try {
    saveWeights(run.model, runFiles(outDir).weights, { run: config.name }, headInfo(run.model, data));
    let datasets: Record<string, DatasetResult>;
    try {
      datasets = await evaluateModel(run.model, data, { ...evalOptions(config), compile: options.compile, worker }, options.quiet, signal);
    } catch (err) {
      if (err instanceof InterruptedError) throw interruptedBy(signal, `the run finished training in ${outDir}; resuming it evaluates it`);
      throw err;
    }
    const results: RunResults = {
      run: config.name, steps: run.state.step, epochs: config.optim.epochs, seconds: round(run.state.seconds), backend: tf.getBackend(), datasets,
      ...withLrOverrides(outDir),
      ...writeBadFilesReport(outDir, data),
    };
    writeRunResults(outDir, results);
    return results;
  } finally {
    disposeRun(run);
  }
}

function disposeRun(run: TrainingRun): void {
  run.optimizer.dispose();
  run.model.dispose();
}

/** Checkpoints the last finished step, frees the model and throws the InterruptedError that tells how to go on. */
function stopRun(outDir: string, run: TrainingRun, signal: AbortSignal, saved: boolean, config: RunConfig, data: RunData): never {
  if (!saved) saveCheckpoint(outDir, run.model, run.optimizer.state(), run.state, config);
  writeBadFilesReport(outDir, data);
  disposeRun(run);
  throw interruptedBy(signal, `the run is checkpointed at step ${run.state.step}/${run.totalSteps} in ${outDir}; ` +
    "resume it to continue (cover train --resume, or trainRun with resume: true)");
}

/** Class names and input normalisation of every head, so that the weights file alone is enough to predict. */
function headInfo(model: TimeSformer, data: RunData): Record<string, HeadInfo> {
  return Object.fromEntries(model.headNames.filter((head) => data.classes[head]).map((head) =>
    [head, { labels: data.classes[head], normalization: data.normalization(head) }]));
}

export function evalOptions(config: RunConfig, overrides: Partial<EvalOptions> = {}): EvalOptions {
  return { views: config.evalViews, reverseFrames: false, datasets: config.evaluate ?? Object.keys(config.train), ...overrides };
}

function stepRecord(state: TrainerState, stepsPerEpoch: number, lr: number, losses: StepLosses[]): StepRecord {
  const perDataset: Record<string, number[]> = {};
  for (const l of losses) for (const [k, v] of Object.entries(l.perDataset)) (perDataset[k] ??= []).push(v);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    step: state.step,
    epoch: round(state.step / stepsPerEpoch),
    lr,
    loss: round(mean(losses.map((l) => l.total)), 6),
    losses: Object.fromEntries(Object.entries(perDataset).map(([k, v]) => [k, round(mean(v), 6)])),
    seconds: round(state.seconds),
  };
}

/** `lastSavedStep`: the step of the latest checkpoint, which holds the diverged weights when it is this step's. */
function checkDivergence(losses: StepLosses, maxLoss: number, state: TrainerState, outDir: string, grads: Map<string, tf.Tensor>, lastSavedStep: number): void {
  if (Number.isFinite(losses.total) && losses.total <= maxLoss) return;
  for (const g of grads.values()) g.dispose();
  const good = lastSavedStep === state.step ? setAsideLatestCheckpoint(outDir) : resumeCheckpointPath(outDir);
  const detail = Object.entries(losses.perDataset).map(([k, v]) => `${k}=${v}`).join(", ");
  throw new DivergenceError(
    `training diverged at step ${state.step + 1}: loss ${losses.total} (${detail}) is ${Number.isFinite(losses.total) ? `above maxLoss ${maxLoss}` : "not finite"}. ` +
    divergenceAdvice(outDir, good, state.lrScale ?? 1));
}

/** What to do after a divergence, naming the good checkpoint that exists (or saying there is none). */
function divergenceAdvice(outDir: string, good: string | undefined, lrScale: number): string {
  const lower = lrScale / 2;
  if (!good) {
    return `No checkpoint from before the divergence exists in ${outDir}; start the run again with a lower learning rate ` +
      `(--lr-scale ${lower} scales the schedule).`;
  }
  return `The last good checkpoint is ${good}; resume from it with a lower learning rate: --resume --lr-scale ${lower}.`;
}

/** A resume continues the same run: its checkpoint's config, model and step must be this run's. */
function verifyResume(ckpt: LoadedCheckpoint<TrainerState>, config: RunConfig, classes: Record<string, number>, totalSteps: number): void {
  if (ckpt.runConfig !== undefined && !isDeepStrictEqual(comparableRunConfig(ckpt.runConfig as RunConfig), comparableRunConfig(config))) {
    throw new Error(`${ckpt.path}: the checkpoint belongs to a run of another configuration than this run's config.json; choose another --out`);
  }
  if (!isDeepStrictEqual(ckpt.model.config, runModelConfig(config.model, classes))) {
    throw new Error(`${ckpt.path}: the checkpoint's model (${JSON.stringify(ckpt.model.config)}) is not the model this run builds`);
  }
  const { step, seconds, lrScale } = (ckpt.state ?? {}) as Partial<TrainerState>;
  const problem = !(Number.isSafeInteger(step) && step! >= 0 && step! <= totalSteps) ? `step ${JSON.stringify(step)} is not an integer in [0, ${totalSteps}]`
    : !(typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0) ? `seconds ${JSON.stringify(seconds)} is not a non-negative number`
      : lrScale !== undefined && !isLrScale(lrScale) ? `lrScale ${JSON.stringify(lrScale)} is not a positive number` : undefined;
  if (problem) throw new Error(`${ckpt.path}: the trainer state in the checkpoint is invalid: ${problem}`);
}

function disposeCheckpoint(ckpt: LoadedCheckpoint<TrainerState>): void {
  ckpt.model.dispose();
  for (const t of ckpt.optimizerState.values()) t.dispose();
}

function isLrScale(x: unknown): x is number { return typeof x === "number" && Number.isFinite(x) && x > 0; }

/** An explicit --lr-scale: checked, recorded in the run folder (lr-overrides.jsonl) and kept in the trainer state. */
function applyLrOverride(outDir: string, state: TrainerState, lrScale: number | undefined): TrainerState {
  if (lrScale === undefined) return state;
  if (!isLrScale(lrScale)) throw new Error(`--lr-scale must be a positive number, got ${lrScale}`);
  const override: LrOverride = { step: state.step, lrScale, time: new Date().toISOString() };
  const kept = readLrOverrides(outDir).filter((o) => o.step < state.step); // overrides of steps redone are void
  writeLrOverrides(outDir, [...kept, override]);
  return { ...state, lrScale };
}

function withLrOverrides(runDir: string): { lrOverrides?: LrOverride[] } {
  const overrides = readLrOverrides(runDir);
  return overrides.length ? { lrOverrides: overrides } : {};
}

/** Writes bad-files.json, where the data side counts bad files; returns them for results.json. */
function writeBadFilesReport(outDir: string, data: RunData): { badFiles?: BadMediaFile[] } {
  if (!data.badFiles) return {};
  const files = data.badFiles();
  writeBadFiles(outDir, files);
  return { badFiles: files };
}

function classCounts(data: RunData): Record<string, number> {
  return Object.fromEntries(Object.entries(data.classes).map(([k, v]) => [k, v.length]));
}

/** The run folder's config.json must exist, parse, and be this run's config (a resume never starts from a default). */
function assertSameConfig(outDir: string, config: RunConfig): void {
  const path = runFiles(outDir).config;
  const before = readStoredConfig(outDir, "; the run cannot be resumed safely");
  if (before === undefined) throw new Error(`${path}: missing; the run folder has a checkpoint but no config.json, so it cannot be resumed safely`);
  if (!isDeepStrictEqual(comparableRunConfig(before as RunConfig), comparableRunConfig(config))) {
    throw new Error(`${path}: the run was started with a different configuration; resume with the same one, or choose another --out`);
  }
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
