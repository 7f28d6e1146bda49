/** One entry point over every annotation format: which parser reads which `AnnotationFormat`. */
import { AnnotationEntry, ParseOptions, ParseResult } from "./common";
import { parseImagenetVal, scanImagenetFolder } from "./imagenet";
import { parseJsonl } from "./jsonl";
import { parseKineticsCsv } from "./kinetics";
import { parseList } from "./list";
import { parseMitCsv } from "./mit";
import { parseSsv2Json } from "./ssv2";

export * from "./common";
export { DEFAULT_KINETICS_TEMPLATE, kineticsPath } from "./kinetics";
export { readSsv2Labels, ssv2ClassName } from "./ssv2";
export { readSynsets } from "./imagenet";

/** Official annotation layouts the kit can read. */
export const ANNOTATION_FORMATS = [
  "kinetics-csv",    // label,youtube_id,time_start,time_end,split[,is_cc]; test files without label
  "ssv2-json",       // list of {id, template|label, placeholders}; classes from the labels JSON
  "mit-csv",         // Moments-in-Time: path,label[,...] without header
  "imagenet-folder", // <root>/<synset>/<file>.JPEG; classes from a synset mapping
  "imagenet-val",    // devkit validation ground truth: one 1-based class index per line, in file order
  "list",            // mmaction2-style "relative/path label" per line
  "jsonl",           // one {"path": ..., "label": ...} object per line
] as const;
export type AnnotationFormat = (typeof ANNOTATION_FORMATS)[number];

/** Formats whose entries come from listing the media folder rather than from annotation files. */
export function scansMediaFolder(format: AnnotationFormat): boolean {
  return format === "imagenet-folder";
}

/** The reader of one format: an annotation file to its entries and problems. */
type Parser = (file: string, options: ParseOptions) => ParseResult;

const PARSERS: Record<AnnotationFormat, Parser> = {
  "kinetics-csv": parseKineticsCsv,
  "ssv2-json": parseSsv2Json,
  "mit-csv": parseMitCsv,
  "imagenet-folder": (_file, options) => scanImagenetFolder(options),
  "imagenet-val": parseImagenetVal,
  "list": parseList,
  "jsonl": parseJsonl,
};

/** Parses one annotation file of the given format (folder formats ignore `file` and list options.mediaRoot). */
export function parseAnnotationFile(format: AnnotationFormat, file: string, options: ParseOptions): ParseResult {
  return PARSERS[format](file, options);
}

/** Parses all files of a split in order. */
export function parseAnnotations(format: AnnotationFormat, files: string[], options: ParseOptions): ParseResult {
  if (scansMediaFolder(format)) return scanImagenetFolder(options);
  const entries: AnnotationEntry[] = [];
  const problems: ParseResult["problems"] = [];
  for (const file of files) {
    const r = parseAnnotationFile(format, file, options);
    for (const e of r.entries) entries.push(e);
    for (const p of r.problems) problems.push(p);
  }
  return { entries, problems };
}
