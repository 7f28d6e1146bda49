import { join } from "node:path";
import { openRunData } from "../../data/pipeline";
import { NAMED_RUNS, resolveRunConfig } from "../../experiments/named-runs";
import { SCALES } from "../../experiments/scales";
import { RunConfig } from "../../train/run-config";
import { acquireRunLock } from "../../train/run-lock";
import { trainRun } from "../../train/trainer";
import { Flags, UsageError } from "../args";
import { backendFromFlags } from "../backend-flag";
import type { Command } from "../main";
import { printJson } from "../output";

/** Ctrl-C asks the trainer to checkpoint and stop; a second Ctrl-C exits at once. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once("SIGINT", () => {
    console.error("\ninterrupted: checkpointing after this step (Ctrl-C again to exit now) ...");
    controller.abort();
    process.once("SIGINT", () => process.exit(130));
  });
  return controller.signal;
}

export const command: Command = {
  summary: "train a run (COVER, standard, image pre-training, or a config file)",
  usage: `usage: cover train <name | config.json> --out DIR [--scale ${SCALES.join("|")}] [--seed N] [--resume]
                   [--init W.safetensors [--init-partial] | --init-run DIR] [--epochs N] [--lr-scale X]
                   [--backend B] [--quiet]
  names: ${Object.entries(NAMED_RUNS).map(([n, r]) => `\n    ${n.padEnd(20)} ${r.summary}`).join("")}
  Writes DIR/config.json, metrics.jsonl, checkpoint.safetensors (atomic, verified on resume; the one before it kept
  as checkpoint-previous.safetensors), weights.safetensors, results.json and bad-files.json (media skipped, and why).
  --resume continues from DIR's last checkpoint (after a crash, kill or Ctrl-C) to the same result.
  --lr-scale X multiplies the learning rate from now on (with --resume: after a divergence); recorded in
  DIR/lr-overrides.jsonl and results.json, and kept by later resumes.
  One process at a time per DIR (DIR/run.lock); a lock left by a process that died is taken over.
  --init-partial accepts --init weights that fill only part of the model's backbone (the rest keeps its initial value).`,
  async run(flags: Flags): Promise<number> {
    const [name, extra] = flags.positionals;
    if (!name) throw new UsageError("a run name or config file is needed");
    if (extra) throw new UsageError(`unexpected argument '${extra}'`);
    const out = flags.requiredString("out");
    const scale = flags.string("scale") ?? "cpu";
    const seed = flags.int("seed", 0);
    const resume = flags.bool("resume");
    const initWeights = flags.string("init");
    const initRun = flags.string("init-run");
    const initPartial = flags.bool("init-partial");
    const epochs = flags.number("epochs");
    const lrScale = flags.number("lr-scale");
    const quiet = flags.bool("quiet");
    await backendFromFlags(flags);
    flags.rejectUnknown();
    let config: RunConfig = resolveRunConfig(name, scale, seed);
    if (initWeights && initRun) throw new UsageError("--init and --init-run exclude each other");
    if (initPartial && !initWeights) throw new UsageError("--init-partial applies to --init weights");
    if (initWeights) config = { ...config, init: { from: "weights", path: initWeights, ...(initPartial && { partial: true }) } };
    if (initRun) config = { ...config, init: { from: "run", dir: initRun } };
    if (epochs !== undefined) config = { ...config, optim: { ...config.optim, epochs } };
    if (lrScale !== undefined && !(lrScale > 0 && Number.isFinite(lrScale))) throw new UsageError(`--lr-scale must be a positive number, got ${lrScale}`);
    const lock = acquireRunLock(out); // before the data is opened: a second process on DIR fails at once
    const data = await openRunData(config).catch((err: unknown) => { lock.release(); throw err; });
    try {
      const results = await trainRun(config, data, out, { resume, quiet, signal: interruptSignal(), heldLock: lock, ...(lrScale !== undefined && { lrScale }) });
      if (!results) {
        console.error(`stopped; the run is checkpointed in ${out}: continue with --resume`);
        return 130;
      }
      printJson(Object.fromEntries(Object.entries(results.datasets).map(([k, r]) => [k, { top1: r.top1, top5: r.top5, samples: r.samples }])));
      console.error(`results: ${join(out, "results.json")}`);
      return 0;
    } finally {
      await data.close();
      lock.release();
    }
  },
};
