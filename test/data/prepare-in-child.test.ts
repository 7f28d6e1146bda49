/**
 * The frame cache filled by a child process (evaluation clips decoded while a run trains, training clips before the
 * first step): the same entries as a decode in this process, bad files remembered as bad, progress per task, a stop
 * that ends it mid-way, a failure that says why, and a run's data decoded by the child only where there is enough.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { PrepareInChild } from "../../src/data/prepare-in-child";
import { FrameCache } from "../../src/data/frame-cache";
import { writePng } from "../../src/data/image";
import { loadSplit } from "../../src/data/manifest";
import { MediaError } from "../../src/data/video";
import { tempDir } from "../helpers/tf";
import { mediaCallsOf } from "../helpers/media-calls";
import { resolveRunConfig } from "../../src/runs/named";
import { openRunData } from "../../src/runs/pipeline";
import { InterruptedError } from "../../src/util/interrupt";

interface ManifestOptions {
  /** Indices written as files that are not images. */
  corrupt?: number[];
  /** Splits, each with its own `count` images (default ["val"]). */
  splits?: string[];
  /** Height of image i (default 16; width 16): images of one size are decoded 64 to an ffmpeg, of alternating sizes one each. */
  height?: (i: number) => number;
}

/** A manifest (manifest.json in `dir`) of `count` PNGs in each split. */
function imageManifest(dir: string, count: number, options: ManifestOptions = {}): string {
  const { corrupt = [], splits = ["val"], height = () => 16 } = options;
  mkdirSync(join(dir, "media"), { recursive: true });
  for (const split of splits) {
    const lines: string[] = [];
    for (let i = 0; i < count; i++) {
      const file = join(dir, "media", `${split}${i}.png`);
      if (corrupt.includes(i)) writeFileSync(file, "not an image");
      else writePng(file, new Uint8Array(16 * height(i) * 3).fill((i * 37) % 256), 16, height(i), { fsync: false });
      lines.push(`${split}${i}.png ${i % 2}`);
    }
    writeFileSync(join(dir, `${split}.txt`), lines.join("\n") + "\n");
  }
  const path = join(dir, "manifest.json");
  const files = Object.fromEntries(splits.map((split) => [split, { format: "list", files: [`${split}.txt`] }]));
  writeFileSync(path, JSON.stringify({ name: "child", kind: "image", mediaRoot: "media", classes: ["a", "b"], flip: "allowed", splits: files }));
  return path;
}

const entries = (dir: string) => (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".npy")).length;

describe("frame-cache preparation in a child process", () => {
  test("fills the cache with the entries a foreground decode would read, and remembers a bad file as bad", async () => {
    const dir = tempDir("bg-fill");
    const path = imageManifest(dir, 6, { corrupt: [4] });
    const cacheDir = join(dir, "cache");
    const job = new PrepareInChild([{ dataset: path, split: "val", frames: 1, cacheSize: 12, cacheDir }]);
    assert.deepEqual(await job.done(), { ok: true });
    assert.ok(job.isDone);
    const cache = new FrameCache({ frames: 1, cacheSize: 12, dir: cacheDir });
    const samples = loadSplit(path, "val").samples;
    for (const [i, s] of samples.entries()) {
      if (i === 4) {
        assert.equal(cache.has(s), false);
        await assert.rejects(cache.get(s), (err: unknown) => err instanceof MediaError && /remembered in/.test(err.message));
      } else {
        assert.ok(cache.has(s), `v${i} cached`);
        const frames = await cache.get(s);
        assert.deepEqual([frames.frames, frames.height, frames.width], [1, 12, 12]);
        assert.equal(frames.data[0], (i * 37) % 256, "the decoded pixels");
      }
    }
  });

  test("reports each task's progress, bad files counted, ending at the task's size", async () => {
    const dir = tempDir("child-progress");
    const first = imageManifest(join(dir, "a"), 5, { corrupt: [1] });
    const second = imageManifest(join(dir, "b"), 3);
    const cacheDir = join(dir, "cache");
    const seen: [number, number, number][] = [];
    const job = new PrepareInChild([first, second].map((path) => ({ dataset: path, split: "val", frames: 1, cacheSize: 12, cacheDir })), {
      onProgress: (task, done, bad) => seen.push([task, done, bad]),
    });
    assert.deepEqual(await job.done(), { ok: true });
    assert.deepEqual(seen.filter(([task]) => task === 0).pop(), [0, 5, 1]);
    assert.deepEqual(seen.filter(([task]) => task === 1).pop(), [1, 3, 0]);
    assert.ok(seen.every(([task, done], i) => i === 0 || task > seen[i - 1][0] || done >= seen[i - 1][1]), "counts only grow");
  });

  test("a run's data: 64 clips or more to decode (train and val) go to a child, fewer are decoded in the run's own process", () => {
    for (const [count, inChild] of [[20, false], [70, true]] as const) {
      const dir = tempDir(`child-run-${count}`);
      imageManifest(dir, count, { splits: ["train", "val"] });
      const script = `process.chdir(${JSON.stringify(dir)});
        const { openRunData } = require(${JSON.stringify(resolve("src/runs/pipeline.ts"))});
        const { resolveRunConfig } = require(${JSON.stringify(resolve("src/runs/named.ts"))});
        const base = resolveRunConfig("standard-motion", "smoke", 0);
        const config = { ...base, train: { "manifest.json": 1 }, maxSamples: undefined };
        openRunData(config, { quiet: true }).then(async (data) => {
          const clips = data.trainClips["manifest.json"].clips;
          await data.close();
          if (clips !== ${count} || data.badFiles().length !== 0) throw new Error("clips " + clips + ", bad " + data.badFiles().length);
        }).catch((e) => { console.error(e); process.exit(1); });`;
      const calls = mediaCallsOf(script, dir);
      assert.ok(calls.ffmpeg.length >= 2, `${count} clips: decoded (${calls.ffmpeg.length} ffmpeg processes)`);
      if (inChild) assert.ok(calls.parents.ffmpeg.every((pid) => pid !== calls.scriptPid), `${count} clips: every ffmpeg started by the child`);
      else assert.ok(calls.parents.ffmpeg.every((pid) => pid === calls.scriptPid), `${count} clips: every ffmpeg started by the run's process`);
    }
  });

  test("a run's data stopped while its child decodes: InterruptedError, the child ended, what it decoded kept", async () => {
    const dir = tempDir("child-interrupt");
    // Images of two sizes in turn: one ffmpeg each (no batches), so that decoding lasts long enough to be stopped.
    imageManifest(dir, 300, { splits: ["train", "val"], height: (i) => 16 + (i % 2) });
    const cacheDir = join(dir, "cache");
    const config = { ...resolveRunConfig("standard-motion", "smoke", 0), train: { "manifest.json": 1 }, maxSamples: undefined };
    const stop = new AbortController();
    const cwd = process.cwd();
    const previousCache = process.env.COVER_CACHE_DIR;
    process.chdir(dir);
    process.env.COVER_CACHE_DIR = cacheDir;
    try {
      const opened = openRunData(config, { quiet: true, signal: stop.signal });
      const started = Date.now();
      while ((!existsSync(cacheDir) || entries(cacheDir) === 0) && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 10));
      stop.abort("SIGINT");
      await assert.rejects(opened, (err: unknown) => err instanceof InterruptedError && /decoding stopped; what is decoded stays cached/.test(err.message));
    } finally {
      process.chdir(cwd);
      if (previousCache === undefined) delete process.env.COVER_CACHE_DIR; else process.env.COVER_CACHE_DIR = previousCache;
    }
    const left = entries(cacheDir);
    assert.ok(left > 0 && left < 600, `stopped part way (${left} of 600 decoded)`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(entries(cacheDir), left, "nothing decodes after the stop: the child has ended");
  });

  test("stop() ends it mid-way: what it decoded stays, the rest is left", async () => {
    const dir = tempDir("bg-stop");
    const path = imageManifest(dir, 400);
    const cacheDir = join(dir, "cache");
    mkdirSync(cacheDir);
    const job = new PrepareInChild([{ dataset: path, split: "val", frames: 1, cacheSize: 12, cacheDir }], { jobs: 1 });
    const started = Date.now();
    while (entries(cacheDir) === 0 && Date.now() - started < 60_000) await new Promise((r) => setTimeout(r, 20));
    assert.ok(entries(cacheDir) > 0, "it started decoding");
    await job.stop();
    assert.ok(job.isDone);
    const left = entries(cacheDir);
    assert.ok(left < 400, `stopped before the end (${left} of 400 decoded)`);
    assert.equal((await job.done()).ok, false, "stopped, not finished");
  });

  test("a task it cannot do (an unknown dataset) fails with the reason", async () => {
    const dir = tempDir("bg-fail");
    const job = new PrepareInChild([{ dataset: join(dir, "no-such-manifest.json"), split: "val", frames: 1, cacheSize: 12, cacheDir: join(dir, "cache") }]);
    const outcome = await job.done();
    assert.equal(outcome.ok, false);
    assert.match(outcome.reason ?? "", /exit code 1: .*no-such-manifest\.json/);
  });
});
