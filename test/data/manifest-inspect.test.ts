import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DEMO_CLIP_SETS } from "../helpers/demo-clips";

const ROOT = resolve(__dirname, "../..");

function cover(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, "bin/cover.js"), ...args], { encoding: "utf8", cwd: ROOT });
}

for (const clips of DEMO_CLIP_SETS) {
  test(`cover data inspect --json: samples, classes, per-class counts and problems of the demo clips (${clips.label})`, clips.options, async () => {
    const tmp = mkdtempSync(join(tmpdir(), "cover-inspect-"));
    writeFileSync(join(tmp, "train.txt"), "task5/0.webm 0\ntask5/1.webm 0\ntask93/1.webm 2\ntask93/5.webm 2\ntask5/0.webm 0\ntask41/0.webm 9\n");
    const manifest = join(tmp, "demos.json");
    writeFileSync(manifest, JSON.stringify({
      name: "demos", kind: "video", mediaRoot: await clips.root(), flip: "never",
      classes: ["Closing something", "Moving something away from the camera", "Pushing something from left to right"],
      splits: { train: { format: "list", files: ["train.txt"] }, other: { format: "list", files: ["train.txt"] } },
    }));
    const r = cover("data", "inspect", manifest, "--split", "train", "--check-media", "--json");
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.samples, 3);
    assert.equal(report.classes, 3);
    assert.deepEqual(Object.keys(report.splits), ["train"]);
    const train = report.splits.train;
    assert.deepEqual(train.classCounts, { "Closing something": 2, "Moving something away from the camera": 0, "Pushing something from left to right": 1 });
    assert.deepEqual(train.emptyClasses, ["Moving something away from the camera"]);
    assert.equal(train.problems["missing-media"], 1);
    assert.equal(train.problems["duplicate"], 1);
    assert.equal(train.problems["unknown-label"], 1);
    assert.ok(train.problemExamples.some((m: string) => m.includes("train.txt:4") && m.includes("does not exist")));

    const human = cover("data", "inspect", manifest);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /\[train\] 4 samples/);
    assert.match(human.stdout, /\[other\] 4 samples/);

    const bad = cover("data", "inspect", manifest, "--split", "nope");
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /no split 'nope'/);
    assert.equal(cover("data", "inspect").status, 2);
    assert.equal(cover("data", "inspect", manifest, "--colour").status, 2);
  });
}
