/**
 * The training runs experiments are made of, as RunConfig factories: image pre-training (space_only, Eq. 1),
 * standard fine-tuning on one video dataset, COVER co-training, a frozen-feature probe and full fine-tuning transfer.
 */
import { InitSpec, RunConfig } from "./config";
import { Role, Scale, ScaleSettings, scaleSettings } from "./scales";

function base(s: ScaleSettings, name: string, seed: number): Omit<RunConfig, "train" | "init"> {
  return {
    name, seed, model: s.model, splits: s.splits, optim: s.optim, evalViews: s.evalViews,
    checkpointEvery: s.checkpointEvery, ...(s.maxSamples && { maxSamples: s.maxSamples }), ...(s.input && { input: s.input }),
  };
}

/** Spatial weights learned on images with the temporal layers removed (space_only), Eq. 1. */
export function imagePretrainRun(s: ScaleSettings, seed: number): RunConfig {
  return {
    ...base(s, "image-pretrain", seed),
    model: { ...s.model, attention: "space_only" },
    train: { [s.datasets.images]: 1 },
    init: { from: "scratch" },
    optim: { ...s.optim, epochs: s.pretrainEpochs },
  };
}

/** The scale's image pre-training for a run's seed and model: the run the experiments use when the model is the scale's. */
export function imagePretrainFor(run: RunConfig, scale: Scale): RunConfig {
  const config = imagePretrainRun(scaleSettings(scale), run.seed);
  return { ...config, model: { ...run.model, attention: "space_only" } };
}

/** The standard paradigm: image-pretrained spatial weights, then every parameter on one video dataset. */
export function standardRun(s: ScaleSettings, role: Role, seed: number, init: InitSpec): RunConfig {
  return { ...base(s, `standard-${role}`, seed), train: { [s.datasets[role]]: 1 }, init };
}

/** COVER: one model, a head per dataset, loss = sum_i w_i CE_i over the mixture (Sec. 3.3). */
export function coverRun(s: ScaleSettings, lossWeights: Partial<Record<Role, number>>, seed: number, init: InitSpec, name?: string): RunConfig {
  const train: Record<string, number> = {};
  for (const [role, w] of Object.entries(lossWeights) as [Role, number][]) train[s.datasets[role]] = w;
  const label = name ?? `cover-${Object.entries(lossWeights).map(([r, w]) => (w === 1 ? r : `${r}${w}`)).join("+")}`;
  return { ...base(s, label, seed), train, init };
}

/** Frozen backbone from `fromDir`, a new head trained on `role` (linear probe, Sec. 3.2). */
export function probeRun(s: ScaleSettings, role: Role, seed: number, fromDir: string, fromName: string): RunConfig {
  return { ...base(s, `probe-${fromName}-to-${role}`, seed), train: { [s.datasets[role]]: 1 }, init: { from: "run", dir: fromDir }, freezeBackbone: true };
}

/** Full fine-tuning transfer A -> B (Fig. 3). */
export function finetuneRun(s: ScaleSettings, role: Role, seed: number, fromDir: string, fromName: string): RunConfig {
  return { ...base(s, `finetune-${fromName}-to-${role}`, seed), train: { [s.datasets[role]]: 1 }, init: { from: "run", dir: fromDir } };
}

export const fromRun = (dir: string): InitSpec => ({ from: "run", dir });
export const SCRATCH: InitSpec = { from: "scratch" };
