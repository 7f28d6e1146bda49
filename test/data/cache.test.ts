import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheSizeForCrop, FrameCache, prepareCache } from "../../src/data/frame-cache";
import { decodeClip, MediaError } from "../../src/data/video";
import { ffmpegBinaries } from "../../src/data/ffmpeg";
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

/** Runs `script` in a node process of its own (the ffmpeg binaries are resolved once per process); its last line, parsed. */
function lastJsonLineOf(script: string, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const child = spawnSync(process.execPath, ["--import", "tsx", "-e", script], { env: { ...process.env, ...env }, encoding: "utf8" });
  const last = child.stdout.trim().split("\n").pop() ?? "";
  try { return JSON.parse(last) as Record<string, unknown>; } catch { return { unparsed: child.stdout + child.stderr }; }
}

function badMarkers(cacheDir: string): string[] {
  return existsSync(cacheDir) ? readdirSync(cacheDir, { recursive: true }).map(String).filter((f) => f.endsWith(".bad")) : [];
}

const FRAME_CACHE_MODULE = JSON.stringify(join(__dirname, "../../src/data/frame-cache"));

/** A folder with an ffprobe stand-in running `script`, a media file it never gets to read, and a cache folder to fill. */
function fakeProbe(name: string, script: string): { probe: string; media: string; cacheDir: string } {
  const dir = mkdtempSync(join(tmpdir(), `cover-cache-${name}-`));
  const probe = join(dir, `ffprobe-${name}.sh`);
  writeFileSync(probe, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
  const media = join(dir, "clip.mp4");
  writeFileSync(media, "any bytes: the probe is done before it reads them");
  return { probe, media, cacheDir: join(dir, "cache") };
}

test("an ffprobe killed by a signal (e.g. the OOM killer) does not mark the file bad", () => {
  const { probe, media, cacheDir } = fakeProbe("killed", "kill -KILL $$");
  const outcome = lastJsonLineOf(`
    const { FrameCache } = require(${FRAME_CACHE_MODULE});
    new FrameCache({ dir: ${JSON.stringify(cacheDir)}, frames: 4, cacheSize: 16 }).get(${JSON.stringify(media)})
      .then(() => console.log("decoded"), (err) => console.log(JSON.stringify({ name: err.name, transient: err.transient, message: err.message })));`,
  { COVER_FFPROBE: probe });
  assert.equal(outcome.name, "MediaError", JSON.stringify(outcome));
  assert.match(String(outcome.message), /killed with signal SIGKILL/);
  assert.equal(outcome.transient, true);
  assert.deepEqual(badMarkers(cacheDir), []);
});

test("a decoder that fails because Ctrl-C stopped the run leaves no bad marker: the stop is reported instead", () => {
  // A probe that fails just as the run is stopped, having printed nothing usable.
  const { probe, media, cacheDir } = fakeProbe("interrupted", "kill -INT $PPID\nexit 1");
  const outcome = lastJsonLineOf(`
    const { FrameCache, prepareCache } = require(${FRAME_CACHE_MODULE});
    const stop = new AbortController();
    process.on("SIGINT", () => stop.abort("SIGINT"));
    prepareCache(new FrameCache({ dir: ${JSON.stringify(cacheDir)}, frames: 4, cacheSize: 16 }), [${JSON.stringify(media)}], { silent: true, signal: stop.signal })
      .then((report) => console.log(JSON.stringify({ bad: report.bad.length })), (err) => console.log(JSON.stringify({ name: err.name, message: err.message })));`,
  { COVER_FFPROBE: probe });
  assert.equal(outcome.name, "InterruptedError", JSON.stringify(outcome));
  assert.match(String(outcome.message), /interrupted by SIGINT: decoding stopped at .*clip\.mp4/);
  assert.deepEqual(badMarkers(cacheDir), []);
});

test("a Ctrl-C to the kit's process group does not reach its decoders: the clip being decoded is finished and cached", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cover-cache-ctrl-c-"));
  const media = join(dir, "clip.mp4");
  execFileSync(ffmpegBinaries().ffmpeg, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1", "-pix_fmt", "yuv420p", media]);
  // Each decoder says it started, then takes half a second: the terminal's Ctrl-C (SIGINT to the whole foreground
  // process group) is sent while it runs.
  const slow = (name: "ffprobe" | "ffmpeg") => {
    const wrapper = join(dir, `${name}.sh`);
    writeFileSync(wrapper, `#!/bin/sh\ntouch ${JSON.stringify(join(dir, `${name}-started`))}\nsleep 0.5\nexec ${JSON.stringify(ffmpegBinaries()[name])} "$@"\n`, { mode: 0o755 });
    return wrapper;
  };
  const cacheDir = join(dir, "cache");
  const script = `
    const { FrameCache } = require(${FRAME_CACHE_MODULE});
    process.on("SIGINT", () => console.log("SIGINT"));
    new FrameCache({ dir: ${JSON.stringify(cacheDir)}, frames: 4, cacheSize: 16 }).get(${JSON.stringify(media)})
      .then((f) => console.log(JSON.stringify({ frames: f.frames, height: f.height })), (err) => console.log(JSON.stringify({ name: err.name, message: err.message })));`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script], {
    detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, COVER_FFPROBE: slow("ffprobe"), COVER_FFMPEG: slow("ffmpeg") },
  });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  const started = async (name: string) => {
    for (let waited = 0; !existsSync(join(dir, `${name}-started`)); waited += 20) {
      if (waited > 30_000) throw new Error(`${name} did not start: ${stdout}${stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await started("ffprobe");
  process.kill(-child.pid!, "SIGINT");
  await started("ffmpeg");
  process.kill(-child.pid!, "SIGINT");
  await exited;
  const lines = stdout.trim().split("\n");
  assert.deepEqual(lines.slice(0, 2), ["SIGINT", "SIGINT"], stdout + stderr);
  assert.deepEqual(JSON.parse(lines[lines.length - 1]), { frames: 4, height: 16 }, stdout + stderr);
  assert.deepEqual(badMarkers(cacheDir), []);
});
