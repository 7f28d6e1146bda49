/** Experiments end to end at smoke scale: runs shared through the cache, tables and findings exported. */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { top1Interval } from "../../src/experiments/experiment";
import { EXPERIMENTS } from "../../src/experiments/registry";
import { runExperiment } from "../../src/experiments/run-experiment";
import { tempDir, withBackend } from "../helpers/tf";

before(async () => {
  await withBackend();
  process.env.COVER_CHROMIUM = "none"; // HTML figures only: no browser start in unit tests (the notebook stage renders PNGs)
});

describe("experiments", () => {
  test("all six named experiments are registered with their paper reference", () => {
    assert.deepEqual(Object.keys(EXPERIMENTS).sort(),
      ["base-vs-large", "cotrain-ablation", "frame-reversal", "frozen-transfer", "loss-weight-sweep", "standard-vs-cover"]);
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
    const findings = JSON.parse(readFileSync(join(out1, "findings.json"), "utf8")) as { findings: string[] };
    assert.ok(findings.findings.some((f) => /does not hold|holds/.test(f)));
    const evalClips = JSON.parse(readFileSync(join(first.runs.cover, "results.json"), "utf8")) as { datasets: Record<string, { samples: number }> };
    const n = Math.min(...Object.values(evalClips.datasets).map((d) => d.samples));
    assert.ok(findings.findings.some((f) => f.startsWith(`evaluation noise: ${n} clips per dataset, so a top-1 is known to within ±${top1Interval(n).toFixed(1)} points`)), findings.findings.join("\n"));
    const before = readdirSync(join(runs, "runs")).sort();
    const second = await runExperiment("standard-vs-cover", { scale: "smoke", out: tempDir("exp-svc"), runsRoot: runs, quiet: true });
    const after = readdirSync(join(runs, "runs")).sort();
    assert.ok(before.every((d) => after.includes(d)));
    assert.equal(second.runs.cover, first.runs.cover, "the COVER run is shared, not trained twice");
    assert.equal(after.length, before.length + 3, "only the three standard runs are new");
  });
});
