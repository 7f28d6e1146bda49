import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classCounts, flipLabelMap, loadClasses, loadManifest, loadSplit, MANIFEST_DIR, problemCounts, resolveManifestPath, subsetSplit } from "../../src/data/manifest";
import { ANNOTATION_SETS, AnnotationSet, inRepoAnnotations } from "../helpers/annotation-sets";
import { DEMO_CLIP_SETS } from "../helpers/demo-clips";

const tmp = mkdtempSync(join(tmpdir(), "cover-manifest-"));

function writeManifest(name: string, manifest: unknown): string {
  const file = join(tmp, name);
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  return file;
}

function k400Manifest(set: AnnotationSet) {
  const file = set.path("kinetics/kinetics-400_val.csv");
  return {
    name: "k400", kind: "video", mediaRoot: "videos",
    classes: { file, format: "kinetics-csv" },
    splits: { val: { format: "kinetics-csv", files: [file] } },
    flip: "allowed",
  };
}

const k400 = k400Manifest(inRepoAnnotations);

test("the shipped templates (k400, k600, k700, ssv2, mit, imagenet) validate", () => {
  for (const name of ["k400", "k600", "k700", "ssv2", "mit", "imagenet"]) {
    const m = loadManifest(resolveManifestPath(name));
    assert.equal(m.name, name);
  }
  assert.equal(loadManifest(join(MANIFEST_DIR, "ssv2.json")).flip, "never");
  assert.throws(() => resolveManifestPath("no-such-dataset"), /no manifest 'no-such-dataset'/);
});

test("manifest validation names the file and the field", () => {
  const cases: [unknown, RegExp][] = [
    [{ ...k400, kind: "audio" }, /kind: expected one of "video", "image", got "audio"/],
    [{ ...k400, name: "" }, /name: expected a name of letters/],
    [{ ...k400, splits: {} }, /splits: expected at least one split/],
    [{ ...k400, splits: { val: { format: "csv", files: ["a"] } } }, /splits\.val\.format: expected one of "kinetics-csv"/],
    [{ ...k400, splits: { val: { format: "list", files: [] } } }, /splits\.val\.files: expected at least one annotation file for format list/],
    [{ ...k400, splits: { val: { format: "list", files: ["a"], media: "x" } } }, /splits\.val\.media: unknown key 'media' \(did you mean mediaRoot\?\)/],
    [{ ...k400, flip: "sometimes" }, /flip: expected "allowed", "never" or \{"swap"/],
    [{ ...k400, flip: { swap: { a: 3 } } }, /flip\.swap\.a: expected a class name, got 3/],
    [{ ...k400, classes: ["a", "a"] }, /classes\[1\]: expected each class once \(the same as classes\[0\]\)/],
    [{ ...k400, classes: { file: "x", format: "xml" } }, /classes\.format: expected one of "lines"/],
    [{ ...k400, colour: 1 }, /colour: unknown key 'colour'/],
    [{ ...k400, builtin: { generator: "digits", seed: 1.5 } }, /builtin\.seed: expected an integer, got 1\.5/],
    [{ ...k400, mediaroot: "x" }, /mediaroot: unknown key 'mediaroot' \(did you mean mediaRoot\?\)/],
    [{ ...k400, classes: { file: "x", fromat: "lines" } }, /classes\.fromat: unknown key 'fromat' \(did you mean format\?\)/],
    [{ ...k400, classes: ["a", 3] }, /classes\[1\]: expected a string, got 3/],
    [{ ...k400, normalization: { mean: [0, 0, 0], std: [1, 1, 0] } }, /normalization\.std\[2\]: expected a positive number, got 0/],
    [{ ...k400, splits: { val: { format: "list", files: ["a"], devkitOrder: "x" } } }, /splits\.val\.devkitOrder: applies to format imagenet-val only/],
    [[k400], /\(top level\): expected a JSON object/],
  ];
  for (const [manifest, pattern] of cases) {
    const file = writeManifest("bad.json", manifest);
    assert.throws(() => loadManifest(file), (err: Error) => err.message.startsWith(`${file}: `) && pattern.test(err.message), JSON.stringify(manifest));
  }
  writeFileSync(join(tmp, "notjson.json"), "{");
  assert.throws(() => loadManifest(join(tmp, "notjson.json")), /notjson.json: invalid JSON/);
});

for (const set of ANNOTATION_SETS) {
  const { facts } = set;

  test(`K400 val through a manifest: ${facts.k400Val.rows} samples, ${facts.k400Val.classes} sorted classes, paths under mediaRoot, all media missing (${set.label})`, set.options, () => {
    const file = writeManifest(`k400-${set.key}.json`, k400Manifest(set));
    const split = loadSplit(file, "val");
    assert.equal(split.samples.length, facts.k400Val.rows);
    assert.equal(split.classes.length, facts.k400Val.classes);
    assert.deepEqual(split.classes.slice(0, 2), ["abseiling", "air drumming"]);
    assert.equal(split.samples[0].path, join(tmp, "videos/abseiling/0wR5jVB-WPk_000417_000427.mp4"));
    assert.equal(classCounts(split).reduce((a, b) => a + b, 0), facts.k400Val.rows);
    assert.equal(split.problems.length, 0);
    const checked = loadSplit(file, "val", { checkMedia: true });
    assert.equal(checked.samples.length, 0);
    assert.deepEqual(problemCounts(checked.problems), { "missing-media": facts.k400Val.rows });
    assert.throws(() => loadSplit(file, "train"), /no split 'train' \(splits: val\)/);
  });

  test(`K600 val: ${facts.k600Val.rows} samples / ${facts.k600Val.classes} classes; SSv2 val: ${facts.ssv2Val.entries} / ${facts.ssv2Val.classes} with labels from the labels file (${set.label})`, set.options, () => {
    const k600File = set.path("kinetics/kinetics-600_val.csv");
    const k600 = writeManifest(`k600-${set.key}.json`, {
      ...k400, name: "k600",
      classes: { file: k600File, format: "kinetics-csv" },
      splits: { val: { format: "kinetics-csv", files: [k600File] } },
    });
    const s600 = loadSplit(k600, "val");
    assert.equal(s600.samples.length, facts.k600Val.rows);
    assert.equal(s600.classes.length, facts.k600Val.classes);
    assert.ok(classCounts(s600).every((c) => c > 0));

    const ssv2 = writeManifest(`ssv2-${set.key}.json`, {
      name: "ssv2", kind: "video", mediaRoot: "webm", flip: "never",
      classes: { file: set.path("ssv2/something-something-v2-labels.json"), format: "ssv2-labels" },
      splits: {
        val: { format: "ssv2-json", files: [set.path("ssv2/something-something-v2-validation.json")] },
        test: { format: "ssv2-json", files: [set.path("ssv2/something-something-v2-test.json")] },
      },
    });
    const val = loadSplit(ssv2, "val");
    assert.equal(val.samples.length, facts.ssv2Val.entries);
    assert.equal(val.classes.length, facts.ssv2Val.classes);
    assert.equal(val.problems.length, 0);
    assert.equal(val.flip, "never");
    const first = val.samples[0];
    assert.equal(val.classes[first.label], facts.ssv2Val.first.label);
    assert.equal(first.path, join(tmp, `webm/${facts.ssv2Val.first.id}.webm`));
    const testSplit = loadSplit(ssv2, "test");
    assert.equal(testSplit.samples.length, facts.ssv2Test.entries);
    assert.ok(testSplit.samples.every((s) => s.label === -1));
  });

  test(`subsetSplit: deterministic, class-balanced, nested for larger counts, original order kept (${set.label})`, set.options, () => {
    const file = writeManifest(`k400-subset-${set.key}.json`, k400Manifest(set));
    const split = loadSplit(file, "val");
    const classes = facts.k400Val.classes;
    const a = subsetSplit(split, 2 * classes, 1);
    assert.deepEqual(a.samples, subsetSplit(split, 2 * classes, 1).samples);
    assert.equal(a.samples.length, 2 * classes);
    assert.ok(classCounts(a).every((c) => c === 2), `2 per class for ${2 * classes} of ${classes} classes`);
    const order = a.samples.map((s) => split.samples.indexOf(s));
    assert.deepEqual(order, [...order].sort((x, y) => x - y));
    const bigger = new Set(subsetSplit(split, 2 * classes + classes / 2, 1).samples);
    assert.ok(a.samples.every((s) => bigger.has(s)));
    assert.notDeepEqual(subsetSplit(split, 2 * classes, 2).samples, a.samples);
    assert.equal(subsetSplit(split, 10 ** 6, 1), split);
  });
}

for (const clips of DEMO_CLIP_SETS) {
  test(`clips with a list manifest: media found; duplicates, unknown labels and malformed lines counted; strict throws (${clips.label})`, clips.options, async () => {
    const list = join(tmp, `demos-${clips.key}.txt`);
    writeFileSync(list, [
      "task5/0.webm 0", "task5/1.webm 0", "task41/0.webm 1", "task93/1.webm 2", "task93/2.webm 2",
      "task93/9.webm 2",      // missing media
      "task5/0.webm 0",       // duplicate
      "task5/2.webm 7",       // unknown label index
      "task5/2.webm Opening", // unknown label name
      "a b c d",              // malformed
    ].join("\n") + "\n");
    const file = writeManifest(`demos-${clips.key}.json`, {
      name: "demos", kind: "video", mediaRoot: await clips.root(), flip: "never",
      classes: ["Closing something", "Moving something away from the camera", "Pushing something from left to right"],
      splits: { train: { format: "list", files: [`demos-${clips.key}.txt`] } },
    });
    const split = loadSplit(file, "train", { checkMedia: true });
    assert.equal(split.samples.length, 5);
    assert.deepEqual(classCounts(split), [2, 1, 2]);
    assert.deepEqual(problemCounts(split.problems), { "malformed-line": 1, "unknown-label": 2, duplicate: 1, "missing-media": 1 });
    const dup = split.problems.find((p) => p.kind === "duplicate");
    assert.equal(dup?.message, `${list}:7: 'task5/0.webm' is listed already at ${list}:1`);
    assert.throws(() => loadSplit(file, "train", { strict: true }), new RegExp(`${list}:10: `));
  });
}

test("class files: lines, name-index (MiT), synsets; duplicates rejected", () => {
  mkdirSync(join(tmp, "cls"), { recursive: true });
  writeFileSync(join(tmp, "cls/lines.txt"), "cat\ndog\n\n");
  writeFileSync(join(tmp, "cls/moments_categories.txt"), "clapping,1\nabseiling,0\n");
  writeFileSync(join(tmp, "cls/dup.txt"), "cat\ncat\n");
  const m = (classes: unknown) => {
    const file = writeManifest("cls.json", { ...k400, classes });
    return loadClasses(loadManifest(file), file);
  };
  assert.deepEqual(m({ file: "cls/lines.txt" }), ["cat", "dog"]);
  assert.deepEqual(m({ file: "cls/moments_categories.txt", format: "name-index" }), ["abseiling", "clapping"]);
  assert.throws(() => m({ file: "cls/dup.txt" }), /lists 'cat' twice/);
});

test("flip policies: never -> null, allowed -> identity, swap -> symmetric label map, bad swaps rejected", () => {
  const classes = ["left", "right", "up"];
  assert.equal(flipLabelMap("never", classes), null);
  assert.deepEqual(Array.from(flipLabelMap("allowed", classes)!), [0, 1, 2]);
  assert.deepEqual(Array.from(flipLabelMap({ swap: { left: "right" } }, classes)!), [1, 0, 2]);
  assert.throws(() => flipLabelMap({ swap: { left: "right", right: "up" } }, classes), /maps 'right' to both/);
  const file = writeManifest("flip.json", { ...k400, classes, flip: { swap: { left: "down" } }, splits: { s: { format: "list", files: ["x"] } } });
  writeFileSync(join(tmp, "x"), "");
  assert.throws(() => loadSplit(file, "s"), /flip\.swap: names 'down', which is not a class/);
});
