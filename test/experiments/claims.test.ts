/** Claims: effects over seeds with intervals that include evaluation noise, and verdicts. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { combineClaims, measure, pairedEvalVariance, resolutionOf, resolutionText, top1Variance, tQuantile95, verdictOf } from "../../src/experiments/claims";
import type { ClaimSpec } from "../../src/experiments/claims";

const spec: ClaimSpec = { id: "x", claim: "A beats B", paper: { effect: 2 }, expect: "positive" };
/** A minus B on one seed, both measured on `clips` clips. */
const seed = (a: number, b: number, clips = 1000) => measure(spec, [{ coef: 1, top1: a, clips, role: "motion" }, { coef: -1, top1: b, clips, role: "motion" }]);

test("t quantiles: the 95% two-sided values for small samples, 1.96 beyond the table", () => {
  assert.equal(tQuantile95(1), 12.706);
  assert.equal(tQuantile95(2), 4.303);
  assert.equal(tQuantile95(200), 1.96);
  assert.throws(() => tQuantile95(0), /positive integer/);
});

test("the interval combines seed variation (t, n - 1) and the binomial noise of every top-1 in the effect", () => {
  const [c] = combineClaims([{ seed: 0, claims: [seed(80, 70)] }, { seed: 1, claims: [seed(82, 70)] }, { seed: 2, claims: [seed(84, 70)] }]);
  // effects 10, 12, 14: mean 12, sd 2 -> seed half-width 4.303 * 2 / sqrt(3)
  const seedHalf = (4.303 * 2) / Math.sqrt(3);
  const p = [0.8, 0.82, 0.84].map((x) => x * (1 - x) * 1e4 / 1000 + 0.7 * 0.3 * 1e4 / 1000);
  const evalHalf = 1.96 * Math.sqrt(p.reduce((a, b) => a + b, 0) / 3);
  const half = Math.sqrt(seedHalf ** 2 + evalHalf ** 2);
  assert.equal(c.kit.effect, 12);
  assert.ok(Math.abs(c.kit.low - (12 - half)) < 0.01 && Math.abs(c.kit.high - (12 + half)) < 0.01, JSON.stringify(c.kit));
  assert.deepEqual(c.kit.perSeed, [10, 12, 14]);
  assert.deepEqual(c.kit.seeds, [0, 1, 2]);
  assert.equal(c.verdict, "holds");
  assert.equal(c.claim, "A beats B");
  assert.ok(!("terms" in c), "per-seed terms stay out of findings.json");
});

test("verdicts: holds, does not hold, inconclusive, and never a verdict from one seed", () => {
  assert.equal(verdictOf("positive", 1, 5, 3), "holds");
  assert.equal(verdictOf("positive", -5, -1, 3), "does not hold");
  assert.equal(verdictOf("positive", -1, 5, 3), "inconclusive");
  assert.equal(verdictOf("negative", -9, -2, 3), "holds");
  assert.equal(verdictOf("negative", 2, 9, 3), "does not hold");
  assert.equal(verdictOf("positive", 1, 5, 1), "inconclusive");
  const [one] = combineClaims([{ seed: 0, claims: [seed(90, 10)] }]);
  assert.equal(one.verdict, "inconclusive");
});

test("a small evaluation set widens the interval until a consistent effect is no longer decided", () => {
  const seeds = (clips: number) => [0, 1, 2].map((s) => ({ seed: s, claims: [seed(60 + s, 55, clips)] }));
  assert.equal(combineClaims(seeds(5000))[0].verdict, "holds");
  assert.equal(combineClaims(seeds(100))[0].verdict, "inconclusive");
});

test("every seed must measure every claim", () => {
  assert.throws(() => combineClaims([{ seed: 0, claims: [seed(1, 0)] }, { seed: 1, claims: [] }]), /seed 1 did not measure claim 'x'/);
});

/** Per-clip hits: the first `right` of `clips` clips right. */
const hitsOf = (right: number, clips: number) => "1".repeat(right) + "0".repeat(clips - right);

test("paired evaluation noise: two models right on the same clips differ without clip noise; independent binomials would count it twice", () => {
  const clips = 1000;
  // A is right on B's 700 clips and on 100 more: A - B = +10 points on every clip set drawn, up to those 100 clips.
  const paired = (a: number, b: number) => measure(spec, [
    { coef: 1, top1: a / 10, clips, role: "motion", hits: hitsOf(a, clips), clipSet: "val" },
    { coef: -1, top1: b / 10, clips, role: "motion", hits: hitsOf(b, clips), clipSet: "val" },
  ]);
  const seeds = [0, 1, 2].map((s) => ({ seed: s, claims: [paired(800, 700)] }));
  // d_i is 100 on 100 clips and 0 elsewhere: var = 100^2 * 0.1 * 0.9 * n/(n-1), over n clips.
  const expected = (1e4 * 0.1 * 0.9 * clips) / (clips - 1) / clips;
  assert.ok(Math.abs(pairedEvalVariance(seeds.map((s) => s.claims[0]))! - expected) < 1e-9);
  assert.ok(expected < (top1Variance(80, clips) + top1Variance(70, clips)) / 4, "under a quarter of the independent estimate");
  const [c] = combineClaims(seeds);
  assert.equal(c.kit.evalNoise, "paired");
  assert.ok(Math.abs(c.kit.high - c.kit.low - 2 * 1.96 * Math.sqrt(expected)) < 0.02, JSON.stringify(c.kit));
  // The same top-1s without hits: the independent estimate, wider.
  const [plain] = combineClaims([0, 1, 2].map((s) => ({ seed: s, claims: [seed(80, 70)] })));
  assert.equal(plain.kit.evalNoise, "independent");
  assert.ok(plain.kit.high - plain.kit.low > 2 * (c.kit.high - c.kit.low));
});

test("paired noise averages the per-clip effect over seeds, and falls back to independent when any term lacks hits or clip sets differ", () => {
  const clips = 10;
  const one = (hits: string, set = "val") => measure(spec, [{ coef: 1, top1: 50, clips, role: "motion", hits, clipSet: set }]);
  // Seed 0 right on clips 0-4, seed 1 on clips 5-9: the seed mean is 50 on every clip, no clip noise at all.
  assert.equal(pairedEvalVariance([one("1111100000"), one("0000011111")]), 0);
  assert.equal(pairedEvalVariance([one("1111100000"), one("1111100000", "other")]), undefined);
  const noHits = measure(spec, [{ coef: 1, top1: 50, clips, role: "motion" }]);
  assert.equal(pairedEvalVariance([one("1111100000"), noHits]), undefined);
});

test("resolution: how many seeds would decide an effect the paper's size, or that no number would (evaluation noise alone too wide)", () => {
  // effects 1, 2, 3 on 1000 clips: sd 1; evaluation noise alone about ±3.7 (two binomial top-1s near 77% / 75%)
  const threeSeeds = [0, 1, 2].map((s) => ({ seed: s, claims: [seed(76 + s, 75)] }));
  const [c] = combineClaims(threeSeeds);
  assert.equal(c.verdict, "inconclusive");
  const evalHalf = 1.96 * Math.sqrt((top1Variance(76, 1000) + top1Variance(77, 1000) + top1Variance(78, 1000)) / 3 + top1Variance(75, 1000));
  const small = resolutionOf({ ...c, paper: { effect: 2 } });
  assert.ok(Math.abs(small.evalHalf - evalHalf) < 0.02, `${small.evalHalf} vs ${evalHalf}`);
  assert.equal(small.seedsNeeded, null, "the paper's 2 points lie inside the evaluation noise alone");
  assert.match(resolutionText({ ...c, paper: { effect: 2 } }), /^no: evaluation noise alone is ±3\.7, the paper's effect 2\.0$/);
  // A paper effect of 4.2: the fewest n whose t interval combined with the evaluation noise is narrower than 4.
  const big = resolutionOf({ ...c, paper: { range: [4.2, 6] } });
  const halfAt = (n: number) => Math.hypot((tQuantile95(n - 1) * 1) / Math.sqrt(n), big.evalHalf);
  assert.ok(big.seedsNeeded !== null && halfAt(big.seedsNeeded) < 4.2 && halfAt(big.seedsNeeded - 1) >= 4.2, JSON.stringify(big));
  assert.equal(big.seedsNeeded, 4);
  assert.match(resolutionText({ ...c, paper: { range: [4.2, 6] } }), /^about 4 seeds needed for the paper's 4\.2 \(seed sd 1\.0, evaluation ±3\.7\)$/);
  // Decided claims need no reading; a design already narrower than the paper's effect says so.
  assert.equal(resolutionText({ ...c, verdict: "holds" }), "");
  const wide = combineClaims([0, 1, 2].map((s) => ({ seed: s, claims: [seed(75.5 + s / 2, 75, 20000)] })))[0];
  assert.equal(wide.verdict, "inconclusive");
  assert.match(resolutionText({ ...wide, paper: { effect: 3 } }), /^yes: the interval is narrower than the paper's 3\.0/);
  const [one] = combineClaims([threeSeeds[0]]);
  assert.equal(resolutionText(one), "unknown: one seed");
});
