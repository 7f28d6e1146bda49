import { test } from "node:test";
import assert from "node:assert/strict";
import { evalViewBoxes, evalViews, randomViewBox, renderView, trainView, TIMESFORMER_NORM, viewLength } from "../../src/data/augment";
import { resizeShortSide } from "../../src/data/frame-size";
import type { Frames } from "../../src/data/types";
import { Rng } from "../../src/util/rng";

/** Frames whose pixel (t, y, x, c) = (t*50 + y*10 + x + c) % 256, so positions can be read back. */
function ramp(T: number, H: number, W: number): Frames {
  const data = new Uint8Array(T * H * W * 3);
  for (let t = 0; t < T; t++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) for (let c = 0; c < 3; c++) {
    data[((t * H + y) * W + x) * 3 + c] = (t * 50 + y * 10 + x + c) % 256;
  }
  return { data, frames: T, height: H, width: W };
}

const norm = (v: number) => (v / 255 - 0.45) / 0.225;
/** Back from a normalised float to the uint8 value (for readable comparisons). */
const pixel = (x: Float32Array, i: number) => Math.round((x[i] * 0.225 + 0.45) * 255 * 1000) / 1000;

test("normalisation is TimeSformer's mean 0.45 / std 0.225", () => {
  assert.deepEqual(TIMESFORMER_NORM, { mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225] });
  const f: Frames = { data: new Uint8Array([0, 255, 128]), frames: 1, height: 1, width: 1 };
  const out = new Float32Array(3);
  renderView(f, { resizedHeight: 1, resizedWidth: 1, top: 0, left: 0, size: 1, flip: false }, out);
  assert.ok(Math.abs(out[0] - norm(0)) < 1e-5 && Math.abs(out[1] - norm(255)) < 1e-5 && Math.abs(out[2] - norm(128)) < 1e-5);
});

test("a crop at scale 1 copies the pixels exactly, the same box on every frame; flip mirrors x", () => {
  const f = ramp(2, 6, 8);
  const out = new Float32Array(viewLength(2, 4));
  renderView(f, { resizedHeight: 6, resizedWidth: 8, top: 1, left: 2, size: 4, flip: false }, out);
  for (let t = 0; t < 2; t++) for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) for (let c = 0; c < 3; c++) {
    assert.equal(pixel(out, ((t * 4 + y) * 4 + x) * 3 + c), t * 50 + (y + 1) * 10 + (x + 2) + c);
  }
  const flipped = new Float32Array(viewLength(2, 4));
  renderView(f, { resizedHeight: 6, resizedWidth: 8, top: 1, left: 2, size: 4, flip: true }, flipped);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) assert.equal(pixel(flipped, (y * 4 + x) * 3), (y + 1) * 10 + (2 + 3 - x));
  assert.throws(() => renderView(f, { resizedHeight: 6, resizedWidth: 8, top: 3, left: 0, size: 4, flip: false }, out), /outside/);
});

test("resampling: a constant frame stays constant; 2x downscaling averages (no aliasing); writes at an offset", () => {
  const c: Frames = { data: new Uint8Array(1 * 16 * 16 * 3).fill(200), frames: 1, height: 16, width: 16 };
  const up = evalViews(c, 24, "1x1");
  assert.ok(up.every((v) => Math.abs(v - norm(200)) < 1e-4));
  const checker = new Uint8Array(16 * 16 * 3);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) checker.fill((x + y) % 2 ? 255 : 0, (y * 16 + x) * 3, (y * 16 + x) * 3 + 3);
  const out = new Float32Array(10 + viewLength(1, 8));
  evalViews({ data: checker, frames: 1, height: 16, width: 16 }, 8, "1x1", out, 10);
  assert.equal(out[9], 0);
  for (let y = 1; y < 7; y++) for (let x = 1; x < 7; x++) for (let c = 0; c < 3; c++) {
    const v = pixel(out, 10 + (y * 8 + x) * 3 + c);
    assert.ok(Math.abs(v - 127.5) < 1e-2, `value ${v} at ${y},${x}`); // nearest sampling would give 0 or 255
  }
});

test("evaluation views: short side to S, 3 crops along the long side (left/centre/right, top/centre/bottom)", () => {
  assert.deepEqual(resizeShortSide({ height: 240, width: 427 }, 16), { height: 16, width: 28 });
  assert.deepEqual(resizeShortSide({ height: 1920, width: 1080 }, 16), { height: 28, width: 16 });
  assert.deepEqual(evalViewBoxes(240, 427, 16, "1x3").map((b) => [b.top, b.left]), [[0, 0], [0, 6], [0, 12]]);
  assert.deepEqual(evalViewBoxes(1920, 1080, 16, "1x3").map((b) => [b.top, b.left]), [[0, 0], [6, 0], [12, 0]]);
  assert.deepEqual(evalViewBoxes(240, 427, 16, "1x1").map((b) => [b.top, b.left]), [[0, 6]]);
  const f = ramp(3, 4, 8); // short side already 4: crops at x = 0, 2, 4
  const x = evalViews(f, 4, "1x3");
  assert.equal(x.length, 3 * viewLength(3, 4));
  const per = viewLength(3, 4);
  assert.deepEqual([0, 1, 2].map((v) => pixel(x, v * per)), [0, 2, 4]);
  assert.equal(pixel(x, per + viewLength(1, 4)), 52); // view 1, frame 1, pixel (0,0) = 50 + 0 + 2
});

test("training views: deterministic per seed, crops inside the frame, scale jitter within range", () => {
  const f = ramp(2, 10, 14);
  const a = trainView(f, 0, new Rng(3), { size: 8, flipMap: new Int32Array([0]) });
  const b = trainView(f, 0, new Rng(3), { size: 8, flipMap: new Int32Array([0]) });
  assert.deepEqual(a.box, b.box);
  assert.deepEqual(a.x, b.x);
  const rng = new Rng(9);
  const tops = new Set<number>(), lefts = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const box = randomViewBox(10, 14, rng, { size: 8, allowFlip: true, scale: [1, 1.5] });
    assert.ok(Math.min(box.resizedHeight, box.resizedWidth) >= 8 && Math.min(box.resizedHeight, box.resizedWidth) <= 12);
    assert.ok(box.top + 8 <= box.resizedHeight && box.left + 8 <= box.resizedWidth);
    tops.add(box.top); lefts.add(box.left);
  }
  assert.ok(tops.size > 2 && lefts.size > 4);
  // smaller than the crop: upscaled to S
  const small = randomViewBox(4, 6, new Rng(1), { size: 8, allowFlip: false });
  assert.deepEqual([small.resizedHeight, small.resizedWidth], [8, 12]);
});

test("flip policy: never -> no flips; allowed -> about half; swap -> flipped clips take the mirrored label", () => {
  const f = ramp(1, 8, 8);
  const rng = new Rng(5);
  let flips = 0, swapped = 0;
  for (let i = 0; i < 400; i++) {
    assert.equal(trainView(f, 1, rng, { size: 8, flipMap: null }).box.flip, false);
    const v = trainView(f, 0, rng, { size: 8, flipMap: new Int32Array([1, 0, 2]) });
    if (v.box.flip) { flips++; assert.equal(v.label, 1); swapped++; } else assert.equal(v.label, 0);
    assert.equal(trainView(f, 2, rng, { size: 8, flipMap: new Int32Array([1, 0, 2]) }).label, 2);
  }
  assert.ok(flips > 150 && flips < 250, `flips ${flips}`);
  assert.equal(swapped, flips);
  const flipped = trainView(f, -1, new Rng(0), { size: 8, flipMap: new Int32Array([1, 0]) });
  assert.equal(flipped.label, -1);
});
