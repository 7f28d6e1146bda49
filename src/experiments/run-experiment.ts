/** Runs an experiment at a scale into an output folder and exports its tables, figures and findings. */
import { join } from "node:path";
import { openRunData } from "../data/pipeline";
import { PROJECT_ROOT } from "../report/params";
import { Report } from "../report/report";
import { writeFileAtomic } from "../util/atomic";
import { withStopSignal } from "../util/interrupt";
import { evaluationNoiseFinding, ExperimentOutput } from "./experiment";
import { experiment } from "./registry";
import { RunCache } from "./run-cache";
import { Scale, scaleSettings } from "./scales";

export interface ExperimentOptions {
  scale?: Scale;
  seed?: number;
  /** Output folder: runs/ (shared by experiments with the same folder), tables/, figures/, findings.json. */
  out: string;
  quiet?: boolean;
  /** Export tables and figures (default true). */
  exportResults?: boolean;
  /** Where training runs live, shared by all experiments (default $COVER_RUNS, else <project>/runs/cache). */
  runsRoot?: string;
  /** Stops the experiment (the run in progress checkpointed; InterruptedError) when aborted. Without one, SIGINT and SIGTERM do. */
  signal?: AbortSignal;
}

export async function runExperiment(name: string, options: ExperimentOptions): Promise<ExperimentOutput> {
  return withStopSignal(options.signal, (signal) => runWithSignal(name, options, signal));
}

async function runWithSignal(name: string, options: ExperimentOptions, signal: AbortSignal): Promise<ExperimentOutput> {
  const scale = options.scale ?? "cpu";
  const e = experiment(name);
  const settings = scaleSettings(scale);
  const quiet = options.quiet ?? false;
  const cache = new RunCache(options.runsRoot ?? defaultRunsRoot(), openRunData, { quiet, signal });
  const output = await e.run({
    scale, settings, seed: options.seed ?? 0, cache, openData: openRunData, quiet, signal,
    log: (line) => { if (!quiet) console.error(line); },
  });
  const noise = evaluationNoiseFinding(Object.values(output.runs));
  if (noise) output.findings.push(noise);
  if (options.exportResults !== false) await exportExperiment(output, options.out);
  return output;
}

/** Runs are named by their config's hash, so one folder serves every experiment, scale and seed. */
export function defaultRunsRoot(): string {
  return process.env.COVER_RUNS || join(PROJECT_ROOT, "runs", "cache");
}

export async function exportExperiment(output: ExperimentOutput, out: string): Promise<void> {
  const report = new Report(out, { html: "inline" });
  try {
    for (const table of output.tables) report.table(table);
    for (const [figureName, spec] of Object.entries(output.figures)) await report.figure(figureName, spec);
  } finally {
    await report.close();
  }
  writeFileAtomic(join(out, "findings.json"), JSON.stringify({
    experiment: output.name, scale: output.scale, findings: output.findings, runs: output.runs, rows: output.rows,
  }, null, 2) + "\n");
}
