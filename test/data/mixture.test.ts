import { test } from "node:test";
import assert from "node:assert/strict";
import { MixtureSampler, Pick } from "../../src/data/mixture";

const config = { datasets: { k400: 30, ssv2: 20, imagenet: 50 }, batchSize: 8, seed: 11 };

function draw(s: MixtureSampler, n: number): Pick[][] {
  return Array.from({ length: n }, () => s.next());
}

test("deterministic for a seed; a different seed gives a different sequence", () => {
  assert.deepEqual(draw(new MixtureSampler(config), 30), draw(new MixtureSampler(config), 30));
  assert.notDeepEqual(draw(new MixtureSampler(config), 30), draw(new MixtureSampler({ ...config, seed: 12 }), 30));
  // key order of the config does not matter
  const reordered = { ...config, datasets: { imagenet: 50, ssv2: 20, k400: 30 } };
  assert.deepEqual(draw(new MixtureSampler(config), 10), draw(new MixtureSampler(reordered), 10));
});

test("datasets drawn in proportion to size by default, or to the given weights; every batch mixes", () => {
  const count = (s: MixtureSampler, batches: number) => {
    const c: Record<string, number> = { k400: 0, ssv2: 0, imagenet: 0 };
    let mixed = 0;
    for (const batch of draw(s, batches)) {
      for (const p of batch) c[p.dataset]++;
      if (new Set(batch.map((p) => p.dataset)).size > 1) mixed++;
    }
    return { c, mixed };
  };
  const bySize = count(new MixtureSampler(config), 2000);
  const total = 2000 * 8;
  assert.ok(Math.abs(bySize.c.k400 / total - 0.3) < 0.02, JSON.stringify(bySize.c));
  assert.ok(Math.abs(bySize.c.ssv2 / total - 0.2) < 0.02, JSON.stringify(bySize.c));
  assert.ok(Math.abs(bySize.c.imagenet / total - 0.5) < 0.02, JSON.stringify(bySize.c));
  assert.ok(bySize.mixed > 1900);
  const weighted = count(new MixtureSampler({ ...config, weights: { k400: 1, ssv2: 1, imagenet: 0 } }), 1000);
  assert.equal(weighted.c.imagenet, 0);
  assert.ok(Math.abs(weighted.c.k400 / 8000 - 0.5) < 0.03, JSON.stringify(weighted.c));
  assert.deepEqual(new MixtureSampler(config).probabilities(), { imagenet: 0.5, k400: 0.3, ssv2: 0.2 });
});

test("epoch = sum of sizes / batch size; each pass over a dataset visits every sample once, reshuffled per pass", () => {
  const s = new MixtureSampler(config);
  assert.equal(s.batchesPerEpoch, 12);
  assert.equal(new MixtureSampler({ ...config, batchesPerEpoch: 5 }).batchesPerEpoch, 5);
  const seen: number[] = [];
  while (seen.length < 40) for (const p of s.next()) if (p.dataset === "ssv2") seen.push(p.index);
  const pass1 = seen.slice(0, 20), pass2 = seen.slice(20, 40);
  const all = Array.from({ length: 20 }, (_, i) => i);
  assert.deepEqual([...pass1].sort((a, b) => a - b), all);
  assert.deepEqual([...pass2].sort((a, b) => a - b), all);
  assert.notDeepEqual(pass1, pass2);
  assert.notDeepEqual(pass1, all);
});

test("resume: atBatch(k) continues exactly where drawing k batches left off", () => {
  const original = new MixtureSampler(config);
  draw(original, 37);
  const replayed = MixtureSampler.atBatch(config, 37);
  assert.equal(replayed.position, 37);
  const expected = draw(original, 50);
  assert.deepEqual(draw(replayed, 50), expected);
  assert.equal(original.position, 87);
  assert.equal(original.epoch, 7);
});

test("bad configs are rejected with clear errors", () => {
  assert.throws(() => new MixtureSampler({ ...config, datasets: {} }), /no datasets/);
  assert.throws(() => new MixtureSampler({ ...config, batchSize: 0 }), /batchSize/);
  assert.throws(() => new MixtureSampler({ ...config, weights: { k400: 1, ssv2: 1 } }), /no weight for dataset 'imagenet'/);
  assert.throws(() => new MixtureSampler({ ...config, weights: { k400: 0, ssv2: 0, imagenet: 0 } }), /all weights/);
  assert.throws(() => new MixtureSampler({ ...config, datasets: { a: 0, b: 5 }, weights: { a: 1, b: 1 } }), /'a' is empty/);
  assert.deepEqual(new MixtureSampler({ ...config, datasets: { a: 0, b: 5 } }).probabilities(), { a: 0, b: 1 });
  assert.throws(() => MixtureSampler.atBatch(config, -1), /cannot skip -1/);
});

test("proportional allocation: every batch holds floor or ceil of B * p clips per dataset, exact on average", () => {
  const s = new MixtureSampler({ ...config, allocation: "proportional" });
  const totals: Record<string, number> = { k400: 0, ssv2: 0, imagenet: 0 };
  for (const batch of draw(s, 500)) {
    const c: Record<string, number> = { k400: 0, ssv2: 0, imagenet: 0 };
    for (const p of batch) c[p.dataset]++;
    assert.ok(c.k400 === 2 || c.k400 === 3, JSON.stringify(c)); // 8 * 0.3 = 2.4
    assert.ok(c.ssv2 === 1 || c.ssv2 === 2, JSON.stringify(c)); // 1.6
    assert.equal(c.imagenet, 4);                                 // 4.0
    for (const k of Object.keys(c)) totals[k] += c[k];
  }
  assert.ok(Math.abs(totals.k400 / 4000 - 0.3) < 0.01 && Math.abs(totals.ssv2 / 4000 - 0.2) < 0.01, JSON.stringify(totals));
  const resumed = MixtureSampler.atBatch({ ...config, allocation: "proportional" }, 20);
  const straight = new MixtureSampler({ ...config, allocation: "proportional" });
  draw(straight, 20);
  assert.deepEqual(draw(resumed, 10), draw(straight, 10));
  assert.throws(() => new MixtureSampler({ ...config, allocation: "even" as "random" }), /allocation/);
});
