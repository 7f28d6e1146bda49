import { test } from "node:test";
import assert from "node:assert/strict";
import { Rng, deriveSeed } from "../../src/util/rng";

test("same seed gives the same sequence, different seeds differ", () => {
  const a = new Rng(42), b = new Rng(42), c = new Rng(43);
  const xa = Array.from({ length: 20 }, () => a.uint32());
  const xb = Array.from({ length: 20 }, () => b.uint32());
  const xc = Array.from({ length: 20 }, () => c.uint32());
  assert.deepEqual(xa, xb);
  assert.notDeepEqual(xa, xc);
});

test("state() / fromState() continue exactly, through JSON", () => {
  const a = new Rng(7);
  for (let i = 0; i < 13; i++) a.next();
  const restored = Rng.fromState(JSON.parse(JSON.stringify(a.state())));
  assert.deepEqual(Array.from({ length: 50 }, () => restored.int(1000)), Array.from({ length: 50 }, () => a.int(1000)));
});

test("fromState rejects bad states", () => {
  assert.throws(() => Rng.fromState([0, 0, 0, 0]), /all-zero/);
  assert.throws(() => Rng.fromState([1, 2, 3] as unknown as [number, number, number, number]), /four uint32/);
  assert.throws(() => Rng.fromState([1, 2, 3, -1]), /four uint32/);
});

test("next() in [0,1) with mean near 1/2; int(n) covers [0,n) roughly uniformly", () => {
  const r = new Rng(1);
  let sum = 0;
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60000; i++) {
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
    sum += x;
    counts[r.int(6)]++;
  }
  assert.ok(Math.abs(sum / 60000 - 0.5) < 0.01);
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `counts ${counts}`);
  assert.throws(() => r.int(0), /n must be/);
});

test("shuffle and permutation are permutations, deterministic per seed", () => {
  const items = Array.from({ length: 100 }, (_, i) => i);
  const s1 = new Rng(5).shuffle([...items]);
  const s2 = new Rng(5).shuffle([...items]);
  assert.deepEqual(s1, s2);
  assert.notDeepEqual(s1, items);
  assert.deepEqual([...s1].sort((x, y) => x - y), items);
  const p = Array.from(new Rng(5).permutation(100));
  assert.deepEqual([...p].sort((x, y) => x - y), items);
});

test("deriveSeed separates labels", () => {
  assert.equal(deriveSeed(1, "k400", 0), deriveSeed(1, "k400", 0));
  assert.notEqual(deriveSeed(1, "k400", 0), deriveSeed(1, "k400", 1));
  assert.notEqual(deriveSeed(1, "k400", 0), deriveSeed(1, "ssv2", 0));
  assert.notEqual(deriveSeed(1, "a"), deriveSeed(2, "a"));
});

test("negative and large seeds get their own streams", () => {
  const first = (seed: number) => new Rng(seed).uint32();
  const seeds = [0, 1, -1, 2 ** 32, 2 ** 32 + 1, -(2 ** 32)];
  assert.equal(new Set(seeds.map(first)).size, seeds.length);
  assert.equal(new Set(seeds.map((s) => deriveSeed(s, "x"))).size, seeds.length);
});
