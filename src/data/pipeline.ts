/**
 * A run's data: the splits of every dataset the run trains or evaluates on (built-in data generated on first use),
 * capped to the run's sample budget, decoded once into the frame cache, and served as deterministic mixed batches.
 */
import { RunConfig, runModelConfig } from "../train/run-config";
import type { RunData } from "../train/run-data";
import { BatchSource } from "./batches";
import { openSplit } from "./builtin";
import { cacheSizeForCrop, FrameCache, prepareCache } from "./frame-cache";
import { subsetSplit } from "./manifest";
import type { DatasetSplit } from "./types";

/** Decoded clips kept in memory (LRU) on top of the on-disk cache. */
const MEMORY_BYTES = 1 << 30;

export interface RunDataOptions {
  quiet?: boolean;
  /** Stops decoding into the frame cache (InterruptedError) when aborted. */
  signal?: AbortSignal;
}

export interface OpenedRunData extends RunData {
  /** Media that could not be decoded (skipped and counted, never fatal). */
  badFiles: { path: string; reason: string }[];
  /** Per training dataset: its clips and the frames the model sees of each (1 for images). */
  trainClips: Record<string, { clips: number; frames: number }>;
}

export async function openRunData(config: RunConfig, options: RunDataOptions = {}): Promise<OpenedRunData> {
  const model = runModelConfig(config.model);
  const trainNames = Object.keys(config.train);
  const evalNames = config.evaluate ?? trainNames;
  const silent = options.quiet === true;

  const train: Record<string, DatasetSplit> = {};
  const evaluation: Record<string, DatasetSplit> = {};
  for (const name of trainNames) {
    train[name] = capped(await openSplit(name, config.splits.train, { silent, checkMedia: true }), config.maxSamples?.train, config.seed);
  }
  for (const name of evalNames) {
    evaluation[name] = capped(await openSplit(name, config.splits.eval, { silent, checkMedia: true }), config.maxSamples?.eval, config.seed);
  }

  const cacheSize = config.input ? model.imageSize + 2 * config.input.cropJitter : cacheSizeForCrop(model.imageSize);
  // One cache per frame count: videos at the model's T, images as 1 frame.
  const caches = new Map<number, FrameCache>();
  const cacheFor = (split: DatasetSplit) => {
    const frames = split.kind === "image" ? 1 : model.frames;
    let cache = caches.get(frames);
    if (!cache) caches.set(frames, cache = new FrameCache({ frames, cacheSize, memoryBytes: MEMORY_BYTES }));
    return cache;
  };
  const splitOf = (dataset: string) => train[dataset] ?? evaluation[dataset];

  const badFiles: OpenedRunData["badFiles"] = [];
  for (const [label, split] of [...Object.entries(train).map(([n, s]) => [`${n}/${config.splits.train}`, s] as const),
    ...Object.entries(evaluation).map(([n, s]) => [`${n}/${config.splits.eval}`, s] as const)]) {
    const report = await prepareCache(cacheFor(split), split.samples, { label: `decode ${label}`, silent, signal: options.signal });
    badFiles.push(...report.bad);
  }
  if (badFiles.length && !silent) console.error(`data: ${badFiles.length} media file(s) could not be decoded and are skipped, e.g. ${badFiles[0].path}: ${badFiles[0].reason}`);

  const source = new BatchSource({
    train, eval: evaluation, size: model.imageSize, batchSize: config.optim.batchSize, seed: config.seed,
    ...(config.sampling && { weights: config.sampling }),
    ...(config.input && { evalShortSide: cacheSize }),
    frameSource: (dataset, sample) => cacheFor(splitOf(dataset)).get(sample),
    skipBadSamples: true,
  });
  return {
    classes: source.classes,
    microBatchesPerEpoch: source.microBatchesPerEpoch,
    trainBatches: (start) => source.trainBatches(start),
    evalSize: (dataset) => source.evalSize(dataset),
    evalBatches: (dataset, views) => source.evalBatches(dataset, views),
    normalization: (dataset) => source.normalization(dataset),
    close: () => source.close(),
    badFiles,
    trainClips: Object.fromEntries(Object.entries(train).map(([name, split]) => [name, { clips: split.samples.length, frames: cacheFor(split).frames }])),
  };
}

/** A class-balanced seeded subset when the run caps its samples (small-scale runs). */
function capped(split: DatasetSplit, max: number | undefined, seed: number): DatasetSplit {
  return max === undefined ? split : subsetSplit(split, max, seed);
}
