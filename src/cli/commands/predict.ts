import type { PredictResult } from "../../train/predict";
import { writeFileAtomic } from "../../util/atomic";
import { Flags, UsageError } from "../args";
import { backendFromFlags } from "../backend-flag";
import type { Command } from "../command";

const FORMATS = ["text", "json", "csv"] as const;
type Format = (typeof FORMATS)[number];

export const command: Command = {
  usage: `usage: cover predict --weights W FILE|FOLDER... [--head NAME] [--views 1x3|1x1] [--top-k K] [--format text|json|csv] [--out FILE]
       cover predict --weights W --input clip.npy --out logits.npy [--heads N] [--head NAME]
  W         weights: .safetensors (cover-kit, official names, or converted), or a PyTorch .pyth/.pt/.pth checkpoint
  FILE      videos or images, sampled and normalised exactly as evaluation does (1 clip x 3 crops by default);
            a FOLDER stands for the media files directly inside it
  --head    which classification head (default: the only one; required when the weights have several)
  --top-k   classes per file (default 5); --format text (default), json or csv; --out writes there instead of stdout
  --input   float32 .npy [B, 3, T, H, W], normalised (T may differ from the trained frame count; T=1 is an image)
  --heads   attention heads per layer (needed for checkpoints without cover-kit metadata)`,
  options: {
    weights: "string", input: "string", out: "string", heads: "string", head: "string", views: "string",
    "top-k": "string", format: "string", backend: "string",
  },
  async run(flags: Flags): Promise<number> {
    const weights = flags.requiredString("weights");
    const input = flags.string("input");
    const out = flags.string("out");
    const numHeads = flags.int("heads");
    const head = flags.string("head");
    const views = flags.string("views");
    if (views !== undefined && views !== "1x1" && views !== "1x3") throw new UsageError("--views must be 1x1 or 1x3");
    const topK = flags.int("top-k", 5);
    if (topK < 1) throw new UsageError(`--top-k must be at least 1, got ${topK}`);
    const format = flags.string("format") ?? "text";
    if (!(FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format must be one of ${FORMATS.join(", ")}, got '${format}'`);
    await backendFromFlags(flags);
    flags.rejectUnknown();
    if (input !== undefined) {
      if (flags.positionals.length) throw new UsageError("give either --input (a raw array) or media files, not both");
      if (out === undefined) throw new UsageError("--out is required with --input");
      // loaded here, not at the top, so that `cover predict --help` loads no tfjs
      const { predictOfficialLayout } = require("../../train/predict") as typeof import("../../train/predict");
      writeLogits(predictOfficialLayout(weights, input, { numHeads, head }), out);
      return 0;
    }
    if (flags.positionals.length === 0) throw new UsageError("give videos, images or folders to predict (or --input clip.npy)");
    const { predictFiles } = require("../../train/predict") as typeof import("../../train/predict");
    const result = await predictFiles(weights, flags.positionals, { head, views, topK, numHeads });
    for (const note of result.notes) console.error(`note: ${note}`);
    const text = render(result, format as Format);
    if (out === undefined) process.stdout.write(text);
    else { writeFileAtomic(out, text); console.error(`wrote ${out}`); }
    const failed = result.predictions.filter((p) => p.error);
    for (const p of failed) console.error(`error: ${p.error}`);
    return failed.length ? 1 : 0;
  },
};

function writeLogits(rows: Float32Array[], out: string): void {
  const { writeNpy } = require("../../io/npy") as typeof import("../../io/npy");
  const classes = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * classes);
  rows.forEach((r, i) => data.set(r, i * classes));
  writeNpy(out, { dtype: "float32", shape: [rows.length, classes], data });
  console.error(`wrote ${out}: float32 [${rows.length}, ${classes}]`);
}

function render(result: PredictResult, format: Format): string {
  if (format === "json") return JSON.stringify(result, null, 2) + "\n";
  if (format === "csv") {
    const rows = result.predictions.flatMap((p) => p.top.map((c) => ({ file: p.file, rank: c.rank, index: c.index, label: c.label, probability: c.probability })));
    // Loaded here only: the table module brings danfojs, about 2 s of start-up the other formats do not need.
    const { Table } = require("../../report/table") as typeof import("../../report/table");
    return new Table("predictions", rows, { columns: ["file", "rank", "index", "label", "probability"] }).toCsv();
  }
  return result.predictions.filter((p) => !p.error).map((p) =>
    `${p.file} (head ${result.head}, ${result.views})\n${p.top.map((c) => `  ${String(c.rank).padStart(2)}. ${c.probability.toFixed(4)}  ${c.label}`).join("\n")}\n`).join("");
}
