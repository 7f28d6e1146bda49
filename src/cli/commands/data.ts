import { existsSync, readFileSync, statSync } from "node:fs";
import { extname } from "node:path";
import { classCounts, loadManifest, loadSplit, MANIFEST_DIR, ManifestError, problemCounts, resolveManifestPath } from "../../data/manifest";
import type { DatasetSplit, FlipPolicy, ProblemKind } from "../../data/types";
import { Flags, OptionSpecs, UsageError } from "../args";
import { printJson } from "../output";
import type { Command } from "../main";
import { didYouMean } from "../suggest";

const PROBLEM_KINDS: ProblemKind[] = ["missing-media", "unknown-label", "duplicate", "malformed-line", "bad-media", "outside-media-root"];

/** `cover data sample|prepare` live with the decoders (src/data/commands/), loaded on demand. */
const DELEGATED: Record<string, string> = {
  sample: "./data-sample",
  prepare: "./data-prepare",
};

export interface SplitReport {
  split: string;
  samples: number;
  labelled: number;
  classes: number;
  /** Samples per class name, in class order. */
  classCounts: Record<string, number>;
  emptyClasses: string[];
  problems: Record<ProblemKind, number>;
  /** The first problems, with file and line. */
  problemExamples: string[];
}

export interface InspectReport {
  manifest: string;
  dataset: string;
  kind: string;
  flip: FlipPolicy;
  samples: number;
  classes: number;
  splits: Record<string, SplitReport>;
}

export function splitReport(split: DatasetSplit, examples: number): SplitReport {
  const counts = classCounts(split);
  const found = problemCounts(split.problems);
  return {
    split: split.split,
    samples: split.samples.length,
    labelled: counts.reduce((a, b) => a + b, 0),
    classes: split.classes.length,
    classCounts: Object.fromEntries(split.classes.map((c, i) => [c, counts[i]])),
    emptyClasses: split.classes.filter((_, i) => counts[i] === 0),
    problems: Object.fromEntries(PROBLEM_KINDS.map((k) => [k, found[k] ?? 0])) as Record<ProblemKind, number>,
    problemExamples: split.problems.slice(0, examples).map((p) => p.message),
  };
}

export async function inspectManifest(nameOrPath: string, options: { split?: string; checkMedia: boolean; strict: boolean; examples: number }): Promise<InspectReport> {
  const path = resolveManifestPath(nameOrPath);
  const manifest = loadManifest(path);
  const names = options.split ? [options.split] : Object.keys(manifest.splits);
  const splits: Record<string, SplitReport> = {};
  let classes = 0;
  for (const name of names) {
    const loadOptions = { manifest, checkMedia: options.checkMedia, strict: options.strict };
    // built-in datasets are generated on first use (src/data/builtin), which needs ffmpeg: loaded only for them
    const split = manifest.builtin
      ? await (require("../../data/builtin") as typeof import("../../data/builtin")).openSplit(path, name, loadOptions)
      : loadSplit(path, name, loadOptions);
    splits[name] = splitReport(split, options.examples);
    classes = split.classes.length;
  }
  const samples = Object.values(splits).reduce((a, s) => a + s.samples, 0);
  return { manifest: path, dataset: manifest.name, kind: manifest.kind, flip: manifest.flip, samples, classes, splits };
}

function printHuman(report: InspectReport, top: number): void {
  const flip = typeof report.flip === "string" ? report.flip : `swap ${Object.keys(report.flip.swap).length} class pairs`;
  console.log(`${report.dataset} (${report.kind}, ${report.classes} classes, flip: ${flip})  ${report.manifest}`);
  for (const s of Object.values(report.splits)) {
    console.log(`\n[${s.split}] ${s.samples.toLocaleString("en-US")} samples, ${s.labelled.toLocaleString("en-US")} labelled`);
    if (s.labelled > 0) {
      const sorted = Object.entries(s.classCounts).sort((a, b) => b[1] - a[1]);
      const counts = sorted.map(([, n]) => n);
      console.log(`  per class: min ${counts[counts.length - 1]}, max ${counts[0]}, mean ${(s.labelled / counts.length).toFixed(1)}` +
        (s.emptyClasses.length ? `, ${s.emptyClasses.length} classes without samples` : ""));
      for (const [name, n] of sorted.slice(0, top)) console.log(`  ${String(n).padStart(8)}  ${name}`);
      if (sorted.length > top) console.log(`  ... ${sorted.length - top} more classes (--json lists all)`);
    }
    const problems = Object.entries(s.problems).filter(([, n]) => n > 0);
    console.log(problems.length ? `  problems: ${problems.map(([k, n]) => `${k} ${n}`).join(", ")}` : "  problems: none");
    for (const m of s.problemExamples) console.log(`    ${m}`);
  }
}

const INSPECT_USAGE = `usage: cover data inspect <manifest name or path> [--split S] [--check-media] [--strict] [--examples N] [--json]

inspect: samples, classes, per-class counts and problems (missing media with --check-media, unknown labels,
duplicates, malformed lines with file:line) of every split, or of --split S. --strict stops at the first
malformed line. --check-media exits 1 when media files are missing. Shipped manifests are in data-manifests/
and can be named without the path; built-in datasets are generated first if needed.`;

const INSPECT_OPTIONS: OptionSpecs = { split: "string", "check-media": "boolean", strict: "boolean", examples: "string", json: "boolean" };

/** The manifest templates shipped in data-manifests/ for real datasets, with their annotation formats. */
const TEMPLATES = "k400/k600/k700 (Kinetics CSV), ssv2 (Something-Something JSON), mit (Moments in Time CSV), imagenet (class folders)";

/**
 * When `path` is a file that is not a manifest but most likely an annotation file (a CSV/TXT/JSONL list, a JSON
 * array, a JSON object without manifest fields): what a manifest is and where to start one. Else undefined.
 */
function notAManifestHint(path: string): string | undefined {
  if (!existsSync(path) || !statSync(path).isFile()) return undefined;
  let json: unknown;
  try { json = JSON.parse(readFileSync(path, "utf8")); } catch { json = undefined; }
  if (json === undefined && extname(path) === ".json") return undefined; // a broken manifest: its JSON error says more
  const isObject = typeof json === "object" && json !== null && !Array.isArray(json);
  if (isObject && ["splits", "kind", "mediaRoot"].some((field) => field in (json as object))) return undefined;
  return `${path} looks like an annotation file, not a dataset manifest.\n` +
    "A manifest is a small JSON file naming the dataset, its kind (video/image), its classes, where its media are\n" +
    "(mediaRoot) and, per split, which annotation files list the samples and in which format; the kit reads the\n" +
    `annotation files through it. Start from a template in ${MANIFEST_DIR}/: ${TEMPLATES}.\n` +
    "Copy one, set mediaRoot, and point the split's files at this annotation file; other formats (plain lists, JSONL)\n" +
    "and every field are described in data-manifests/README.md. Then run: cover data inspect my-manifest.json";
}

/** Samples whose media file is missing, over every split of the report. */
function missingMedia(report: InspectReport): number {
  return Object.values(report.splits).reduce((n, s) => n + s.problems["missing-media"], 0);
}

interface DelegatedModule { usage?: string; options?: OptionSpecs; run(flags: Flags): Promise<number> }

function delegated(sub: string): DelegatedModule | undefined {
  try {
    return require(DELEGATED[sub]) as DelegatedModule; // require, not import(): tsx runs the CLI as CommonJS
  } catch {
    return undefined;
  }
}

/** The delegated module's exported `usage`, if it has one (main.ts answers --help before dispatching). */
function delegatedUsage(sub: string): string {
  const mod = delegated(sub);
  return mod ? mod.usage ?? `usage: cover data ${sub} ...` : `cover data ${sub}: not available in this build`;
}

export const command: Command = {
  get usage(): string {
    return [INSPECT_USAGE, ...Object.keys(DELEGATED).map(delegatedUsage)].join("\n\n");
  },
  /** One table for all subcommands; each subcommand rejects the options it does not read. */
  get options(): OptionSpecs {
    return Object.assign({}, INSPECT_OPTIONS, ...Object.keys(DELEGATED).map((sub) => delegated(sub)?.options ?? {})) as OptionSpecs;
  },
  async run(flags: Flags): Promise<number> {
    const [sub, ...rest] = flags.positionals;
    if (sub && DELEGATED[sub]) {
      const mod = delegated(sub);
      if (!mod) throw new Error(`cover data ${sub} is not available in this build`);
      return mod.run(flags);
    }
    const subcommands = ["inspect", ...Object.keys(DELEGATED)];
    if (sub !== "inspect") {
      throw new UsageError(sub ? `unknown subcommand '${sub}'${didYouMean(sub, subcommands)}` : `a subcommand is needed: ${subcommands.join(", ")}`);
    }
    if (rest.length !== 1) throw new UsageError("inspect takes exactly one manifest");
    const options = {
      split: flags.string("split"),
      checkMedia: flags.bool("check-media"),
      strict: flags.bool("strict"),
      examples: flags.int("examples", 10),
    };
    const json = flags.bool("json");
    flags.rejectUnknown();
    if (options.examples < 0) throw new UsageError("--examples must be >= 0");
    let report: InspectReport;
    try {
      report = await inspectManifest(rest[0], options);
    } catch (err) {
      const hint = err instanceof ManifestError ? notAManifestHint(rest[0]) : undefined;
      if (hint) { console.error(`cover data inspect: ${hint}`); return 2; }
      console.error(`cover data inspect: ${(err as Error).message}`);
      return 1;
    }
    if (json) printJson(report);
    else printHuman(report, 20);
    const missing = options.checkMedia ? missingMedia(report) : 0;
    if (missing > 0) console.error(`cover data inspect: ${missing} media file(s) missing (see problems above)`);
    return missing > 0 ? 1 : 0;
  },
};
