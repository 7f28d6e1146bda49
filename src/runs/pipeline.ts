/**
 * A run's data: the splits of every dataset the run trains or evaluates on (built-in data generated on first use),
 * capped to the run's sample budget, decoded once into the frame cache, and served as deterministic mixed batches.
 */
import { availableParallelism } from "node:os";
import { RunConfig, runModelConfig } from "./config";
import type { BadMediaFile, RunData } from "./data";
import { BatchSource } from "../data/batches";
import { openSplit } from "../data/builtin";
import { cacheSizeForCrop, FrameCache, prepareCache } from "../data/frame-cache";
import { PrepareInChild, PrepareTask } from "../data/prepare-in-child";
import { subsetSplit } from "../data/manifest";
import type { DatasetSplit, Sample } from "../data/types";
import { throwIfStopped } from "../util/interrupt";
import { createProgress, Progress } from "../util/progress";

/** Decoded clips kept in memory (LRU) on top of the on-disk cache. */
const MEMORY_BYTES = 1 << 30;

export interface RunDataOptions {
  quiet?: boolean;
  /** Stops decoding into the frame cache (InterruptedError) when aborted. */
  signal?: AbortSignal;
  /**
   * Decode the evaluation clips in a background process while the run trains (PrepareInChild), instead of all
   * clips before the first step; the first evaluation stops it and decodes what is left with every core. Splits
   * capped by maxSamples (small runs) are decoded first as before.
   */
  decodeEvalWhileTraining?: boolean;
}

export interface OpenedRunData extends RunData {
  /** Media that are missing, cannot be decoded or give unusable frames (skipped and counted, never fatal). */
  badFiles(): BadMediaFile[];
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
    train[name] = capped(await openSplit(name, config.splits.train, { silent, checkMedia: true, signal: options.signal }), config.maxSamples?.train, config.seed);
  }
  for (const name of evalNames) {
    evaluation[name] = capped(await openSplit(name, config.splits.eval, { silent, checkMedia: true, signal: options.signal }), config.maxSamples?.eval, config.seed);
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

  const splits = [...Object.entries(train).map(([n, s]) => [n, s] as const), ...Object.entries(evaluation).map(([n, s]) => [n, s] as const)];
  const bad = new BadFileList(splits);
  bad.addMissing();
  const inBackground = (name: string, split: DatasetSplit) => options.decodeEvalWhileTraining === true && evaluation[name] === split && config.maxSamples?.eval === undefined;
  const prepare = async (name: string, split: DatasetSplit, quietly = silent) => {
    const report = await prepareCache(cacheFor(split), split.samples, { label: `decode ${name}/${split.split}`, silent: quietly, signal: options.signal });
    for (const b of report.bad) bad.add(name, b.path, "undecodable", b.reason, split);
  };
  const taskOf = (name: string, split: DatasetSplit): PrepareTask => {
    const cache = cacheFor(split);
    return { dataset: name, split: split.split, frames: cache.frames, cacheSize: cache.cacheSize, cacheDir: cache.dir };
  };
  // Decoded before the first step: in a child process where it is worth one (the splits a child can open as they are,
  // i.e. not capped to a subset), then here, which finds those clips cached, reports the bad ones and decodes the rest.
  const now = splits.filter(([name, split]) => !inBackground(name, split));
  const childCanOpen = ([name, split]: readonly [string, DatasetSplit]) => config.maxSamples?.[evaluation[name] === split ? "eval" : "train"] === undefined;
  const childParts = now.filter(childCanOpen).map(([name, split]) => ({ label: `decode ${name}/${split.split}`, samples: split.samples, cache: cacheFor(split), task: taskOf(name, split) }));
  const decodedInChild = await decodeInChild(childParts, silent, options.signal);
  for (const part of now) await prepare(part[0], part[1], silent || (decodedInChild && childCanOpen(part)));
  const later = splits.filter(([name, split]) => inBackground(name, split));
  const background = later.length ? new PrepareInChild(later.map(([name, split]) => taskOf(name, split)), { lowPriority: true, jobs: Math.max(1, availableParallelism() - 1) }) : undefined;
  if (background && !silent) console.error(`data: decoding the evaluation clips of ${later.map(([name]) => name).join(", ")} in the background while training`);
  // Before the first evaluation: stop the background (if still at work) and decode what it left with every core; the
  // clips it cached are skipped, and its bad files are reported here as in the foreground.
  let finished: Promise<void> | undefined;
  const finishBackground = () => finished ??= (async () => {
    if (!background) return;
    await background.stop();
    for (const [name, split] of later) await prepare(name, split);
  })();
  if (bad.size() && !silent) {
    const first = bad.list()[0];
    console.error(`data: ${bad.size()} media file(s) are missing or cannot be decoded and are skipped, e.g. ${first.path}: ${first.reason}`);
  }

  const source = new BatchSource({
    train, eval: evaluation, size: model.imageSize, batchSize: config.optim.batchSize, seed: config.seed,
    ...(config.sampling && { weights: config.sampling }),
    ...(config.input && { evalShortSide: cacheSize }),
    frameSource: (dataset, sample) => cacheFor(splitOf(dataset)).get(sample),
    skipBadSamples: true,
    expectedFrames: (dataset) => cacheFor(splitOf(dataset)).frames,
  });
  const badFiles = (): BadMediaFile[] => {
    for (const b of source.badSamples) bad.add(b.dataset, b.path, /frames/.test(b.reason) ? "unusable" : "undecodable", b.reason);
    return bad.list();
  };
  return {
    classes: source.classes,
    microBatchesPerEpoch: source.microBatchesPerEpoch,
    trainBatches: (start) => source.trainBatches(start),
    evalSize: (dataset) => source.evalSize(dataset),
    evalBatches: (dataset, views) => after(finishBackground, () => source.evalBatches(dataset, views)),
    normalization: (dataset) => source.normalization(dataset),
    close: async () => { await Promise.all([background?.stop(), source.close()]); },
    badFiles,
    trainClips: Object.fromEntries(Object.entries(train).map(([name, split]) => [name, { clips: split.samples.length, frames: cacheFor(split).frames }])),
  };
}

/** Fewer clips to decode than this are decoded in this process: a child costs about a second to start. */
const CHILD_MIN_CLIPS = 64;

interface ChildPart { label: string; samples: Sample[]; cache: FrameCache; task: PrepareTask }

/**
 * Decodes the clips of `parts` still missing from the frame cache in a small child process (PrepareInChild: spawning
 * ffmpeg from this process, which may hold TensorFlow and a model, costs about four times as much), its progress shown
 * here. True when the child finished every part; false when there was too little to decode or the child failed (said
 * unless silent), and the caller decodes here. Stopped with `signal` (InterruptedError; what is decoded stays cached).
 */
async function decodeInChild(parts: ChildPart[], silent: boolean, signal?: AbortSignal): Promise<boolean> {
  const missing = parts.reduce((n, p) => n + p.samples.filter((s) => p.cache.needsDecoding(s)).length, 0);
  if (missing < CHILD_MIN_CLIPS) return false;
  throwIfStopped(signal, "decoding stopped; what is decoded stays cached");
  // A part's progress line starts when the child starts that part (they are decoded one after another).
  const progress = new Map<number, Progress>();
  const shown = parts.map(() => 0);
  const child = new PrepareInChild(parts.map((p) => p.task), {
    onProgress: (task, done, bad) => {
      let line = progress.get(task);
      if (!line) progress.set(task, line = createProgress({ label: parts[task].label, total: parts[task].samples.length, unit: "clip", silent }));
      line.tick(done - shown[task], { bad });
      shown[task] = done;
      if (done === parts[task].samples.length) line.done();
    },
  });
  const stop = () => { void child.stop(); };
  signal?.addEventListener("abort", stop, { once: true });
  const outcome = await child.done().finally(() => signal?.removeEventListener("abort", stop));
  for (const line of progress.values()) line.done();
  throwIfStopped(signal, "decoding stopped; what is decoded stays cached");
  if (!outcome.ok && !silent) console.error(`data: decoding in a child process failed (${outcome.reason}); decoding here instead`);
  return outcome.ok;
}

/**
 * The bad and missing media files of a run, each once (a file that fails at decode time fails again at every
 * load), with the split and annotation line that listed it.
 */
class BadFileList {
  private readonly files = new Map<string, BadMediaFile>();
  /** Per training or evaluation split (by the run's dataset name): its samples by media path. */
  private readonly splits: { dataset: string; split: DatasetSplit; byPath: Map<string, Sample> }[];

  constructor(splits: (readonly [string, DatasetSplit])[]) {
    this.splits = splits.map(([dataset, split]) => ({ dataset, split, byPath: new Map(split.samples.map((s) => [s.path, s])) }));
  }

  size(): number { return this.files.size; }
  list(): BadMediaFile[] { return [...this.files.values()]; }

  /** The files the splits' annotations list that are missing (or lie outside the media root). */
  addMissing(): void {
    for (const { dataset, split } of this.splits) {
      for (const p of split.problems) {
        if (p.kind !== "missing-media" && p.kind !== "outside-media-root") continue;
        this.put({ dataset, split: split.split, path: p.path ?? p.message, ...(p.source && { source: `${p.source.file}:${p.source.line}` }), kind: "missing", reason: p.message });
      }
    }
  }

  /** A file of `dataset` that failed; `split` when known, else the first of the dataset's splits that lists it. */
  add(dataset: string, path: string, kind: BadMediaFile["kind"], reason: string, split?: DatasetSplit): void {
    const entry = this.splits.find((e) => e.dataset === dataset && (split ? e.split === split : e.byPath.has(path)));
    const sample = entry?.byPath.get(path);
    this.put({
      dataset, split: entry?.split.split ?? split?.split ?? "?", path, ...(sample && { source: `${sample.source.file}:${sample.source.line}` }),
      kind: /no such file|ENOENT/.test(reason) ? "missing" : kind, reason,
    });
  }

  private put(file: BadMediaFile): void {
    const key = `${file.dataset}\0${file.split}\0${file.path}`;
    if (!this.files.has(key)) this.files.set(key, file);
  }
}

/** `batches` once `first` has resolved (the generator starts on its first `next()`, when evaluation begins). */
async function* after<T>(first: () => Promise<void>, batches: () => AsyncGenerator<T>): AsyncGenerator<T> {
  await first();
  yield* batches();
}

/** A class-balanced seeded subset when the run caps its samples (small-scale runs). */
function capped(split: DatasetSplit, max: number | undefined, seed: number): DatasetSplit {
  return max === undefined ? split : subsetSplit(split, max, seed);
}
