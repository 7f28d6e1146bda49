import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheSizeForCrop, FrameCache, prepareCache } from "../../src/data/frame-cache";
import { decodeClip, MediaError } from "../../src/data/video";
import { DEMO_CLIP_SETS } from "../helpers/demo-clips";

const tmp = mkdtempSync(join(tmpdir(), "cover-cache-"));

test("cache size is 1.15x the crop, rounded up", () => {
  assert.equal(cacheSizeForCrop(224), 258);
  assert.equal(cacheSizeForCrop(32), 37);
});

for (const clips of DEMO_CLIP_SETS) {
  const clip = async (name: string) => join(await clips.root(), name);

  test(`a cached clip equals a direct decode, is built once and then read back (${clips.label})`, clips.options, async () => {
    const cache = new FrameCache({ dir: join(tmp, `${clips.key}-a`), frames: 8, cacheSize: 20 });
    const video = await clip("task5/0.webm");
    assert.equal(cache.has(video), false);
    const first = await cache.get(video);
    assert.equal(cache.has(video), true);
    assert.equal(await cache.build(video), "cached");
    const again = await cache.get({ id: "x", path: video, label: 0, source: { file: "f", line: 1 } });
    const direct = await decodeClip(video, { frames: 8, size: 20 });
    assert.deepEqual([again.frames, again.height, again.width], [8, 20, 36]);
    assert.ok(Buffer.from(again.data).equals(Buffer.from(direct.data)));
    assert.ok(Buffer.from(first.data).equals(Buffer.from(direct.data)));
  });

  test(`a changed file or setting misses the cache (${clips.label})`, clips.options, async () => {
    const dir = join(tmp, `${clips.key}-b`);
    const video = join(tmp, `${clips.key}-clip.webm`);
    copyFileSync(await clip("task5/1.webm"), video);
    const cache = new FrameCache({ dir, frames: 4, cacheSize: 16 });
    await cache.build(video);
    const before = cache.entryFile(video);
    assert.notEqual(new FrameCache({ dir, frames: 5, cacheSize: 16 }).entryFile(video), before);
    assert.notEqual(new FrameCache({ dir, frames: 4, cacheSize: 17 }).entryFile(video), before);
    copyFileSync(await clip("task5/2.webm"), video);
    utimesSync(video, new Date(), new Date(Date.now() + 5000));
    assert.notEqual(cache.entryFile(video), before);
    assert.equal(cache.has(video), false);
    assert.equal(await cache.build(video), "built");
  });

  test(`prepare fills the cache in parallel, skipping and reporting bad files (${clips.label})`, clips.options, async () => {
    const corrupt = join(tmp, `${clips.key}-corrupt.webm`);
    writeFileSync(corrupt, Buffer.alloc(3000, 7));
    const good = await Promise.all(["task5/0.webm", "task41/1.webm", "task93/1.webm"].map(clip));
    const dir = join(tmp, `${clips.key}-c`);
    const cache = new FrameCache({ dir, frames: 4, cacheSize: 16 });
    const report = await prepareCache(cache, [good[0], corrupt, join(tmp, `${clips.key}-missing.webm`), good[1], good[2]], { jobs: 2, silent: true });
    assert.equal(report.total, 5);
    assert.equal(report.built, 3);
    assert.deepEqual(report.bad.map((b) => b.path).sort(), [corrupt, join(tmp, `${clips.key}-missing.webm`)].sort());
    const again = await prepareCache(cache, good, { jobs: 2, silent: true });
    assert.deepEqual([again.built, again.cached, again.bad.length], [0, 3, 0]);
    // The bad file is remembered, and reading it still names it.
    await assert.rejects(cache.get(corrupt), (err: Error) => err instanceof MediaError && err.message.startsWith(corrupt));
    assert.ok(readdirSync(dir).length > 0 && !existsSync(join(dir, "tmp")));
  });

  test(`memory cache returns the same frames without reading the disk again (${clips.label})`, clips.options, async () => {
    const cache = new FrameCache({ dir: join(tmp, `${clips.key}-d`), frames: 2, cacheSize: 12, memoryBytes: 1 << 20 });
    const video = await clip("task41/2.webm");
    const a = await cache.get(video);
    const b = await cache.get(video);
    assert.equal(a, b);
  });

  test(`an entry cut short is decoded again instead of failing (${clips.label})`, clips.options, async () => {
    const cache = new FrameCache({ dir: join(tmp, `${clips.key}-e`), frames: 3, cacheSize: 12 });
    const video = await clip("task5/2.webm");
    const good = await cache.get(video);
    writeFileSync(cache.entryFile(video), Buffer.alloc(50, 1));
    const again = await cache.get(video);
    assert.ok(Buffer.from(again.data).equals(Buffer.from(good.data)));
  });
}

test("an ffprobe killed by a signal (Ctrl-C reaches the process group) does not mark the file bad", () => {
  const dir = mkdtempSync(join(tmpdir(), "cover-cache-killed-"));
  const probe = join(dir, "ffprobe-killed.sh");
  writeFileSync(probe, "#!/bin/sh\nkill -KILL $$\n", { mode: 0o755 });
  const media = join(dir, "clip.mp4");
  writeFileSync(media, "any bytes: the probe dies before it reads them");
  const cacheDir = join(dir, "cache");
  // The ffmpeg binaries are resolved once per process, so the probe that dies runs in a child of its own.
  const script = `
    const { FrameCache } = require(${JSON.stringify(join(__dirname, "../../src/data/frame-cache"))});
    new FrameCache({ dir: ${JSON.stringify(cacheDir)}, frames: 4, cacheSize: 16 }).get(${JSON.stringify(media)})
      .then(() => console.log("decoded"), (err) => console.log(JSON.stringify({ name: err.name, transient: err.transient, message: err.message })));`;
  const child = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { env: { ...process.env, COVER_FFPROBE: probe }, encoding: "utf8" });
  const outcome = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as { name?: string; transient?: boolean; message?: string };
  assert.equal(outcome.name, "MediaError", child.stdout + child.stderr);
  assert.match(outcome.message ?? "", /killed with signal SIGKILL/);
  assert.equal(outcome.transient, true);
  const markers = existsSync(cacheDir) ? readdirSync(cacheDir, { recursive: true }).map(String).filter((f) => f.endsWith(".bad")) : [];
  assert.deepEqual(markers, []);
});

test("a decoder that fails because Ctrl-C stopped the run leaves no bad marker: the stop is reported instead", () => {
  const dir = mkdtempSync(join(tmpdir(), "cover-cache-stopped-"));
  // Like ffprobe on Ctrl-C: the same SIGINT reaches the kit, and the probe exits having printed nothing usable.
  const probe = join(dir, "ffprobe-interrupted.sh");
  writeFileSync(probe, "#!/bin/sh\nkill -INT $PPID\nexit 1\n", { mode: 0o755 });
  const media = join(dir, "clip.mp4");
  writeFileSync(media, "any bytes: the probe fails before it reads them");
  const cacheDir = join(dir, "cache");
  const script = `
    const { FrameCache, prepareCache } = require(${JSON.stringify(join(__dirname, "../../src/data/frame-cache"))});
    const stop = new AbortController();
    process.on("SIGINT", () => stop.abort("SIGINT"));
    prepareCache(new FrameCache({ dir: ${JSON.stringify(cacheDir)}, frames: 4, cacheSize: 16 }), [${JSON.stringify(media)}], { silent: true, signal: stop.signal })
      .then((report) => console.log(JSON.stringify({ bad: report.bad.length })), (err) => console.log(JSON.stringify({ name: err.name, message: err.message })));`;
  const child = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { env: { ...process.env, COVER_FFPROBE: probe }, encoding: "utf8" });
  const outcome = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as { name?: string; message?: string; bad?: number };
  assert.equal(outcome.name, "InterruptedError", child.stdout + child.stderr);
  assert.match(outcome.message ?? "", /interrupted by SIGINT: decoding stopped at .*clip\.mp4/);
  const markers = existsSync(cacheDir) ? readdirSync(cacheDir, { recursive: true }).map(String).filter((f) => f.endsWith(".bad")) : [];
  assert.deepEqual(markers, []);
});
