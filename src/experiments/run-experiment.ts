/**
 * Runs an experiment at a scale over one or more seeds into an output folder: every seed's runs (shared through the run
 * cache), the paper's claims combined over the seeds (effects with 95% intervals and verdicts), tables and figures of
 * the mean over seeds, and findings.json.
 */
import { join } from "node:path";
import { openRunData } from "../runs/pipeline";
import { defaultRunsRoot } from "../util/paths";
import { Report } from "../report/report";
import { claimsChart, withVerdicts } from "../report/figure";
import { ResultRow, Table } from "../report/table";
import { writeFileAtomic } from "../util/atomic";
import { withStopSignal } from "../util/interrupt";
import { progressNote, setProgressContext } from "../util/progress";
import { claimLine, combineClaims, intervalOverSeeds, top1Variance } from "./claims";
import { mean } from "../util/stats";
import { evaluationNoiseFinding, ExperimentOutput, roleLabel, SeedOutput } from "./experiment";
import { Executor, trainMissingRuns } from "./executor";
import { planExperiment, planExperiments } from "./planning";
import { experiment } from "./registry";
import { RunCache } from "../runs/cache";
import { Role, Scale, scaleSettings, withSettings } from "../runs/scales";
import type { SettingValue } from "../util/dotted-path";
import { readRunResults } from "../runs/folder";

export interface ExperimentOptions {
  scale?: Scale;
  /** Seeds to run (default [0]); each seed trains its own runs, sharing only their configuration. */
  seeds?: number[];
  /** Output folder: runs/ (shared by experiments with the same folder), tables/, figures/, findings.json. */
  out: string;
  quiet?: boolean;
  /** Export tables and figures (default true). */
  exportResults?: boolean;
  /** Where training runs live, shared by all experiments (default $COVER_RUNS, else <project>/runs/cache). */
  runsRoot?: string;
  /** Stops the experiment (the run in progress checkpointed; InterruptedError) when aborted. Without one, SIGINT and SIGTERM do. */
  signal?: AbortSignal;
  /**
   * Where the runs are trained: `{ kind: "local" }` (the default) trains them here one after another (with `jobs: N`, N at
   * once in their own processes, before the experiment builds its tables); `{ kind: "slurm" }`
   * submits the missing ones as Slurm job arrays, waits for them, then builds the tables here. The runs root must then be a
   * folder every node of the cluster sees.
   */
  executor?: Executor;
  /** The scale's settings changed by dotted path (e.g. `{ "optim.epochs": 12 }`): the experiment with another recipe. */
  set?: Record<string, SettingValue>;
}

export async function runExperiment(name: string, options: ExperimentOptions): Promise<ExperimentOutput> {
  return withStopSignal(options.signal, (signal) => runWithSignal(name, options, signal));
}

/**
 * Several experiments over the same seeds: the missing runs of all of them trained first as one set (with `jobs` > 1
 * or on Slurm, no slot then waits on one experiment's last runs while another experiment's could start), then each
 * experiment's claims, tables and figures in `<out>/<name>`, as runExperiment writes them.
 */
export async function runExperiments(names: string[], options: ExperimentOptions): Promise<ExperimentOutput[]> {
  if (names.length === 0 || new Set(names).size !== names.length) throw new Error(`experiments: give distinct names, got [${names.join(", ")}]`);
  for (const name of names) experiment(name); // an unknown name fails before anything trains
  return withStopSignal(options.signal, async (signal) => {
    const scale = options.scale ?? "cpu";
    const seeds = checkedSeeds(names.join(", "), options.seeds);
    const runsRoot = options.runsRoot ?? defaultRunsRoot();
    const log = (line: string) => { if (!options.quiet) console.error(line); };
    await trainMissingRuns(names.join(", "), () => planExperiments(names, { scale, seeds, runsRoot, set: options.set }), options.executor, { runsRoot, signal, log });
    const outputs: ExperimentOutput[] = [];
    for (const name of names) outputs.push(await runWithSignal(name, { ...options, out: join(options.out, name) }, signal));
    return outputs;
  });
}

function checkedSeeds(what: string, seeds: number[] = [0]): number[] {
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new Error(`experiment ${what}: seeds must be distinct non-negative integers, got [${seeds.join(", ")}]`);
  }
  return seeds;
}

async function runWithSignal(name: string, options: ExperimentOptions, signal: AbortSignal): Promise<ExperimentOutput> {
  const scale = options.scale ?? "cpu";
  const seeds = checkedSeeds(name, options.seeds);
  const e = experiment(name);
  const settings = withSettings(scaleSettings(scale), options.set ?? {});
  const quiet = options.quiet ?? false;
  const runsRoot = options.runsRoot ?? defaultRunsRoot();
  await trainMissingRuns(name, () => planExperiment(name, { scale, seeds, runsRoot, set: options.set }), options.executor, { runsRoot, signal, log: (line) => { if (!quiet) console.error(line); } });
  const cache = new RunCache(runsRoot, openRunData, { quiet, signal });
  const perSeed: { seed: number; output: SeedOutput }[] = [];
  for (const seed of seeds) {
    if (!quiet && seeds.length > 1) progressNote(`${name}: seed ${seed} (${perSeed.length + 1} of ${seeds.length})`);
    setProgressContext(seeds.length > 1 ? `${name} seed ${seed}` : "");
    const output = await e.run({
      scale, settings, seed, cache, openData: openRunData, quiet, signal,
      log: (line) => { if (!quiet) progressNote(line); },
    }).finally(() => setProgressContext(""));
    perSeed.push({ seed, output });
  }
  const set = options.set && Object.keys(options.set).length > 0 ? options.set : undefined;
  const output = { ...combineSeeds(name, scale, perSeed), ...(set && { set }) };
  if (set) output.findings.unshift(`recipe: the ${scale} scale with ${Object.entries(set).map(([path, v]) => `${path} = ${JSON.stringify(v)}`).join(", ")}`);
  if (options.exportResults !== false) await exportExperiment(output, options.out);
  return output;
}

function combineSeeds(name: string, scale: Scale, perSeed: { seed: number; output: SeedOutput }[]): ExperimentOutput {
  const seeds = perSeed.map((s) => s.seed);
  const evaluation = evaluationOf(scale, perSeed.flatMap((s) => Object.values(s.output.runs)));
  const rowsPerSeed = perSeed.map((s) => s.output.rows.map((r) => withEvaluationSize(r, evaluation)));
  const rows = perSeed.flatMap(({ seed }, i) => rowsPerSeed[i].map((r) => ({ ...r, seed })));
  const runs: Record<string, string> = {};
  for (const { seed, output } of perSeed) for (const [what, dir] of Object.entries(output.runs)) runs[`${what} (seed ${seed})`] = dir;
  const claims = combineClaims(perSeed.map(({ seed, output }) => ({ seed, claims: output.claims })));
  const last = perSeed[perSeed.length - 1].output;
  const presentation = last.present(meanOverSeeds(rowsPerSeed).map((r) => withChance(r, evaluation)));
  const findings = [
    ...claims.map(claimLine),
    ...perSeed.flatMap(({ seed, output }) => output.findings.map((f) => (perSeed.length > 1 ? `seed ${seed}: ${f}` : f))),
  ];
  const noise = evaluationNoiseFinding(Object.values(runs));
  if (noise) findings.push(noise);
  const tables = [...presentation.tables, claimsTable(name, claims), new Table(`${name}-per-seed`, rows, { title: `${name}: every seed's numbers` })];
  const verdicts = claims.map((c) => `${c.claim}: ${c.verdict} (${c.kit.seeds.length} seed${c.kit.seeds.length > 1 ? "s" : ""})`);
  const withClaims = Object.fromEntries(Object.entries(presentation.figures).map(([figureName, spec]) => [figureName, withVerdicts(spec, verdicts)]));
  const claimsTitle = `${name}: the paper's claims, kit effect with 95% interval (${seeds.length} seed${seeds.length > 1 ? "s" : ""}, evaluation noise)`;
  const settings = scaleSettings(scale);
  const claimsFigure = claims.length ? { [`${name}-claims`]: claimsChart(claims, { title: claimsTitle, panelTitle: (role) => roleLabel(role, settings).title.replace("<br>", ": ") }) } : {};
  const figures = { ...withClaims, ...claimsFigure };
  return { name, scale, seeds, rows, claims, findings, runs, tables, figures };
}

type Evaluation = Partial<Record<Role, { chance: number; clips: number }>>;

/**
 * Per dataset role, from the runs' results: the top-1 of guessing (100 / classes, one decimal) and the evaluation size
 * (the fewest clips any run evaluated it on).
 */
function evaluationOf(scale: Scale, runDirs: string[]): Evaluation {
  const byDataset = new Map<string, { classes: number; clips: number }>();
  for (const dir of runDirs) {
    for (const [dataset, r] of Object.entries(readRunResults(dir)?.datasets ?? {})) {
      const clips = Math.min(r.samples, byDataset.get(dataset)?.clips ?? Infinity);
      byDataset.set(dataset, { classes: r.classes.length, clips });
    }
  }
  const levels: Evaluation = {};
  for (const [role, dataset] of Object.entries(scaleSettings(scale).datasets) as [Role, string][]) {
    const found = byDataset.get(dataset);
    if (found) levels[role] = { chance: Math.round(1000 / found.classes) / 10, clips: found.clips };
  }
  return levels;
}

/** An absolute top-1 row gets the number of clips its dataset was evaluated on (meanOverSeeds turns it into noise). */
function withEvaluationSize(row: ResultRow, evaluation: Evaluation): ResultRow {
  const e = evaluation[row.dataset as Role];
  return row.metric === "top1" && e !== undefined ? { ...row, clips: e.clips } : row;
}

/** An absolute top-1 row gets its dataset's chance level (figures draw it; tables show it). */
function withChance(row: ResultRow, evaluation: Evaluation): ResultRow {
  const e = evaluation[row.dataset as Role];
  return row.metric === "top1" && e !== undefined ? { ...row, chance: e.chance } : row;
}

/**
 * Rows averaged over seeds: the same row (every column but `kit` and `seed`) on each seed becomes one row whose `kit`
 * is the mean, with `kit ±` the 95% half-width of that mean and `seeds` the count. The half-width combines the seed
 * variation (t interval; none for one seed) with the binomial noise of a top-1 on the row's `clips`, when it has them.
 */
export function meanOverSeeds(rowsPerSeed: ResultRow[][]): ResultRow[] {
  const key = (r: ResultRow) => JSON.stringify(Object.entries(r).filter(([k]) => k !== "kit" && k !== "seed").sort(([a], [b]) => a.localeCompare(b)));
  const groups = new Map<string, { row: ResultRow; values: number[] }>();
  for (const rows of rowsPerSeed) {
    for (const r of rows) {
      const k = key(r);
      const g = groups.get(k) ?? { row: r, values: [] };
      if (r.kit !== null) g.values.push(r.kit);
      groups.set(k, g);
    }
  }
  return [...groups.values()].map(({ row, values }) => {
    const n = values.length;
    if (n === 0) return { ...row, kit: null, "kit ±": 0, seeds: 0 };
    const clips = typeof row.clips === "number" ? row.clips : 0;
    const { mean: kit, half } = intervalOverSeeds(values, clips > 0 ? mean(values.map((v) => top1Variance(v, clips))) : 0);
    return { ...row, kit: Math.round(kit * 10) / 10, "kit ±": Math.round(half * 10) / 10, seeds: n };
  });
}

function claimsTable(name: string, claims: ExperimentOutput["claims"]): Table {
  const rows = claims.map((c) => ({
    claim: c.claim,
    "paper effect": "effect" in c.paper ? Math.round(c.paper.effect * 100) / 100 : null,
    "paper range": "range" in c.paper ? `${c.paper.range[0]} to ${c.paper.range[1]}` : null,
    "kit effect": c.kit.effect, "kit low": c.kit.low, "kit high": c.kit.high,
    seeds: c.kit.seeds.length, "per seed": c.kit.perSeed.map((v) => v.toFixed(1)).join(" / "), "eval noise": c.kit.evalNoise, verdict: c.verdict,
  }));
  return new Table(`${name}-claims`, rows, {
    title: `${name}: the paper's claims (effect in top-1 points, 95% interval over seeds and evaluation noise)`,
    columns: ["claim", "paper effect", "paper range", "kit effect", "kit low", "kit high", "seeds", "per seed", "eval noise", "verdict"],
  });
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
    experiment: output.name, scale: output.scale, ...(output.set && { set: output.set }), seeds: output.seeds, claims: output.claims, findings: output.findings,
    runs: output.runs, rows: output.rows,
  }, null, 2) + "\n");
}
