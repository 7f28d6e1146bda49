/**
 * A run folder: every file a run keeps, and the one reader and writer of each. A run folder holds
 *   config.json          the run's config (written first; a resume checks it against the run's)
 *   metrics.jsonl        one StepRecord per optimiser step
 *   checkpoint*.safetensors  the latest checkpoint and the one before it (see checkpoint.ts)
 *   run.lock             the process training it (see lock.ts)
 *   lr-overrides.jsonl   learning-rate overrides given on resume, in order
 *   bad-files.json       media files skipped as missing or undecodable
 *   weights.safetensors  the final weights, with class names and input normalisation per head
 *   results.json         the RunResults of the finished run
 *   eval-<views>[-reversed].json  later evaluations (evaluate.ts)
 */
import { appendFileSync, existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../util/atomic";
import { checkSchema, expect, SchemaError } from "../util/schema";
import type { DatasetResult, EvalOptions } from "../train/evaluate";
import type { RunConfig } from "./config";
import type { BadMediaFile } from "./data";

/** The folder that holds a runs root's run folders, each named after its config's name and hash. */
export const runFoldersIn = (runsRoot: string): string => join(runsRoot, "runs");

/** The path of every file of the run folder `dir`. */
export function runFiles(dir: string) {
  return {
    dir,
    config: join(dir, "config.json"),
    metrics: join(dir, "metrics.jsonl"),
    checkpoint: join(dir, "checkpoint.safetensors"),
    previousCheckpoint: join(dir, "checkpoint-previous.safetensors"),
    divergedCheckpoint: join(dir, "checkpoint-diverged.safetensors"),
    lock: join(dir, "run.lock"),
    lrOverrides: join(dir, "lr-overrides.jsonl"),
    badFiles: join(dir, "bad-files.json"),
    weights: join(dir, "weights.safetensors"),
    results: join(dir, "results.json"),
    evaluation: (options: Pick<EvalOptions, "views" | "reverseFrames">) =>
      join(dir, `eval-${options.views}${options.reverseFrames ? "-reversed" : ""}.json`),
  };
}

/** One line of metrics.jsonl: an optimiser step. */
export interface StepRecord { step: number; epoch: number; lr: number; loss: number; losses: Record<string, number>; seconds: number }

/** From `step` on, the schedule's learning rate times `lrScale` (an explicit override, e.g. after a divergence). */
const LR_OVERRIDE = z.object({ step: expect.nonNegativeInt(), lrScale: expect.positive(), time: expect.string() }).strict();
export type LrOverride = z.infer<typeof LR_OVERRIDE>;

const DATASET_RESULT = z.object({
  samples: expect.nonNegativeInt(),
  top1: expect.nonNegative(),
  top5: expect.nonNegative(),
  confusion: z.array(z.array(expect.nonNegativeInt(), { invalid_type_error: "expected a row of counts" }), { invalid_type_error: "expected a matrix of counts" }),
  views: z.string({ invalid_type_error: "expected a string", required_error: "expected a string" }),
  reverseFrames: expect.boolean(),
  classes: z.array(z.string({ invalid_type_error: "expected a class name" }), { invalid_type_error: "expected a list of class names" }),
  skippedClips: expect.nonNegativeInt().optional(),
  skippedBatches: expect.nonNegativeInt().optional(),
  hits: z.string({ invalid_type_error: "expected a string of 0s and 1s" }).regex(/^[01]*$/, "expected a string of 0s and 1s").optional(),
  clipSet: expect.string().optional(),
}).strict()
  .refine((r) => r.hits === undefined || r.hits.length === r.samples, { message: "hits: one 0 or 1 per sample expected", path: ["hits"] }) satisfies z.ZodType<DatasetResult>;

const BAD_MEDIA_FILE = z.object({
  dataset: expect.string(), split: expect.string(), path: expect.string(), source: expect.string().optional(),
  kind: expect.oneOf(["missing", "undecodable", "unusable"]), reason: z.string({ invalid_type_error: "expected a string", required_error: "expected a string" }),
}).strict() satisfies z.ZodType<BadMediaFile>;

/** results.json: a finished run. */
const RUN_RESULTS = z.object({
  run: expect.string(),
  steps: expect.nonNegativeInt(),
  epochs: expect.nonNegative(),
  seconds: expect.nonNegative(),
  backend: expect.string(),
  datasets: z.record(DATASET_RESULT, { invalid_type_error: "expected {dataset: result}", required_error: "expected {dataset: result}" }),
  /** Learning-rate overrides given on resume (`--lr-scale`), in order; absent when there were none. */
  lrOverrides: z.array(LR_OVERRIDE).optional(),
  /** Media files skipped as missing or bad (also in bad-files.json), where the data side counts them. */
  badFiles: z.array(BAD_MEDIA_FILE).optional(),
}).strict();
export type RunResults = z.infer<typeof RUN_RESULTS>;

function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

function readJson(path: string, advice: string): unknown {
  try { return JSON.parse(readFileSync(path, "utf8")); }
  catch (err) { throw new Error(`${path}: not valid JSON (${(err as Error).message})${advice}`); }
}

export function writeRunConfig(dir: string, config: RunConfig): void { writeJson(runFiles(dir).config, config); }

/** The run folder's config.json as written (parsed, not checked), or undefined when there is none. */
export function readStoredConfig(dir: string, advice = ""): unknown {
  const path = runFiles(dir).config;
  return existsSync(path) ? readJson(path, advice) : undefined;
}

export function readRunConfig(dir: string): RunConfig {
  const config = readStoredConfig(dir);
  if (config === undefined) throw new Error(`${dir} is not a run folder (no config.json)`);
  return config as RunConfig;
}

/** A finished run's results.json, or null when the run has not finished (or never started). */
export function readRunResults(dir: string): RunResults | null {
  const path = runFiles(dir).results;
  if (!existsSync(path)) return null;
  const advice = "; move it away to train the run again";
  try {
    return checkSchema(RUN_RESULTS, readJson(path, advice), path);
  } catch (err) {
    if (err instanceof SchemaError) throw new Error(`${err.message}${advice}`, { cause: err });
    throw err;
  }
}

export function writeRunResults(dir: string, results: RunResults): void { writeJson(runFiles(dir).results, results); }

/** bad-files.json: every missing or bad media file of the run so far, by kind and in full (file, line, reason). */
export function writeBadFiles(dir: string, files: BadMediaFile[]): void {
  const byKind: Record<string, number> = {};
  for (const f of files) byKind[f.kind] = (byKind[f.kind] ?? 0) + 1;
  writeJson(runFiles(dir).badFiles, { count: files.length, byKind, files });
}

export function startMetrics(dir: string): void { writeFileAtomic(runFiles(dir).metrics, ""); }

export function appendStepRecord(dir: string, record: StepRecord): void {
  appendFileSync(runFiles(dir).metrics, JSON.stringify(record) + "\n");
}

/** Drops metric rows written after the checkpoint's `step` (and a half-written last line of a killed run). */
export function truncateMetrics(dir: string, step: number): void {
  const path = runFiles(dir).metrics;
  if (!existsSync(path)) return;
  const kept = readFileSync(path, "utf8").split("\n").filter((line) => {
    if (!line.trim()) return false;
    try { return (JSON.parse(line) as StepRecord).step <= step; } catch { return false; }
  });
  writeFileAtomic(path, kept.map((l) => l + "\n").join(""));
}

/**
 * The step records of metrics.jsonl (`path`: the file or the run folder that holds it); a bad line is an error naming
 * the file and line. Only step and loss are required; fields a record lacks read as NaN (or no per-dataset losses).
 */
export function readStepRecords(path: string): StepRecord[] {
  const file = existsSync(path) && statSync(path).isDirectory() ? runFiles(path).metrics : path;
  if (!existsSync(file)) throw new Error(`${file}: no such metrics file`);
  const records: StepRecord[] = [];
  readFileSync(file, "utf8").split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let value: unknown;
    try { value = JSON.parse(line); } catch (err) { throw new Error(`${file}:${i + 1}: not JSON (${(err as Error).message})`); }
    const r = value as Partial<StepRecord>;
    if (typeof r !== "object" || r === null || typeof r.step !== "number" || typeof r.loss !== "number") {
      throw new Error(`${file}:${i + 1}: expected an object with numeric "step" and "loss"`);
    }
    records.push({ step: r.step, epoch: r.epoch ?? NaN, lr: r.lr ?? NaN, loss: r.loss, losses: r.losses ?? {}, seconds: r.seconds ?? NaN });
  });
  return records;
}

export function readLrOverrides(dir: string): LrOverride[] {
  const path = runFiles(dir).lrOverrides;
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8").split("\n").filter((l) => l.trim()).flatMap((l) => {
    try { return [JSON.parse(l) as LrOverride]; } catch { return []; }
  });
}

export function writeLrOverrides(dir: string, overrides: LrOverride[]): void {
  writeFileAtomic(runFiles(dir).lrOverrides, overrides.map((o) => JSON.stringify(o) + "\n").join(""));
}
