/**
 * ImageNet (ILSVRC2012) layouts:
 * - `imagenet-folder`: <mediaRoot>/<synset>/<image>.JPEG (the train layout, and the val layout after the usual re-sort);
 *   classes are synset ids from a mapping file (LOC_synset_mapping.txt: `n01440764 tench, Tinca tinca`).
 * - `imagenet-val`: the devkit's ILSVRC2012_validation_ground_truth.txt, one ILSVRC2012_ID (1-based) per line in file
 *   order, line k labelling ILSVRC2012_val_<k:08d>.JPEG. IDs follow the devkit's meta.mat order, which is not the sorted
 *   synset order: give that order as `devkitOrder` (one synset per line, line k = ID k); without it the ID is read as a
 *   1-based index into the manifest's classes. Lines holding a synset id instead of a number, and Kaggle's
 *   LOC_val_solution.csv (`ImageId,PredictionString`), are read too.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { AnnotationEntry, MalformedPolicy, ParseOptions, ParseResult, parseCsvLine, parseIndex, readLines } from "./common";

const IMAGE_EXTENSIONS = /\.(jpe?g|png|bmp|webp)$/i;

export function scanImagenetFolder(options: ParseOptions): ParseResult {
  const root = options.mediaRoot;
  let synsets: string[];
  try {
    synsets = readdirSync(root).filter((name) => !name.startsWith(".") && statSync(join(root, name)).isDirectory()).sort();
  } catch (err) {
    throw new Error(`cannot list ImageNet folder ${root}: ${(err as Error).message}`);
  }
  const entries: AnnotationEntry[] = [];
  for (const synset of synsets) {
    const folder = join(root, synset);
    for (const name of readdirSync(folder).sort()) {
      if (name.startsWith(".") || !IMAGE_EXTENSIONS.test(name)) continue;
      const path = `${synset}/${name}`;
      entries.push({ id: path, path, label: synset, source: { file: folder, line: 0 } });
    }
  }
  return { entries, problems: [] };
}

export function parseImagenetVal(file: string, options: ParseOptions): ParseResult {
  const policy = new MalformedPolicy(options.strict);
  const lines = readLines(file);
  if (lines.length && /^ImageId,PredictionString$/i.test(lines[0].trim())) return parseKaggleSolution(file, lines, policy);
  const entries: AnnotationEntry[] = [];
  const order = options.devkitOrder;
  lines.forEach((text, i) => {
    const line = i + 1;
    const t = text.trim();
    if (t === "") { policy.report(file, line, "empty line: every validation image needs a label"); return; }
    const id = parseIndex(t);
    let label: string | number;
    if (id === null) {
      if (!/^n\d{8}$/.test(t)) { policy.report(file, line, `expected an ILSVRC2012_ID or a synset id, got '${t}'`); return; }
      label = t;
    } else {
      if (id < 1 || (order && id > order.length)) { policy.report(file, line, `ILSVRC2012_ID ${id} is out of range 1..${order ? order.length : "classes"}`); return; }
      label = order ? order[id - 1] : id - 1;
    }
    const path = `ILSVRC2012_val_${String(line).padStart(8, "0")}.JPEG`;
    entries.push({ id: path, path, label, source: { file, line } });
  });
  return { entries, problems: policy.problems };
}

function parseKaggleSolution(file: string, lines: string[], policy: MalformedPolicy): ParseResult {
  const entries: AnnotationEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = i + 1;
    if (lines[i].trim() === "") continue;
    const fields = parseCsvLine(lines[i]);
    const synset = fields?.[1]?.trim().split(/\s+/)[0];
    if (!fields || fields.length !== 2 || !fields[0] || !synset) { policy.report(file, line, "expected 'ImageId,PredictionString'"); continue; }
    const path = `${fields[0].trim()}.JPEG`;
    entries.push({ id: path, path, label: synset, source: { file, line } });
  }
  return { entries, problems: policy.problems };
}

/** Synset ids in class order from a mapping file: the first token of each line (LOC_synset_mapping.txt, synsets.txt). */
export function readSynsets(file: string): string[] {
  const synsets: string[] = [];
  readLines(file).forEach((text, i) => {
    const t = text.trim();
    if (t === "") return;
    const id = t.split(/\s+/)[0];
    if (!/^n\d{8}$/.test(id)) throw new Error(`${file}:${i + 1}: expected a synset id like n01440764, got '${id}'`);
    synsets.push(id);
  });
  return synsets;
}
