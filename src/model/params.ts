/**
 * The TimeSformer's parameters under their official checkpoint names (`model.blocks.0.attn.qkv.weight`, ...).
 * Internally linear weights are stored [in, out] and the patch-embedding conv as a [p*p*3, D] matrix; `layout`
 * says how to convert to and from the PyTorch layouts (Linear [out, in], Conv2d [out, in, kh, kw]) on save/load.
 */
import * as tf from "@tensorflow/tfjs";
import { ATTENTION, patchesPerFrame, TimeSformerConfig } from "./config";

export type ParamLayout = "linear" | "conv" | "plain";
export type ParamInit = "trunc_normal" | "zeros" | "ones" | "conv_uniform" | "sinusoidal";

export interface ParamSpec {
  name: string;
  /** Shape in the official (PyTorch) layout. */
  shape: number[];
  layout: ParamLayout;
  init: ParamInit;
  /** Fan-in, for conv_uniform (PyTorch's default Conv2d init). */
  fanIn?: number;
}

export const PREFIX = "model.";

export function headParamName(head: string, kind: "weight" | "bias"): string {
  return `${PREFIX}heads.${head}.${kind}`;
}

function linearSpecs(name: string, inDim: number, outDim: number, weightInit: ParamInit = "trunc_normal"): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [outDim, inDim], layout: "linear", init: weightInit },
    { name: `${name}.bias`, shape: [outDim], layout: "plain", init: "zeros" },
  ];
}

function normSpecs(name: string, dim: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [dim], layout: "plain", init: "ones" },
    { name: `${name}.bias`, shape: [dim], layout: "plain", init: "zeros" },
  ];
}

function blockSpecs(c: TimeSformerConfig, i: number): ParamSpec[] {
  const b = `${PREFIX}blocks.${i}`;
  const D = c.dim;
  const hidden = Math.round(D * c.mlpRatio);
  const attn = (n: string) => [...linearSpecs(`${b}.${n}.qkv`, D, 3 * D), ...linearSpecs(`${b}.${n}.proj`, D, D)];
  const specs = [...normSpecs(`${b}.norm1`, D), ...attn("attn")];
  if (ATTENTION[c.attention].temporalBranch) {
    // temporal_fc starts at zero in every block but the first (official init), so a new block begins as spatial-only.
    specs.push(...normSpecs(`${b}.temporal_norm1`, D), ...attn("temporal_attn"),
      ...linearSpecs(`${b}.temporal_fc`, D, D, i === 0 ? "trunc_normal" : "zeros"));
  }
  specs.push(...normSpecs(`${b}.norm2`, D), ...linearSpecs(`${b}.mlp.fc1`, D, hidden), ...linearSpecs(`${b}.mlp.fc2`, hidden, D));
  return specs;
}

/** Every parameter of the backbone (no heads), in a stable order. */
export function backboneSpecs(c: TimeSformerConfig): ParamSpec[] {
  const D = c.dim;
  const p = c.patchSize;
  const fanIn = 3 * p * p;
  const specs: ParamSpec[] = [
    { name: `${PREFIX}cls_token`, shape: [1, 1, D], layout: "plain", init: "trunc_normal" },
    { name: `${PREFIX}pos_embed`, shape: [1, patchesPerFrame(c) + 1, D], layout: "plain", init: "trunc_normal" },
  ];
  if (ATTENTION[c.attention].timeEmbed) specs.push({ name: `${PREFIX}time_embed`, shape: [1, c.frames, D], layout: "plain", init: c.timeEmbedInit ?? "zeros" });
  specs.push(
    { name: `${PREFIX}patch_embed.proj.weight`, shape: [D, 3, p, p], layout: "conv", init: "conv_uniform", fanIn },
    { name: `${PREFIX}patch_embed.proj.bias`, shape: [D], layout: "plain", init: "conv_uniform", fanIn },
  );
  for (let i = 0; i < c.depth; i++) specs.push(...blockSpecs(c, i));
  specs.push(...normSpecs(`${PREFIX}norm`, D));
  return specs;
}

export function headSpecs(c: TimeSformerConfig, head: string): ParamSpec[] {
  const classes = c.classifiers[head];
  if (classes === undefined) throw new Error(`unknown head '${head}' (heads: ${Object.keys(c.classifiers).join(", ")})`);
  return [
    { name: headParamName(head, "weight"), shape: [classes, c.dim], layout: "linear", init: "trunc_normal" },
    { name: headParamName(head, "bias"), shape: [classes], layout: "plain", init: "zeros" },
  ];
}

export function allSpecs(c: TimeSformerConfig): ParamSpec[] {
  return [...backboneSpecs(c), ...Object.keys(c.classifiers).flatMap((h) => headSpecs(c, h))];
}

export function countParams(specs: ParamSpec[]): number {
  return specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
}

/** Shape of the tensor as stored internally. */
export function internalShape(spec: ParamSpec): number[] {
  const s = spec.shape;
  if (spec.layout === "linear") return [s[1], s[0]];
  if (spec.layout === "conv") return [s[2] * s[3] * s[1], s[0]];
  return s;
}

/** PyTorch layout -> internal layout. Conv [D, C, kh, kw] becomes rows ordered (kh, kw, C), matching patchify. */
export function toInternal(spec: ParamSpec, data: Float32Array): tf.Tensor {
  return tf.tidy(() => {
    const t = tf.tensor(data, spec.shape); // inside the tidy: the official-layout copy is freed once converted
    if (spec.layout === "linear") return tf.transpose(t);
    if (spec.layout === "conv") return tf.reshape(tf.transpose(t, [2, 3, 1, 0]), internalShape(spec));
    return t;
  });
}

/** Internal layout -> PyTorch layout. */
export function toOfficial(spec: ParamSpec, t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    if (spec.layout === "linear") return tf.transpose(t);
    if (spec.layout === "conv") {
      const [D, C, kh, kw] = spec.shape;
      return tf.transpose(tf.reshape(t, [kh, kw, C, D]), [3, 2, 0, 1]);
    }
    return tf.clone(t);
  });
}

/** [1, T, D]: sin(t w_i) in even and cos(t w_i) in odd channels, w_i = 10000^(-2i/D). */
function sinusoidal(shape: number[]): tf.Tensor {
  const [, T, D] = shape;
  const values = new Float32Array(T * D);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < D; c++) {
      const w = Math.pow(10000, -(2 * Math.floor(c / 2)) / D);
      values[t * D + c] = c % 2 === 0 ? Math.sin(t * w) : Math.cos(t * w);
    }
  }
  return tf.tensor(values, shape);
}

/** A freshly initialised tensor (internal layout) following the official init; deterministic for a seed. */
export function initialValue(spec: ParamSpec, seed: number): tf.Tensor {
  const shape = internalShape(spec);
  switch (spec.init) {
    case "zeros": return tf.zeros(shape);
    case "sinusoidal": return sinusoidal(shape);
    case "ones": return tf.ones(shape);
    case "trunc_normal": return tf.truncatedNormal(shape, 0, 0.02, "float32", seed);
    case "conv_uniform": {
      const bound = 1 / Math.sqrt(spec.fanIn ?? 1);
      return tf.randomUniform(shape, -bound, bound, "float32", seed);
    }
  }
}
