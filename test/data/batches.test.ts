import { test } from "node:test";
import assert from "node:assert/strict";
import { Batch, BatchSource, BatchSourceOptions, FrameSource, SampleError } from "../../src/data/batches";
import type { FlipPolicy } from "../../src/data/manifest";
import type { DatasetSplit, Frames, Sample } from "../../src/data/types";
import type { RunData } from "../../src/runs/data";

/** A split of n samples whose label is index % classes. */
function split(dataset: string, n: number, classes: string[], flip: FlipPolicy = "allowed", kind: "video" | "image" = "video"): DatasetSplit {
  const samples: Sample[] = Array.from({ length: n }, (_, i) => ({
    id: `${dataset}-${i}`, path: `/media/${dataset}/${i}.mp4`, label: i % classes.length, source: { file: `/ann/${dataset}.txt`, line: i + 1 },
  }));
  return { dataset, kind, split: "train", classes, samples, flip, problems: [] };
}

/** Clip frames whose every pixel holds the sample number (so a batch tells which clip landed where). */
function constantFrames(T: number, value: number, H = 10, W = 12): Frames {
  return { data: new Uint8Array(T * H * W * 3).fill(value), frames: T, height: H, width: W };
}

const sampleNumber = (s: Sample) => Number(/(\d+)\.mp4$/.exec(s.path)![1]);
const decode = (v: number) => Math.round((v * 0.225 + 0.45) * 255);

const source: FrameSource = async (dataset, sample) => constantFrames(dataset === "images" ? 1 : 4, sampleNumber(sample));

function options(overrides: Partial<BatchSourceOptions> = {}): BatchSourceOptions {
  return {
    train: { videos: split("videos", 30, ["a", "b", "c"]), images: split("images", 50, ["x", "y"], "allowed", "image") },
    frameSource: source, size: 8, batchSize: 6, seed: 3, ...overrides,
  };
}

async function take(it: AsyncIterator<Batch>, n: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) out.push((await it.next()).value as Batch);
  return out;
}

test("batches are grouped per dataset with [n, T, S, S, 3] (images T=1) and the samples' labels", async () => {
  const src = new BatchSource(options());
  assert.equal(src.microBatchesPerEpoch, 13);
  assert.deepEqual(src.classes, { videos: ["a", "b", "c"], images: ["x", "y"] });
  const batches = await take(src.trainBatches(0), 20);
  for (const b of batches) {
    assert.equal(b.groups.reduce((a, g) => a + g.shape[0], 0), 6);
    assert.deepEqual(b.groups.map((g) => g.dataset), ["images", "videos"].filter((d) => b.groups.some((g) => g.dataset === d)));
    for (const g of b.groups) {
      const [n, T, S, S2, C] = g.shape;
      assert.deepEqual([T, S, S2, C], [g.dataset === "images" ? 1 : 4, 8, 8, 3]);
      assert.equal(g.x.length, n * T * S * S * 3);
      const per = T * S * S * 3;
      for (let j = 0; j < n; j++) {
        const sample = decode(g.x[j * per]);
        assert.equal(decode(g.x[j * per + per - 1]), sample);
        assert.equal(g.labels[j], sample % (g.dataset === "images" ? 2 : 3));
      }
    }
  }
  assert.ok(batches.some((b) => b.groups.length === 2), "some batches mix both datasets");
  await src.close();
});

test("the same batches for the same seed, and from any starting batch (resume)", async () => {
  const full = await take(new BatchSource(options()).trainBatches(0), 8);
  const again = await take(new BatchSource(options()).trainBatches(0), 8);
  const resumed = await take(new BatchSource(options()).trainBatches(5), 3);
  assert.deepEqual(again, full);
  assert.deepEqual(resumed, full.slice(5));
  const other = await take(new BatchSource(options({ seed: 4 })).trainBatches(0), 8);
  assert.notDeepEqual(other, full);
});

test("flip policy with a label swap: flipped clips carry the mirrored label; 'never' never flips", async () => {
  // frames rise from left to right, so a flipped view falls
  const ramp: FrameSource = async () => {
    const f = constantFrames(2, 0, 8, 8);
    for (let i = 0; i < f.data.length; i += 3) f.data.fill(((i / 3) % 8) * 30, i, i + 3);
    return f;
  };
  // exhaustively: collect (original label -> batch label) with the flip state
  const collect = async (flip: FlipPolicy) => {
    const src = new BatchSource({ train: { m: split("m", 40, ["left", "right", "up"], flip) }, frameSource: ramp, size: 8, batchSize: 8, seed: 1 });
    const pairs: [boolean, number][] = [];
    for (const b of await take(src.trainBatches(0), 10)) {
      const g = b.groups[0];
      const per = 2 * 8 * 8 * 3;
      for (let j = 0; j < g.shape[0]; j++) pairs.push([g.x[j * per] > g.x[j * per + 7 * 3], g.labels[j]]);
    }
    return pairs;
  };
  const never = await collect("never");
  assert.ok(never.every(([flipped]) => !flipped));
  const swapped = await collect({ swap: { left: "right" } });
  const flips = swapped.filter(([f]) => f).length;
  assert.ok(flips > 20 && flips < 60, `flips ${flips}`);
  // label counts are preserved per class pair overall, but each flipped 'up' stays 'up'
  const plainCounts = [0, 0, 0], flippedCounts = [0, 0, 0];
  for (const [f, l] of swapped) (f ? flippedCounts : plainCounts)[l]++;
  assert.ok(flippedCounts[0] + flippedCounts[1] > 0 && flippedCounts[2] > 0);
  // a mapping that did not swap would leave labels equal to the originals; check against the sampler's originals
  const noSwap = await collect("allowed");
  assert.equal(noSwap.length, swapped.length);
  noSwap.forEach(([f, l], i) => {
    assert.equal(swapped[i][0], f, "same crops and flips for the same seed");
    assert.equal(swapped[i][1], f && l < 2 ? 1 - l : l);
  });
});

test("prefetch loads the next batches in the background; concurrency caps loads in flight", async () => {
  let calls = 0;
  const counting: FrameSource = async (d, s) => { calls++; return source(d, s); };
  const it = new BatchSource(options({ frameSource: counting, prefetch: 2, concurrency: 100 })).trainBatches(0);
  await it.next();
  assert.ok(calls >= 3 * 6, `only ${calls} loads started`);
  let unprefetched = 0;
  const it0 = new BatchSource(options({ frameSource: async (d, s) => { unprefetched++; return source(d, s); }, prefetch: 0 })).trainBatches(0);
  await it0.next();
  assert.equal(unprefetched, 6);

  let active = 0, maxActive = 0;
  const slow: FrameSource = async (d, s) => {
    active++; maxActive = Math.max(maxActive, active);
    await new Promise((r) => setTimeout(r, 1));
    active--;
    return source(d, s);
  };
  await take(new BatchSource(options({ frameSource: slow, concurrency: 3 })).trainBatches(0), 4);
  assert.equal(maxActive, 3);
});

test("a bad sample raises an error naming its file and annotation line, or is skipped and counted", async () => {
  const bad: FrameSource = async (d, s) => {
    if (d === "videos" && sampleNumber(s) % 5 === 0) throw new Error("ffmpeg: Invalid data found when processing input");
    return source(d, s);
  };
  const strict = new BatchSource(options({ frameSource: bad }));
  await assert.rejects(take(strict.trainBatches(0), 20), (err: unknown) =>
    err instanceof SampleError && /videos: \/media\/videos\/\d*[05]\.mp4 \(\/ann\/videos.txt:\d+\): ffmpeg: Invalid data/.test(err.message));

  const lenient = new BatchSource(options({ frameSource: bad, skipBadSamples: true, prefetch: 0 }));
  const batches = await take(lenient.trainBatches(0), 20);
  const clips = batches.reduce((a, b) => a + b.groups.reduce((x, g) => x + g.shape[0], 0), 0);
  assert.ok(lenient.badSamples.length > 0);
  assert.equal(clips + lenient.badSamples.length, 20 * 6);
  assert.ok(lenient.badSamples.every((b) => b.dataset === "videos" && /\/ann\/videos.txt:\d+/.test(b.source)));

  const mixedT: FrameSource = async (d, s) => constantFrames(sampleNumber(s) % 2 ? 4 : 3, 1);
  await assert.rejects(take(new BatchSource(options({ frameSource: mixedT })).trainBatches(0), 3), /has [34] frames, but other clips of '(videos|images)'/);
  const empty: FrameSource = async () => ({ data: new Uint8Array(0), frames: 0, height: 10, width: 10 });
  await assert.rejects(take(new BatchSource(options({ frameSource: empty })).trainBatches(0), 1), /no frames/);
});

test("evaluation batches: split order, 1 or 3 views per clip, a short last batch", async () => {
  const val = split("videos", 7, ["a", "b", "c"]);
  const src = new BatchSource({ ...options(), eval: { videos: val }, evalBatchSize: 3 });
  assert.equal(src.evalSize("videos"), 7);
  const seen: number[] = [];
  const shapes: number[][] = [];
  for await (const b of src.evalBatches("videos", "1x3")) {
    shapes.push(b.shape);
    assert.equal(b.views, 3);
    const per = 4 * 8 * 8 * 3;
    for (let j = 0; j < b.labels.length; j++) {
      const views = [0, 1, 2].map((v) => decode(b.x[(j * 3 + v) * per]));
      assert.deepEqual(views, [views[0], views[0], views[0]]);
      seen.push(views[0]);
      assert.equal(b.labels[j], views[0] % 3);
    }
  }
  assert.deepEqual(seen, [0, 1, 2, 3, 4, 5, 6]);
  assert.deepEqual(shapes, [[9, 4, 8, 8, 3], [9, 4, 8, 8, 3], [3, 4, 8, 8, 3]]);
  const single = [];
  for await (const b of src.evalBatches("videos", "1x1")) single.push(b.shape[0]);
  assert.deepEqual(single, [3, 3, 1]);
  assert.throws(() => src.evalBatches("nope", "1x1"), /no evaluation split for dataset 'nope'/);
});

test("unlabelled training samples are rejected", () => {
  const s = split("videos", 3, ["a"]);
  s.samples[1].label = -1;
  assert.throws(() => new BatchSource(options({ train: { videos: s } })), /unlabelled samples \(\/ann\/videos.txt:2\)/);
});

test("BatchSource is the trainer's RunData (type check) and stops loading on close", async () => {
  const src: RunData = new BatchSource(options({ eval: { videos: split("videos", 4, ["a", "b", "c"]) } }));
  const it = src.trainBatches(0);
  assert.ok(!(await it.next()).done);
  await src.close();
  assert.equal((await it.next()).done, true);
});
