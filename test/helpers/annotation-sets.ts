/**
 * Two sets of official-format annotation files, named as in the real data folder (`kinetics/...`, `ssv2/...`):
 * the real files (when COVER_SHARED_DATA is set), and the in-repo set: excerpts of the official Kinetics CSVs
 * (test/fixtures/annotations, see its README) plus small Something-Something-v2 files in the official JSON layout,
 * written by the tests into a temporary folder. Tests loop over both, so every check on the real files has its
 * twin on the in-repo ones.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { needsSharedData, sharedDataPath } from "./shared-data";
import { tempDir } from "./tf";

/** What the tests expect of each file of a set. */
export interface AnnotationFacts {
  k400Val: { rows: number; classes: number };
  k600Val: { rows: number; classes: number };
  k400Test: { rows: number };
  ssv2Val: { entries: number; classes: number; first: { id: string; label: string } };
  ssv2Test: { entries: number };
  /** Index of "Closing something" in the SSv2 labels file. */
  closingSomething: number;
}

export interface AnnotationSet {
  /** Which set this is, for test names. */
  label: string;
  /** The same in one word, for file names. */
  key: string;
  /** node:test options: the real set is skipped, saying why, without the real data. */
  options: { skip: string | false };
  /** A file of the set, named as in the real data folder, e.g. `path("kinetics/kinetics-400_val.csv")`. */
  path(name: string): string;
  facts: AnnotationFacts;
}

const KINETICS_EXCERPTS = resolve(__dirname, "../fixtures/annotations");

/** Classes of the written SSv2 files; the labels file lists them in this order, index = position. */
const SSV2_CLASSES = [
  "Approaching something with your camera",
  "Closing something",
  "Moving something away from the camera",
  "Pushing something from left to right",
  "Putting something, something and something on the table",
  "Showing something on top of something",
];

/** [id, template, placeholders]: every class at least once; the first entry is checked field by field. */
const SSV2_VALIDATION: [string, string, string[]][] = [
  ["74225", "Showing [something] on top of [something]", ["clay box", "wallet"]],
  ["116154", "Closing [something]", ["a book"]],
  ["198186", "Pushing [something] from left to right", ["a cup"]],
  ["137878", "Approaching [something] with your camera", ["a lamp"]],
  ["9031", "Moving [something] away from the camera", ["remote"]],
  ["42", "Putting [something], [something] and [something] on the table", ["pen", "key", "coin"]],
  ["100003", "Closing [something]", ["a drawer"]],
  ["100004", "Pushing [something] from left to right", ["a \"toy\" car"]],
];

const SSV2_TEST_IDS = ["1420", "166429", "53930", "73548", "142328"];

/** The three SSv2 files in the official layout: one entry per line, labels as `"template": "index"`. */
function writeSsv2Files(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const labels = SSV2_CLASSES.map((name, index) => ` ${JSON.stringify(name)}:${JSON.stringify(String(index))}`);
  writeFileSync(join(dir, "something-something-v2-labels.json"), `{\n${labels.join(",\n")}\n}\n`);
  const validation = SSV2_VALIDATION.map(([id, template, placeholders]) => {
    let filled = template;
    for (const thing of placeholders) filled = filled.replace(/\[something\]/, thing);
    return JSON.stringify({ id, label: filled.toLowerCase(), template, placeholders });
  });
  writeFileSync(join(dir, "something-something-v2-validation.json"), `[\n${validation.join(",\n")}\n]\n`);
  writeFileSync(join(dir, "something-something-v2-test.json"), `[\n${SSV2_TEST_IDS.map((id) => JSON.stringify({ id })).join(",\n")}\n]\n`);
}

let ssv2Dir: string | undefined;

function inRepoPath(name: string): string {
  if (name.startsWith("kinetics/")) return join(KINETICS_EXCERPTS, name);
  if (!name.startsWith("ssv2/")) throw new Error(`no in-repo annotation file '${name}'`);
  if (!ssv2Dir) {
    ssv2Dir = join(tempDir("annotations"), "ssv2");
    writeSsv2Files(ssv2Dir);
  }
  return join(ssv2Dir, name.slice("ssv2/".length));
}

/** Kinetics excerpts (counts as in test/fixtures/annotations/README.md) and SSv2 files written here. */
export const inRepoAnnotations: AnnotationSet = {
  label: "in-repo files",
  key: "in-repo",
  options: { skip: false },
  path: inRepoPath,
  facts: {
    k400Val: { rows: 120, classes: 40 },
    k600Val: { rows: 144, classes: 48 },
    k400Test: { rows: 100 },
    ssv2Val: { entries: SSV2_VALIDATION.length, classes: SSV2_CLASSES.length, first: { id: "74225", label: "Showing something on top of something" } },
    ssv2Test: { entries: SSV2_TEST_IDS.length },
    closingSomething: SSV2_CLASSES.indexOf("Closing something"),
  },
};

/** The real annotation files (COVER_SHARED_DATA/kinetics, COVER_SHARED_DATA/ssv2). */
export const realAnnotations: AnnotationSet = {
  label: "real files",
  key: "real",
  options: needsSharedData("the real annotation files"),
  path: (name) => sharedDataPath(name),
  facts: {
    k400Val: { rows: 19906, classes: 400 },
    k600Val: { rows: 30000, classes: 600 },
    k400Test: { rows: 38685 },
    ssv2Val: { entries: 24777, classes: 174, first: { id: "74225", label: "Spinning something that quickly stops spinning" } },
    ssv2Test: { entries: 27157 },
    closingSomething: 5,
  },
};

export const ANNOTATION_SETS: readonly AnnotationSet[] = [inRepoAnnotations, realAnnotations];
