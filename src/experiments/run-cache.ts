/**
 * Runs by content: a run's folder is named after its config's hash under <root>/runs/, so experiments that need the
 * same run (the same COVER model, the same image pre-training) share it; a finished run is read back, an interrupted
 * one resumes from its checkpoint. Nothing finished is ever recomputed or lost.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { RunConfig } from "../train/run-config";
import { RunData } from "../train/run-data";
import { readRunResults, RunResults, trainRun } from "../train/trainer";

export interface CachedRun { dir: string; config: RunConfig; results: RunResults }

export type OpenRunData = (config: RunConfig, options?: { quiet?: boolean; signal?: AbortSignal }) => Promise<RunData>;

export interface RunCacheOptions {
  quiet?: boolean;
  /** Stops the run in progress (checkpointed; InterruptedError) when aborted. */
  signal?: AbortSignal;
}

export class RunCache {
  constructor(readonly root: string, private readonly openData: OpenRunData, private readonly options: RunCacheOptions = {}) {}

  dirOf(config: RunConfig): string {
    const hash = createHash("sha256").update(JSON.stringify(config)).digest("hex").slice(0, 10);
    return join(this.root, "runs", `${config.name}-${hash}`);
  }

  async get(config: RunConfig): Promise<CachedRun> {
    const dir = this.dirOf(config);
    const finished = readRunResults(dir);
    if (finished) return { dir, config, results: finished };
    const { quiet, signal } = this.options;
    const data = await this.openData(config, { quiet, signal });
    try {
      const results = await trainRun(config, data, dir, { resume: true, quiet, signal });
      if (!results) throw new Error(`run ${config.name} stopped before its end`);
      return { dir, config, results };
    } finally {
      await data.close();
    }
  }
}
