import type { PlannedRun } from "../../experiments/planning";
import { Scale, SCALES } from "../../runs/scales";
import type { QueuedJob } from "../../experiments/slurm";
import { Flags, UsageError } from "../args";
import type { Command } from "../command";
import { printJson } from "../output";
import { didYouMean } from "../../util/suggest";
import { EXPERIMENT_NAMES, parseSeeds } from "./experiment";

export const command: Command = {
  usage: `usage: cover runs status [--runs DIR] [--experiment NAME [--scale ${SCALES.join("|")}] [--seeds 0,1 | --seed N]] [--json]
  Lists the runs of the runs folder (--runs, else $COVER_RUNS, else <project>/runs/cache), one a line:
    done      finished (results.json)
    running   its Slurm job runs (job id, step from metrics.jsonl), or a local process holds its lock
    pending   its Slurm job waits in the queue (and why)
    failed    its job ended without results (the last line of its log says why)
    missing   not started, or interrupted with no job to resume it
  With --experiment, the runs that experiment still needs and that have no folder yet are listed as missing too.
  Job states come from squeue; without Slurm's commands, submitted runs are listed as submitted.`,
  options: { runs: "string", experiment: "string", scale: "string", seed: "string", seeds: "string", json: "boolean" },
  async run(flags: Flags): Promise<number> {
    const [sub, extra] = flags.positionals;
    if (sub !== "status") throw new UsageError(sub ? `unknown subcommand '${sub}'${didYouMean(sub, ["status"])}` : "a subcommand is needed: status");
    if (extra) throw new UsageError(`unexpected argument '${extra}'`);
    const name = flags.string("experiment");
    if (name !== undefined && !EXPERIMENT_NAMES.includes(name)) throw new UsageError(`unknown experiment '${name}'${didYouMean(name, EXPERIMENT_NAMES)}`);
    const scale = flags.string("scale") ?? "cpu";
    if (!(SCALES as readonly string[]).includes(scale)) throw new UsageError(`--scale must be one of ${SCALES.join(", ")}, got '${scale}'${didYouMean(scale, SCALES)}`);
    const seeds = parseSeeds(flags.string("seeds"), flags.string("seed"));
    if (name === undefined && (flags.string("scale") ?? flags.string("seeds") ?? flags.string("seed")) !== undefined) throw new UsageError("--scale and --seeds apply to --experiment");
    const runsFlag = flags.string("runs");
    const json = flags.bool("json");
    flags.rejectUnknown();
    const { defaultRunsRoot } = require("../../util/paths") as typeof import("../../util/paths");
    const { runsStatus, formatRunsStatus } = require("../../experiments/run-status") as typeof import("../../experiments/run-status");
    const { SlurmCommands } = require("../../experiments/slurm") as typeof import("../../experiments/slurm");
    const runsRoot = runsFlag ?? defaultRunsRoot();
    let planned: PlannedRun[] = [];
    if (name !== undefined) {
      const { planExperiment } = require("../../experiments/planning") as typeof import("../../experiments/planning");
      planned = (await planExperiment(name, { scale: scale as Scale, seeds, runsRoot })).runs;
    }
    let queue: Map<string, QueuedJob> | null = null;
    try { queue = new SlurmCommands().queue(); } catch (err) {
      if (!json) console.error(`(${(err as Error).message.split(":")[0]}: job states unknown)`);
    }
    const statuses = runsStatus(runsRoot, queue, planned);
    if (json) printJson(statuses);
    else console.log(formatRunsStatus(statuses));
    return 0;
  },
};
