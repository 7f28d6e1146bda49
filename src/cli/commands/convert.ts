import type { ChannelNormalization } from "../../model/head-info";
import { Flags, UsageError } from "../args";
import { backendFromFlags } from "../backend-flag";
import type { Command } from "../command";

export const command: Command = {
  usage: `usage: cover convert IN --out OUT.safetensors [--classes FILE] [--heads N] [--head NAME] [--mean R,G,B --std R,G,B]
  IN         an official TimeSformer checkpoint (e.g. TimeSformer_divST_8x32_224_K400.pyth), a timm ViT
             (safetensors or PyTorch), or cover-kit weights; read natively, no Python needed
  --classes  class names of the head: one per line, a JSON list, or JSON {name: index} / {index: name}
  --heads    attention heads per layer (default: dim / 64, as in every ViT and TimeSformer preset)
  --head     the head the classes are for, and the name of a checkpoint's single head (default 'default')
  --mean/--std  the input normalisation the weights were trained with (stored for cover predict;
             TimeSformer's 0.45/0.225 is assumed when absent; timm's augreg ViTs use 0.5/0.5)`,
  options: { out: "string", classes: "string", heads: "string", head: "string", mean: "string", std: "string", backend: "string" },
  async run(flags: Flags): Promise<number> {
    const [input, extra] = flags.positionals;
    if (!input) throw new UsageError("the checkpoint to convert is needed");
    if (extra) throw new UsageError(`unexpected argument '${extra}'`);
    const out = flags.requiredString("out");
    const classesFile = flags.string("classes");
    const numHeads = flags.int("heads");
    const head = flags.string("head");
    const mean = flags.string("mean");
    const std = flags.string("std");
    if ((mean === undefined) !== (std === undefined)) throw new UsageError("--mean and --std go together");
    await backendFromFlags(flags);
    flags.rejectUnknown();
    const normalization = mean !== undefined ? { mean: triple(mean, "mean", false), std: triple(std!, "std", true) } as ChannelNormalization : undefined;
    const { readClassListFile } = require("../../data/manifest") as typeof import("../../data/manifest");
    const { convertCheckpoint } = require("../../model/convert") as typeof import("../../model/convert");
    const classes = classesFile !== undefined ? readClassListFile(classesFile) : undefined;
    const report = convertCheckpoint(input, out, { classes, normalization, numHeads, head });
    const c = report.config;
    if (report.numHeadsByConvention) console.error(`note: ${report.numHeadsByConvention} attention heads assumed (dim ${c.dim} / 64); pass --heads N if that is wrong`);
    console.error(`wrote ${out}: ${report.kind}, ${report.tensors} tensors, ${c.attention} ${c.frames}x${c.imageSize} patch ${c.patchSize}, dim ${c.dim}, ` +
      `depth ${c.depth}, heads ${c.numHeads}; head '${report.head}' with ${c.classifiers[report.head]} classes${classes ? " (named)" : ""}`);
    return 0;
  },
};

function triple(text: string, flag: string, positive: boolean): [number, number, number] {
  const xs = text.split(",").map(Number);
  if (xs.length !== 3 || !xs.every((x) => Number.isFinite(x) && (!positive || x > 0))) {
    throw new UsageError(`--${flag} must be three${positive ? " positive" : ""} numbers R,G,B, got '${text}'`);
  }
  return xs as [number, number, number];
}
