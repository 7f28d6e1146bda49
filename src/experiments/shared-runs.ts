/** Runs several experiments share (the cache trains each once per scale and seed). */
import { CachedRun } from "./run-cache";
import { coverRun, fromRun, imagePretrainRun, standardRun } from "./runs";
import { Role } from "./scales";
import type { ExperimentContext } from "./experiment";

/** Space-only pre-training on the images (Eq. 1), for the scale's model or its larger sibling. */
export function imagePretrain(ctx: ExperimentContext, large = false): Promise<CachedRun> {
  const config = imagePretrainRun(ctx.settings, ctx.seed);
  return ctx.cache.get(large ? { ...config, name: `${config.name}-large`, model: { ...ctx.settings.largeModel, attention: "space_only" } } : config);
}

/** The standard paradigm on one video dataset, from the image-pretrained spatial weights. */
export async function standard(ctx: ExperimentContext, role: Role): Promise<CachedRun> {
  const pre = await imagePretrain(ctx);
  return ctx.cache.get(standardRun(ctx.settings, role, ctx.seed, fromRun(pre.dir)));
}

/** COVER with the given loss weights (w_i of Sec. 3.3), from the image-pretrained spatial weights. */
export async function cover(ctx: ExperimentContext, weights: Partial<Record<Role, number>>, name?: string, large = false): Promise<CachedRun> {
  const pre = await imagePretrain(ctx, large);
  const config = coverRun(ctx.settings, weights, ctx.seed, fromRun(pre.dir), name);
  return ctx.cache.get(large ? { ...config, name: `${config.name}-large`, model: ctx.settings.largeModel } : config);
}

/** COVER on everything: the three video datasets and the images, each with weight 1. */
export const ALL: Partial<Record<Role, number>> = { appearance: 1, motion: 1, moments: 1, images: 1 };
