import { Scale, SCALES } from "../../experiments/scales";
import { Flags, UsageError } from "../args";
import { backendRequest, describeBackend, selectBackend } from "../backend-flag";
import { cliInterrupts } from "../interrupt";
import type { Command } from "../main";
import { didYouMean } from "../suggest";

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

export const command: Command = {
  usage: `usage: cover experiment <name> --out DIR [--scale ${SCALES.join("|")}] [--seeds 0,1,2 | --seed N] [--runs DIR] [--backend B] [--quiet]
  names: ${Object.entries(EXPERIMENT_TITLES).map(([name, title]) => `\n    ${name.padEnd(20)} ${title}`).join("")}
  Writes DIR/tables/*.{csv,md,tex,json}, DIR/figures/*.{html,png}, DIR/findings.json. Training runs go to
  <runs>/runs/ (--runs, else $COVER_RUNS, else <project>/runs/cache), named by their config's hash and shared by
  all experiments: a rerun reuses finished runs and resumes interrupted ones. With several seeds, each claim of the
  paper is reported as an effect with a 95% interval over the seeds and evaluation noise, and a verdict.
  Ctrl-C (or SIGTERM) checkpoints the run in progress and exits with 130 (143); a second one exits at once.`,
  options: { out: "string", scale: "string", seed: "string", seeds: "string", runs: "string", backend: "string", quiet: "boolean" },
  async run(flags: Flags): Promise<number> {
    const [name, extra] = flags.positionals;
    if (!name) throw new UsageError("an experiment name is needed");
    if (extra) throw new UsageError(`unexpected argument '${extra}'`);
    if (!EXPERIMENT_TITLES[name]) throw new UsageError(`unknown experiment '${name}'${didYouMean(name, EXPERIMENT_NAMES)}`);
    const out = flags.requiredString("out");
    const scale = (flags.string("scale") ?? "cpu") as Scale;
    if (!SCALES.includes(scale)) throw new UsageError(`--scale must be one of ${SCALES.join(", ")}, got '${scale}'${didYouMean(scale, SCALES)}`);
    const seeds = parseSeeds(flags.string("seeds"), flags.string("seed"));
    const runsRoot = flags.string("runs");
    const quiet = flags.bool("quiet");
    const backend = backendRequest(flags);
    flags.rejectUnknown();
    const { runExperiment } = require("../../experiments/run-experiment") as typeof import("../../experiments/run-experiment");
    const choice = await selectBackend(backend);
    if (!quiet) console.error(`backend: ${describeBackend(choice)}`);
    const interrupts = cliInterrupts();
    try {
      const output = await runExperiment(name, { scale, seeds, out, quiet, runsRoot, signal: interrupts.signal });
      for (const table of output.tables) console.log(`\n${table.toMarkdown()}`);
      console.log(`\nfindings:\n${output.findings.map((f) => `- ${f}`).join("\n")}`);
      console.error(`\nexports in ${out}`);
      return 0;
    } finally {
      interrupts.dispose();
    }
  },
};

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
