/**
 * The frame cache filled by a background process (evaluation clips decoded while a run trains): the same entries as a
 * decode in the foreground, bad files remembered as bad, a stop that ends it mid-way, and a failure that says why.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BackgroundPrepare } from "../../src/data/background-prepare";
import { FrameCache } from "../../src/data/frame-cache";
import { writePng } from "../../src/data/image";
import { loadSplit } from "../../src/data/manifest";
import { MediaError } from "../../src/data/video";
import { tempDir } from "../helpers/tf";

/** A manifest of `count` 16x16 PNGs in split "val" (the ones in `corrupt` are not images). */
function imageManifest(dir: string, count: number, corrupt: number[] = []): string {
  mkdirSync(join(dir, "media"), { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = join(dir, "media", `v${i}.png`);
    if (corrupt.includes(i)) writeFileSync(file, "not an image");
    else writePng(file, new Uint8Array(16 * 16 * 3).fill((i * 37) % 256), 16, 16, { fsync: false });
    lines.push(`v${i}.png ${i % 2}`);
  }
  writeFileSync(join(dir, "val.txt"), lines.join("\n") + "\n");
  const path = join(dir, "manifest.json");
  writeFileSync(path, JSON.stringify({ name: "background", kind: "image", mediaRoot: "media", classes: ["a", "b"], flip: "allowed", splits: { val: { format: "list", files: ["val.txt"] } } }));
  return path;
}

const entries = (dir: string) => (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".npy")).length;

describe("background frame-cache preparation", () => {
  test("fills the cache with the entries a foreground decode would read, and remembers a bad file as bad", async () => {
    const dir = tempDir("bg-fill");
    const path = imageManifest(dir, 6, [4]);
    const cacheDir = join(dir, "cache");
    const job = new BackgroundPrepare([{ dataset: path, split: "val", frames: 1, cacheSize: 12, cacheDir }]);
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

  test("stop() ends it mid-way: what it decoded stays, the rest is left", async () => {
    const dir = tempDir("bg-stop");
    const path = imageManifest(dir, 400);
    const cacheDir = join(dir, "cache");
    mkdirSync(cacheDir);
    const job = new BackgroundPrepare([{ dataset: path, split: "val", frames: 1, cacheSize: 12, cacheDir }], 1);
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
    const job = new BackgroundPrepare([{ dataset: join(dir, "no-such-manifest.json"), split: "val", frames: 1, cacheSize: 12, cacheDir: join(dir, "cache") }]);
    const outcome = await job.done();
    assert.equal(outcome.ok, false);
    assert.match(outcome.reason ?? "", /exit code 1: .*no-such-manifest\.json/);
  });
});
