/** What a run will do, told before it starts: model, data, schedule, backend, checkpoints, and an estimated time. */
import { compileModeFromEnv, graphSupport } from "../backend/graph";
import { macsPerView } from "../model/flops";
import { allSpecs, countParams } from "../model/params";
import { modelWorkerWanted } from "../train/model-worker";
import { duration } from "../util/progress";
import { RunConfig, runModelConfig } from "./config";

export interface RunSchedule { stepsPerEpoch: number; totalSteps: number }

/** Optimiser steps per epoch and in all: micro-batches per epoch / accumulation, times the epochs. */
export function runSchedule(config: RunConfig, microBatchesPerEpoch: number): RunSchedule {
  const stepsPerEpoch = Math.max(1, Math.floor(microBatchesPerEpoch / config.optim.accumulate));
  return { stepsPerEpoch, totalSteps: Math.max(1, Math.round(config.optim.epochs * stepsPerEpoch)) };
}

/**
 * Training throughput per backend, in GFLOP/s (6 FLOPs per multiply-accumulate and clip: forward, and backward at
 * twice the forward), measured with `npm run bench:model` (tiny TimeSformer 8x32, batch 8, Adam) on a 2-core
 * machine: tensorflow op by op 22.4, wasm 9.1; cpu from its measured 22-25 s per step of the same model.
 * "tensorflow:graph" (the recorded step) is 22.4 times the ratio of op-by-op to recorded CPU time per step measured
 * side by side at the same config (333 / 161 ms; on a faster machine of the same kind later, 133 / 78 ms and wasm 573
 * ms, bench/results/model.json: machines differ, so these are rough). "wasm+worker" (a model worker thread computing
 * half of every batch) is wasm times 73.4 / 39.5 s, 64 COVER steps at cpu scale alone and with the worker, side by
 * side. No GPU was measured.
 */
export const TRAIN_GFLOPS_PER_SECOND: Readonly<Partial<Record<string, number>>> = { tensorflow: 22.4, "tensorflow:graph": 46.3, wasm: 9.1, "wasm+worker": 16.9, cpu: 0.31 };

/**
 * How the run's steps execute: "tensorflow:graph" where the native backend records them, "wasm+worker" where wasm
 * gets a model worker for micro-batches of `clips` clips, else the backend's name.
 */
export function executionOf(backend: string, clips: number): string {
  const mode = compileModeFromEnv();
  if (backend === "tensorflow" && mode !== "off" && graphSupport().available) return `${backend}:${mode}`;
  return modelWorkerWanted(backend, clips) ? `${backend}+worker` : backend;
}

export interface PlanData {
  /** Per training dataset: clips and the frames the model sees of each (1 for images). */
  trainClips: Record<string, { clips: number; frames: number }>;
  evalSize(dataset: string): number;
  microBatchesPerEpoch: number;
}

/** Seconds of training (data preparation and evaluation excluded) from the backend's measured throughput. */
export function estimateTrainingSeconds(config: RunConfig, data: PlanData, backend: string): number | undefined {
  const gflops = TRAIN_GFLOPS_PER_SECOND[backend];
  if (gflops === undefined) return undefined;
  const model = runModelConfig(config.model, Object.fromEntries(Object.keys(data.trainClips).map((d) => [d, 10])));
  const flopsPerEpoch = Object.values(data.trainClips).reduce((sum, d) => sum + d.clips * 6 * macsPerView(model, d.frames), 0);
  return (flopsPerEpoch * config.optim.epochs) / (gflops * 1e9);
}

export interface PlanContext {
  outDir: string;
  backend: string;
  backendLine: string;
  /** Whether the run continues from a checkpoint in outDir. */
  resuming: boolean;
  classCounts: Record<string, number>;
}

/** The lines printed before a run starts. */
export function describeRunPlan(config: RunConfig, data: PlanData, context: PlanContext): string[] {
  const model = runModelConfig(config.model, context.classCounts);
  const params = countParams(allSpecs(model));
  const { stepsPerEpoch, totalSteps } = runSchedule(config, data.microBatchesPerEpoch);
  const datasets = Object.entries(data.trainClips).map(([name, d]) => `${name} ${d.clips} train / ${data.evalSize(name)} eval clips`);
  const evalOnly = (config.evaluate ?? []).filter((d) => !(d in data.trainClips)).map((d) => `${d} ${data.evalSize(d)} eval clips`);
  const execution = executionOf(context.backend, config.optim.batchSize);
  const estimate = estimateTrainingSeconds(config, data, execution);
  return [
    `run ${config.name} -> ${context.outDir}${context.resuming ? " (resuming from its checkpoint)" : ""}`,
    `  model:    ${config.model.preset} TimeSformer ${model.frames}x${model.imageSize}, patch ${model.patchSize}, dim ${model.dim}, depth ${model.depth}: ${params.toLocaleString("en-US")} parameters`,
    `  data:     ${[...datasets, ...evalOnly].join("; ")}`,
    `  backend:  ${context.backendLine}`,
    `  compute:  ${execution.endsWith(":graph") || execution.endsWith(":xla") ? `recorded as TensorFlow graph functions (COVER_COMPILE=${execution.split(":")[1]}; off runs op by op)` : "op by op"}` +
      (execution.endsWith("+worker") ? ", half of every batch's clips in a model worker thread (COVER_MODEL_WORKER=off: one thread)" : ""),
    `  steps:    ${config.optim.epochs} epochs x ${stepsPerEpoch} steps/epoch = ${totalSteps} steps of ${config.optim.accumulate} x ${config.optim.batchSize} clips`,
    `  checkpoints: every ${config.checkpointEvery} steps and at each epoch end (Ctrl-C or SIGTERM checkpoints and stops; --resume continues)`,
    estimate === undefined
      ? `  estimated time: unknown (no throughput measured for '${execution}')`
      : `  estimated time: ~${duration(estimate)} of training${context.resuming ? " for the whole run" : ""}, plus data preparation and evaluation ` +
        `(from ${execution}'s measured ${TRAIN_GFLOPS_PER_SECOND[execution]} GFLOP/s training throughput on 2 cores)`,
  ];
}
