import { existsSync } from "node:fs";
import { NAMED_RUNS, resolveRunConfig } from "../../runs/named";
import { Scale, SCALES } from "../../runs/scales";
import type { RunConfig } from "../../runs/config";
import { runFiles } from "../../runs/folder";
import { Flags, UsageError } from "../args";
import { backendRequest, describeBackend, selectBackend } from "../backend-flag";
import { cliInterrupts } from "../interrupt";
import type { Command } from "../command";
import { printJson } from "../output";
import { didYouMean } from "../../util/suggest";

export const command: Command = {
  usage: `usage: cover train <name | config.json> --out DIR [--scale ${SCALES.join("|")}] [--seed N] [--resume]
                   [--pretrain | --init W.safetensors|W.pyth [--init-partial] | --init-run DIR] [--epochs N] [--lr-scale X]
                   [--backend B] [--quiet]
  names: ${Object.entries(NAMED_RUNS).map(([n, r]) => `\n    ${n.padEnd(20)} ${r.summary}`).join("")}
  Prints what it will do (model, data, backend, steps, checkpoints, estimated time; not with --quiet), then trains.
  Writes DIR/config.json, metrics.jsonl, checkpoint.safetensors (atomic, verified on resume; the one before it kept
  as checkpoint-previous.safetensors), weights.safetensors, results.json and bad-files.json (media skipped, and why).
  Ctrl-C (or SIGTERM) checkpoints after the current micro-batch and exits with 130 (143); a second one exits at once.
  --resume continues from DIR's last checkpoint (after a crash, kill or Ctrl-C) to the same result.
  --pretrain starts from the scale's space-only image pre-training of the run's model and seed, as every
  experiment's runs do; it is trained first if the run cache (runs/cache, or $COVER_RUNS) lacks it, and shared there
  with the experiments. From scratch the cpu-scale COVER run ends far lower (measured on wasm, seed 0:
  appearance 48.7 against 92.6 from the pre-training).
  --init takes cover-kit or official TimeSformer weights, or an image ViT (timm names; inflated to space-time),
  as safetensors or as a PyTorch checkpoint (.pyth/.pt/.pth); --init-partial accepts weights that fill only part
  of the model's backbone (the rest keeps its initial value).
  --lr-scale X multiplies the learning rate from now on (with --resume: after a divergence); recorded in
  DIR/lr-overrides.jsonl and results.json, and kept by later resumes.
  One process at a time per DIR (DIR/run.lock); a lock left by a process that died is taken over.`,
  options: {
    out: "string", scale: "string", seed: "string", resume: "boolean", pretrain: "boolean", init: "string", "init-run": "string",
    "init-partial": "boolean", epochs: "string", "lr-scale": "string", backend: "string", quiet: "boolean",
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
    const pretrain = flags.bool("pretrain");
    const initWeights = flags.string("init");
    const initRun = flags.string("init-run");
    const initPartial = flags.bool("init-partial");
    const epochs = flags.number("epochs");
    const lrScale = flags.number("lr-scale");
    const quiet = flags.bool("quiet");
    const backend = backendRequest(flags);
    flags.rejectUnknown();
    if ([pretrain, initWeights, initRun].filter(Boolean).length > 1) throw new UsageError("--pretrain, --init and --init-run exclude each other");
    if (initPartial && !initWeights) throw new UsageError("--init-partial applies to --init weights");
    if (lrScale !== undefined && !(lrScale > 0 && Number.isFinite(lrScale))) throw new UsageError(`--lr-scale must be a positive number, got ${lrScale}`);
    let config: RunConfig = resolveRunConfig(name, scale, seed);
    if (initWeights) config = { ...config, init: { from: "weights", path: initWeights, ...(initPartial && { partial: true }) } };
    if (initRun) config = { ...config, init: { from: "run", dir: initRun } };
    if (epochs !== undefined) config = { ...config, optim: { ...config.optim, epochs } };
    const { hasCheckpoint } = require("../../runs/checkpoint") as typeof import("../../runs/checkpoint");
    if (!resume && hasCheckpoint(out)) throw new UsageError(`${out} holds a run already; pass --resume to continue it, or choose another --out`);
    return train(config, out, { resume: resume && hasCheckpoint(out), quiet, backend, lrScale, pretrainScale: pretrain ? scale as Scale : undefined });
  },
};

interface TrainOptions { resume: boolean; quiet: boolean; backend: ReturnType<typeof backendRequest>; lrScale?: number; pretrainScale?: Scale }

/** The heavy part, after every flag is known to be good: lock, backend, data, plan, training. */
async function train(runConfig: RunConfig, out: string, options: TrainOptions): Promise<number> {
  const { acquireRunLock } = require("../../runs/lock") as typeof import("../../runs/lock");
  const { openRunData } = require("../../runs/pipeline") as typeof import("../../runs/pipeline");
  const { trainRun } = require("../../runs/train") as typeof import("../../runs/train");
  const { describeRunPlan } = require("../../runs/plan") as typeof import("../../runs/plan");
  const lock = acquireRunLock(out); // before the data is opened: a second process on DIR fails at once
  const interrupts = cliInterrupts();
  try {
    const choice = await selectBackend(options.backend);
    const config = options.pretrainScale ? await fromImagePretrain(runConfig, options.pretrainScale, options.quiet, interrupts.signal) : runConfig;
    // The evaluation clips decode beside training (wasm keeps one core busy), not before the first step.
    const data = await openRunData(config, { quiet: options.quiet, signal: interrupts.signal, decodeEvalWhileTraining: true });
    try {
      const classCounts = Object.fromEntries(Object.entries(data.classes).map(([k, v]) => [k, v.length]));
      const plan = describeRunPlan(config, data, { outDir: out, backend: choice.name, backendLine: describeBackend(choice), resuming: options.resume, classCounts });
      if (!options.quiet) console.error(plan.join("\n"));
      const results = await trainRun(config, data, out, {
        resume: options.resume, quiet: options.quiet, signal: interrupts.signal, heldLock: lock, ...(options.lrScale !== undefined && { lrScale: options.lrScale }),
      });
      if (!results) throw new Error("the run stopped before its end"); // only stopAfterSteps, which the CLI never sets
      printJson(Object.fromEntries(Object.entries(results.datasets).map(([k, r]) => [k, { top1: r.top1, top5: r.top5, samples: r.samples }])));
      console.error(`results: ${runFiles(out).results}`);
      return 0;
    } finally {
      await data.close();
    }
  } finally {
    interrupts.dispose();
    lock.release();
  }
}

/** The run, starting from the scale's image pre-training of its model and seed (trained into the run cache if missing). */
async function fromImagePretrain(config: RunConfig, scale: Scale, quiet: boolean, signal: AbortSignal): Promise<RunConfig> {
  const { RunCache } = require("../../runs/cache") as typeof import("../../runs/cache");
  const { openRunData } = require("../../runs/pipeline") as typeof import("../../runs/pipeline");
  const { imagePretrainFor } = require("../../runs/factories") as typeof import("../../runs/factories");
  const { defaultRunsRoot } = require("../../util/paths") as typeof import("../../util/paths");
  const cache = new RunCache(defaultRunsRoot(), openRunData, { quiet, signal });
  if (!quiet) console.error(`image pre-training: ${cache.dirOf(imagePretrainFor(config, scale))}`);
  return cache.fromImagePretrain(config, scale);
}
