/**
 * Dataset manifests: a small JSON file per dataset (data-manifests/*.json) describing its annotation files, media folder,
 * classes and flip policy. `loadManifest` checks it against one schema (MANIFEST, the manifest types are inferred from
 * it); `loadSplit` parses a split's annotations into samples with absolute media paths and class indices, counting
 * what is wrong (missing media, unknown labels, duplicates, malformed lines) instead of failing, unless asked to be strict.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { ANNOTATION_FORMATS, AnnotationError, parseAnnotations, readLines, readSsv2Labels, readSynsets, scansMediaFolder } from "./annotations";
import type { AnnotationFormat, RawLabel } from "./annotations";
import { deriveSeed, Rng } from "../util/rng";
import { checkSchema, expect, SchemaError } from "../util/schema";
import { PROJECT_ROOT } from "../util/paths";
import type { DatasetSplit, Problem, Sample } from "./types";

/** The folder of the manifests shipped with the kit. */
export const MANIFEST_DIR = join(PROJECT_ROOT, "data-manifests");

const CLASS_LIST_FORMATS = ["lines", "name-index", "ssv2-labels", "synsets", ...ANNOTATION_FORMATS] as const;

const SPLIT_SPEC = z.object({
  format: expect.oneOf(ANNOTATION_FORMATS),
  /** Annotation file(s), relative to the manifest's folder unless absolute. */
  files: z.array(expect.string(), { invalid_type_error: "expected a list of annotation file paths", required_error: "expected a list of annotation file paths" }),
  /** Media folder for this split, relative to the manifest's folder; defaults to the manifest's mediaRoot. */
  mediaRoot: expect.string().optional(),
  /** imagenet-val only: synset ids in ILSVRC2012_ID order (one per line), as in the devkit's meta.mat. */
  devkitOrder: expect.string().optional(),
}).strict().superRefine((s, ctx) => {
  if (s.files.length === 0 && !scansMediaFolder(s.format)) ctx.addIssue({ code: "custom", path: ["files"], message: `expected at least one annotation file for format ${s.format}` });
  if (s.devkitOrder !== undefined && s.format !== "imagenet-val") ctx.addIssue({ code: "custom", path: ["devkitOrder"], message: "applies to format imagenet-val only" });
});
export type SplitSpec = z.infer<typeof SPLIT_SPEC>;

const CLASS_NAMES = z.array(expect.string(), { invalid_type_error: "expected a list of class names" })
  .min(1, "expected at least one class")
  .superRefine((classes, ctx) => {
    classes.forEach((c, i) => {
      const first = classes.indexOf(c);
      if (first < i) ctx.addIssue({ code: "custom", path: [i], message: `expected each class once (the same as classes[${first}])` });
    });
  });

const CLASS_FILE = z.object({ file: expect.string(), format: expect.oneOf(CLASS_LIST_FORMATS).optional() }).strict();

const FLIP_MESSAGE = 'expected "allowed", "never" or {"swap": {"<class>": "<mirrored class>"}}';
/**
 * Horizontal-flip policy: "allowed", "never" (motion-direction datasets such as SSv2), or a
 * label map for left/right classes (flipping a clip of class A turns it into class B).
 */
const FLIP_POLICY = z.union([
  z.enum(["allowed", "never"], { errorMap: () => ({ message: FLIP_MESSAGE }) }),
  z.object({
    swap: z.record(z.string({ invalid_type_error: "expected a class name" }).min(1, "expected a class name"),
      { invalid_type_error: 'expected {"<class>": "<mirrored class>"}', required_error: 'expected {"<class>": "<mirrored class>"}' }),
  }, { invalid_type_error: FLIP_MESSAGE }).strict(),
], { errorMap: () => ({ message: FLIP_MESSAGE }) });
export type FlipPolicy = z.infer<typeof FLIP_POLICY>;

const RGB_MESSAGE = "expected three numbers [r, g, b]";
const rgb = (channel: z.ZodNumber) => z.tuple([channel, channel, channel], { errorMap: () => ({ message: RGB_MESSAGE }) });
/** Per-channel (RGB) mean and standard deviation of pixel values in [0, 1]. */
const INPUT_NORMALIZATION = z.object({ mean: rgb(expect.number()), std: rgb(expect.positive()) }).strict();
export type InputNormalization = z.infer<typeof INPUT_NORMALIZATION>;

const DATASET_KINDS = ["video", "image"] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** The schema of a dataset manifest (data-manifests/*.json). */
export const MANIFEST = z.object({
  name: z.string({ invalid_type_error: "expected a string", required_error: "expected a string" })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "expected a name of letters, digits, '_', '.', '-'"),
  kind: expect.oneOf(DATASET_KINDS),
  /** Folder holding the media files, relative to the manifest's folder unless absolute. */
  mediaRoot: expect.string(),
  /**
   * Class names in index order, or a file that lists them: "lines" (one name per line, the default), "name-index"
   * (`name,index` per line, MiT's moments_categories.txt), "ssv2-labels" (labels JSON), "synsets" (first token per line),
   * or an annotation file of a split, in which case the classes are its distinct labels sorted (Kinetics has no class file).
   */
  classes: z.union([CLASS_NAMES, CLASS_FILE], { errorMap: () => ({ message: 'expected a list of class names or {"file": ..., "format"?: ...}' }) }),
  splits: z.record(SPLIT_SPEC, { invalid_type_error: 'expected an object of splits, e.g. {"train": {...}}', required_error: 'expected an object of splits, e.g. {"train": {...}}' })
    .refine((splits) => Object.keys(splits).length > 0, 'expected at least one split, e.g. {"train": {...}}'),
  flip: FLIP_POLICY,
  /** Filename pattern for Kinetics-style clips; tokens {label} {youtube_id} {start} {end} {id}. */
  pathTemplate: expect.string().optional(),
  /**
   * Built-in datasets only: the media are generated on first use, deterministically, by the named generator
   * (src/data/builtin/) into mediaRoot, together with the split annotation files.
   */
  builtin: z.object({ generator: expect.string(), seed: expect.integer(), options: z.record(expect.number()).optional() }).strict().optional(),
  /**
   * Input normalisation (pixel - mean) / std per channel; default TimeSformer's 0.45 / 0.225. Data far from natural
   * video statistics needs its own: the built-in digits on black have their background at 0 (a background at -2 kept
   * a ViT trained from scratch at chance for hundreds of steps, measured).
   */
  normalization: INPUT_NORMALIZATION.optional(),
  /** Annotations may name media by absolute paths (default false: every media path stays inside mediaRoot). */
  allowAbsolutePaths: expect.boolean().optional(),
  /** Free-form notes for humans (source, licence). */
  description: z.string({ invalid_type_error: "expected a string" }).optional(),
}, { invalid_type_error: "expected a JSON object" }).strict();

/** A manifest as loadManifest returns it: see MANIFEST. */
export type DatasetManifest = z.infer<typeof MANIFEST>;

/** A manifest that failed validation: the message names the file and the field. */
export class ManifestError extends Error {}

/** `name` of a shipped manifest (data-manifests/<name>.json) or a path to one. */
export function resolveManifestPath(nameOrPath: string): string {
  if (existsSync(nameOrPath)) return resolve(nameOrPath);
  const shipped = resolve(MANIFEST_DIR, nameOrPath.endsWith(".json") ? nameOrPath : `${nameOrPath}.json`);
  if (existsSync(shipped)) return shipped;
  throw new ManifestError(`no manifest '${nameOrPath}': not a file, and not in ${MANIFEST_DIR}`);
}

export function loadManifest(path: string): DatasetManifest {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ManifestError(`cannot read manifest ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ManifestError(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  return validateManifest(json, path);
}

/** A parsed manifest checked against MANIFEST; `file` only labels the errors. */
export function validateManifest(json: unknown, file: string): DatasetManifest {
  try {
    return checkSchema(MANIFEST, json, file);
  } catch (err) {
    if (err instanceof SchemaError) throw new ManifestError(err.message, { cause: err });
    throw err;
  }
}

/** A path from the manifest, relative to the manifest's folder unless absolute. */
export function manifestRelative(manifestPath: string, p: string): string {
  return isAbsolute(p) ? p : resolve(dirname(resolve(manifestPath)), p);
}

/** Class names in index order, reading the class file if the manifest names one. */
export function loadClasses(manifest: DatasetManifest, manifestPath: string): string[] {
  if (Array.isArray(manifest.classes)) return manifest.classes;
  const file = manifestRelative(manifestPath, manifest.classes.file);
  const format = manifest.classes.format ?? "lines";
  let classes: string[];
  switch (format) {
    case "lines": classes = readLines(file).map((l) => l.trim()).filter((l) => l !== ""); break;
    case "name-index": classes = readNameIndex(file); break;
    case "ssv2-labels": classes = readSsv2Labels(file); break;
    case "synsets": classes = readSynsets(file); break;
    default: classes = sortedLabels(format, file, manifest, manifestPath);
  }
  if (classes.length === 0) throw new ManifestError(`${manifestPath}: the class file ${file} lists no classes`);
  const seen = new Set<string>();
  for (const c of classes) {
    if (seen.has(c)) throw new ManifestError(`${manifestPath}: the class file ${file} lists '${c}' twice`);
    seen.add(c);
  }
  return classes;
}

/**
 * A class list on its own (e.g. for labelling converted weights): a JSON list of names, a JSON object
 * {name: index} (SlowFast's kinetics_classnames.json) or {index: name}, or text with one name per line.
 */
export function readClassListFile(file: string): string[] {
  let text: string;
  try { text = readFileSync(file, "utf8").replace(/^\uFEFF/, ""); } catch (err) { throw new Error(`${file}: cannot read the class list (${(err as Error).message})`); }
  const classes = /^\s*[[{]/.test(text) ? jsonClassList(text, file) : textClassList(text, file);
  if (classes.length === 0) throw new Error(`${file}: the class list is empty`);
  const seen = new Map<string, number>();
  classes.forEach((c, i) => {
    if (seen.has(c)) throw new Error(`${file}: class '${c}' is listed twice (as ${seen.get(c)} and ${i})`);
    seen.set(c, i);
  });
  return classes;
}

function textClassList(text: string, file: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, "").trim());
  while (lines.length && lines[lines.length - 1] === "") lines.pop();
  const blank = lines.indexOf("");
  if (blank >= 0) throw new Error(`${file}:${blank + 1}: empty line in the class list (one class per line)`);
  return lines;
}

function jsonClassList(text: string, file: string): string[] {
  let value: unknown;
  try { value = JSON.parse(text); } catch (err) { throw new Error(`${file}: not valid JSON (${(err as Error).message})`); }
  if (Array.isArray(value)) {
    const bad = value.findIndex((v) => typeof v !== "string");
    if (bad >= 0) throw new Error(`${file}: entry ${bad} of the class list is not a string`);
    return value as string[];
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const byIndex = entries.every(([k, v]) => /^\d+$/.test(k) && typeof v === "string");
  const byName = entries.every(([, v]) => Number.isInteger(v));
  if (!byIndex && !byName) throw new Error(`${file}: expected a JSON list of names, {name: index} or {index: name}`);
  const classes = new Array<string>(entries.length);
  for (const [k, v] of entries) {
    const index = byIndex ? Number(k) : (v as number);
    const name = byIndex ? (v as string) : k.replace(/^"(.*)"$/, "$1"); // SlowFast quotes some names: "\"abseiling\""
    if (!(index >= 0 && index < entries.length) || classes[index] !== undefined) throw new Error(`${file}: class indices must be 0..${entries.length - 1}, each once (bad: ${index} for '${name}')`);
    classes[index] = name;
  }
  return classes;
}

/** `name,index` per line (MiT's moments_categories.txt); names may contain commas, the index is after the last one. */
function readNameIndex(file: string): string[] {
  const classes: string[] = [];
  readLines(file).forEach((text, i) => {
    if (text.trim() === "") return;
    const m = /^(.*),\s*(\d+)\s*$/.exec(text);
    if (!m) throw new Error(`${file}:${i + 1}: expected 'name,index', got '${text}'`);
    const index = Number(m[2]);
    if (classes[index] !== undefined) throw new Error(`${file}:${i + 1}: index ${index} is already given to '${classes[index]}'`);
    classes[index] = m[1].trim();
  });
  for (let i = 0; i < classes.length; i++) if (classes[i] === undefined) throw new Error(`${file}: no class has index ${i}`);
  return classes;
}

/** The distinct label names of an annotation file, sorted (as Kinetics class indices are conventionally assigned). */
function sortedLabels(format: AnnotationFormat, file: string, manifest: DatasetManifest, manifestPath: string): string[] {
  const { entries } = parseAnnotations(format, [file], {
    strict: false, mediaRoot: manifestRelative(manifestPath, manifest.mediaRoot), pathTemplate: manifest.pathTemplate,
  });
  const names = new Set<string>();
  for (const e of entries) if (typeof e.label === "string") names.add(e.label);
  return [...names].sort();
}

export interface LoadSplitOptions {
  /** Check that every media file exists; missing ones are dropped and counted. */
  checkMedia?: boolean;
  /** Throw on the first malformed annotation line (naming file and line) instead of skipping and counting it. */
  strict?: boolean;
  /** An already loaded manifest (skips reading it again). */
  manifest?: DatasetManifest;
}

export function loadSplit(manifestPath: string, split: string, options: LoadSplitOptions = {}): DatasetSplit {
  const manifest = options.manifest ?? loadManifest(manifestPath);
  const spec: SplitSpec | undefined = manifest.splits[split];
  if (!spec) throw new ManifestError(`${manifestPath}: no split '${split}' (splits: ${Object.keys(manifest.splits).join(", ")})`);
  const classes = loadClasses(manifest, manifestPath);
  checkFlipClasses(manifest.flip, classes, manifestPath);
  const mediaRoot = manifestRelative(manifestPath, spec.mediaRoot ?? manifest.mediaRoot);
  const parsed = parseAnnotations(spec.format, spec.files.map((f) => manifestRelative(manifestPath, f)), {
    strict: options.strict === true,
    mediaRoot,
    pathTemplate: manifest.pathTemplate,
    devkitOrder: spec.devkitOrder ? readSynsets(manifestRelative(manifestPath, spec.devkitOrder)) : undefined,
  });

  const problems: Problem[] = [...parsed.problems];
  const index = new Map(classes.map((c, i) => [c, i]));
  const seen = new Map<string, Sample>();
  const samples: Sample[] = [];
  for (const entry of parsed.entries) {
    const where = `${entry.source.file}:${entry.source.line}`;
    const label = classIndex(entry.label, index, classes.length);
    if (label === undefined) {
      problems.push({ kind: "unknown-label", message: `${where}: label ${JSON.stringify(entry.label)} is not one of the ${classes.length} classes`, source: entry.source });
      continue;
    }
    const first = seen.get(entry.id);
    if (first) {
      problems.push({ kind: "duplicate", message: `${where}: '${entry.id}' is listed already at ${first.source.file}:${first.source.line}`, source: entry.source });
      continue;
    }
    const escape = mediaPathEscape(entry.path, mediaRoot, manifest.allowAbsolutePaths === true);
    if (escape) {
      if (options.strict) throw new AnnotationError(entry.source, escape);
      problems.push({ kind: "outside-media-root", message: `${where}: ${escape}`, source: entry.source, path: isAbsolute(entry.path) ? entry.path : resolve(mediaRoot, entry.path) });
      continue;
    }
    const path = isAbsolute(entry.path) ? entry.path : resolve(mediaRoot, entry.path);
    if (options.checkMedia && !existsSync(path)) {
      problems.push({ kind: "missing-media", message: `${where}: media file ${path} does not exist`, source: entry.source, path });
      continue;
    }
    const sample: Sample = { id: entry.id, path, label, source: entry.source };
    seen.set(entry.id, sample);
    samples.push(sample);
  }
  return { dataset: manifest.name, kind: manifest.kind, split, classes, samples, flip: manifest.flip, problems,
    ...(manifest.normalization && { normalization: manifest.normalization }) };
}

/**
 * Why a media path from an annotation may not be used, or undefined: paths stay inside the split's media root
 * (no `..` out of it, no absolute path) unless the manifest sets allowAbsolutePaths, so that an annotation file
 * cannot make the kit read (or list in a report) files elsewhere.
 */
function mediaPathEscape(path: string, mediaRoot: string, allowAbsolute: boolean): string | undefined {
  if (isAbsolute(path)) {
    return allowAbsolute ? undefined : `media path ${JSON.stringify(path)} is absolute; media must lie inside the media root ${mediaRoot} ` +
      "(set \"allowAbsolutePaths\": true in the manifest to allow absolute paths)";
  }
  const rel = relative(mediaRoot, resolve(mediaRoot, path));
  if (rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) return `media path ${JSON.stringify(path)} leads outside the media root ${mediaRoot}`;
  return undefined;
}

/** Class index of a raw label; -1 for unlabelled entries; undefined when the label is not a class. */
function classIndex(label: RawLabel, index: Map<string, number>, count: number): number | undefined {
  if (label === null) return -1;
  if (typeof label === "number") return Number.isInteger(label) && label >= 0 && label < count ? label : undefined;
  return index.get(label);
}

function checkFlipClasses(flip: FlipPolicy, classes: string[], manifestPath: string): void {
  if (typeof flip === "string") return;
  const known = new Set(classes);
  for (const [a, b] of Object.entries(flip.swap)) {
    for (const name of [a, b]) if (!known.has(name)) throw new ManifestError(`${manifestPath}: flip.swap: names '${name}', which is not a class`);
  }
  flipLabelMap(flip, classes, manifestPath);
}

/**
 * The label of each class after a horizontal flip (identity for "allowed"), or null when flipping is never allowed.
 * Swaps are symmetric: {"A": "B"} also maps B to A; contradictory pairs are an error.
 */
export function flipLabelMap(flip: FlipPolicy, classes: string[], source = "flip policy"): Int32Array | null {
  if (flip === "never") return null;
  const map = new Int32Array(classes.length);
  for (let i = 0; i < map.length; i++) map[i] = i;
  if (flip === "allowed") return map;
  const index = new Map(classes.map((c, i) => [c, i]));
  const set = new Map<number, number>();
  const assign = (from: number, to: number) => {
    const before = set.get(from);
    if (before !== undefined && before !== to) throw new ManifestError(`${source}: flip.swap: maps '${classes[from]}' to both '${classes[before]}' and '${classes[to]}'`);
    set.set(from, to);
  };
  for (const [a, b] of Object.entries(flip.swap)) {
    const ia = index.get(a), ib = index.get(b);
    if (ia === undefined || ib === undefined) throw new ManifestError(`${source}: flip.swap: names a class that does not exist ('${ia === undefined ? a : b}')`);
    assign(ia, ib);
    assign(ib, ia);
  }
  for (const [from, to] of set) map[from] = to;
  return map;
}

/** Samples per class (index order); unlabelled samples are not counted. */
export function classCounts(split: DatasetSplit): number[] {
  const counts = new Array<number>(split.classes.length).fill(0);
  for (const s of split.samples) if (s.label >= 0) counts[s.label]++;
  return counts;
}

/** Problems counted by kind. */
export function problemCounts(problems: Problem[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of problems) counts[p.kind] = (counts[p.kind] ?? 0) + 1;
  return counts;
}

/**
 * A deterministic, class-balanced subset of at most `count` samples (small-scale runs): classes take turns, each
 * giving its samples in a seeded shuffle; the subset keeps the split's original order. Unlabelled samples count as
 * one class. The same (split, count, seed) always gives the same subset, and a larger count a superset.
 */
export function subsetSplit(split: DatasetSplit, count: number, seed: number): DatasetSplit {
  if (!Number.isInteger(count) || count < 0) throw new Error(`subsetSplit: count must be a non-negative integer, got ${count}`);
  if (count >= split.samples.length) return split;
  const byClass = new Map<number, number[]>();
  split.samples.forEach((s, i) => {
    const list = byClass.get(s.label);
    if (list) list.push(i); else byClass.set(s.label, [i]);
  });
  const rng = new Rng(deriveSeed(seed, "subset", split.dataset, split.split));
  const queues = [...byClass.keys()].sort((a, b) => a - b).map((label) => rng.shuffle(byClass.get(label)!));
  const chosen: number[] = [];
  for (let round = 0; chosen.length < count; round++) {
    for (const q of queues) {
      if (round < q.length && chosen.length < count) chosen.push(q[round]);
    }
  }
  chosen.sort((a, b) => a - b);
  return { ...split, samples: chosen.map((i) => split.samples[i]) };
}
