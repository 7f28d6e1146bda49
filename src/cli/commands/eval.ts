import type { EvalOptions } from "../../train/evaluate";
import { Flags, UsageError } from "../args";
import { backendRequest, selectBackend } from "../backend-flag";
import type { Command } from "../command";
import { printJson } from "../output";

export const command: Command = {
  usage: `usage: cover eval --run DIR [--views 1x3|1x1] [--reverse-frames] [--datasets a,b] [--backend B] [--quiet]
  Writes DIR/eval-<views>[-reversed].json with per-dataset top-1, top-5 and the confusion matrix.`,
  options: { run: "string", views: "string", "reverse-frames": "boolean", datasets: "string", backend: "string", quiet: "boolean" },
  async run(flags: Flags): Promise<number> {
    if (flags.positionals.length) throw new UsageError(`unexpected argument '${flags.positionals[0]}'`);
    const runDir = flags.requiredString("run");
    const views = flags.string("views");
    if (views !== undefined && views !== "1x1" && views !== "1x3") throw new UsageError("--views must be 1x1 or 1x3");
    const reverseFrames = flags.bool("reverse-frames");
    const datasets = flags.string("datasets")?.split(",");
    const quiet = flags.bool("quiet");
    const backend = backendRequest(flags);
    flags.rejectUnknown();
    const { evalResultPath, evaluateRun } = require("../../runs/evaluate") as typeof import("../../runs/evaluate");
    const { readRunConfig } = require("../../runs/folder") as typeof import("../../runs/folder");
    const { evalOptions } = require("../../runs/train") as typeof import("../../runs/train");
    const { openRunData } = require("../../runs/pipeline") as typeof import("../../runs/pipeline");
    const config = readRunConfig(runDir);
    await selectBackend(backend);
    const overrides: Partial<EvalOptions> = { reverseFrames, ...(views && { views }), ...(datasets && { datasets }) };
    const data = await openRunData(config);
    try {
      const results = await evaluateRun(runDir, data, overrides, quiet);
      printJson(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, { top1: r.top1, top5: r.top5, samples: r.samples, views: r.views, reverseFrames: r.reverseFrames }])));
      console.error(`results: ${evalResultPath(runDir, evalOptions(config, overrides))}`);
      return 0;
    } finally {
      await data.close();
    }
  },
};
