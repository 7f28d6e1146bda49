/** What an experiment is: runs (shared through the run cache) turned into tables and figures beside the paper's. */
import type { SettingValue } from "../util/dotted-path";
import type { FigureSpec, PanelLabel } from "../report/figure";
import type { ResultRow, Table } from "../report/table";
import type { DatasetResult } from "../train/evaluate";
import type { RunData } from "../runs/data";
import { RunConfig } from "../runs/config";
import { readRunResults } from "../runs/folder";
import type { Claim, ClaimMeasure } from "./claims";
import { PAPER_DATASETS } from "./paper";
import { CachedRun, RunCache } from "../runs/cache";
import { Role, Scale, ScaleSettings } from "../runs/scales";

export interface ExperimentContext {
  scale: Scale;
  settings: ScaleSettings;
  seed: number;
  cache: RunCache;
  /** Opens the data of a run (for evaluations beyond the run's own, e.g. reversed frames). */
  openData(config: RunConfig, options?: { quiet?: boolean }): Promise<RunData>;
  quiet: boolean;
  /** Aborted by SIGINT/SIGTERM: long steps stop (the run in progress checkpointed) with an InterruptedError. */
  signal: AbortSignal;
  log(line: string): void;
}

/** Tables and figures of an experiment, drawn from result rows (one seed's, or the mean over seeds). */
export interface Presentation {
  tables: Table[];
  figures: Record<string, FigureSpec>;
}

/** What an experiment measures on one seed. */
export interface SeedOutput {
  rows: ResultRow[];
  /** The paper's claims as effects measured on this seed (combined over seeds by runExperiment). */
  claims: ClaimMeasure[];
  /** Plain-language statements of what this seed's numbers show. */
  findings: string[];
  /** The runs behind the numbers (folder per run). */
  runs: Record<string, string>;
  present(rows: ResultRow[]): Presentation;
}

/** An experiment over one or more seeds. */
export interface ExperimentOutput extends Presentation {
  name: string;
  scale: Scale;
  seeds: number[];
  /** Every seed's rows, with a `seed` column. */
  rows: ResultRow[];
  claims: Claim[];
  findings: string[];
  /** The runs behind the numbers, keyed "<what> (seed N)". */
  runs: Record<string, string>;
  /** Settings of the scale changed for this experiment, by dotted path (absent: the scale's own recipe). */
  set?: Record<string, SettingValue>;
}

export interface Experiment {
  name: string;
  title: string;
  /** Where the paper reports it. */
  paper: string;
  run(ctx: ExperimentContext): Promise<SeedOutput>;
}

/** Top-1 of a dataset role in a run's results (null when the run did not evaluate it). */
export function top1(run: CachedRun | Record<string, DatasetResult>, role: Role, settings: ScaleSettings): number | null {
  const r = roleResult(run, role, settings);
  return r ? round1(r.top1) : null;
}

/** A role's result in a run's results, or in a separate evaluation of it (e.g. reversed frames). */
export function roleResult(run: CachedRun | Record<string, DatasetResult>, role: Role, settings: ScaleSettings): DatasetResult | undefined {
  const datasets = isCachedRun(run) ? run.results.datasets : run;
  return datasets[settings.datasets[role]];
}

function isCachedRun(x: CachedRun | Record<string, DatasetResult>): x is CachedRun {
  return typeof (x as CachedRun).dir === "string" && typeof (x as CachedRun).results === "object";
}

/** A figure panel of a role: "motion (SSv2's role)" over the kit's dataset in it; the paper's dataset names its numbers. */
export function roleLabel(role: string, settings: ScaleSettings): PanelLabel {
  if (!Object.hasOwn(PAPER_DATASETS, role)) return { title: role };
  const r = role as Role;
  return { title: `${r} (${PAPER_DATASETS[r]}'s role)<br>${settings.datasets[r]}`, paper: PAPER_DATASETS[r] };
}

export function round1(x: number): number { return Math.round(x * 10) / 10; }

export const fmt = (x: number | null) => (x === null ? "-" : x.toFixed(1));

/**
 * Half-width, in points, of the 95% interval of a top-1 measured on n clips: normal approximation at the worst case
 * p = 50%. A difference between two runs evaluated on n clips each is known to sqrt(2) times that.
 */
export function top1Interval(n: number): number {
  return 1.96 * Math.sqrt(0.25 / n) * 100;
}

/** How far evaluation noise alone can move the numbers, from the evaluation sizes in the runs' results.json. */
export function evaluationNoiseFinding(runDirs: string[]): string | null {
  const sizes = runDirs.flatMap((dir) => Object.values(readRunResults(dir)?.datasets ?? {}).map((d) => d.samples));
  if (sizes.length === 0) return null;
  const n = Math.min(...sizes);
  const clips = n === Math.max(...sizes) ? `${n}` : `${n} to ${Math.max(...sizes)}`;
  return `evaluation noise: ${clips} clips per dataset, so a top-1 is known to within ±${fmt(top1Interval(n))} points and a ` +
    `difference between two runs to ±${fmt(top1Interval(n) * Math.SQRT2)} (95%, worst case p = 50%); the claims' intervals add the seed-to-seed variation`;
}
