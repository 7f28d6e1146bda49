/**
 * Runs by content: a run's folder is named after its config's hash under <root>/runs/, so experiments that need the
 * same run (the same COVER model, the same image pre-training) share it; a finished run is read back, an interrupted
 * one resumes from its checkpoint. Nothing finished is ever recomputed or lost. The hash does not depend on where
 * the runs folder lies (init runs count by their folder's name), so a runs folder copied or moved is reused. A run
 * being trained holds its folder's lock: another experiment needing it at the same time fails at once, naming the
 * holder, instead of interleaving its metrics.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { comparableRunConfig, RunConfig } from "./config";
import { RunData } from "./data";
import { acquireRunLock } from "./lock";
import { trainRun } from "./train";
import { addClipHits, datasetsWithoutHits } from "./evaluate";
import { readRunResults, runFiles, runFoldersIn, RunResults } from "./folder";
import { fromRun, imagePretrainFor } from "./factories";
import type { Scale } from "./scales";

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
    const current = this.folderFor(comparableRunConfig(config));
    const legacy = this.folderFor(config); // hashed with absolute init paths, before they were left out
    return !existsSync(current) && existsSync(legacy) ? legacy : current;
  }

  /** `run` starting from the scale's image pre-training of its model and seed, which is trained here if missing. */
  async fromImagePretrain(run: RunConfig, scale: Scale): Promise<RunConfig> {
    return { ...run, init: fromRun((await this.get(imagePretrainFor(run, scale))).dir) };
  }

  async get(config: RunConfig): Promise<CachedRun> {
    const dir = this.dirOf(config);
    const finished = readRunResults(dir);
    if (finished && complete(dir, finished)) return { dir, config, results: finished };
    const { quiet, signal } = this.options;
    const lock = acquireRunLock(dir);
    try {
      const done = readRunResults(dir); // finished by another process since the check above
      if (done && complete(dir, done)) return { dir, config, results: done };
      const data = await this.openData(config, { quiet, signal });
      try {
        if (done) return { dir, config, results: await addClipHits(dir, done, data, quiet, signal) };
        const results = await trainRun(config, data, dir, { resume: true, quiet, signal, heldLock: lock });
        if (!results) throw new Error(`run ${config.name} stopped before its end`);
        return { dir, config, results };
      } finally {
        await data.close();
      }
    } finally {
      lock.release();
    }
  }

  private folderFor(keyed: RunConfig): string {
    const hash = createHash("sha256").update(JSON.stringify(keyed)).digest("hex").slice(0, 10);
    return join(runFoldersIn(this.root), `${keyed.name}-${hash}`);
  }
}

/**
 * Whether the finished run is as complete as it can be: every evaluated dataset kept its per-clip hits (runs finished
 * before they were kept did not), or there are no weights to evaluate again.
 */
function complete(dir: string, results: RunResults): boolean {
  return datasetsWithoutHits(results).length === 0 || !existsSync(runFiles(dir).weights);
}
