/**
 * The COVER paper's published numbers (Zhang et al. 2021), for the "paper" column beside the kit's results.
 * Top-1 accuracy in percent. Dataset keys are roles: appearance = Kinetics-400, motion = SSv2, moments = MiT,
 * images = ImageNet (the built-in stand-ins play the same roles at laptop scale).
 */
import type { Role } from "../runs/scales";

/** The paper's dataset in each role (its numbers are on these, never on the kit's stand-ins). */
export const PAPER_DATASETS: Record<Role, string> = { appearance: "K400", motion: "SSv2", moments: "MiT", images: "ImageNet" };

/** Table 2: TimeSformer trained with COVER, tested with frames in order and reversed. */
export const FRAME_REVERSAL = {
  appearance: { normal: 78.1, reversed: 78.0 },
  motion: { normal: 58.8, reversed: 22.6 },
};

/** Sec. 3.2: K400 features frozen, linear probe on SSv2. */
export const FROZEN_PROBE_MOTION = 19.5;

/** Fig. 3: transfer A -> B after COVER is better than after standard training by +0.4 to +2.0 points on every pair. */
export const TRANSFER_GAIN_RANGE = { min: 0.4, max: 2.0 };

/** Table 6: image loss weight sweep with w_video = 1 (ImageNet and SSv2 top-1; '-' = not trained on images). */
export const LOSS_WEIGHT_SWEEP: { imageWeight: number; images: number | null; motion: number }[] = [
  { imageWeight: 0, images: null, motion: 70.6 },
  { imageWeight: 0.5, images: 86.1, motion: 70.8 },
  { imageWeight: 0.75, images: 86.6, motion: 70.6 },
];

/** Fig. 4 / supplementary: large beats base by 2.1 to 5.2 points on every dataset. */
export const LARGE_GAIN_RANGE = { min: 2.1, max: 5.2 };

/** Table 5a: co-training ablation (K400 / SSv2 / MiT top-1). */
export const COTRAIN_ABLATION: { setting: string; datasets: Role[]; appearance: number | null; motion: number | null; moments: number | null }[] = [
  { setting: "independent", datasets: ["appearance", "motion", "moments"], appearance: 85.0, motion: 67.2, moments: 44.9 },
  { setting: "K+S", datasets: ["appearance", "motion"], appearance: 86.4, motion: 69.9, moments: null },
  { setting: "K+S+M", datasets: ["appearance", "motion", "moments"], appearance: 87.2, motion: 70.6, moments: 45.9 },
  { setting: "K+S+M+ImNet", datasets: ["appearance", "motion", "moments", "images"], appearance: 87.2, motion: 70.8, moments: 46.1 },
];

/** Table 1: standard training vs COVER, ImageNet-21k initialisation (K400, K600, SSv2). */
export const STANDARD_VS_COVER = {
  standard: { k400: 80.7, k600: 82.2, ssv2: 62.4 },
  cover: { k400: 83.1, k600: 84.5, ssv2: 64.7 },
};

/** Table 7: input setting 8x224 vs 16x448 on K400. */
export const INPUT_SETTING = { "8x224": 85.1, "16x448": 87.2 };
