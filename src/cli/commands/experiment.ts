import type { Executor, Planner, SlurmExecutor } from "../../experiments/executor";
import { Scale, SCALES } from "../../runs/scales";
import { Flags, pathAssignments, UsageError } from "../args";
import { BackendRequest, backendRequest, describeBackend, selectBackend } from "../backend-flag";
import { cliInterrupts } from "../interrupt";
import type { Command } from "../command";
import { didYouMean } from "../../util/suggest";
import { parseSettingValue, SettingValue } from "../../util/dotted-path";

/** The experiments' names and titles, without loading them (the registry loads tfjs and danfojs). */
const EXPERIMENT_TITLES: Record<string, string> = {
  "frame-reversal": "frame order reversed at test time (Table 2)",
  "frozen-transfer": "frozen features and transfer (Sec. 3.2, Fig. 3)",
  "loss-weight-sweep": "image loss weight (Table 6)",
  "base-vs-large": "model size (Fig. 4)",
  "cotrain-ablation": "which datasets to co-train (Table 5a)",
  "standard-vs-cover": "standard training vs COVER (Table 1)",
  "input-setting": "more frames and a higher resolution (Table 7)",
};

export const EXPERIMENT_NAMES = Object.keys(EXPERIMENT_TITLES);

/** `--set path=value` flags -> {path: value}. */
export function parseSettings(flags: string[]): Record<string, SettingValue> {
  return Object.fromEntries(pathAssignments(flags, "set", "VALUE").map(([path, text]) => [path, parseSettingValue(text.trim())]));
}

/** The executors' names, without loading the experiments. */
const EXECUTOR_KINDS = ["local", "slurm"] as const;

/** The executor's options, shared by `cover experiment` and `cover ablate`. */
export const EXECUTOR_OPTIONS = {
  executor: "string", jobs: "string", partition: "string", "gpus-per-run": "string", time: "string", poll: "string", "no-wait": "boolean",
} as const;

export const command: Command = {
  usage: `usage: cover experiment <name>[,<name>...] | all --out DIR [--scale ${SCALES.join("|")}] [--seeds 0,1,2 | --seed N] [--set PATH=V ...] [--runs DIR] [--backend B] [--quiet]
                        [--jobs N | --executor slurm [--partition P] [--gpus-per-run N] [--time HH:MM:SS] [--poll S] [--no-wait]]
  names: ${Object.entries(EXPERIMENT_TITLES).map(([name, title]) => `\n    ${name.padEnd(20)} ${title}`).join("")}
  Writes DIR/tables/*.{csv,md,tex,json}, DIR/figures/*.{html,png}, DIR/findings.json; with several names (or all),
  DIR/<name>/ for each, their missing runs trained first as one set (with --jobs or slurm, no slot waits on one
  experiment's last runs while another's could start). Training runs go to
  <runs>/runs/ (--runs, else $COVER_RUNS, else <project>/runs/cache), named by their config's hash and shared by
  all experiments: a rerun reuses finished runs and resumes interrupted ones. With several seeds, each claim of the
  paper is reported as an effect with a 95% interval over the seeds and evaluation noise, and a verdict.
  --set    changes the scale's recipe by dotted path, e.g. --set optim.epochs=12 --set optim.schedule.baseLr=5e-4, or
           --set lossWeights.motion=2 (COVER's w_i wherever the experiment does not vary it); values are JSON or plain
           text, and findings.json records them. Runs with other settings are other runs in the cache.
  Ctrl-C (or SIGTERM) checkpoints the run in progress and exits with 130 (143); a second one exits at once.
  --jobs N: trains N of the missing runs at once on this machine, each in its own \`cover train\` process with
  cores/N compute threads and no model worker (log in the run's folder, local-job.log), a run started from another run's weights once that
  one is done; then builds the tables here. On 2 cores at cpu scale, --jobs 2 trains about twice as many runs per hour.
  --executor slurm: every missing run becomes a task of an sbatch job array (\`cover train\` in the run's folder,
  --requeue, SIGTERM 60 s before the time limit; runs with the same dependency share one array, and runs started from
  another run's weights wait for its task with afterok), then the command waits, polling squeue every --poll seconds (default 30) and showing each run's step, and builds the tables
  here once every run is done. --no-wait prints the job ids and returns. The same command again resubmits only
  the runs still missing. The runs folder must be on a file system every node sees (see docs/cluster.md).`,
  options: { out: "string", scale: "string", seed: "string", seeds: "string", set: "strings", runs: "string", backend: "string", quiet: "boolean", ...EXECUTOR_OPTIONS },
  async run(flags: Flags): Promise<number> {
    const [nameList, extra] = flags.positionals;
    if (!nameList) throw new UsageError("an experiment name is needed");
    if (extra) throw new UsageError(`unexpected argument '${extra}'`);
    const names = parseExperimentNames(nameList);
    const out = flags.requiredString("out");
    const scale = (flags.string("scale") ?? "cpu") as Scale;
    if (!SCALES.includes(scale)) throw new UsageError(`--scale must be one of ${SCALES.join(", ")}, got '${scale}'${didYouMean(scale, SCALES)}`);
    const seeds = parseSeeds(flags.string("seeds"), flags.string("seed"));
    const set = parseSettings(flags.strings("set"));
    const runsRoot = flags.string("runs");
    const quiet = flags.bool("quiet");
    const backend = backendRequest(flags);
    const { executor, noWait } = executorFlags(flags, backend);
    flags.rejectUnknown();
    const { runExperiment, runExperiments } = require("../../experiments/run-experiment") as typeof import("../../experiments/run-experiment");
    const { defaultRunsRoot } = require("../../util/paths") as typeof import("../../util/paths");
    const interrupts = cliInterrupts();
    try {
      if (noWait && executor.kind === "slurm") {
        const { planExperiments } = require("../../experiments/planning") as typeof import("../../experiments/planning");
        const root = runsRoot ?? defaultRunsRoot();
        return await submitOnly(names.join(", "), () => planExperiments(names, { scale, seeds, runsRoot: root, set }), executor, root);
      }
      const choice = await selectBackend(backend);
      if (!quiet) console.error(`backend: ${describeBackend(choice)}`);
      const options = { scale, seeds, out, quiet, runsRoot, signal: interrupts.signal, executor, set };
      const outputs = names.length === 1 ? [await runExperiment(names[0], options)] : await runExperiments(names, options);
      for (const output of outputs) {
        if (outputs.length > 1) console.log(`\n## ${output.name}`);
        for (const table of output.tables) console.log(`\n${table.toMarkdown()}`);
        console.log(`\nfindings:\n${output.findings.map((f) => `- ${f}`).join("\n")}`);
      }
      console.error(`\nexports in ${names.length === 1 ? out : names.map((name) => `${out}/${name}`).join(", ")}`);
      return 0;
    } finally {
      interrupts.dispose();
    }
  },
};

const SLURM_FLAGS = ["partition", "gpus-per-run", "time", "poll"] as const;

/**
 * The executor and --no-wait. With slurm or --jobs, --backend is also for the runs' `cover train` processes (with
 * slurm, this machine only plans, waits and builds the tables).
 */
export function executorFlags(flags: Flags, backend: BackendRequest): { executor: Executor; noWait: boolean } {
  const parsed = parseExecutor(flags);
  const executor: Executor = backend && backend !== "auto" ? { ...parsed, backend } : parsed;
  const noWait = flags.bool("no-wait");
  if (noWait && executor.kind !== "slurm") throw new UsageError("--no-wait applies to --executor slurm");
  return { executor, noWait };
}

/** `--executor local|slurm`, the local executor's --jobs and the slurm executor's options (which need `--executor slurm`). */
export function parseExecutor(flags: Flags): Executor {
  const kind = flags.string("executor") ?? "local";
  if (!(EXECUTOR_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--executor must be one of ${EXECUTOR_KINDS.join(", ")}, got '${kind}'${didYouMean(kind, EXECUTOR_KINDS)}`);
  const values = Object.fromEntries(SLURM_FLAGS.map((f) => [f, flags.string(f)]));
  const jobs = flags.string("jobs");
  if (kind === "local") {
    const given = SLURM_FLAGS.filter((f) => values[f] !== undefined);
    if (given.length) throw new UsageError(`--${given[0]} applies to --executor slurm`);
    if (jobs === undefined) return { kind: "local" };
    if (!/^[1-9]\d*$/.test(jobs)) throw new UsageError(`--jobs takes a positive integer (runs trained at once), got '${jobs}'`);
    return { kind: "local", jobs: Number(jobs) };
  }
  if (jobs !== undefined) throw new UsageError("--jobs applies to the local executor (with slurm, every run is a job of its own)");
  const gpus = values["gpus-per-run"];
  if (gpus !== undefined && !/^\d+$/.test(gpus)) throw new UsageError(`--gpus-per-run takes a non-negative integer, got '${gpus}'`);
  const poll = values.poll;
  if (poll !== undefined && !(Number(poll) > 0)) throw new UsageError(`--poll takes a positive number of seconds, got '${poll}'`);
  const time = values.time;
  if (time !== undefined && !/^(\d+-)?\d+(:\d{2}){0,2}$/.test(time)) throw new UsageError(`--time takes a Slurm time limit such as 12:00:00 or 2-00:00:00, got '${time}'`);
  return {
    kind: "slurm",
    ...(values.partition !== undefined && { partition: values.partition }),
    ...(gpus !== undefined && { gpusPerRun: Number(gpus) }),
    ...(time !== undefined && { time }),
    ...(poll !== undefined && { pollSeconds: Number(poll) }),
  };
}

/** --no-wait: submits the missing runs, prints one line per job on stdout (job id, run, folder) and returns. */
export async function submitOnly(what: string, plan: Planner, executor: SlurmExecutor, runsRoot: string): Promise<number> {
  const { submitPlannedRuns } = require("../../experiments/executor") as typeof import("../../experiments/executor");
  const submission = await submitPlannedRuns(what, plan, executor, { runsRoot, log: (line) => console.error(line) });
  for (const r of submission.runs) console.log(`${r.jobId}\t${r.run.name}\t${r.run.dir}`);
  if (submission.runs.length === 0) console.error(`${what}: every run is finished; run the command without --no-wait to build the tables`);
  return 0;
}

/** `frame-reversal`, `frame-reversal,base-vs-large` or `all` -> the experiments' names, each known and once. */
export function parseExperimentNames(text: string): string[] {
  if (text === "all") return [...EXPERIMENT_NAMES];
  const names = text.split(",").map((n) => n.trim());
  for (const name of names) {
    if (!EXPERIMENT_TITLES[name]) throw new UsageError(`unknown experiment '${name}'${didYouMean(name, [...EXPERIMENT_NAMES, "all"])}`);
  }
  if (new Set(names).size !== names.length) throw new UsageError(`an experiment is named twice: '${text}'`);
  return names;
}

/** `--seeds 0,1,2` or `--seed N` (not both); default seed 0. */
export function parseSeeds(list: string | undefined, single: string | undefined): number[] {
  if (list !== undefined && single !== undefined) throw new UsageError("give --seeds or --seed, not both");
  const text = list ?? single ?? "0";
  const seeds = text.split(",").map((s) => s.trim());
  if (!seeds.every((s) => /^\d+$/.test(s))) throw new UsageError(`--seed${list !== undefined ? "s" : ""} takes non-negative integers${list !== undefined ? " separated by commas" : ""}, got '${text}'`);
  const values = seeds.map(Number);
  if (new Set(values).size !== values.length) throw new UsageError(`--seeds lists a seed twice: '${text}'`);
  return values;
}
