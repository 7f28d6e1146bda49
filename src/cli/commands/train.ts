import { existsSync } from "node:fs";
import { join } from "node:path";
import { NAMED_RUNS, resolveRunConfig } from "../../experiments/named-runs";
import { SCALES } from "../../experiments/scales";
import type { RunConfig } from "../../train/run-config";
import { Flags, UsageError } from "../args";
import { backendRequest, describeBackend, selectBackend } from "../backend-flag";
import { cliInterrupts } from "../interrupt";
import type { Command } from "../main";
import { printJson } from "../output";
import { didYouMean } from "../suggest";

export const command: Command = {
  usage: `usage: cover train <name | config.json> --out DIR [--scale ${SCALES.join("|")}] [--seed N] [--resume]
                   [--init W.safetensors|W.pyth | --init-run DIR] [--epochs N] [--backend B] [--quiet]
  names: ${Object.entries(NAMED_RUNS).map(([n, r]) => `\n    ${n.padEnd(20)} ${r.summary}`).join("")}
  Prints what it will do (model, data, backend, steps, checkpoints, estimated time; not with --quiet), then trains.
  Writes DIR/config.json, metrics.jsonl, checkpoint.safetensors (atomic), weights.safetensors and results.json.
  Ctrl-C (or SIGTERM) checkpoints after the current micro-batch and exits with 130 (143); a second one exits at once.
  --resume continues from DIR's last checkpoint (after a crash, kill or Ctrl-C) to the same result.
  --init takes cover-kit or official TimeSformer weights, or an image ViT (timm names; inflated to space-time),
  as safetensors or as a PyTorch checkpoint (.pyth/.pt/.pth).`,
  options: {
    out: "string", scale: "string", seed: "string", resume: "boolean", init: "string", "init-run": "string",
    epochs: "string", backend: "string", quiet: "boolean",
  },
  async run(flags: Flags): Promise<number> {
    const [name, extra] = flags.positionals;
    if (!name) throw new UsageError("a run name or config file is needed");
    if (extra) throw new UsageError(`unexpected argument '${extra}'`);
    if (!NAMED_RUNS[name] && !existsSync(name)) {
      throw new UsageError(`'${name}' is neither a named run nor a config file${didYouMean(name, Object.keys(NAMED_RUNS))}`);
    }
    const out = flags.requiredString("out");
    const scale = flags.string("scale") ?? "cpu";
    if (!(SCALES as readonly string[]).includes(scale)) throw new UsageError(`--scale must be one of ${SCALES.join(", ")}, got '${scale}'${didYouMean(scale, SCALES)}`);
    const seed = flags.int("seed", 0);
    const resume = flags.bool("resume");
    const initWeights = flags.string("init");
    const initRun = flags.string("init-run");
    const epochs = flags.number("epochs");
    const quiet = flags.bool("quiet");
    const backend = backendRequest(flags);
    flags.rejectUnknown();
    if (initWeights && initRun) throw new UsageError("--init and --init-run exclude each other");
    let config: RunConfig = resolveRunConfig(name, scale, seed);
    if (initWeights) config = { ...config, init: { from: "weights", path: initWeights } };
    if (initRun) config = { ...config, init: { from: "run", dir: initRun } };
    if (epochs !== undefined) config = { ...config, optim: { ...config.optim, epochs } };
    const { hasCheckpoint } = require("../../train/checkpoint") as typeof import("../../train/checkpoint");
    if (!resume && hasCheckpoint(out)) throw new UsageError(`${out} holds a run already; pass --resume to continue it, or choose another --out`);
    return train(config, out, { resume: resume && hasCheckpoint(out), quiet, backend });
  },
};

/** The heavy part, after every flag is known to be good: backend, data, plan, training. */
async function train(config: RunConfig, out: string, options: { resume: boolean; quiet: boolean; backend: ReturnType<typeof backendRequest> }): Promise<number> {
  const { openRunData } = require("../../data/pipeline") as typeof import("../../data/pipeline");
  const { trainRun } = require("../../train/trainer") as typeof import("../../train/trainer");
  const { describeRunPlan } = require("../../train/plan") as typeof import("../../train/plan");
  const choice = await selectBackend(options.backend);
  const interrupts = cliInterrupts();
  try {
    const data = await openRunData(config, { quiet: options.quiet, signal: interrupts.signal });
    try {
      const classCounts = Object.fromEntries(Object.entries(data.classes).map(([k, v]) => [k, v.length]));
      const plan = describeRunPlan(config, data, { outDir: out, backend: choice.name, backendLine: describeBackend(choice), resuming: options.resume, classCounts });
      if (!options.quiet) console.error(plan.join("\n"));
      const results = await trainRun(config, data, out, { resume: options.resume, quiet: options.quiet, signal: interrupts.signal });
      if (!results) throw new Error("the run stopped before its end"); // only stopAfterSteps, which the CLI never sets
      printJson(Object.fromEntries(Object.entries(results.datasets).map(([k, r]) => [k, { top1: r.top1, top5: r.top5, samples: r.samples }])));
      console.error(`results: ${join(out, "results.json")}`);
      return 0;
    } finally {
      await data.close();
    }
  } finally {
    interrupts.dispose();
  }
}
