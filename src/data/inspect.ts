/** What `cover data inspect` reports of a manifest: samples, classes, per-class counts and problems per split. */
import { classCounts, loadManifest, loadSplit, problemCounts, resolveManifestPath } from "./manifest";
import type { FlipPolicy } from "./manifest";
import type { DatasetSplit, ProblemKind } from "./types";

const PROBLEM_KINDS: ProblemKind[] = ["missing-media", "unknown-label", "duplicate", "malformed-line", "bad-media", "outside-media-root"];

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
    // built-in datasets are generated on first use (./builtin), which needs ffmpeg: loaded only for them
    const split = manifest.builtin
      ? await (require("./builtin") as typeof import("./builtin")).openSplit(path, name, loadOptions)
      : loadSplit(path, name, loadOptions);
    splits[name] = splitReport(split, options.examples);
    classes = split.classes.length;
  }
  const samples = Object.values(splits).reduce((a, s) => a + s.samples, 0);
  return { manifest: path, dataset: manifest.name, kind: manifest.kind, flip: manifest.flip, samples, classes, splits };
}

