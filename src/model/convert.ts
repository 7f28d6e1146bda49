/**
 * `cover convert`: any weights the kit can read (an official TimeSformer .pyth, a timm ViT in safetensors or
 * PyTorch format, cover-kit weights) rewritten as cover-kit safetensors: official `model.*` names, the config in the
 * metadata, and optionally the class names and input normalisation of the head, so the file alone is enough.
 */
import { PREFIX } from "./params";
import { TimeSformerConfig } from "./config";
import { ChannelNormalization, HeadInfo } from "./head-info";
import { isImageCheckpoint, modelFromFile, normaliseNames, readWeightsFile, saveWeights } from "./weights";

export interface ConvertOptions {
  /** Class names of the head, in index order. */
  classes?: string[];
  /** Input normalisation the weights were trained with (stored for prediction). */
  normalization?: ChannelNormalization;
  /** Attention heads per layer; default from the file's metadata, else dim / 64 (every ViT and TimeSformer preset). */
  numHeads?: number;
  /** The head to label, and the name a checkpoint's single `model.head` gets (default "default"). */
  head?: string;
}

export interface ConvertReport {
  kind: "timesformer" | "image-vit";
  config: TimeSformerConfig;
  tensors: number;
  head: string;
  /** Set when the attention-head count was not given and dim / 64 was used. */
  numHeadsByConvention?: number;
}

/** Width of one attention head in ViT-B/L/S/Ti and TimeSformer (dim / numHeads). */
const HEAD_WIDTH = 64;

export function convertCheckpoint(inPath: string, outPath: string, options: ConvertOptions = {}): ConvertReport {
  const file = readWeightsFile(inPath);
  const headName = options.head ?? "default";
  const names = normaliseNames(file.tensors, headName);
  const conventional = options.numHeads === undefined && !file.metadata["cover.config"] ? headsByConvention(names, inPath) : undefined;
  const { model, heads } = modelFromFile(file, inPath, { numHeads: options.numHeads ?? conventional, headName });
  try {
    const head = options.head ?? (model.headNames.length === 1 ? model.headNames[0] : undefined);
    if ((options.classes || options.normalization) && (head === undefined || !model.headNames.includes(head))) {
      throw new Error(`${inPath}: say which head the class names are for with --head (heads: ${model.headNames.join(", ")})`);
    }
    const merged: Record<string, HeadInfo> = { ...heads };
    if (head !== undefined && (options.classes || options.normalization)) {
      const classes = model.config.classifiers[head];
      if (options.classes && options.classes.length !== classes) {
        throw new Error(`${inPath}: head '${head}' has ${classes} classes, but ${options.classes.length} class names were given`);
      }
      merged[head] = { ...merged[head], ...(options.classes && { labels: options.classes }), ...(options.normalization && { normalization: options.normalization }) };
    }
    saveWeights(model, outPath, {}, merged);
    return {
      kind: isImageCheckpoint(names) ? "image-vit" : "timesformer", config: model.config, tensors: names.size, head: head ?? model.headNames[0],
      ...(conventional !== undefined && { numHeadsByConvention: conventional }),
    };
  } finally {
    model.dispose();
  }
}

function headsByConvention(tensors: Map<string, { shape: number[] }>, path: string): number {
  const cls = tensors.get(`${PREFIX}cls_token`);
  if (!cls) throw new Error(`${path}: no cls_token: not a TimeSformer or ViT checkpoint`);
  const dim = cls.shape[2];
  if (dim % HEAD_WIDTH !== 0) throw new Error(`${path}: the number of attention heads cannot be read from the weights (dim ${dim}); pass it (--heads N)`);
  return dim / HEAD_WIDTH;
}
