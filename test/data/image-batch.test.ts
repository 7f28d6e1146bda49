import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { decodeClip, decodeImageBatch, pngBatchKey } from "../../src/data/video";
import { FrameCache, prepareCache } from "../../src/data/frame-cache";
import { readNpy } from "../../src/io/npy";
import { writePng } from "../../src/data/image";
import { Rng } from "../../src/util/rng";
import { tempDir } from "../helpers/tf";
import { mediaCallsOf } from "../helpers/media-calls";

const dir = tempDir("image-batch");

/** `count` PNGs of random pixels, width x height, named prefix-i.png. */
function pngs(prefix: string, count: number, width: number, height: number, seed: number): string[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => {
    const path = join(dir, `${prefix}-${i}.png`);
    writePng(path, Uint8Array.from({ length: width * height * 3 }, () => rng.int(256)), width, height);
    return path;
  });
}

test("a batch of PNGs decodes to exactly the pixels of one decoder per image (shrunk, enlarged, cropped)", async () => {
  const wide = pngs("wide", 5, 48, 30, 1);
  for (const options of [{ size: 24 }, { size: 24, crop: true }, { size: 45 }]) {
    const batch = await decodeImageBatch(wide, options);
    assert.equal(batch.length, wide.length);
    for (const [i, path] of wide.entries()) {
      const single = await decodeClip(path, { frames: 1, ...options });
      assert.deepEqual([batch[i].frames, batch[i].height, batch[i].width], [1, single.height, single.width], JSON.stringify(options));
      assert.deepEqual(Buffer.from(batch[i].data), Buffer.from(single.data), `${path} ${JSON.stringify(options)}`);
    }
  }
});

test("a batch takes PNGs of one size and layout only", async () => {
  const [a] = pngs("a", 1, 16, 16, 2), [b] = pngs("b", 1, 16, 17, 3);
  assert.notEqual(pngBatchKey(a), pngBatchKey(b));
  await assert.rejects(decodeImageBatch([a, b], { size: 8 }), /one size and pixel layout/);
  assert.equal(pngBatchKey(join(dir, "missing.png")), undefined);
});

test("a bad image in a batch: the others are cached, the bad one is named and counted", async () => {
  const images = pngs("mixed", 9, 20, 20, 4);
  const bad = images[4];
  const bytes = readFileSync(bad);
  writeFileSync(bad, Buffer.concat([bytes.subarray(0, 33), Buffer.alloc(bytes.length - 33, 7)])); // IHDR kept, pixels garbage
  assert.equal(pngBatchKey(bad), pngBatchKey(images[0]), "the header still says it belongs to the batch");
  const cache = new FrameCache({ dir: join(dir, "cache-mixed"), frames: 1, cacheSize: 16 });
  const report = await prepareCache(cache, images, { jobs: 1, silent: true });
  assert.deepEqual([report.built, report.bad.map((b) => b.path)], [8, [bad]]);
  assert.ok(!existsSync(cache.entryFile(bad)));
  for (const path of images.filter((p) => p !== bad)) {
    assert.deepEqual(Buffer.from(readNpy(cache.entryFile(path)).data as Uint8Array), Buffer.from((await decodeClip(path, { frames: 1, size: 16 })).data));
  }
});

test("preparing 130 same-size PNGs runs 3 decoders, not 130", () => {
  const images = pngs("many", 130, 12, 12, 5);
  const script = `const { FrameCache, prepareCache } = require(${JSON.stringify(resolve("src/data/frame-cache.ts"))});
    prepareCache(new FrameCache({ dir: ${JSON.stringify(join(dir, "cache-many"))}, frames: 1, cacheSize: 8 }), ${JSON.stringify(images)}, { jobs: 2, silent: true })
      .then((r) => { if (r.built !== 130) throw new Error(JSON.stringify(r)); }).catch((e) => { console.error(e); process.exit(1); });`;
  assert.equal(mediaCallsOf(script, dir).ffmpeg.length, 3);
});
