import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const ROOT = resolve(__dirname, "../..");

function cover(...args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, "bin/cover.js"), ...args], { encoding: "utf8", cwd: ROOT });
}

/** A media folder with the given (empty) files: inspect only checks that media exist. */
function mediaRoot(tmp: string, files: string[]): string {
  const root = join(tmp, "media");
  for (const f of files) { mkdirSync(dirname(join(root, f)), { recursive: true }); writeFileSync(join(root, f), ""); }
  return root;
}

test("cover data inspect --json: samples, classes, per-class counts and problems; --check-media exits 1 on missing media", () => {
  const tmp = mkdtempSync(join(tmpdir(), "cover-inspect-"));
  writeFileSync(join(tmp, "train.txt"), "task5/0.webm 0\ntask5/1.webm 0\ntask93/1.webm 2\ntask93/5.webm 2\ntask5/0.webm 0\ntask41/0.webm 9\n");
  const manifest = join(tmp, "demos.json");
  writeFileSync(manifest, JSON.stringify({
    name: "demos", kind: "video", mediaRoot: mediaRoot(tmp, ["task5/0.webm", "task5/1.webm", "task93/1.webm"]), flip: "never",
    classes: ["Closing something", "Moving something away from the camera", "Pushing something from left to right"],
    splits: { train: { format: "list", files: ["train.txt"] }, other: { format: "list", files: ["train.txt"] } },
  }));
  const r = cover("data", "inspect", manifest, "--split", "train", "--check-media", "--json");
  assert.equal(r.status, 1, "missing media fail --check-media");
  assert.match(r.stderr, /1 media file\(s\) missing/);
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

test("cover data inspect --check-media exits 0 when every media file is there", () => {
  const tmp = mkdtempSync(join(tmpdir(), "cover-inspect-ok-"));
  writeFileSync(join(tmp, "train.txt"), "a.webm 0\nb.webm 1\n");
  const manifest = join(tmp, "m.json");
  writeFileSync(manifest, JSON.stringify({
    name: "m", kind: "video", mediaRoot: mediaRoot(tmp, ["a.webm", "b.webm"]), flip: "never", classes: ["x", "y"],
    splits: { train: { format: "list", files: ["train.txt"] } },
  }));
  const r = cover("data", "inspect", manifest, "--check-media");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /problems: none/);
});

test("cover data inspect given an annotation file explains what a manifest is and points to the templates", () => {
  const tmp = mkdtempSync(join(tmpdir(), "cover-inspect-annotations-"));
  const files = {
    "train.csv": "label,youtube_id,time_start,time_end,split\nabseiling,abc,0,10,train\n",
    "something-something-v2-train.json": JSON.stringify([{ id: "1", label: "Pushing something", template: "Pushing [something]", placeholders: ["a"] }]),
    "kinetics.json": JSON.stringify({ abc: { annotations: { label: "abseiling", segment: [0, 10] }, subset: "train" } }),
    "list.txt": "a.webm 0\n",
  };
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(tmp, name), text);
    const r = cover("data", "inspect", join(tmp, name));
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${name.replace(/\./g, "\\.")} looks like an annotation file, not a dataset manifest`));
    assert.match(r.stderr, /A manifest is a small JSON file/);
    assert.match(r.stderr, /data-manifests\/.*k400.*ssv2/s);
  }
  // a manifest with a mistake keeps its precise error
  const broken = join(tmp, "broken.json");
  writeFileSync(broken, JSON.stringify({ name: "b", kind: "vidoe", mediaRoot: "x", classes: ["a"], splits: {} }));
  const r = cover("data", "inspect", broken);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /kind: expected one of "video", "image", got "vidoe"/);
  assert.doesNotMatch(r.stderr, /annotation file/);
});
