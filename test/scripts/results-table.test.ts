/**
 * The README's results table marks an experiment whose findings came from runs the current recipe would not train
 * (the recipe changed since), so a table mixing recipes says so instead of passing old numbers off as current; and it
 * writes a long run of seeds as a range.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { claimsTable, earlierRecipes, seedsText } from "../../scripts/results-table";
import { planExperiment } from "../../src/experiments/planning";
import type { Claim } from "../../src/experiments/claims";

const claim: Claim = {
  id: "reversal-motion", claim: "reversing the frames costs the motion dataset", paper: { effect: -36.2 }, expect: "negative",
  roles: ["motion"], kit: { effect: -40, low: -50, high: -30, seeds: [0], perSeed: [-40], evalNoise: "paired" }, verdict: "holds",
};

test("findings from the current recipe's runs are listed as they are; from other runs, as an earlier recipe's", async () => {
  const root = mkdtempSync(join(tmpdir(), "cover-table-"));
  try {
    const plan = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: join(root, "empty") });
    const cover = plan.runs.find((r) => r.name === "cover");
    assert.ok(cover, "frame-reversal trains a COVER run");
    const write = (runDir: string) => {
      mkdirSync(join(root, "results", "frame-reversal"), { recursive: true });
      const findings = { experiment: "frame-reversal", scale: "smoke", seeds: [0], claims: [claim], runs: { "cover (seed 0)": join("/elsewhere/runs", runDir) } };
      writeFileSync(join(root, "results", "frame-reversal", "findings.json"), JSON.stringify(findings));
    };
    const results = join(root, "results");
    const rowOf = async () => claimsTable(results, "", await earlierRecipes(results, "smoke")).split("\n").find((l) => l.startsWith("| [frame-reversal]"))!;
    write(basename(cover.dir));
    assert.match(await rowOf(), /\| -40\.0 \[-50\.0, -30\.0\] \| 0 \| \*\*holds\*\* \|/);
    write("cover-0000000000");
    assert.match(await rowOf(), /\*\*holds\*\* \(earlier recipe\) \|/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("seeds: three or more consecutive as a range, the others listed", () => {
  assert.equal(seedsText([0]), "0");
  assert.equal(seedsText([0, 1]), "0,1");
  assert.equal(seedsText([0, 1, 2, 3, 4, 5, 6, 7, 8]), "0-8");
  assert.equal(seedsText([0, 2, 3, 4, 9, 10]), "0,2-4,9,10");
});
