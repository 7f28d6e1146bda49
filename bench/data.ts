/**
 * `npm run bench:data`: data-loading throughput. Writes bench/results/data.json (and prints it):
 *  - realClips: decode + sample 8 frames (short side 224, centre crop) from the real SSv2 demo clips in
 *    ../shared/data/videos (427x240 to 1920x1080 VP9), one process at a time and with defaultJobs() in parallel;
 *  - builtinClips: the same for the built-in digits-motion clips (40x40 lossless mp4, 8 of 16 frames, short side 37);
 *  - builtinImages: filling a frame cache with the built-in PNG images, one decoder per image against 64 images per
 *    decoder (prepareCache's batches), alternating, `--rounds` times each;
 *  - frameCache: batches/s of `--batch` clips read from the frame cache (uint8 .npy entries, from disk, no memory cache),
 *    plus the one-time cost of filling it.
 * Options: --batch B (default 16), --builtin N (built-in clips and images to decode, default 256), --repeat R (passes over
 * the real clips, default 2), --rounds R (alternating rounds of the image comparison, default 2).
 */
import { readdirSync, statSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseFlags } from "../src/cli/args";
import { openSplit } from "../src/data/builtin";
import { ffmpegBinaries } from "../src/data/ffmpeg";
import { cacheSizeForCrop, defaultJobs, FrameCache, prepareCache } from "../src/data/frame-cache";
import { decodeClip } from "../src/data/video";
import { writeFileAtomic } from "../src/util/atomic";
import { Rng } from "../src/util/rng";

const REAL = resolve(__dirname, "../../shared/data/videos");

function videosUnder(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? videosUnder(p) : /\.(webm|mp4|mkv|avi|mov)$/i.test(name) ? [p] : [];
  });
}

async function decodeAll(files: string[], jobs: number, frames: number, size: number, crop: boolean): Promise<{ clips: number; seconds: number; clipsPerSec: number }> {
  const started = process.hrtime.bigint();
  let next = 0;
  const worker = async () => {
    while (next < files.length) await decodeClip(files[next++], { frames, size, crop, threads: jobs > 1 ? 1 : undefined });
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { clips: files.length, seconds: round(seconds), clipsPerSec: round(files.length / seconds) };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), { batch: "string", builtin: "string", repeat: "string", rounds: "string" });
  const batch = flags.int("batch", 16);
  const builtinCount = flags.int("builtin", 256);
  const repeat = flags.int("repeat", 2);
  const rounds = flags.int("rounds", 2);
  flags.rejectUnknown();
  const cores = availableParallelism();

  const realFiles = videosUnder(REAL);
  const realPasses = Array.from({ length: repeat }, () => realFiles).flat();
  await decodeClip(realFiles[0], { frames: 8, size: 224, crop: true }); // warm-up (binaries, page cache)
  const realClips = {
    files: realFiles.length, passes: repeat, frames: 8, size: 224,
    oneProcess: await decodeAll(realPasses, 1, 8, 224, true),
    parallel: { jobs: defaultJobs(realFiles), ...(await decodeAll(realPasses, defaultJobs(realFiles), 8, 224, true)) },
  };
  console.error(`real clips: ${realClips.oneProcess.clipsPerSec} clips/s (1 process), ${realClips.parallel.clipsPerSec} clips/s (${realClips.parallel.jobs} processes)`);

  const genStart = Date.now();
  const motion = await openSplit("builtin-digits-motion", "train", { silent: true });
  const generationSeconds = (Date.now() - genStart) / 1000;
  const builtinFiles = motion.samples.slice(0, builtinCount).map((s) => s.path);
  const builtinClips = {
    dataset: motion.dataset, frames: 8, size: cacheSizeForCrop(32),
    generationOrCheckSeconds: round(generationSeconds),
    oneProcess: await decodeAll(builtinFiles, 1, 8, cacheSizeForCrop(32), false),
    parallel: { jobs: defaultJobs(builtinFiles), ...(await decodeAll(builtinFiles, defaultJobs(builtinFiles), 8, cacheSizeForCrop(32), false)) },
  };
  console.error(`built-in clips: ${builtinClips.oneProcess.clipsPerSec} clips/s (1 process), ${builtinClips.parallel.clipsPerSec} clips/s (${builtinClips.parallel.jobs} processes)`);

  const images = (await openSplit("builtin-digits-images", "train", { silent: true })).samples.slice(0, builtinCount).map((s) => s.path);
  const imageRounds: { onePerImage: number; batched: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const onePerImage = await decodeAll(images, defaultJobs(images), 1, cacheSizeForCrop(32), false);
    const batchDir = mkdtempSync(join(tmpdir(), "cover-bench-images-"));
    const batched = await prepareCache(new FrameCache({ dir: batchDir, frames: 1, cacheSize: cacheSizeForCrop(32) }), images, { silent: true });
    rmSync(batchDir, { recursive: true, force: true });
    imageRounds.push({ onePerImage: onePerImage.clipsPerSec, batched: round(images.length / batched.seconds) });
  }
  const builtinImages = { dataset: "digits-images", images: images.length, size: cacheSizeForCrop(32), jobs: defaultJobs(images), clipsPerSecByRound: imageRounds };
  console.error(`built-in images: ${imageRounds.map((r) => `${r.onePerImage} -> ${r.batched}`).join(", ")} images/s (one decoder per image -> batches of 64)`);

  const dir = mkdtempSync(join(tmpdir(), "cover-bench-cache-"));
  const cacheSamples = motion.samples.slice(0, builtinCount);
  const cache = new FrameCache({ dir, frames: 8, cacheSize: cacheSizeForCrop(32) });
  const fill = await prepareCache(cache, cacheSamples, { silent: true });
  const rng = new Rng(0);
  const batches = Math.max(20, Math.ceil((4 * cacheSamples.length) / batch));
  const started = process.hrtime.bigint();
  let bytes = 0;
  for (let b = 0; b < batches; b++) {
    const clips = await Promise.all(Array.from({ length: batch }, () => cache.get(cacheSamples[rng.int(cacheSamples.length)])));
    bytes += clips.reduce((a, c) => a + c.data.length, 0);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const frameCache = {
    clips: cacheSamples.length, frames: 8, cacheSize: cacheSizeForCrop(32), batch, batches,
    fillSeconds: round(fill.seconds), fillClipsPerSec: round(fill.total / fill.seconds),
    batchesPerSec: round(batches / seconds), clipsPerSec: round((batches * batch) / seconds),
    megabytesPerSec: round(bytes / seconds / 1e6),
  };
  rmSync(dir, { recursive: true, force: true });
  console.error(`frame cache: ${frameCache.batchesPerSec} batches/s of ${batch} clips`);

  const result = {
    benchmark: "data",
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model, availableParallelism: cores, loadAverage1m: round(loadavg()[0]), node: process.version },
    ffmpeg: ffmpegBinaries(),
    realClips, builtinClips, builtinImages, frameCache,
  };
  const json = JSON.stringify(result, null, 2);
  writeFileAtomic(resolve(__dirname, "results/data.json"), json + "\n");
  console.log(json);
}

main().catch((err) => { console.error(err); process.exit(1); });
