/** Experiments end to end at smoke scale: runs shared through the cache, tables and findings exported. */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Claim } from "../../src/experiments/claims";
import { top1Interval } from "../../src/experiments/experiment";
import { EXPERIMENTS } from "../../src/experiments/registry";
import { runExperiment } from "../../src/experiments/run-experiment";
import { tempDir, withBackend } from "../helpers/tf";

before(async () => {
  await withBackend();
  process.env.COVER_CHROMIUM = "none"; // HTML figures only: no browser start in unit tests (the notebook stage renders PNGs)
});

describe("experiments", () => {
  test("all seven named experiments are registered with their paper reference", () => {
    assert.deepEqual(Object.keys(EXPERIMENTS).sort(),
      ["base-vs-large", "cotrain-ablation", "frame-reversal", "frozen-transfer", "input-setting", "loss-weight-sweep", "standard-vs-cover"]);
  });

  test("the evaluation noise interval: 95% half-width at p = 50%", () => {
    assert.equal(top1Interval(200).toFixed(2), "6.93"); // 1.96 * sqrt(0.25 / 200) * 100
    assert.equal(top1Interval(19906).toFixed(2), "0.69"); // the K400 validation set
  });

  test("frame-reversal then standard-vs-cover at smoke scale: tables, findings, and the shared COVER run reused", async () => {
    const runs = tempDir("exp-runs");
    const out1 = tempDir("exp-fr");
    const first = await runExperiment("frame-reversal", { scale: "smoke", out: out1, runsRoot: runs, quiet: true });
    for (const ext of ["csv", "md", "tex", "json"]) assert.ok(existsSync(join(out1, "tables", `frame-reversal.${ext}`)), ext);
    assert.ok(existsSync(join(out1, "figures", "frame-reversal.html")));
    const kit = first.rows.map((r) => r.kit);
    assert.equal(kit.length, 4);
    assert.ok(kit.every((k) => typeof k === "number" && k >= 0 && k <= 100), JSON.stringify(kit));
    const findings = JSON.parse(readFileSync(join(out1, "findings.json"), "utf8")) as { findings: string[]; claims: Claim[]; seeds: number[] };
    assert.deepEqual(findings.seeds, [0]);
    assert.deepEqual(findings.claims.map((c) => c.id), ["reversal-motion", "reversal-motion-vs-appearance"]);
    const [motion] = findings.claims;
    const [inOrder, reversed] = first.rows.filter((r) => r.dataset === "motion").map((r) => r.kit as number);
    assert.ok(Math.abs(motion.kit.effect - (reversed - inOrder)) < 0.06, `${motion.kit.effect} vs ${reversed} - ${inOrder}`);
    assert.ok(motion.kit.low <= motion.kit.effect && motion.kit.effect <= motion.kit.high, JSON.stringify(motion.kit));
    // Both evaluations scored the same clips and kept their hits: the noise is the paired one (zero where the smoke
    // model gives a clip and its reversal the same answer).
    assert.equal(motion.kit.evalNoise, "paired");
    assert.equal(motion.verdict, "inconclusive", "one seed never decides a claim");
    assert.match(first.figures["frame-reversal"].layout.title?.text ?? "", /<sub>reversing the frames costs the motion dataset \(reversed minus in order\): inconclusive \(1 seed\)<\/sub>/, "the figure carries the verdict");
    const mean = first.tables.find((t) => t.name === "frame-reversal")!;
    assert.deepEqual(mean.rows.map((r) => r.chance), [10, 10, 12.5, 12.5], "absolute top-1 rows carry their dataset's chance level (10 and 8 classes)");
    const main = first.figures["frame-reversal"];
    assert.deepEqual(main.data.map((t) => [t.type, t.yaxis]), [["bar", "y"], ["bar", "y2"]], "one panel per role, the kit's bars only");
    const shapes = main.layout.shapes as { yref: string; y0: number }[];
    assert.deepEqual(shapes.map((s) => [s.yref, s.y0]), [["y", 10], ["y2", 12.5]], "a chance line per panel");
    const evalOnly = mean.rows.map((r) => r["kit ±"] as number);
    assert.ok(evalOnly.every((h) => h > 0), `one seed: the interval is the evaluation noise of the row's clips, ${evalOnly}`);
    assert.deepEqual((main.data[1].error_y as { array: number[] }).array.map((v) => +v.toFixed(1)), evalOnly.slice(2).map((h, i) => +Math.min(h, 100 - (mean.rows[2 + i].kit as number)).toFixed(1)));
    const panelTitles = (main.layout.annotations as { text: string }[]).map((a) => a.text).filter((t) => t.startsWith("<b>"));
    assert.deepEqual(panelTitles, ["<b>appearance (K400's role)<br>builtin-digits-appearance</b>", "<b>motion (SSv2's role)<br>builtin-digits-motion</b>"]);
    const claimsFigure = first.figures["frame-reversal-claims"];
    assert.deepEqual(claimsFigure.data.filter((t) => t.type === "bar").map((t) => t.yaxis), ["y", "y2"], "motion's claim and the between-roles claim in their own panels");
    assert.match(String(claimsFigure.data[0].y[0]), /^reversing the frames costs the motion.*<b>inconclusive<\/b>$/);
    assert.deepEqual(findings.claims.map((c) => c.roles), [["motion"], ["motion", "appearance"]]);
    const { resultFrames } = require("../../src/experiments/result-frames") as typeof import("../../src/experiments/result-frames");
    const frames = resultFrames(first);
    assert.equal(frames.perSeed.shape[0], 4);
    assert.ok(frames.summary.columns.includes("kit ±") && frames.summary.columns.includes("seeds"));
    assert.equal(frames.claims.shape[0], 2);
    assert.ok(existsSync(join(out1, "tables", "frame-reversal-claims.csv")));
    assert.ok(existsSync(join(out1, "figures", "frame-reversal-claims.html")));
    const evalClips = JSON.parse(readFileSync(join(first.runs["cover (seed 0)"], "results.json"), "utf8")) as { datasets: Record<string, { samples: number }> };
    const n = Math.min(...Object.values(evalClips.datasets).map((d) => d.samples));
    assert.ok(findings.findings.some((f) => f.startsWith(`evaluation noise: ${n} clips per dataset, so a top-1 is known to within ±${top1Interval(n).toFixed(1)} points`)), findings.findings.join("\n"));
    const before = readdirSync(join(runs, "runs")).sort();
    const second = await runExperiment("standard-vs-cover", { scale: "smoke", out: tempDir("exp-svc"), runsRoot: runs, quiet: true });
    const after = readdirSync(join(runs, "runs")).sort();
    assert.ok(before.every((d) => after.includes(d)));
    assert.equal(second.runs["cover (seed 0)"], first.runs["cover (seed 0)"], "the COVER run is shared, not trained twice");
    assert.equal(after.length, before.length + 2, "only the two standard runs of Table 1 (appearance, motion) are new");

    // A second seed: its own runs (image pre-training and COVER), seed 0's reused; claims now span two seeds.
    const twoSeeds = await runExperiment("frame-reversal", { scale: "smoke", seeds: [0, 1], out: tempDir("exp-fr2"), runsRoot: runs, quiet: true });
    assert.equal(readdirSync(join(runs, "runs")).length, after.length + 2);
    assert.equal(twoSeeds.runs["cover (seed 0)"], first.runs["cover (seed 0)"]);
    assert.notEqual(twoSeeds.runs["cover (seed 1)"], first.runs["cover (seed 0)"]);
    assert.deepEqual(twoSeeds.claims[0].kit.seeds, [0, 1]);
    assert.equal(twoSeeds.claims[0].kit.perSeed.length, 2);
    assert.deepEqual([...new Set(twoSeeds.rows.map((r) => r.seed))], [0, 1]);
    await assert.rejects(runExperiment("frame-reversal", { scale: "smoke", seeds: [1, 1], out: tempDir("exp-bad"), runsRoot: runs, quiet: true }), /distinct/);
  });
});
