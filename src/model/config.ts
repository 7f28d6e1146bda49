/**
 * TimeSformer configurations and named presets (timm-style registry: `base`, `large`, and small ones for CPUs).
 * Dimensions follow the official code (facebookresearch/TimeSformer, vit.py).
 */
import { z } from "zod";
import { expect } from "../util/schema";

/** Official attention schemes: divided space-time (the default), per-frame ViT, and joint attention over all tokens. */
export const ATTENTION_TYPES = ["divided_space_time", "space_only", "joint_space_time"] as const;
export type AttentionType = typeof ATTENTION_TYPES[number];

/** The parameters a scheme adds to a per-frame ViT: the temporal branch of each block, the time embedding. */
export interface AttentionTraits { temporalBranch: boolean; timeEmbed: boolean }

/** One entry per scheme: the parameter list, checkpoint inflation and architecture inference all read this table. */
export const ATTENTION: Record<AttentionType, AttentionTraits> = {
  divided_space_time: { temporalBranch: true, timeEmbed: true },
  joint_space_time: { temporalBranch: false, timeEmbed: true },
  space_only: { temporalBranch: false, timeEmbed: false },
};

export const isAttentionType = (x: unknown): x is AttentionType => (ATTENTION_TYPES as readonly unknown[]).includes(x);

/** The scheme with these parameters, or undefined when none has them (e.g. a temporal branch without time embedding). */
export function attentionWith(traits: AttentionTraits): AttentionType | undefined {
  return ATTENTION_TYPES.find((a) => ATTENTION[a].temporalBranch === traits.temporalBranch && ATTENTION[a].timeEmbed === traits.timeEmbed);
}

export const TIME_EMBED_INITS = ["zeros", "trunc_normal", "sinusoidal"] as const;

export interface TimeSformerConfig {
  attention: AttentionType;
  /** Input frames the time embedding was built for; other frame counts resize it (nearest), 1 = an image. */
  frames: number;
  imageSize: number;
  patchSize: number;
  /** Embedding width D. */
  dim: number;
  depth: number;
  /** Attention heads per layer. */
  numHeads: number;
  mlpRatio: number;
  /** One classification head per dataset: name -> number of classes (COVER: a head per dataset). */
  classifiers: Record<string, number>;
  /** Stochastic depth: the rate grows linearly from 0 at the first block to this at the last, as the official code. */
  dropPath: number;
  /**
   * time_embed's initial value: zeros as the official code (default), or trunc_normal(0.02) like pos_embed. At zero, a
   * clip and its time reversal give the same output, so classes that differ only in time order start on a symmetric
   * saddle that a short from-scratch run may not leave; a random start breaks the symmetry from step 0, the sinusoidal
   * frame-index encoding (Vaswani et al. 2017) breaks it strongly (unit amplitude) and is learned from there.
   */
  timeEmbedInit?: typeof TIME_EMBED_INITS[number];
}

/**
 * A config stored as JSON (the metadata of weights and checkpoints): every field checked, unknown keys refused, so
 * that nothing below computes with NaN or undefined. Shapes that fit the tensors are checked by the loader.
 */
export const TIMESFORMER_CONFIG: z.ZodType<TimeSformerConfig, z.ZodTypeDef, unknown> = z.object({
  attention: expect.oneOf(ATTENTION_TYPES),
  frames: expect.positiveInt(),
  imageSize: expect.positiveInt(),
  patchSize: expect.positiveInt(),
  dim: expect.positiveInt(),
  depth: expect.positiveInt(),
  numHeads: expect.positiveInt(),
  mlpRatio: expect.positive(),
  classifiers: z.record(expect.positiveInt()),
  dropPath: expect.nonNegative(),
  timeEmbedInit: expect.oneOf(TIME_EMBED_INITS).optional(),
}).strict();

export type ArchitecturePreset = Pick<TimeSformerConfig, "dim" | "depth" | "numHeads" | "mlpRatio" | "patchSize" | "imageSize" | "frames">;

export const PRESETS: Record<string, ArchitecturePreset> = {
  /** TimeSformer-Base (ViT-B/16): 121.6 M parameters at 8x224 with 400 classes. */
  base: { dim: 768, depth: 12, numHeads: 12, mlpRatio: 4, patchSize: 16, imageSize: 224, frames: 8 },
  /** TimeSformer-Large (ViT-L/16), as in COVER's Fig. 4. */
  large: { dim: 1024, depth: 24, numHeads: 16, mlpRatio: 4, patchSize: 16, imageSize: 224, frames: 8 },
  /** CPU presets for the built-in 32x32 data; `small` vs `tiny` plays the base-vs-large comparison at laptop scale. */
  small: { dim: 192, depth: 6, numHeads: 6, mlpRatio: 4, patchSize: 8, imageSize: 32, frames: 8 },
  tiny: { dim: 128, depth: 4, numHeads: 4, mlpRatio: 4, patchSize: 8, imageSize: 32, frames: 8 },
  /** For unit tests: trains in well under a second per step on wasm. */
  micro: { dim: 32, depth: 2, numHeads: 2, mlpRatio: 2, patchSize: 8, imageSize: 16, frames: 4 },
};

export function presetNames(): string[] { return Object.keys(PRESETS); }

/** A full config from a preset name plus overrides; unknown presets and impossible shapes fail with a clear message. */
export function modelConfig(preset: string, overrides: Partial<TimeSformerConfig> = {}): TimeSformerConfig {
  const base = PRESETS[preset];
  if (!base) throw new Error(`unknown model preset '${preset}' (known: ${presetNames().join(", ")})`);
  const config: TimeSformerConfig = {
    attention: "divided_space_time",
    classifiers: { default: 400 },
    dropPath: 0,
    ...base,
    ...overrides,
  };
  validateConfig(config);
  return config;
}

export function validateConfig(c: TimeSformerConfig): void {
  const problems: string[] = [];
  if (c.imageSize % c.patchSize !== 0) problems.push(`imageSize ${c.imageSize} is not a multiple of patchSize ${c.patchSize}`);
  if (c.dim % c.numHeads !== 0) problems.push(`dim ${c.dim} is not divisible by numHeads ${c.numHeads}`);
  if (c.frames < 1) problems.push(`frames must be >= 1, got ${c.frames}`);
  if (c.depth < 1) problems.push(`depth must be >= 1, got ${c.depth}`);
  if (Object.keys(c.classifiers).length === 0) problems.push("at least one classifier head is needed");
  for (const [name, n] of Object.entries(c.classifiers)) {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) problems.push(`head name '${name}' must be letters, digits, '-' or '_'`);
    if (!(Number.isInteger(n) && n > 0)) problems.push(`head '${name}' needs a positive class count, got ${n}`);
  }
  if (!(c.dropPath >= 0 && c.dropPath < 1)) problems.push(`dropPath must be in [0, 1), got ${c.dropPath}`);
  if (problems.length) throw new Error(`invalid TimeSformer config: ${problems.join("; ")}`);
}

export function patchesPerFrame(c: Pick<TimeSformerConfig, "imageSize" | "patchSize">): number {
  return (c.imageSize / c.patchSize) ** 2;
}
