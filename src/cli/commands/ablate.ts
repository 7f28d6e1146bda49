import { Scale, SCALES } from "../../runs/scales";
import type { Variations } from "../../experiments/ablate";
import { parseSettingValue } from "../../util/dotted-path";
import { Flags, pathAssignments, UsageError } from "../args";
import { backendRequest, describeBackend, selectBackend } from "../backend-flag";
import { cliInterrupts } from "../interrupt";
import type { Command } from "../command";
import { didYouMean } from "../../util/suggest";
import { EXECUTOR_OPTIONS, executorFlags, parseSeeds, submitOnly } from "./experiment";

export const command: Command = {
  usage: `usage: cover ablate <base> --vary PATH=V1,V2[,...] [--vary ...] --out DIR [--seeds 0,1,2] [--scale ${SCALES.join("|")}]
                    [--pretrain] [--name NAME] [--runs DIR] [--backend B] [--quiet]
                    [--jobs N | --executor slurm [--partition P] [--gpus-per-run N] [--time HH:MM:SS] [--poll S] [--no-wait]]
  <base>   a named run (cover, cover-video, standard-<role>, image-pretrain) or a RunConfig JSON file
  --vary   a field of the run config by dotted path and its values, e.g. --vary train.builtin-digits-images=0,0.5,1
           --vary model.preset=tiny,small; values are JSON (numbers, true, null, "text") or plain text. Every
           combination is trained for every seed, one run after another (--jobs N: N at once, as for \`cover experiment\`).
  --pretrain  start every run from image pre-training of its own model (trained once per seed and model), as the
           experiments do; a config file whose init is an image pre-training run does so by itself.
  Writes DIR/tables/<name>-{per-seed,summary}.{csv,md,tex,json} and DIR/figures/<name>.{html,png}. Runs live in the
  shared run cache (--runs, else $COVER_RUNS, else <project>/runs/cache): a rerun, a notebook or an experiment
  reuses every finished run, and an interrupted ablation resumes where it stopped. Ctrl-C checkpoints and exits 130.
  --executor slurm: as for \`cover experiment\`: every missing run becomes a task of an sbatch job array (the image
  pre-trainings of --pretrain first, the runs starting from each with afterok on its task), the command waits
  (polling squeue every --poll seconds) and builds the tables here; --no-wait prints the job ids and returns; the
  same command again resubmits only the runs still missing (see docs/cluster.md).`,
  options: { vary: "strings", out: "string", seeds: "string", seed: "string", scale: "string", pretrain: "boolean", name: "string", runs: "string", backend: "string", quiet: "boolean", ...EXECUTOR_OPTIONS },
  async run(flags: Flags): Promise<number> {
    const [base, extra] = flags.positionals;
    if (!base) throw new UsageError("a base run is needed (a named run or a config file)");
    if (extra) throw new UsageError(`unexpected argument '${extra}'`);
    const vary = parseVariations(flags.strings("vary"));
    const out = flags.requiredString("out");
    const scale = (flags.string("scale") ?? "cpu") as Scale;
    if (!SCALES.includes(scale)) throw new UsageError(`--scale must be one of ${SCALES.join(", ")}, got '${scale}'${didYouMean(scale, SCALES)}`);
    const seeds = parseSeeds(flags.string("seeds"), flags.string("seed"));
    const init = flags.bool("pretrain") ? "image-pretrain" as const : "base" as const;
    const name = flags.string("name");
    const runsRoot = flags.string("runs");
    const quiet = flags.bool("quiet");
    const backend = backendRequest(flags);
    const { executor, noWait } = executorFlags(flags, backend);
    flags.rejectUnknown();
    const { ablate, planAblation, ablationName } = require("../../experiments/ablate") as typeof import("../../experiments/ablate");
    const options = { base, vary, seeds, scale, init, name, out, runsRoot, quiet, executor };
    if (noWait && executor.kind === "slurm") {
      const { defaultRunsRoot } = require("../../util/paths") as typeof import("../../util/paths");
      return await submitOnly(ablationName(options), () => planAblation(options), executor, runsRoot ?? defaultRunsRoot());
    }
    const choice = await selectBackend(backend);
    if (!quiet) console.error(`backend: ${describeBackend(choice)}`);
    const interrupts = cliInterrupts();
    try {
      const result = await ablate({ ...options, signal: interrupts.signal });
      console.log(`\n${result.tables.summary.toMarkdown()}`);
      console.error(`\n${result.runs.length} runs; exports in ${out}`);
      return 0;
    } finally {
      interrupts.dispose();
    }
  },
};

/** `--vary path=v1,v2` flags -> {path: [v1, v2]}; each value JSON where it parses, else text. */
export function parseVariations(flags: string[]): Variations {
  if (flags.length === 0) throw new UsageError("give at least one --vary PATH=V1,V2");
  return Object.fromEntries(pathAssignments(flags, "vary", "V1,V2,...").map(([path, text]) => [path, text.split(",").map((v) => parseSettingValue(v.trim()))]));
}

