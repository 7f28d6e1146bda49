/** Runs several experiments share (the cache trains each once per scale and seed). */
import type { ModelSpec, RunConfig } from "../runs/config";
import { CachedRun } from "../runs/cache";
import { coverRun, fromRun, imagePretrainRun, standardRun } from "../runs/factories";
import { Role } from "../runs/scales";
import type { ExperimentContext } from "./experiment";

/**
 * Another model than the scale's (a larger one, another input setting): its runs carry `suffix` in their names and,
 * with `baseLr`, train at that peak learning rate instead of the scale's. With `scalePretraining` they start from the
 * scale's model's image pre-training (the same architecture at another input; pos_embed resized on loading) instead of
 * pre-training their own.
 */
export interface ModelVariant { suffix: string; model: ModelSpec; baseLr?: number; scalePretraining?: boolean }

/** The scale's larger model at its own learning rate (base-vs-large, Fig. 4). */
export const largeVariant = (ctx: ExperimentContext): ModelVariant =>
  ({ suffix: "large", model: ctx.settings.largeModel, baseLr: ctx.settings.largeBaseLr });

/** A run of the scale's model as the variant's: its name, its model (space-only pre-training stays so), its rate. */
function asVariant(config: RunConfig, variant: ModelVariant | undefined): RunConfig {
  if (!variant) return config;
  const model: ModelSpec = config.model.attention === "space_only" ? { ...variant.model, attention: "space_only" } : variant.model;
  const optim = variant.baseLr === undefined ? config.optim : { ...config.optim, schedule: { ...config.optim.schedule, baseLr: variant.baseLr } };
  return { ...config, name: `${config.name}-${variant.suffix}`, model, optim };
}

/** Space-only pre-training on the images (Eq. 1), for the scale's model or a variant. */
export function imagePretrain(ctx: ExperimentContext, variant?: ModelVariant): Promise<CachedRun> {
  return ctx.cache.get(asVariant(imagePretrainRun(ctx.settings, ctx.seed), variant?.scalePretraining ? undefined : variant));
}

/** The standard paradigm on one video dataset, from the image-pretrained spatial weights. */
export async function standard(ctx: ExperimentContext, role: Role, variant?: ModelVariant): Promise<CachedRun> {
  const pre = await imagePretrain(ctx, variant);
  return ctx.cache.get(asVariant(standardRun(ctx.settings, role, ctx.seed, fromRun(pre.dir)), variant));
}

/** COVER with the given loss weights (w_i of Sec. 3.3; `mixOf` gives the scale's), from the image-pretrained spatial weights. */
export async function cover(ctx: ExperimentContext, weights: Partial<Record<Role, number>>, name?: string, variant?: ModelVariant): Promise<CachedRun> {
  const pre = await imagePretrain(ctx, variant);
  return ctx.cache.get(asVariant(coverRun(ctx.settings, weights, ctx.seed, fromRun(pre.dir), name), variant));
}

