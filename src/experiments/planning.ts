/**
 * Planning an experiment without training it: the experiment runs against a run cache that, for every run not yet
 * finished, records what it would train (config, folder, the run its initialisation comes from) and hands back a
 * placeholder instead. A scheduler then trains the recorded runs elsewhere (see slurm.ts); once they are finished the
 * experiment runs again for real and finds every run in the cache.
 *
 * A placeholder scores zero everywhere and has no weights, so an experiment that needs a run's weights (an evaluation)
 * before asking for its next run stops early; the plan is then partial and the runs asked for later are planned again
 * once these are done.
 */
import type { DatasetResult } from "../train/evaluate";
import { RunConfig } from "../runs/config";
import { readRunResults, RunResults } from "../runs/folder";
import { experiment } from "./registry";
import { CachedRun, RunCache } from "../runs/cache";
import { Scale, scaleSettings, withSettings } from "../runs/scales";
import type { SettingValue } from "../util/dotted-path";

export interface PlannedRun {
  name: string;
  dir: string;
  config: RunConfig;
  /** The run folder this run is initialised from, when that run is not finished yet (it must be trained first). */
  after?: string;
}

export interface ExperimentPlan {
  /** Unfinished runs in the order the experiment asks for them (a run always after the one it starts from). */
  runs: PlannedRun[];
  /** False when the experiment needed the results of a planned run before it could ask for all of its runs. */
  complete: boolean;
  /** Why planning stopped early (the error the placeholder caused), when it did. */
  stoppedBy?: string;
}

/** Data is never opened while planning: nothing is trained or evaluated. */
export class RunsPendingError extends Error {
  constructor(what: string) {
    super(`${what}: the runs it needs are not trained yet`);
    this.name = "RunsPendingError";
  }
}

export class PlanningRunCache extends RunCache {
  readonly planned: PlannedRun[] = [];

  constructor(root: string) {
    super(root, (config) => Promise.reject(new RunsPendingError(`run ${config.name}`)));
  }

  override async get(config: RunConfig): Promise<CachedRun> {
    const dir = this.dirOf(config);
    const finished = readRunResults(dir);
    if (finished) return { dir, config, results: finished };
    if (!this.planned.some((r) => r.dir === dir)) this.planned.push(plannedRun(config, dir));
    return { dir, config, results: placeholderResults(config) };
  }
}

/**
 * Zero scores for every dataset the run evaluates, so that an experiment building rows and claims from a placeholder
 * goes on to ask for its next runs; planning discards everything it computes.
 */
function placeholderResults(config: RunConfig): RunResults {
  const datasets: Record<string, DatasetResult> = {};
  for (const name of config.evaluate ?? Object.keys(config.train)) {
    datasets[name] = { samples: 0, top1: 0, top5: 0, confusion: [], views: "", reverseFrames: false, classes: [] };
  }
  return { run: config.name, steps: 0, epochs: 0, seconds: 0, backend: "planned", datasets };
}

function plannedRun(config: RunConfig, dir: string): PlannedRun {
  const init = config.init;
  const pendingInit = init?.from === "run" && !readRunResults(init.dir) ? init.dir : undefined;
  return { name: config.name, dir, config, ...(pendingInit && { after: pendingInit }) };
}

export interface PlanOptions { scale: Scale; seeds: number[]; runsRoot: string; set?: Record<string, SettingValue> }

/** The unfinished runs of an experiment over its seeds, without training anything. */
export async function planExperiment(name: string, options: PlanOptions): Promise<ExperimentPlan> {
  const e = experiment(name);
  const settings = withSettings(scaleSettings(options.scale), options.set ?? {});
  const cache = new PlanningRunCache(options.runsRoot);
  const signal = new AbortController().signal;
  let stoppedBy: string | undefined;
  for (const seed of options.seeds) {
    const before = cache.planned.length;
    try {
      await e.run({
        scale: options.scale, settings, seed, cache, quiet: true, signal, log: () => undefined,
        openData: (config) => Promise.reject(new RunsPendingError(`evaluating run ${config.name}`)),
      });
    } catch (err) {
      const plannedHere = cache.planned.length > before;
      if (err instanceof RunsPendingError && !plannedHere) continue; // every run is finished: only evaluations are left
      // Only a placeholder can explain a failure here; with none handed out, the error is the experiment's own.
      if (!plannedHere) throw err;
      stoppedBy ??= (err as Error).message;
    }
  }
  return { runs: cache.planned, complete: stoppedBy === undefined, ...(stoppedBy !== undefined && { stoppedBy }) };
}

/** The unfinished runs of several experiments, each run once (experiments share runs through the run cache). */
export async function planExperiments(names: string[], options: PlanOptions): Promise<ExperimentPlan> {
  const runs: PlannedRun[] = [];
  let stoppedBy: string | undefined;
  for (const name of names) {
    const plan = await planExperiment(name, options);
    for (const run of plan.runs) if (!runs.some((r) => r.dir === run.dir)) runs.push(run);
    if (plan.stoppedBy !== undefined) stoppedBy ??= `${name}: ${plan.stoppedBy}`;
  }
  return { runs, complete: stoppedBy === undefined, ...(stoppedBy !== undefined && { stoppedBy }) };
}
