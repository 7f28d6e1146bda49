import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AnnotationError, parseAnnotationFile, parseCsvLine, readSsv2Labels, readSynsets } from "../../src/data/annotations";
import type { AnnotationFormat } from "../../src/data/annotations";
import { ANNOTATION_SETS } from "../helpers/annotation-sets";

const tmp = mkdtempSync(join(tmpdir(), "cover-annotations-"));
const lenient = { strict: false, mediaRoot: tmp };
const strict = { strict: true, mediaRoot: tmp };

function write(name: string, text: string): string {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
}

function parse(format: AnnotationFormat, file: string, options = lenient) {
  return parseAnnotationFile(format, file, options);
}

test("CSV fields: quotes, escaped quotes, empty fields, open quote", () => {
  assert.deepEqual(parseCsvLine('"air drumming",abc,1,2'), ["air drumming", "abc", "1", "2"]);
  assert.deepEqual(parseCsvLine('"say ""hi""",x'), ['say "hi"', "x"]);
  assert.deepEqual(parseCsvLine("a,,b,"), ["a", "", "b", ""]);
  assert.equal(parseCsvLine('"open,a'), null);
});

for (const set of ANNOTATION_SETS) {
  const { facts } = set;

  test(`Kinetics-400 val (quoted labels, is_cc column): ${facts.k400Val.rows} clips, ${facts.k400Val.classes} classes, conventional paths (${set.label})`, set.options, () => {
    const file = set.path("kinetics/kinetics-400_val.csv");
    const { entries, problems } = parse("kinetics-csv", file);
    assert.equal(problems.length, 0);
    assert.equal(entries.length, facts.k400Val.rows);
    assert.equal(new Set(entries.map((e) => e.label)).size, facts.k400Val.classes);
    assert.deepEqual(entries[0], {
      id: "0wR5jVB-WPk_000417_000427", path: "abseiling/0wR5jVB-WPk_000417_000427.mp4", label: "abseiling",
      source: { file, line: 2 },
    });
    const quoted = entries.find((e) => e.id.startsWith("--nQbRBEz2s"));
    assert.equal(quoted?.label, "air drumming");
    assert.equal(quoted?.path, "air drumming/--nQbRBEz2s_000104_000114.mp4");
  });

  test(`Kinetics-600 val (unquoted labels): ${facts.k600Val.rows} clips, ${facts.k600Val.classes} classes (${set.label})`, set.options, () => {
    const { entries, problems } = parse("kinetics-csv", set.path("kinetics/kinetics-600_val.csv"));
    assert.equal(problems.length, 0);
    assert.equal(entries.length, facts.k600Val.rows);
    assert.equal(new Set(entries.map((e) => e.label)).size, facts.k600Val.classes);
    assert.ok(entries.some((e) => e.label === "passing American football (in game)"));
    assert.ok(entries.some((e) => e.label === "passing american football (not in game)"), "case is kept: a different class");
  });

  test(`Kinetics-400 test file has no labels; the label folder is dropped from the path (${set.label})`, set.options, () => {
    const { entries, problems } = parse("kinetics-csv", set.path("kinetics/kinetics-400_test.csv"));
    assert.equal(problems.length, 0);
    assert.equal(entries.length, facts.k400Test.rows);
    assert.ok(entries.every((e) => e.label === null));
    assert.equal(entries[0].path, "--6bJUbfpnQ_000017_000027.mp4");
  });

  test(`SSv2 validation JSON: ${facts.ssv2Val.entries} entries, ${facts.ssv2Val.classes} classes from templates, line numbers, <id>.webm (${set.label})`, set.options, () => {
    const file = set.path("ssv2/something-something-v2-validation.json");
    const { entries, problems } = parse("ssv2-json", file);
    assert.equal(problems.length, 0);
    assert.equal(entries.length, facts.ssv2Val.entries);
    const classes = readSsv2Labels(set.path("ssv2/something-something-v2-labels.json"));
    assert.equal(classes.length, facts.ssv2Val.classes);
    assert.equal(classes[facts.closingSomething], "Closing something");
    const known = new Set(classes);
    assert.ok(entries.every((e) => known.has(e.label as string)));
    assert.equal(new Set(entries.map((e) => e.label)).size, facts.ssv2Val.classes);
    const { id, label } = facts.ssv2Val.first;
    assert.deepEqual(entries[0], { id, path: `${id}.webm`, label, source: { file, line: 2 } });
    assert.equal(entries[entries.length - 1].source.line, facts.ssv2Val.entries + 1);
  });

  test(`SSv2 test JSON has ids only (${set.label})`, set.options, () => {
    const { entries } = parse("ssv2-json", set.path("ssv2/something-something-v2-test.json"));
    assert.equal(entries.length, facts.ssv2Test.entries);
    assert.ok(entries.every((e) => e.label === null));
  });
}

test("Kinetics: 'validate' split, path template tokens, malformed rows lenient vs strict", () => {
  const file = write("k700.csv", [
    "label,youtube_id,time_start,time_end,split",
    "playing guitar,abc,5,15,validate",
    "playing guitar,,5,15,validate",        // empty id
    "tai chi,def,x,15,validate",            // bad time
    "tai chi,ghi,1,11",                     // too few fields
    '"open quote,jkl,1,11,validate',        // unbalanced
    "tai chi,mno,1,11,validate",
  ].join("\r\n") + "\r\n");
  const r = parse("kinetics-csv", file, { ...lenient, pathTemplate: "{label_}/{id}.mp4" } as typeof lenient);
  assert.deepEqual(r.entries.map((e) => e.path), ["playing_guitar/abc_000005_000015.mp4", "tai_chi/mno_000001_000011.mp4"]);
  assert.deepEqual(r.problems.map((p) => p.source?.line), [3, 4, 5, 6]);
  assert.ok(r.problems.every((p) => p.kind === "malformed-line" && p.message.startsWith(`${file}:`)));
  assert.throws(() => parse("kinetics-csv", file, strict), (err: unknown) => err instanceof AnnotationError && err.message.startsWith(`${file}:3:`));
  assert.throws(() => parse("kinetics-csv", write("nohdr.csv", "a,b,1,2,val\n")), /not a Kinetics CSV/);
});

test("SSv2: malformed entries name their line; invalid JSON names file and line", () => {
  const file = write("ssv2.json", '[\n{"id":"1","template":"Pushing [something]"},\n{"template":"x"},\n{"id":"3","template":5}\n]\n');
  const r = parse("ssv2-json", file);
  assert.deepEqual(r.entries.map((e) => e.label), ["Pushing something"]);
  assert.deepEqual(r.problems.map((p) => p.source?.line), [3, 4]);
  assert.throws(() => parse("ssv2-json", file, strict), new RegExp(`${file}:3: entry has no 'id'`));
  const broken = write("broken.json", '[\n{"id":"1"},\n{"id":\n]');
  assert.throws(() => parse("ssv2-json", broken), new RegExp(`${broken}(:\\d+)?: invalid JSON`));
  assert.throws(() => readSsv2Labels(write("labels.json", '{"a":"0","b":"2"}')), /no class has index 1/);
});

test("MiT CSV: no header, path,label,agreement,disagreement", () => {
  const file = write("mit.csv", "abseiling/getty-1.mp4,abseiling,3,0\nadult+female+singing/x.mp4,adult+female+singing,2,1\n,nolabel\n");
  const r = parse("mit-csv", file);
  assert.deepEqual(r.entries.map((e) => [e.path, e.label]), [["abseiling/getty-1.mp4", "abseiling"], ["adult+female+singing/x.mp4", "adult+female+singing"]]);
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0].source?.line, 3);
});

test("mmaction2 lists: 'path label', rawframes 'dir frames label', unlabelled, comments, bad lines", () => {
  const file = write("list.txt", "# comment\nv/a.mp4 3\nframes/b 120 7\nc.mp4\nwith space.mp4 1 2 3\nd.mp4 tai_chi\n");
  const r = parse("list", file);
  assert.deepEqual(r.entries.map((e) => [e.path, e.label]), [["v/a.mp4", 3], ["frames/b", 7], ["c.mp4", null], ["d.mp4", "tai_chi"]]);
  assert.deepEqual(r.problems.map((p) => p.source?.line), [5]);
});

test("JSONL: names and indices, errors with line numbers", () => {
  const file = write("a.jsonl", '{"path":"x.mp4","label":"cat"}\n{"path":"y.mp4","label":2,"id":"y"}\nnot json\n{"label":"cat"}\n{"path":"z.mp4","label":-1}\n');
  const r = parse("jsonl", file);
  assert.deepEqual(r.entries.map((e) => [e.id, e.label]), [["x.mp4", "cat"], ["y", 2]]);
  assert.deepEqual(r.problems.map((p) => p.source?.line), [3, 4, 5]);
  assert.throws(() => parse("jsonl", file, strict), new RegExp(`${file}:3: invalid JSON`));
});

test("ImageNet: folder per synset, synset mapping, devkit validation order, Kaggle solution CSV", () => {
  const root = join(tmp, "imagenet-train");
  for (const [synset, files] of [["n01440764", ["a.JPEG", "b.JPEG", "notes.txt"]], ["n01443537", ["c.jpeg"]]] as const) {
    mkdirSync(join(root, synset), { recursive: true });
    for (const f of files) writeFileSync(join(root, synset, f), "");
  }
  const scanned = parseAnnotationFile("imagenet-folder", "", { strict: false, mediaRoot: root });
  assert.deepEqual(scanned.entries.map((e) => [e.path, e.label]), [["n01440764/a.JPEG", "n01440764"], ["n01440764/b.JPEG", "n01440764"], ["n01443537/c.jpeg", "n01443537"]]);

  const mapping = write("LOC_synset_mapping.txt", "n01440764 tench, Tinca tinca\nn01443537 goldfish, Carassius auratus\n");
  assert.deepEqual(readSynsets(mapping), ["n01440764", "n01443537"]);
  assert.throws(() => readSynsets(write("bad_synsets.txt", "tench\n")), /bad_synsets.txt:1: expected a synset id/);

  const gt = write("gt.txt", "2\n1\n2\n9\n");
  const order = ["n01443537", "n01440764"]; // devkit ID order differs from the sorted synset order
  const withOrder = parseAnnotationFile("imagenet-val", gt, { strict: false, mediaRoot: tmp, devkitOrder: order });
  assert.deepEqual(withOrder.entries.map((e) => [e.path, e.label]), [
    ["ILSVRC2012_val_00000001.JPEG", "n01440764"], ["ILSVRC2012_val_00000002.JPEG", "n01443537"], ["ILSVRC2012_val_00000003.JPEG", "n01440764"]]);
  assert.deepEqual(withOrder.problems.map((p) => p.source?.line), [4]);
  const byIndex = parse("imagenet-val", gt);
  assert.deepEqual(byIndex.entries.map((e) => e.label), [1, 0, 1, 8]);

  const kaggle = write("LOC_val_solution.csv", "ImageId,PredictionString\nILSVRC2012_val_00008726,n02119789 255 142 454 329 n02119789 44 21 322 295\n");
  assert.deepEqual(parse("imagenet-val", kaggle).entries.map((e) => [e.path, e.label]), [["ILSVRC2012_val_00008726.JPEG", "n02119789"]]);
});

test("a missing annotation file is an error naming it", () => {
  assert.throws(() => parse("list", join(tmp, "nope.txt")), /cannot read annotation file .*nope.txt/);
});
