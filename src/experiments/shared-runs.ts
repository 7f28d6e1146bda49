/** Runs several experiments share (the cache trains each once per scale and seed). */
import type { ModelSpec } from "../runs/config";
import { CachedRun } from "../runs/cache";
import { coverRun, fromRun, imagePretrainRun, standardRun } from "../runs/factories";
import { Role } from "../runs/scales";
import type { ExperimentContext } from "./experiment";

/** Another model than the scale's (a larger one, another input setting): its runs carry `suffix` in their names. */
export interface ModelVariant { suffix: string; model: ModelSpec }

/** The scale's larger model (base-vs-large, Fig. 4). */
export const largeVariant = (ctx: ExperimentContext): ModelVariant => ({ suffix: "large", model: ctx.settings.largeModel });

/** Space-only pre-training on the images (Eq. 1), for the scale's model or a variant. */
export function imagePretrain(ctx: ExperimentContext, variant?: ModelVariant): Promise<CachedRun> {
  const config = imagePretrainRun(ctx.settings, ctx.seed);
  return ctx.cache.get(variant ? { ...config, name: `${config.name}-${variant.suffix}`, model: { ...variant.model, attention: "space_only" } } : config);
}

/** The standard paradigm on one video dataset, from the image-pretrained spatial weights. */
export async function standard(ctx: ExperimentContext, role: Role, variant?: ModelVariant): Promise<CachedRun> {
  const pre = await imagePretrain(ctx, variant);
  const config = standardRun(ctx.settings, role, ctx.seed, fromRun(pre.dir));
  return ctx.cache.get(variant ? { ...config, name: `${config.name}-${variant.suffix}`, model: variant.model } : config);
}

/** COVER with the given loss weights (w_i of Sec. 3.3; `mixOf` gives the scale's), from the image-pretrained spatial weights. */
export async function cover(ctx: ExperimentContext, weights: Partial<Record<Role, number>>, name?: string, variant?: ModelVariant): Promise<CachedRun> {
  const pre = await imagePretrain(ctx, variant);
  const config = coverRun(ctx.settings, weights, ctx.seed, fromRun(pre.dir), name);
  return ctx.cache.get(variant ? { ...config, name: `${config.name}-${variant.suffix}`, model: variant.model } : config);
}

