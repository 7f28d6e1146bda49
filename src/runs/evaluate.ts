/** Evaluating a finished run folder again, e.g. with reversed frames (Table 2) or other views. */
import { existsSync, readFileSync } from "node:fs";
import type { EvalViews } from "../data/augment";
import * as tf from "@tensorflow/tfjs";
import { loadModel } from "../model/weights";
import { startModelWorker } from "../train/model-worker";
import { writeFileAtomic } from "../util/atomic";
import { clipScores, DatasetResult, evaluateModel, EvalOptions } from "../train/evaluate";
import { RunData } from "./data";
import { readRunConfig, RunResults, runFiles, writeRunResults } from "./folder";
import { evalOptions } from "./train";

export function evalResultPath(runDir: string, options: EvalOptions): string {
  return runFiles(runDir).evaluation(options);
}

/**
 * Evaluates runDir/weights.safetensors; the result is stored beside it, and read back when already there.
 * Rejects with InterruptedError when `signal` is aborted.
 */
export async function evaluateRun(runDir: string, data: RunData, overrides: Partial<EvalOptions> = {}, quiet = false, signal?: AbortSignal): Promise<Record<string, DatasetResult>> {
  const config = readRunConfig(runDir);
  const options = evalOptions(config, overrides);
  const out = evalResultPath(runDir, options);
  if (existsSync(out)) {
    const stored = JSON.parse(readFileSync(out, "utf8")) as Record<string, DatasetResult>;
    if (options.datasets.every((d) => stored[d]?.hits !== undefined)) return stored; // else stored before per-clip hits: again
  }
  const weights = runFiles(runDir).weights;
  if (!existsSync(weights)) throw new Error(`${runDir}: the run has not finished (no weights.safetensors); resume it with cover train --resume`);
  const model = loadModel(weights);
  const worker = await startModelWorker(model.config, tf.getBackend(), config.optim.batchSize);
  try {
    const results = await evaluateModel(model, data, { ...options, worker }, quiet, signal);
    writeFileAtomic(out, JSON.stringify(results, null, 2) + "\n");
    return results;
  } finally {
    await worker?.stop();
    model.dispose();
  }
}

/**
 * A finished run's results with the per-clip hits its results.json was written without (runs finished before they were
 * kept): the weights are evaluated again as at the end of training, and a dataset's hits are added only where they
 * reproduce its stored top-1 exactly; every other field stays as it was. Returns the results, with hits where added.
 */
export async function addClipHits(runDir: string, results: RunResults, data: RunData, quiet = false, signal?: AbortSignal): Promise<RunResults> {
  const missing = datasetsWithoutHits(results);
  const weights = runFiles(runDir).weights;
  if (missing.length === 0 || !existsSync(weights)) return results;
  if (!quiet) console.error(`${runDir}: finished before per-clip hits were kept; evaluating ${missing.join(", ")} again to add them`);
  const model = loadModel(weights);
  let again: Record<string, DatasetResult>;
  try {
    again = await evaluateModel(model, data, { ...evalOptions(readRunConfig(runDir)), datasets: missing }, quiet, signal);
  } finally {
    model.dispose();
  }
  const datasets = { ...results.datasets };
  for (const d of missing) {
    const before = datasets[d], now = again[d];
    const hits = now.hits ?? "";
    const same = now.samples === before.samples && [...hits].filter((h) => h === "1").length === Math.round((before.top1 / 100) * before.samples);
    if (same) datasets[d] = { ...before, hits, clipSet: now.clipSet };
    else if (!quiet) console.error(`${runDir}: ${d}: evaluating again gave ${now.top1.toFixed(2)}% on ${now.samples} clips, not the stored ${before.top1.toFixed(2)}% on ${before.samples}; left without hits`);
  }
  const upgraded = { ...results, datasets };
  writeRunResults(runDir, upgraded);
  return upgraded;
}

/** The evaluated datasets of a finished run whose results have no per-clip hits (written before they were kept). */
export function datasetsWithoutHits(results: RunResults): string[] {
  return Object.entries(results.datasets).filter(([, r]) => r.hits === undefined).map(([d]) => d);
}

export type Prediction = { clip: number; truth: string; predicted: string; confidence: number };

/** The first `count` evaluation clips of a dataset with the run's predictions (for looking at what it learned). */
export async function samplePredictions(runDir: string, data: RunData, dataset: string, count: number, views: EvalViews = "1x3"): Promise<Prediction[]> {
  const model = loadModel(runFiles(runDir).weights);
  const classes = data.classes[dataset];
  const out: Prediction[] = [];
  try {
    for await (const batch of data.evalBatches(dataset, views)) {
      const scores = clipScores(model, dataset, batch, false);
      for (let i = 0; i < batch.labels.length && out.length < count; i++) {
        const row = scores.subarray(i * classes.length, (i + 1) * classes.length);
        const best = row.indexOf(Math.max(...row));
        out.push({ clip: out.length, truth: classes[batch.labels[i]], predicted: classes[best], confidence: Math.round(row[best] * 1000) / 1000 });
      }
      if (out.length >= count) break;
    }
  } finally {
    model.dispose();
  }
  return out;
}
