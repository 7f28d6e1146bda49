/** Evaluating a finished run folder again, e.g. with reversed frames (Table 2) or other views. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { loadModel } from "../model/weights";
import { writeFileAtomic } from "../util/atomic";
import { DatasetResult, evaluateModel, EvalOptions } from "./evaluate";
import { RunConfig } from "./run-config";
import { RunData } from "./run-data";
import { evalOptions } from "./trainer";

export function readRunConfig(runDir: string): RunConfig {
  const path = join(runDir, "config.json");
  if (!existsSync(path)) throw new Error(`${runDir} is not a run folder (no config.json)`);
  return JSON.parse(readFileSync(path, "utf8")) as RunConfig;
}

export function evalResultPath(runDir: string, options: EvalOptions): string {
  return join(runDir, `eval-${options.views}${options.reverseFrames ? "-reversed" : ""}.json`);
}

/** Evaluates runDir/weights.safetensors; the result is stored beside it, and read back when already there. */
export async function evaluateRun(runDir: string, data: RunData, overrides: Partial<EvalOptions> = {}, quiet = false): Promise<Record<string, DatasetResult>> {
  const config = readRunConfig(runDir);
  const options = evalOptions(config, overrides);
  const out = evalResultPath(runDir, options);
  if (existsSync(out)) {
    const stored = JSON.parse(readFileSync(out, "utf8")) as Record<string, DatasetResult>;
    if (options.datasets.every((d) => d in stored)) return stored;
  }
  const weights = join(runDir, "weights.safetensors");
  if (!existsSync(weights)) throw new Error(`${runDir}: the run has not finished (no weights.safetensors); resume it with cover train --resume`);
  const model = loadModel(weights);
  try {
    const results = await evaluateModel(model, data, options, quiet);
    writeFileAtomic(out, JSON.stringify(results, null, 2) + "\n");
    return results;
  } finally {
    model.dispose();
  }
}
