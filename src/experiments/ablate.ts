/**
 * Your own ablation over the run cache: a base run (a named run or a RunConfig), fields varied by dotted path
 * (`{"train.builtin-digits-images": [0, 0.5, 1], "model.preset": ["tiny", "small"]}`), every combination trained
 * over each seed, one after another (or as Slurm job arrays: `executor`). Runs live in the shared run cache, so a
 * rerun (or the CLI twin `cover ablate`, or another notebook) reuses every finished run and resumes an interrupted one.
 * When the runs start from image pre-training, that prerequisite is trained once per seed and model and shared by
 * every run that needs it.
 *
 * The result: every run's top-1 per dataset (one row per setting, seed and dataset), a summary per setting and
 * dataset (mean, 95% interval over the seeds and the evaluation noise, seeds), both as danfojs DataFrames, and a
 * figure with one panel per dataset and its chance level.
 */
import { basename } from "node:path";
import type { DataFrame } from "danfojs-node";
import { openRunData } from "../runs/pipeline";
import { accuracyPanels, FigureSpec } from "../report/figure";
import { Report } from "../report/report";
import { Cell, Table } from "../report/table";
import { InitSpec, RunConfig, validateRunConfig } from "../runs/config";
import { readStoredConfig, RunResults } from "../runs/folder";
import { withStopSignal } from "../util/interrupt";
import { progressNote, setProgressContext } from "../util/progress";
import { intervalOverSeeds, top1Variance } from "./claims";
import { mean } from "../util/stats";
import { Executor, trainMissingRuns } from "./executor";
import { resolveRunConfig } from "../runs/named";
import { ExperimentPlan, PlanningRunCache } from "./planning";
import { defaultRunsRoot } from "../util/paths";
import { RunCache } from "../runs/cache";
import { Scale } from "../runs/scales";
import { PathContext, SettingValue, setPath } from "../util/dotted-path";

/** Dotted path into a RunConfig -> the values it takes. */
export type Variations = Record<string, SettingValue[]>;

export interface AblationOptions {
  /** A named run (`cover`, `standard-motion`, ...: built at `scale` for each seed) or a RunConfig (its seed replaced). */
  base: string | RunConfig;
  vary: Variations;
  seeds?: number[];
  /** Scale of a named base, and of the image pre-training (default cpu). */
  scale?: Scale;
  /**
   * "image-pretrain": every run starts from space-only image pre-training of its own model (the experiments' recipe),
   * trained once per seed and model. "base" (default): the base's own init, except that a base whose init is a run of
   * image pre-training gets that pre-training remade for each seed and model.
   */
  init?: "base" | "image-pretrain";
  /** Name of the tables and figure (default ablation-<base>). */
  name?: string;
  /** Export the tables (CSV, Markdown, LaTeX, JSON) and the figure here. */
  out?: string;
  /** Where training runs live (default $COVER_RUNS, else <project>/runs/cache): shared with experiments and the CLI. */
  runsRoot?: string;
  quiet?: boolean;
  /** Stops the ablation (the run in progress checkpointed; InterruptedError) when aborted. Without one, SIGINT and SIGTERM do. */
  signal?: AbortSignal;
  /** One line per run started, e.g. "ablation 3/8: ...", and the slurm executor's lines (default: stderr unless quiet). */
  log?: (line: string) => void;
  /**
   * Where the runs are trained: `{ kind: "local" }` (the default) trains them here one after another (with `jobs: N`, N at
   * once in their own processes); `{ kind: "slurm" }` submits the missing ones as Slurm job arrays (an image pre-training first, the runs starting from it with afterok),
   * waits for them, then builds the tables here. The runs root must then be a folder every node of the cluster sees.
   */
  executor?: Executor;
}

export interface AblationRun {
  setting: Record<string, SettingValue>;
  seed: number;
  dir: string;
}

export interface AblationResult {
  name: string;
  /** The varied paths, in order: the setting columns of both tables. */
  settings: string[];
  /** One row per setting, seed and dataset: top1, top5, clips, chance, run. */
  perSeed: DataFrame;
  /** One row per setting and dataset: mean top-1, 95% interval (low, high; clipped to 0..100), seeds, chance. */
  summary: DataFrame;
  tables: { perSeed: Table; summary: Table };
  figure: FigureSpec;
  runs: AblationRun[];
}

export async function ablate(options: AblationOptions): Promise<AblationResult> {
  return withStopSignal(options.signal, (signal) => ablateWithSignal(options, signal));
}

async function ablateWithSignal(options: AblationOptions, signal: AbortSignal): Promise<AblationResult> {
  const setup = setUpAblation(options);
  const { name, paths, runsRoot } = setup;
  const quiet = options.quiet ?? false;
  const log = options.log ?? ((line: string) => { if (!quiet) progressNote(line); });
  await trainMissingRuns(name, () => planSetUp(setup), options.executor, { runsRoot, log, signal });
  const cache = new RunCache(runsRoot, openRunData, { quiet, signal });
  const runs = await trainPlanned(name, setup.planned, cache, setup.pretrainScale, log);
  const perSeedRows = runs.flatMap(resultRows);
  const perSeed = new Table(`${name}-per-seed`, perSeedRows, { title: `${name}: top-1 % of every run` });
  const summary = new Table(`${name}-summary`, summarise(perSeedRows, paths), {
    title: `${name}: mean top-1 % over seeds, 95% interval (seeds and evaluation noise)`,
  });
  const figure = ablationFigure(name, summary.rows, paths);
  if (options.out) await exportAblation(options.out, [perSeed, summary], name, figure);
  return {
    name, settings: paths, perSeed: perSeed.frame, summary: summary.frame, tables: { perSeed, summary }, figure,
    runs: runs.map(({ setting, seed, dir }) => ({ setting, seed, dir })),
  };
}

/** The name of the ablation's tables and figure: `name`, else ablation-<base>. */
export function ablationName(options: Pick<AblationOptions, "base" | "name">): string {
  const name = options.name ?? `ablation-${typeof options.base === "string" ? options.base : options.base.name}`;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`ablation: name "${name}" must be a plain file name (letters, digits, . _ -)`);
  return name;
}

/** An ablation before anything trains: every seed's and setting's config, and the scale of their image pre-training (null: none). */
interface AblationSetUp { name: string; paths: string[]; planned: Planned[]; pretrainScale: Scale | null; runsRoot: string }

function setUpAblation(options: AblationOptions): AblationSetUp {
  const scale = options.scale ?? "cpu";
  const seeds = checkSeeds(options.seeds ?? [0]);
  const name = ablationName(options);
  const baseFor = (seed: number) => baseConfig(options.base, scale, seed);
  const settings = settingGrid(options.vary);
  // Every config first, so that a bad path or value fails before anything trains.
  const planned = seeds.flatMap((seed) => settings.map((setting) => ({ seed, setting, config: variedConfig(baseFor(seed), setting) })));
  const pretrain = options.init === "image-pretrain" || isImagePretrainInit(baseFor(seeds[0]).init);
  return { name, paths: Object.keys(options.vary), planned, pretrainScale: pretrain ? scale : null, runsRoot: options.runsRoot ?? defaultRunsRoot() };
}

/**
 * The ablation's runs that are not finished, in training order (an image pre-training before the runs that start
 * from it), without training anything: what the slurm executor submits.
 */
export function planAblation(options: AblationOptions): Promise<ExperimentPlan> {
  return planSetUp(setUpAblation(options));
}

/** The same run loop as training, against a cache that records the unfinished runs instead (it never needs results). */
async function planSetUp(setup: AblationSetUp): Promise<ExperimentPlan> {
  const cache = new PlanningRunCache(setup.runsRoot);
  await trainPlanned(setup.name, setup.planned, cache, setup.pretrainScale, () => undefined);
  return { runs: cache.planned, complete: true };
}

type Planned = { seed: number; setting: Record<string, SettingValue>; config: RunConfig };
type TrainedRun = AblationRun & { results: RunResults };

/** One run after another; with `pretrainScale`, each from that scale's image pre-training of its seed and model. */
async function trainPlanned(name: string, planned: Planned[], cache: RunCache, pretrainScale: Scale | null, log: (line: string) => void): Promise<TrainedRun[]> {
  const runs: TrainedRun[] = [];
  for (const [i, { seed, setting, config }] of planned.entries()) {
    log(`${name} ${i + 1}/${planned.length}: ${settingLabel(setting)}, seed ${seed}`);
    setProgressContext(`${name} ${i + 1}/${planned.length}`);
    try {
      const run = await cache.get(pretrainScale ? await cache.fromImagePretrain(config, pretrainScale) : config);
      runs.push({ setting, seed, dir: run.dir, results: run.results });
    } finally {
      setProgressContext("");
    }
  }
  return runs;
}

/** A run's rows: one per evaluated dataset. */
function resultRows(run: TrainedRun): Record<string, Cell>[] {
  return Object.entries(run.results.datasets).map(([dataset, d]) => ({
    ...settingCells(run.setting), seed: run.seed, dataset, top1: d.top1, top5: d.top5, clips: d.samples,
    chance: Math.round(1000 / d.classes.length) / 10, run: basename(run.dir),
  }));
}

function checkSeeds(seeds: number[]): number[] {
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new Error(`ablation: seeds must be distinct non-negative integers, got [${seeds.join(", ")}]`);
  }
  return seeds;
}

function baseConfig(base: string | RunConfig, scale: Scale, seed: number): RunConfig {
  if (typeof base === "string") return resolveRunConfig(base, scale, seed);
  validateRunConfig(base);
  return { ...structuredClone(base), seed };
}

/** Every combination of the varied values, the first path varying slowest. */
export function settingGrid(vary: Variations): Record<string, SettingValue>[] {
  const entries = Object.entries(vary);
  if (entries.length === 0) throw new Error("ablation: nothing to vary (give at least one path and its values)");
  for (const [path, values] of entries) {
    if (!Array.isArray(values) || values.length === 0) throw new Error(`ablation: '${path}' needs a non-empty list of values`);
    if (new Set(values.map((v) => JSON.stringify(v))).size !== values.length) throw new Error(`ablation: '${path}' lists a value twice`);
  }
  return entries.reduce<Record<string, SettingValue>[]>(
    (grid, [path, values]) => grid.flatMap((setting) => values.map((v) => ({ ...setting, [path]: v }))), [{}]);
}

/** The base with each path set; a run name that tells the settings apart; checked like any RunConfig. */
export function variedConfig(base: RunConfig, setting: Record<string, SettingValue>): RunConfig {
  const config = structuredClone(base);
  for (const [path, value] of Object.entries(setting)) setPath(config as unknown as Record<string, unknown>, path, value, RUN_CONFIG_PATHS);
  config.name = runName(base, setting);
  validateRunConfig(config);
  return config;
}

/** Record fields whose keys are dataset names: a path may add a key there, everywhere else it must exist. */
export const RUN_CONFIG_PATHS: PathContext = { who: "ablation", target: "the base run", root: "the run config", openRecords: new Set(["train", "sampling"]) };

function runName(base: RunConfig, setting: Record<string, SettingValue>): string {
  const parts = Object.entries(setting).map(([path, v]) => `${path.split(".").pop()}=${String(v)}`);
  return `${base.name}-${parts.join("-")}`.replace(/[^A-Za-z0-9._=+-]/g, "_");
}

function settingLabel(setting: Record<string, SettingValue>): string {
  return Object.entries(setting).map(([path, v]) => `${path}=${String(v)}`).join(", ");
}

function settingCells(setting: Record<string, SettingValue>): Record<string, Cell> {
  return Object.fromEntries(Object.entries(setting).map(([k, v]) => [k, typeof v === "boolean" ? String(v) : v]));
}

/** True when the init is the final weights of an image pre-training run (its config.json says so). */
function isImagePretrainInit(init: InitSpec): boolean {
  if (init.from !== "run") return false;
  const config = readStoredConfig(init.dir) as Partial<RunConfig> | null | undefined;
  return config?.model?.attention === "space_only" && typeof config.name === "string" && config.name.startsWith("image-pretrain");
}

type Row = Record<string, Cell>;

function summarise(rows: Row[], paths: string[]): Row[] {
  const groups = new Map<string, Row[]>();
  for (const r of rows) {
    const key = JSON.stringify([...paths.map((p) => r[p]), r.dataset]);
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((group) => {
    const values = group.map((r) => r.top1 as number);
    const { mean: top1, half } = intervalOverSeeds(values, mean(group.map((r) => top1Variance(r.top1 as number, r.clips as number))));
    const round = (x: number) => Math.round(x * 100) / 100;
    return {
      ...Object.fromEntries(paths.map((p) => [p, group[0][p]])), dataset: group[0].dataset,
      top1: round(top1), low: round(Math.max(0, top1 - half)), high: round(Math.min(100, top1 + half)), seeds: group.length, chance: group[0].chance,
    };
  });
}

function ablationFigure(name: string, summary: Row[], paths: string[]): FigureSpec {
  const datasets = [...new Set(summary.map((r) => String(r.dataset)))];
  const label = (r: Row) => paths.map((p) => (paths.length > 1 ? `${p.split(".").pop()}=${String(r[p])}` : String(r[p]))).join("<br>");
  const seeds = Math.min(...summary.map((r) => r.seeds as number));
  return accuracyPanels(datasets.map((dataset) => {
    const rows = summary.filter((r) => r.dataset === dataset);
    return {
      title: dataset, categories: rows.map(label),
      values: rows.map((r) => r.top1 as number), low: rows.map((r) => r.low as number), high: rows.map((r) => r.high as number),
      chance: rows[0].chance as number,
    };
  }), { title: `${name}: top-1 by ${paths.join(", ")}<br><sub>mean of ${seeds} seed${seeds > 1 ? "s" : ""}, 95% interval over seeds and evaluation noise</sub>` });
}

async function exportAblation(out: string, tables: Table[], name: string, figure: FigureSpec): Promise<void> {
  const report = new Report(out, { html: "inline", show: false });
  try {
    for (const table of tables) report.table(table);
    await report.figure(name, figure);
  } finally {
    await report.close();
  }
}
