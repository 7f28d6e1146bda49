/**
 * From sampler picks to model inputs. A batch is grouped per dataset, because clips of different datasets may have a
 * different number of frames (images are 1-frame clips) and each dataset has its own head:
 *   { groups: [{ dataset, x: float32 [n, T, S, S, 3], shape, labels }] }.
 * Frames come from an injected `FrameSource` (the frame cache), loaded in the background: while the trainer works on
 * batch k, batches k+1..k+K are being read, with at most `concurrency` clips in flight. Training views are random
 * crops/flips drawn from a generator seeded by (seed, batch, clip), so batch k is the same whether or not the run was
 * resumed. A sample that fails to load raises an error naming its file, or is skipped and counted with `skipBadSamples`.
 */
import { evalViews, EvalViews, Normalization, TIMESFORMER_NORM, trainView, viewCount, viewLength } from "./augment";
import { flipLabelMap } from "./manifest";
import { MixtureConfig, MixtureSampler, Pick } from "./mixture";
import type { DatasetSplit, Frames, Sample } from "./types";
import { deriveSeed, Rng } from "../util/rng";
import { MediaError } from "./video";

/** Loads the frames of one sample (uint8 [T, H, W, 3]); the frame cache provides it. */
export type FrameSource = (dataset: string, sample: Sample) => Promise<Frames>;

export type Shape5 = [number, number, number, number, number];

/** The clips of one dataset within a batch: x is float32 [n, T, S, S, 3]. */
export interface BatchGroup { dataset: string; x: Float32Array; shape: Shape5; labels: Int32Array }
export interface Batch { groups: BatchGroup[] }

/** Evaluation views of n clips: x is float32 [n * views, T, S, S, 3], clip-major (clip 0's views first). */
/** `ids`: the sample ids of the clips in the batch, in order (bad clips left out). */
export interface EvalBatch { x: Float32Array; shape: Shape5; views: number; labels: Int32Array; ids: string[] }

/** A sample that could not be loaded (or had unusable frames); `reason` is the cause alone, `message` names the file too. */
export interface BadSample { dataset: string; path: string; source: string; message: string; reason: string }

/** A sample failed to load: the message names the media file and the annotation line it came from. */
export class SampleError extends Error {
  constructor(readonly dataset: string, readonly sample: Sample, cause: unknown) {
    super(`${dataset}: ${sample.path} (${sample.source.file}:${sample.source.line}): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export interface BatchSourceOptions {
  /** Training splits by dataset name (the names of the heads). */
  train: Record<string, DatasetSplit>;
  /** Evaluation splits by dataset name. */
  eval?: Record<string, DatasetSplit>;
  frameSource: FrameSource;
  /** Crop size S. */
  size: number;
  /** Clips per training micro-batch. */
  batchSize: number;
  /** Clips per evaluation batch (each yields 1 or 3 views); default batchSize. */
  evalBatchSize?: number;
  seed: number;
  /** Dataset sampling weights (default: proportional to size). */
  weights?: Record<string, number>;
  /** Micro-batches per epoch (default: sum of training sizes / batchSize). */
  batchesPerEpoch?: number;
  /** How a batch's clips are spread over the datasets (see MixtureConfig.allocation); default "random". */
  allocation?: MixtureConfig["allocation"];
  /** Short side evaluation frames are resized to before cropping (default S; see evalViewBoxes). */
  evalShortSide?: number;
  /** Short-side scale jitter for training crops, as multiples of S (see augment.ts). */
  scale?: [number, number];
  norm?: Normalization;
  /** Batches loaded ahead of the one being consumed (default 2). */
  prefetch?: number;
  /** Clips loaded at once (default 4). */
  concurrency?: number;
  /** Skip and count samples that fail to load instead of throwing. */
  skipBadSamples?: boolean;
  /**
   * Frames per clip of a dataset (video: T, images: 1); a clip with another count is a bad sample. Default: the most
   * common count among the dataset's clips in the batch.
   */
  expectedFrames?: (dataset: string) => number | undefined;
}

export class BatchSource {
  readonly classes: Record<string, string[]>;
  readonly microBatchesPerEpoch: number;
  /** Samples skipped so far (only with skipBadSamples). */
  readonly badSamples: BadSample[] = [];
  private readonly sampler: MixtureConfig;
  private readonly flipMaps: Record<string, Int32Array | null> = {};
  private readonly limiter: Limiter;
  private closed = false;

  constructor(private readonly options: BatchSourceOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new Error(`batches: size must be a positive integer, got ${options.size}`);
    const prefetch = options.prefetch ?? 2;
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new Error(`batches: prefetch must be a non-negative integer, got ${prefetch}`);
    this.classes = {};
    for (const [name, split] of [...Object.entries(options.eval ?? {}), ...Object.entries(options.train)]) this.classes[name] = split.classes;
    for (const [name, split] of Object.entries(options.train)) {
      const unlabelled = split.samples.find((s) => s.label < 0);
      if (unlabelled) throw new Error(`batches: training split '${split.split}' of '${name}' has unlabelled samples (${unlabelled.source.file}:${unlabelled.source.line})`);
      this.flipMaps[name] = flipLabelMap(split.flip, split.classes, name);
    }
    this.sampler = {
      datasets: Object.fromEntries(Object.entries(options.train).map(([n, s]) => [n, s.samples.length])),
      weights: options.weights, batchSize: options.batchSize, seed: options.seed, batchesPerEpoch: options.batchesPerEpoch,
      allocation: options.allocation,
    };
    this.microBatchesPerEpoch = Object.keys(options.train).length ? new MixtureSampler(this.sampler).batchesPerEpoch : 0;
    this.limiter = new Limiter(options.concurrency ?? 4);
  }

  /** Mixed training micro-batches from number `start` on, endlessly (epochs roll over); prefetched in the background. */
  trainBatches(start = 0): AsyncGenerator<Batch> {
    const sampler = MixtureSampler.atBatch(this.sampler, start);
    let k = start;
    return this.prefetched(() => {
      const index = k++;
      return this.loadTrainBatch(index, sampler.next());
    }, Infinity);
  }

  /** Clips in an evaluation split. */
  evalSize(dataset: string): number { return this.evalSplit(dataset).samples.length; }

  /** The evaluation split in order, `views` views per clip (1 centre crop, or 3 crops along the long side). */
  evalBatches(dataset: string, views: EvalViews): AsyncGenerator<EvalBatch> {
    const split = this.evalSplit(dataset);
    const unlabelled = split.samples.find((s) => s.label < 0);
    if (unlabelled) throw new Error(`batches: evaluation split '${split.split}' of '${dataset}' has unlabelled samples (${unlabelled.source.file}:${unlabelled.source.line})`);
    const n = this.options.evalBatchSize ?? this.options.batchSize;
    let next = 0;
    const count = Math.ceil(split.samples.length / n);
    return this.prefetched(() => {
      const chunk = split.samples.slice(next, next + n);
      next += n;
      return this.loadEvalBatch(dataset, chunk, views);
    }, count);
  }

  /** The normalisation a dataset's views get (what a model trained on them must be fed at prediction time). */
  normalization(dataset: string): Normalization {
    const split = this.options.eval?.[dataset] ?? this.options.train[dataset];
    if (!split) throw new Error(`batches: no dataset '${dataset}'`);
    return this.normOf(split) ?? TIMESFORMER_NORM;
  }

  /** Stops background loading (batches already in flight finish and are dropped). */
  async close(): Promise<void> { this.closed = true; }

  /** The dataset's own normalisation (from its manifest), else the source's, else TimeSformer's default. */
  private normOf(split: DatasetSplit): Normalization | undefined {
    return split.normalization ?? this.options.norm;
  }

  private evalSplit(dataset: string): DatasetSplit {
    const split = this.options.eval?.[dataset];
    if (!split) throw new Error(`batches: no evaluation split for dataset '${dataset}' (have: ${Object.keys(this.options.eval ?? {}).join(", ") || "none"})`);
    return split;
  }

  /** Runs `load` for batches in order, keeping `prefetch` more of them loading while the consumer works on one. */
  private async *prefetched<T>(load: () => Promise<T>, count: number): AsyncGenerator<T> {
    const ahead = this.options.prefetch ?? 2;
    const queue: Promise<T>[] = [];
    let started = 0;
    const fill = (size: number) => {
      while (!this.closed && queue.length < size && started < count) {
        const p = load();
        p.catch(() => undefined); // awaited later; do not report it as unhandled meanwhile
        queue.push(p);
        started++;
      }
    };
    while (!this.closed) {
      fill(1);
      const next = queue.shift();
      if (!next) return;
      fill(ahead);
      yield await next;
    }
  }

  private async loadTrainBatch(k: number, picks: Pick[]): Promise<Batch> {
    const samples = picks.map((p) => this.options.train[p.dataset].samples[p.index]);
    const frames = await Promise.all(picks.map((p, i) => this.loadFrames(p.dataset, samples[i])));
    const byDataset = new Map<string, number[]>();
    for (const name of Object.keys(this.options.train).sort()) byDataset.set(name, []);
    frames.forEach((f, i) => { if (f) byDataset.get(picks[i].dataset)!.push(i); });
    const S = this.options.size;
    const groups: BatchGroup[] = [];
    for (const [dataset, loaded] of byDataset) {
      const { T, kept: clips } = this.sameFrameCount(dataset, loaded, (i) => [samples[i], frames[i]!]);
      if (clips.length === 0) continue;
      const per = viewLength(T, S);
      const x = new Float32Array(clips.length * per);
      const labels = new Int32Array(clips.length);
      clips.forEach((i, j) => {
        const rng = new Rng(deriveSeed(this.options.seed, "augment", k, i));
        const view = trainView(frames[i]!, samples[i].label, rng,
          { size: S, flipMap: this.flipMaps[dataset], scale: this.options.scale, norm: this.normOf(this.options.train[dataset]) }, x, j * per);
        labels[j] = view.label;
      });
      groups.push({ dataset, x, shape: [clips.length, T, S, S, 3], labels });
    }
    return { groups };
  }

  private async loadEvalBatch(dataset: string, chunk: Sample[], views: EvalViews): Promise<EvalBatch> {
    const frames = await Promise.all(chunk.map((s) => this.loadFrames(dataset, s)));
    const loaded = chunk.map((s, i) => [s, frames[i]] as const).filter((c): c is readonly [Sample, Frames] => c[1] !== null);
    const { T, kept } = this.sameFrameCount(dataset, loaded, (c) => c);
    const S = this.options.size;
    const v = viewCount(views);
    const per = viewLength(T, S) * v;
    const x = new Float32Array(kept.length * per);
    const norm = this.normOf(this.evalSplit(dataset));
    kept.forEach(([, f], j) => evalViews(f, S, views, x, j * per, norm, this.options.evalShortSide ?? S));
    return { x, shape: [kept.length * v, T, S, S, 3], views: v, labels: Int32Array.from(kept.map(([s]) => s.label)), ids: kept.map(([s]) => s.id) };
  }

  /** Frames of one sample, or null when it is bad and bad samples are skipped. */
  private async loadFrames(dataset: string, sample: Sample): Promise<Frames | null> {
    try {
      const frames = await this.limiter.run(() => this.options.frameSource(dataset, sample));
      checkFrames(frames);
      return frames;
    } catch (err) {
      const error = err instanceof SampleError ? err : new SampleError(dataset, sample, err);
      if (!this.options.skipBadSamples) throw error;
      this.recordBad(dataset, sample, error);
      return null;
    }
  }

  private recordBad(dataset: string, sample: Sample, error: SampleError): void {
    const cause = error.cause;
    const reason = cause instanceof MediaError ? cause.reason : cause instanceof Error ? cause.message : error.message;
    this.badSamples.push({ dataset, path: sample.path, source: `${sample.source.file}:${sample.source.line}`, message: error.message, reason });
  }

  /**
   * The clips of one dataset that have its frame count (they are stacked into one tensor); a clip with another count
   * is a bad sample: skipped and counted with skipBadSamples, else an error naming it. T is 1 when no clip is left.
   */
  private sameFrameCount<C>(dataset: string, clips: C[], of: (c: C) => readonly [Sample, Frames]): { T: number; kept: C[] } {
    if (clips.length === 0) return { T: 1, kept: [] };
    const T = this.options.expectedFrames?.(dataset) ?? mostCommon(clips.map((c) => of(c)[1].frames));
    const kept: C[] = [];
    for (const c of clips) {
      const [sample, f] = of(c);
      if (f.frames === T) { kept.push(c); continue; }
      const error = new SampleError(dataset, sample, new Error(`has ${f.frames} frames, but other clips of '${dataset}' have ${T}`));
      if (!this.options.skipBadSamples) throw error;
      this.recordBad(dataset, sample, error);
    }
    return { T: kept.length ? T : 1, kept };
  }
}

/** The most frequent value (ties: the one seen first). */
function mostCommon(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best = values[0];
  for (const [v, n] of counts) if (n > counts.get(best)!) best = v;
  return best;
}

function checkFrames(f: Frames): void {
  if (!(f.frames >= 1 && f.height >= 1 && f.width >= 1)) throw new Error(`no frames (${f.frames} frames of ${f.height}x${f.width})`);
  if (f.data.length !== f.frames * f.height * f.width * 3) throw new Error(`frame data holds ${f.data.length} bytes, expected ${f.frames}x${f.height}x${f.width}x3`);
}

/** At most `limit` tasks at once, started in call order. */
class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`batches: concurrency must be a positive integer, got ${limit}`);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the finishing task hands its slot over
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
