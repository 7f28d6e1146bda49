import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { ensureBuiltin, GENERATORS, openSplit } from "../../src/data/builtin";
import { loadManifest, MANIFEST_DIR } from "../../src/data/manifest";
import type { DatasetManifest } from "../../src/data/manifest";
import type { Frames } from "../../src/data/types";
import { decodeClip } from "../../src/data/video";

const tmp = mkdtempSync(join(tmpdir(), "cover-builtin-"));
const NAMES = ["digits-images", "digits-appearance", "digits-motion", "digits-moments"];

function shipped(name: string): DatasetManifest {
  return loadManifest(join(MANIFEST_DIR, `builtin-${name}.json`));
}

function small(name: string, options: Record<string, number>, seed?: number): DatasetManifest {
  const m = shipped(name);
  return { ...m, builtin: { generator: m.builtin!.generator, seed: seed ?? m.builtin!.seed, options } };
}

function filesUnder(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p); else out.set(relative(root, p), readFileSync(p));
    }
  };
  walk(root);
  return out;
}

test("shipped manifests name their generator, classes and flip policy", () => {
  for (const name of NAMES) {
    const m = shipped(name);
    const g = GENERATORS[m.builtin!.generator];
    assert.ok(g, name);
    assert.deepEqual(m.classes, g.classes, name);
    assert.equal(m.flip, g.flip, name);
    assert.equal(m.kind, g.kind, name);
  }
  assert.equal(shipped("digits-motion").flip, "never");
  assert.notDeepEqual(shipped("digits-moments").classes, shipped("digits-appearance").classes);
});

test("generation is deterministic for a seed (same bytes twice) and changes with the seed", async () => {
  for (const name of ["digits-images", "digits-motion"]) {
    const options = { train: 70, val: 4, size: 24, frames: 6 }; // more than one encoder batch (64)
    const a = filesUnder(await ensureBuiltin(small(name, options), { root: join(tmp, `${name}-a`), silent: true }));
    const b = filesUnder(await ensureBuiltin(small(name, options), { root: join(tmp, `${name}-b`), silent: true, jobs: 1 }));
    assert.ok(a.size >= 74 + 3, name);
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [k, v] of a) assert.ok(v.equals(b.get(k)!), `${name}: ${k} differs between two generations`);
    const c = filesUnder(await ensureBuiltin(small(name, options, 99), { root: join(tmp, `${name}-c`), silent: true }));
    assert.ok(!c.get("train/000000." + (name === "digits-images" ? "png" : "mp4"))!.equals(a.get("train/000000." + (name === "digits-images" ? "png" : "mp4"))!));
  }
});

test("classes are balanced and every split parses without problems", async () => {
  for (const name of NAMES) {
    const g = GENERATORS[name];
    const manifest = small(name, { train: g.classes.length * 3, val: g.classes.length, size: 24, frames: 4 });
    const root = join(tmp, `${name}-balanced`);
    for (const split of ["train", "val"]) {
      const data = await openSplit(join(MANIFEST_DIR, `builtin-${name}.json`), split, { manifest, root, silent: true });
      assert.equal(data.problems.length, 0, `${name}/${split}: ${data.problems.map((p) => p.message).join("; ")}`);
      const counts = new Array(g.classes.length).fill(0);
      for (const s of data.samples) counts[s.label]++;
      assert.deepEqual(counts, new Array(g.classes.length).fill(split === "train" ? 3 : 1), `${name}/${split}`);
      assert.ok(data.samples.every((s) => s.path.startsWith(root)));
    }
  }
});

// Measurements on decoded frames, independent of the generator's code.
function brightness(f: Frames, t: number, x: number, y: number): number {
  const p = ((t * f.height + y) * f.width + x) * 3;
  return f.data[p] + f.data[p + 1] + f.data[p + 2];
}

function centreOfMass(f: Frames, t: number): { x: number; y: number; mass: number } {
  let m = 0, sx = 0, sy = 0;
  for (let y = 0; y < f.height; y++) for (let x = 0; x < f.width; x++) {
    const b = brightness(f, t, x, y);
    m += b; sx += b * x; sy += b * y;
  }
  return { x: sx / m, y: sy / m, mass: m };
}

/** Error between frame t+1 and frame t turned clockwise (on screen) by `angle` about the centre. */
function rotationError(f: Frames, t: number, angle: number): number {
  const c = f.width / 2, cos = Math.cos(angle), sin = Math.sin(angle);
  let err = 0;
  for (let y = 0; y < f.height; y++) for (let x = 0; x < f.width; x++) {
    const dx = x + 0.5 - c, dy = y + 0.5 - c;
    const u = Math.round(dx * cos + dy * sin + c - 0.5), v = Math.round(-dx * sin + dy * cos + c - 0.5);
    const before = u >= 0 && v >= 0 && u < f.width && v < f.height ? brightness(f, t, u, v) : 0;
    err += (brightness(f, t + 1, x, y) - before) ** 2;
  }
  return err;
}

function classifyMotion(f: Frames): string {
  const first = centreOfMass(f, 0), last = centreOfMass(f, f.frames - 1);
  const dx = last.x - first.x, dy = last.y - first.y, growth = last.mass / first.mass;
  if (Math.abs(dx) > 6 && Math.abs(dx) > 2 * Math.abs(dy)) return dx > 0 ? "moving left to right" : "moving right to left";
  if (Math.abs(dy) > 6 && Math.abs(dy) > 2 * Math.abs(dx)) return dy > 0 ? "moving down" : "moving up";
  if (growth > 1.8 || growth < 1 / 1.8) return growth > 1 ? "growing" : "shrinking";
  let clockwise = 0;
  for (let t = 0; t + 1 < f.frames; t++) clockwise += rotationError(f, t, -0.25) - rotationError(f, t, 0.25);
  return clockwise > 0 ? "rotating clockwise" : "rotating counterclockwise";
}

function reversed(f: Frames): Frames {
  const n = f.height * f.width * 3;
  const data = new Uint8Array(f.data.length);
  for (let t = 0; t < f.frames; t++) data.set(f.data.subarray(t * n, (t + 1) * n), (f.frames - 1 - t) * n);
  return { ...f, data };
}

function mirrored(f: Frames): Frames {
  const data = new Uint8Array(f.data.length);
  for (let t = 0; t < f.frames; t++) for (let y = 0; y < f.height; y++) for (let x = 0; x < f.width; x++) {
    const from = ((t * f.height + y) * f.width + x) * 3, to = ((t * f.height + y) * f.width + (f.width - 1 - x)) * 3;
    data.set(f.data.subarray(from, from + 3), to);
  }
  return { ...f, data };
}

test("motion clips, decoded: each shows its motion, reversed in time shows its pair class, mirrored too for left/right and rotation", async () => {
  const classes = GENERATORS["digits-motion"].classes;
  const pair = (label: number) => label ^ 1;
  const manifest = small("digits-motion", { train: 16, val: 0, size: 40, frames: 16 }, 7);
  const data = await openSplit(join(MANIFEST_DIR, "builtin-digits-motion.json"), "train", { manifest, root: join(tmp, "motion"), silent: true });
  for (const sample of data.samples) {
    const clip = await decodeClip(sample.path, { frames: 8, size: 40 });
    assert.equal(classifyMotion(clip), classes[sample.label], `${sample.path} (${classes[sample.label]})`);
    assert.equal(classifyMotion(reversed(clip)), classes[pair(sample.label)], `${sample.path} reversed`);
    const mirrorSwaps = /left|right|clockwise/.test(classes[sample.label]);
    assert.equal(classifyMotion(mirrored(clip)), classes[mirrorSwaps ? pair(sample.label) : sample.label], `${sample.path} mirrored`);
  }
});

test("clips are encoded losslessly: decoding gives back every frame exactly, alone or in a batch", async () => {
  const { encodeLosslessMp4s } = await import("../../src/data/builtin/encode");
  const frames = 6, size = 24;
  const items = [0, 1, 2].map((k) => ({
    path: join(tmp, "lossless", `${k}.mp4`),
    clip: new Uint8Array(frames * size * size * 3).map((_, i) => ((i * (k + 3) * 2654435761) >>> 24) & 0xff),
  }));
  await encodeLosslessMp4s(items, frames, size, size);
  await encodeLosslessMp4s([{ ...items[1], path: join(tmp, "lossless", "alone.mp4") }], frames, size, size);
  for (const [path, clip] of [...items.map((it) => [it.path, it.clip] as const), [join(tmp, "lossless", "alone.mp4"), items[1].clip] as const]) {
    const decoded = await decodeClip(path, { frames, size });
    assert.ok(Buffer.from(decoded.data).equals(Buffer.from(clip)), path);
  }
  assert.deepEqual(readdirSync(join(tmp, "lossless")).sort(), ["0.mp4", "1.mp4", "2.mp4", "alone.mp4"]);
});

test("a stop signal ends generation between batches; nothing is marked generated, and the next call generates it all", async () => {
  const options = { train: 200, val: 4, size: 16, frames: 4 }; // several encoder batches
  const root = join(tmp, "stopped");
  const stop = new AbortController();
  const generating = ensureBuiltin(small("digits-motion", options), { root, silent: true, jobs: 1, signal: stop.signal });
  setImmediate(() => stop.abort("SIGINT"));
  await assert.rejects(generating, (err: Error) => err.name === "InterruptedError" && /generating digits-motion stopped/.test(err.message));
  assert.ok(!existsSync(join(root, "generated.json")), "not marked generated");
  const files = filesUnder(await ensureBuiltin(small("digits-motion", options), { root, silent: true }));
  assert.ok(files.has("generated.json") && files.has("train/000199.mp4") && files.has("val.jsonl"));
});
