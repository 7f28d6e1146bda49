import { EXPERIMENTS } from "../../experiments/registry";
import { runExperiment } from "../../experiments/run-experiment";
import { Scale, SCALES } from "../../experiments/scales";
import { Flags, UsageError } from "../args";
import { backendFromFlags } from "../backend-flag";
import type { Command } from "../main";

export const command: Command = {
  summary: "reproduce one of the paper's experiments, with tables and figures",
  usage: `usage: cover experiment <name> --out DIR [--scale ${SCALES.join("|")}] [--seeds 0,1,2 | --seed N] [--runs DIR] [--backend B] [--quiet]
  names: ${Object.values(EXPERIMENTS).map((e) => `\n    ${e.name.padEnd(20)} ${e.title} (${e.paper})`).join("")}
  Writes DIR/tables/*.{csv,md,tex,json}, DIR/figures/*.{html,png}, DIR/findings.json. Training runs go to
  <runs>/runs/ (--runs, else $COVER_RUNS, else <project>/runs/cache), named by their config's hash and shared by
  all experiments: a rerun reuses finished runs and resumes interrupted ones. With several seeds, each claim of the
  paper is reported as an effect with a 95% interval over the seeds and evaluation noise, and a verdict.`,
  async run(flags: Flags): Promise<number> {
    const [name, extra] = flags.positionals;
    if (!name) throw new UsageError("an experiment name is needed");
    if (extra) throw new UsageError(`unexpected argument '${extra}'`);
    if (!EXPERIMENTS[name]) throw new UsageError(`unknown experiment '${name}'`);
    const out = flags.requiredString("out");
    const scale = (flags.string("scale") ?? "cpu") as Scale;
    if (!SCALES.includes(scale)) throw new UsageError(`--scale must be one of ${SCALES.join(", ")}`);
    const seeds = parseSeeds(flags.string("seeds"), flags.string("seed"));
    const runsRoot = flags.string("runs");
    const quiet = flags.bool("quiet");
    await backendFromFlags(flags);
    flags.rejectUnknown();
    const output = await runExperiment(name, { scale, seeds, out, quiet, runsRoot });
    for (const table of output.tables) console.log(`\n${table.toMarkdown()}`);
    console.log(`\nfindings:\n${output.findings.map((f) => `- ${f}`).join("\n")}`);
    console.error(`\nexports in ${out}`);
    return 0;
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
