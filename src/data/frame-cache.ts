/**
 * The frame cache: each video is decoded once into uint8 frames [T, H, W, 3] at a cache resolution a little above
 * the crop size (short side = cacheSize), stored as .npy and written atomically. COVER's frame positions are fixed
 * per video (uniform over the whole video), so only crops and flips stay random and are done from the cache.
 * Entries are keyed by (absolute path, file size, mtime, frames, cache size): a changed file or setting misses
 * and is rebuilt. A file that cannot be read (probe fails, no video stream, zero frames) leaves a `.bad` marker (with
 * the reason) so it is not retried until it changes.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import type { Frames, Sample } from "./types";
import { decodeClip, decodeImageBatch, MediaError, pngBatchKey } from "./video";
import { encodeNpy, readNpy } from "../io/npy";
import { writeFileAtomic } from "../util/atomic";
import { throwIfStopped } from "../util/interrupt";
import { fsErrorReason } from "../util/fs-errors";
import { createProgress, Progress } from "../util/progress";
import { defaultFrameCacheDir } from "../util/paths";

const CACHE_VERSION = 1;

/**
 * Long side of a cached frame at most this many times the short side: 16:9 and 21:9 video keep their shape, while a
 * clip of extreme aspect (8x8192) is squeezed, so that one entry costs at most frames x S x 2.5S x 3 bytes.
 */
export const MAX_CACHE_ASPECT = 2.5;

export interface FrameCacheOptions {
  /** Frames per video (T); images are cached as 1 frame. */
  frames: number;
  /** Short side of the cached frames; see cacheSizeForCrop. The long side is at most MAX_CACHE_ASPECT times it. */
  cacheSize: number;
  /** Folder; default env COVER_CACHE_DIR, else <repo>/.cache/frames. */
  dir?: string;
  /** Keep up to this many bytes of decoded clips in memory (least recently used dropped first). Default 0. */
  memoryBytes?: number;
}

/** Short side of the cache for a crop size: 1.15x (224 -> 258, 32 -> 37), room for random crops. */
export function cacheSizeForCrop(crop: number): number {
  return Math.ceil(crop * 1.15);
}

type Source = Sample | string;
const pathOf = (s: Source): string => resolve(typeof s === "string" ? s : s.path);

export class FrameCache {
  readonly dir: string;
  readonly frames: number;
  readonly cacheSize: number;
  private readonly memoryLimit: number;
  private readonly memory = new Map<string, Frames>();
  private memoryUsed = 0;

  constructor(options: FrameCacheOptions) {
    if (!(options.frames >= 1) || !(options.cacheSize >= 1)) throw new Error(`FrameCache: frames and cacheSize must be >= 1 (got ${options.frames}, ${options.cacheSize})`);
    this.dir = options.dir ? resolve(options.dir) : defaultFrameCacheDir();
    this.frames = options.frames;
    this.cacheSize = options.cacheSize;
    this.memoryLimit = options.memoryBytes ?? 0;
  }

  /** The cache file for a media file as it is now (throws MediaError when the file is missing). */
  entryFile(source: Source): string {
    const path = pathOf(source);
    let size: number, mtimeMs: number;
    try { ({ size, mtimeMs } = statSync(path)); } catch (err) { throw new MediaError(path, fsErrorReason(err)); }
    const key = createHash("sha1")
      .update(JSON.stringify({ v: CACHE_VERSION, path, size, mtimeMs, frames: this.frames, cacheSize: this.cacheSize }))
      .digest("hex");
    return join(this.dir, key.slice(0, 2), `${key}.npy`);
  }

  has(source: Source): boolean {
    try { return existsSync(this.entryFile(source)); } catch { return false; }
  }

  /**
   * Decodes and stores the clip unless it is cached already; a bad file throws MediaError and is remembered. When
   * `signal` is aborted while decoding, the failure is the stop's (Ctrl-C reaches the decoders too): nothing is
   * remembered and the InterruptedError is thrown instead.
   */
  async build(source: Source, threads?: number, signal?: AbortSignal): Promise<"cached" | "built"> {
    const file = this.entryFile(source);
    if (existsSync(file)) return "cached";
    this.throwIfKnownBad(file, pathOf(source));
    await this.decodeAndStore(source, file, threads, signal);
    return "built";
  }

  /** The cached frames of a clip [T, H, W, 3] (short side = cacheSize), decoding it first on a miss. */
  async get(source: Source): Promise<Frames> {
    const file = this.entryFile(source);
    const hit = this.memory.get(file);
    if (hit) { this.memory.delete(file); this.memory.set(file, hit); return hit; }
    let frames = existsSync(file) ? this.readEntryOrUndefined(file) : undefined;
    if (!frames) {
      this.throwIfKnownBad(file, pathOf(source));
      frames = await this.decodeAndStore(source, file);
    }
    this.remember(file, frames);
    return frames;
  }

  /** Whether the clip still has to be decoded: not cached, and not remembered as bad. */
  needsDecoding(source: Source): boolean {
    try {
      const file = this.entryFile(source);
      return !existsSync(file) && !existsSync(`${file}.bad`);
    } catch {
      return false; // missing: build() says so
    }
  }

  /**
   * Decodes and stores PNG images of one pngBatchKey with one ffmpeg process (images are cached as 1 frame). Returns
   * false, having stored nothing, where the batch does not decode as one (a bad image among them): build each on its
   * own then, which names the bad one.
   */
  async buildImageBatch(sources: Source[]): Promise<boolean> {
    if (this.frames !== 1) return false;
    let decoded: Frames[];
    try {
      decoded = await decodeImageBatch(sources.map(pathOf), { size: this.cacheSize, maxLongSide: this.maxLongSide() });
    } catch (err) {
      if (err instanceof MediaError) return false;
      throw err;
    }
    decoded.forEach((frames, i) => this.store(this.entryFile(sources[i]), frames));
    return true;
  }

  private store(file: string, frames: Frames): void {
    // No fsync: an entry lost or cut short by a crash is unreadable and simply decoded again.
    writeFileAtomic(file, encodeNpy({ dtype: "uint8", shape: [frames.frames, frames.height, frames.width, 3], data: frames.data }), { fsync: false });
  }

  private async decodeAndStore(source: Source, file: string, threads?: number, signal?: AbortSignal): Promise<Frames> {
    const path = pathOf(source);
    let frames: Frames;
    try {
      frames = await decodeClip(path, { frames: this.frames, size: this.cacheSize, threads, maxLongSide: this.maxLongSide() });
      if (frames.frames !== this.frames) throw new MediaError(path, `decodes as a still image (${frames.frames} frame), but this cache holds clips of ${this.frames} frames`);
    } catch (err) {
      if (signal) {
        // The stop signal's handler may run after the decoder it stopped has exited: give it a moment (failures only).
        await new Promise((resolve) => setTimeout(resolve, 200));
        throwIfStopped(signal, `decoding stopped at ${path}; what is decoded stays cached`);
      }
      if (err instanceof MediaError && !err.transient) writeFileAtomic(`${file}.bad`, err.reason, { fsync: false });
      throw err;
    }
    this.store(file, frames);
    return frames;
  }

  private maxLongSide(): number { return Math.ceil(this.cacheSize * MAX_CACHE_ASPECT); }

  /**
   * An entry that is unreadable (cut short by a crash: entries are not fsynced) or not of this cache's shape
   * (another frame count, or an unbounded entry of an extreme-aspect clip) reads as a miss and is decoded again.
   */
  private readEntryOrUndefined(file: string): Frames | undefined {
    const bound = this.frames * this.cacheSize * this.maxLongSide() * 3 + 4096;
    try {
      if (statSync(file).size > bound) return undefined; // not read at all: it may be gigabytes
      const frames = readEntry(file);
      const short = Math.min(frames.height, frames.width), long = Math.max(frames.height, frames.width);
      return frames.frames === this.frames && short === this.cacheSize && long <= this.maxLongSide() ? frames : undefined;
    } catch {
      return undefined;
    }
  }

  private throwIfKnownBad(file: string, path: string): void {
    if (existsSync(`${file}.bad`)) throw new MediaError(path, `${readFileSync(`${file}.bad`, "utf8")} (remembered in ${file}.bad)`);
  }

  private remember(file: string, frames: Frames): void {
    if (frames.data.length > this.memoryLimit) return;
    this.memory.set(file, frames);
    this.memoryUsed += frames.data.length;
    for (const [key, old] of this.memory) {
      if (this.memoryUsed <= this.memoryLimit) break;
      this.memory.delete(key);
      this.memoryUsed -= old.data.length;
    }
  }
}

function readEntry(file: string): Frames {
  const array = readNpy(file);
  const [t, h, w, c] = array.shape;
  if (array.dtype !== "uint8" || array.shape.length !== 4 || c !== 3) throw new Error(`${file}: not a frame-cache entry (uint8 [T, H, W, 3]), found ${array.dtype} [${array.shape}]`);
  return { data: array.data as Uint8Array, frames: t, height: h, width: w };
}

/** Images per ffmpeg process when PNGs are decoded in batches. */
const IMAGE_BATCH = 64;

export interface BadFile { path: string; reason: string }

export interface PrepareReport {
  total: number;
  built: number;
  cached: number;
  bad: BadFile[];
  seconds: number;
  jobs: number;
}

export interface PrepareOptions {
  /** Parallel ffmpeg processes; default defaultJobs(). */
  jobs?: number;
  label?: string;
  silent?: boolean;
  /** Stops the preparation (InterruptedError) when aborted; what is decoded stays in the cache. */
  signal?: AbortSignal;
  /** Where progress goes (default: a progress line labelled `label`, unless silent). */
  progress?: Progress;
}

/**
 * Parallel decoders for a set of files: the cores, or twice the cores for small files (under 64 KB on average, e.g. the
 * built-in 40x40 clips), which are bound by process start-up and pipe latency rather than CPU. Measured on 2 cores:
 * built-in PNGs 88/s with 2 jobs, 222/s with 4; real SSv2 clips (240p-1080p VP9) 5.2-5.8/s with 2 jobs, 4.0-4.3/s with 4.
 */
export function defaultJobs(samples: Source[] = []): number {
  const cores = availableParallelism();
  const probe = samples.slice(0, 32).map((s) => { try { return statSync(pathOf(s)).size; } catch { return 0; } });
  const mean = probe.length ? probe.reduce((a, b) => a + b, 0) / probe.length : Infinity;
  return mean < 64 * 1024 ? 2 * cores : cores;
}

/** Fills the cache for all samples with parallel decoders; bad files are skipped, counted and returned, never fatal. */
export async function prepareCache(cache: FrameCache, samples: Source[], options: PrepareOptions = {}): Promise<PrepareReport> {
  const jobs = Math.max(1, Math.min(options.jobs ?? defaultJobs(samples), samples.length || 1));
  const progress = options.progress ?? createProgress({ label: options.label ?? "frame cache", total: samples.length, unit: "clip", silent: options.silent });
  const report: PrepareReport = { total: samples.length, built: 0, cached: 0, bad: [], seconds: 0, jobs };
  const started = Date.now();
  let next = 0;
  // Consecutive PNG images of one size and layout still to decode go through one ffmpeg process.
  const takeBatch = (): Source[] => {
    const batch = [samples[next++]];
    const key = cache.frames === 1 && cache.needsDecoding(batch[0]) ? pngBatchKey(pathOf(batch[0])) : undefined;
    while (key && batch.length < IMAGE_BATCH && next < samples.length && cache.needsDecoding(samples[next]) && pngBatchKey(pathOf(samples[next])) === key) {
      batch.push(samples[next++]);
    }
    return batch;
  };
  const worker = async () => {
    while (next < samples.length) {
      throwIfStopped(options.signal, `${options.label ?? "frame cache"} stopped; what is decoded stays cached`);
      const batch = takeBatch();
      if (batch.length > 1 && await cache.buildImageBatch(batch)) {
        report.built += batch.length;
        progress.tick(batch.length, { bad: report.bad.length });
        continue;
      }
      for (const sample of batch) {
        try {
          const result = await cache.build(sample, jobs > 1 ? 1 : undefined, options.signal);
          report[result]++;
        } catch (err) {
          if (!(err instanceof MediaError)) throw err;
          report.bad.push({ path: err.path, reason: err.reason });
        }
        progress.tick(1, { bad: report.bad.length });
      }
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  progress.done();
  report.seconds = (Date.now() - started) / 1000;
  return report;
}
