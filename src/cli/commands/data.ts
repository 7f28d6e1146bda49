import { existsSync, readFileSync, statSync } from "node:fs";
import { extname } from "node:path";
import { InspectReport, inspectManifest } from "../../data/inspect";
import { MANIFEST_DIR, ManifestError } from "../../data/manifest";
import { Flags, OptionSpecs, UsageError } from "../args";
import { printJson } from "../output";
import type { Command } from "../command";
import { didYouMean } from "../../util/suggest";

interface SubcommandModule { usage: string; options: OptionSpecs; run(flags: Flags): Promise<number> }

/** `cover data sample|prepare`, loaded on demand (they load the decoders). */
const DELEGATED: Record<string, () => SubcommandModule> = {
  sample: () => require("./data-sample") as typeof import("./data-sample"),
  prepare: () => require("./data-prepare") as typeof import("./data-prepare"),
};

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

export const command: Command = {
  get usage(): string {
    return [INSPECT_USAGE, ...Object.values(DELEGATED).map((load) => load().usage)].join("\n\n");
  },
  /** One table for all subcommands; each subcommand rejects the options it does not read. */
  get options(): OptionSpecs {
    return Object.assign({}, INSPECT_OPTIONS, ...Object.values(DELEGATED).map((load) => load().options)) as OptionSpecs;
  },
  async run(flags: Flags): Promise<number> {
    const [sub, ...rest] = flags.positionals;
    if (sub && Object.hasOwn(DELEGATED, sub)) return DELEGATED[sub]().run(flags);
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
