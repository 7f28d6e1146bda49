/**
 * Bad media in long runs: every bad or missing file is skipped, counted and listed (file, annotation line, reason);
 * an evaluation batch with no decodable clip is skipped; a clip of the wrong frame count is a bad sample; the frame
 * cache bounds an entry's size; annotation paths stay inside the media root; file-system errors name path and cause.
 * Every input is built here (PNG images and mp4 clips written by the kit's own encoders).
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BatchSource, FrameSource } from "../../src/data/batches";
import { encodeLosslessMp4s } from "../../src/data/builtin/encode";
import { FrameCache, MAX_CACHE_ASPECT } from "../../src/data/frame-cache";
import { writePng } from "../../src/data/image";
import { loadSplit } from "../../src/data/manifest";
import { openRunData } from "../../src/runs/pipeline";
import type { DatasetSplit, Frames, Sample } from "../../src/data/types";
import { MediaError, probeVideo } from "../../src/data/video";
import { encodeNpy } from "../../src/io/npy";
import { resolveRunConfig } from "../../src/runs/named";
import { modelConfig } from "../../src/model/config";
import { TimeSformer } from "../../src/model/timesformer";
import type { EvalBatch } from "../../src/data/batches";
import { clipScores, evaluateModel, EvalSource } from "../../src/train/evaluate";
import { RunConfig } from "../../src/runs/config";
import { trainRun } from "../../src/runs/train";
import { RunResults } from "../../src/runs/folder";
import { writeFileAtomic } from "../../src/util/atomic";
import { fsErrorReason } from "../../src/util/fs-errors";
import { tempDir, withBackend } from "../helpers/tf";

before(() => withBackend());

/** A solid-colour RGB image of the given size. */
function image(path: string, width: number, height: number, value = 128): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writePng(path, new Uint8Array(width * height * 3).fill(value), width, height, { fsync: false });
}

function manifest(dir: string, kind: "image" | "video", lines: Record<string, string[]>, extra: Record<string, unknown> = {}): string {
  const splits: Record<string, unknown> = {};
  for (const [split, text] of Object.entries(lines)) {
    writeFileSync(join(dir, `${split}.txt`), text.join("\n") + "\n");
    splits[split] = { format: "list", files: [`${split}.txt`] };
  }
  const path = join(dir, "manifest.json");
  writeFileSync(path, JSON.stringify({ name: "reliability", kind, mediaRoot: "media", classes: ["a", "b"], flip: "allowed", splits, ...extra }));
  return path;
}

describe("media paths stay inside the media root", () => {
  const lines = ["ok.png 0", "../outside.png 1", "/etc/hostname 0", "sub/../../escape.png 1", "sub/../inside.png 0", "a/b/../../../x.png 1"];

  test("escaping paths are per-line problems naming file and line; strict mode throws on the first", () => {
    const dir = tempDir("escape");
    const path = manifest(dir, "image", { train: lines });
    const split = loadSplit(path, "train");
    const escapes = split.problems.filter((p) => p.kind === "outside-media-root");
    assert.deepEqual(escapes.map((p) => p.source!.line), [2, 3, 4, 6]);
    for (const p of escapes) assert.ok(p.message.startsWith(`${join(dir, "train.txt")}:${p.source!.line}: media path`), p.message);
    assert.match(escapes[1].message, /is absolute; .*allowAbsolutePaths/);
    assert.match(escapes[0].message, /leads outside the media root/);
    assert.deepEqual(split.samples.map((s) => s.id), ["ok.png", "sub/../inside.png"]);
    assert.throws(() => loadSplit(path, "train", { strict: true }), (err: Error) => err.message.startsWith(`${join(dir, "train.txt")}:2: media path "../outside.png" leads outside`));
  });

  test("a manifest may explicitly allow absolute paths ('..' out of the root stays an error)", () => {
    const dir = tempDir("absolute");
    const abs = join(dir, "elsewhere", "abs.png");
    image(abs, 4, 4);
    const path = manifest(dir, "image", { train: [`${abs} 0`, "../outside.png 1"] }, { allowAbsolutePaths: true });
    const split = loadSplit(path, "train");
    assert.deepEqual(split.samples.map((s) => s.path), [abs]);
    assert.equal(split.problems.filter((p) => p.kind === "outside-media-root").length, 1);
  });

  test("allowAbsolutePaths must be a boolean", () => {
    const dir = tempDir("absolute-bad");
    const path = manifest(dir, "image", { train: ["ok.png 0"] }, { allowAbsolutePaths: "yes" });
    assert.throws(() => loadSplit(path, "train"), /allowAbsolutePaths: expected true or false, got "yes"/);
  });
});

describe("file-system errors name the path and the cause", () => {
  test("a symlink loop: ELOOP in words", async () => {
    const dir = tempDir("eloop");
    symlinkSync(join(dir, "b.png"), join(dir, "a.png"));
    symlinkSync(join(dir, "a.png"), join(dir, "b.png"));
    await assert.rejects(probeVideo(join(dir, "a.png")), (err: Error) =>
      err instanceof MediaError && err.message === `${join(dir, "a.png")}: too many levels of symbolic links (a symlink loop) (ELOOP)`);
    await assert.rejects(new FrameCache({ dir: join(dir, "cache"), frames: 1, cacheSize: 8 }).get(join(dir, "a.png")), /a\.png: too many levels of symbolic links/);
  });

  test("an unreadable file: EACCES in words", { skip: process.getuid?.() === 0 ? "running as root, which reads any file" : false }, async () => {
    const dir = tempDir("eacces");
    const file = join(dir, "locked.png");
    image(file, 4, 4);
    chmodSync(file, 0o000);
    await assert.rejects(probeVideo(file), (err: Error) => err.message === `${file}: not readable: permission denied (EACCES)`);
  });

  test("a full disk (ENOSPC, from /dev/full) and a write below a file (EEXIST)", { skip: !existsSync("/dev/full") && "no /dev/full" }, () => {
    let full: unknown;
    try { writeFileSync("/dev/full", "x"); } catch (err) { full = err; }
    assert.equal(fsErrorReason(full), "no space left on the device (ENOSPC)");
    const dir = tempDir("enotdir");
    writeFileSync(join(dir, "file"), "");
    assert.throws(() => writeFileAtomic(join(dir, "file", "out.json"), "{}"), (err: Error) =>
      err.message === `${join(dir, "file", "out.json")}: cannot write: a file of that name is in the way (EEXIST)`);
  });
});

describe("the frame cache bounds what one entry costs", () => {
  test("an 8x8192 image and an 8192x8 clip are squeezed to at most 2.5x the cache size along their long side", async () => {
    const dir = tempDir("aspect");
    const tall = join(dir, "tall.png");
    image(tall, 8, 8192);
    const wide = join(dir, "wide.mp4");
    await encodeLosslessMp4s([{ path: wide, clip: new Uint8Array(4 * 8 * 8192 * 3).fill(90) }], 4, 8192, 8);
    const cacheSize = 37;
    const long = Math.ceil(cacheSize * MAX_CACHE_ASPECT);
    const stills = await new FrameCache({ dir: join(dir, "c1"), frames: 1, cacheSize }).get(tall);
    assert.deepEqual([stills.frames, stills.height, stills.width], [1, long, cacheSize]);
    const clip = await new FrameCache({ dir: join(dir, "c4"), frames: 4, cacheSize }).get(wide);
    assert.deepEqual([clip.frames, clip.height, clip.width], [4, cacheSize, long]);
    assert.ok(clip.data.length <= 4 * cacheSize * long * 3, `${clip.data.length} bytes`);
  });

  test("an oversized entry left by an earlier version is not read but decoded again", async () => {
    const dir = tempDir("legacy");
    const tall = join(dir, "tall.png");
    image(tall, 8, 4000);
    const cache = new FrameCache({ dir: join(dir, "cache"), frames: 1, cacheSize: 16 });
    const entry = cache.entryFile(tall);
    mkdirSync(join(entry, ".."), { recursive: true });
    writeFileSync(entry, encodeNpy({ dtype: "uint8", shape: [1, 8000, 16, 3], data: new Uint8Array(8000 * 16 * 3) }));
    const frames = await cache.get(tall);
    assert.deepEqual([frames.height, frames.width], [40, 16]);
  });

  test("an image posing as a video decodes as what it is, and a video cache rejects its single frame consistently", async () => {
    const dir = tempDir("pose");
    const fake = join(dir, "clip.mp4");
    image(fake, 16, 16);
    const cache = new FrameCache({ dir: join(dir, "cache"), frames: 4, cacheSize: 16 });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(cache.get(fake), (err: Error) => err instanceof MediaError && /decodes as a still image \(1 frame\), but this cache holds clips of 4 frames/.test(err.message));
    }
    const asImage = await new FrameCache({ dir: join(dir, "cache1"), frames: 1, cacheSize: 16 }).get(fake);
    assert.equal(asImage.frames, 1);
  });
});

describe("wrong frame counts and undecodable batches", () => {
  const sample = (i: number): Sample => ({ id: `v${i}`, path: `/media/v${i}.mp4`, label: i % 2, source: { file: "/ann/v.txt", line: i + 1 } });
  const split = (n: number): DatasetSplit => ({ dataset: "v", kind: "video", split: "train", classes: ["a", "b"], samples: Array.from({ length: n }, (_, i) => sample(i)), flip: "allowed", problems: [] });
  const frames = (t: number): Frames => ({ data: new Uint8Array(t * 8 * 8 * 3).fill(100), frames: t, height: 8, width: 8 });

  test("one clip with the wrong frame count is a bad sample (skipped, counted), not a fatal error", async () => {
    const source: FrameSource = async (_d, s) => frames(s.id === "v2" ? 3 : 4);
    const batches = new BatchSource({ train: { v: split(8) }, eval: { v: split(8) }, frameSource: source, size: 8, batchSize: 4, seed: 0, skipBadSamples: true, expectedFrames: () => 4, prefetch: 0 });
    let clips = 0;
    for await (const b of batches.evalBatches("v", "1x1")) clips += b.labels.length;
    assert.equal(clips, 7);
    assert.deepEqual(batches.badSamples.map((b) => [b.path, b.source, b.reason]), [["/media/v2.mp4", "/ann/v.txt:3", "has 3 frames, but other clips of 'v' have 4"]]);
  });

  test("an evaluation batch whose clips are all undecodable is skipped and counted", async () => {
    const model = TimeSformer.create(modelConfig("micro", { classifiers: { v: 2 } }), 1);
    const source: FrameSource = async (_d, s) => { if (Number(s.id.slice(1)) >= 4) throw new MediaError(s.path, "corrupt"); return frames(4); };
    const batches = new BatchSource({ train: {}, eval: { v: split(10) }, frameSource: source, size: 16, batchSize: 4, seed: 0, skipBadSamples: true, prefetch: 0 });
    const sourceOf: EvalSource = { classes: { v: ["a", "b"] }, evalSize: () => 10, evalBatches: (d, v) => batches.evalBatches(d, v) as AsyncIterable<EvalBatch> };
    const results = await evaluateModel(model, sourceOf, { views: "1x1", reverseFrames: false, datasets: ["v"] }, true);
    const empty: EvalBatch = { x: new Float32Array(0), shape: [0, 1, 16, 16, 3], views: 1, labels: new Int32Array(0), ids: [] };
    assert.equal(clipScores(model, "v", empty, false).length, 0, "scores of a batch without clips are empty, not an error");
    model.dispose();
    assert.equal(results.v.samples, 4);
    assert.equal(results.v.skippedClips, 6);
    assert.equal(results.v.skippedBatches, 2, "batches of clips 4-7 and 8-9 had nothing to evaluate");
    assert.equal(batches.badSamples.length, 6);
  });
});

describe("a run lists every bad or missing file", () => {
  const cases = [
    { background: false, trainCount: 12, how: "" },
    { background: true, trainCount: 12, how: " (evaluation clips decoded in the background)" },
    { background: false, trainCount: 70, how: " (training clips decoded in a child process: 64 or more to decode)" },
  ];
  for (const { background, trainCount, how } of cases) test(`missing, corrupt, escaping and undecodable files in results.json and bad-files.json, with their lines${how}`, async () => {
    const dir = tempDir("run-bad");
    const media = join(dir, "media");
    const train = Array.from({ length: trainCount }, (_, i) => `t${i}.png ${i % 2}`);
    const val = ["v0.png 0", "v1.png 1", "v2.png 0", "v3.png 1", "v4.png 0", "v5.png 1", "v6.png 0", "v7.png 1"];
    for (let i = 0; i < trainCount; i++) if (i !== 3) image(join(media, `t${i}.png`), 16, 16, (40 + 15 * i) % 256);
    writeFileSync(join(media, "t5.png"), "not an image at all");
    for (let i = 0; i < 4; i++) image(join(media, `v${i}.png`), 16, 16, 60 + 30 * i);
    for (let i = 4; i < 8; i++) writeFileSync(join(media, `v${i}.png`), Buffer.alloc(200, i)); // the second eval batch: nothing decodes
    const path = manifest(dir, "image", { train: [...train, "../escape.png 0"], val });
    // A dataset is named by its manifest (the name becomes a head): a manifest path relative to the working folder.
    renameSync(path, join(dir, "reliability"));
    const base = resolveRunConfig("standard-motion", "smoke", 0);
    const config: RunConfig = { ...base, name: "bad-media", train: { reliability: 1 }, maxSamples: undefined };
    const cwd = process.cwd();
    process.chdir(dir);
    let results: RunResults | null;
    try {
      const data = await openRunData(config, { quiet: true, decodeEvalWhileTraining: background });
      try { results = await trainRun(config, data, join(dir, "run"), { quiet: true }); } finally { await data.close(); }
    } finally {
      process.chdir(cwd);
    }
    assert.ok(results);
    const listed = results.badFiles!;
    const byPath = new Map(listed.map((f) => [f.path.split("/").pop()!, f]));
    assert.deepEqual([...byPath.keys()].sort(), ["escape.png", "t3.png", "t5.png", "v4.png", "v5.png", "v6.png", "v7.png"]);
    assert.equal(byPath.get("t3.png")!.kind, "missing");
    assert.equal(byPath.get("t3.png")!.source, `${join(dir, "train.txt")}:4`);
    assert.equal(byPath.get("t5.png")!.kind, "undecodable");
    assert.equal(byPath.get("t5.png")!.source, `${join(dir, "train.txt")}:6`);
    assert.equal(byPath.get("v6.png")!.source, `${join(dir, "val.txt")}:7`);
    assert.equal(byPath.get("v6.png")!.split, "val");
    const escape = listed.find((f) => f.reason.includes("leads outside the media root"));
    assert.ok(escape && escape.source === `${join(dir, "train.txt")}:${trainCount + 1}`);
    const report = JSON.parse(readFileSync(join(dir, "run", "bad-files.json"), "utf8")) as { count: number; byKind: Record<string, number>; files: unknown[] };
    assert.equal(report.count, 7);
    assert.deepEqual(report.byKind, { missing: 2, undecodable: 5 });
    assert.deepEqual(report.files, JSON.parse(readFileSync(join(dir, "run", "results.json"), "utf8")).badFiles);
    const evaluated = Object.values(results.datasets)[0];
    assert.equal(evaluated.samples, 4);
    assert.equal(evaluated.skippedClips, 4);
    assert.equal(evaluated.skippedBatches, 1);
  });
});
