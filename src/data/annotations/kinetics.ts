/**
 * Kinetics-400/600/700 CSVs as released by DeepMind / ActivityNet:
 *   label,youtube_id,time_start,time_end,split[,is_cc]   (train/val; labels with spaces may be quoted or not)
 *   youtube_id,time_start,time_end,split                 (test: no labels)
 * The split column may say `val` or `validate`; it is not used (one file per split).
 * Clip files follow the downloaders' convention `<label>/<youtube_id>_<start:06d>_<end:06d>.mp4`.
 */
import { AnnotationEntry, MalformedPolicy, ParseOptions, ParseResult, parseCsvLine, readLines } from "./common";

/**
 * Tokens: {label}, {label_} (spaces as underscores), {youtube_id}, {start} and {end} (zero-padded to 6 digits), {id}
 * (= `<youtube_id>_<start>_<end>`). Rows without a label drop a leading `{label}/` or `{label_}/` folder.
 */
export const DEFAULT_KINETICS_TEMPLATE = "{label}/{youtube_id}_{start}_{end}.mp4";

export function parseKineticsCsv(file: string, options: ParseOptions): ParseResult {
  const policy = new MalformedPolicy(options.strict);
  const lines = readLines(file);
  const entries: AnnotationEntry[] = [];
  if (lines.length === 0) return { entries, problems: policy.problems };
  const header = parseCsvLine(lines[0]);
  if (!header || !header.includes("youtube_id")) {
    throw new Error(`${file}:1: not a Kinetics CSV: the header must name the columns (label,youtube_id,time_start,time_end,split), got '${lines[0]}'`);
  }
  const col = (name: string) => header.indexOf(name);
  const [labelCol, idCol, startCol, endCol] = [col("label"), col("youtube_id"), col("time_start"), col("time_end")];
  for (const [name, c] of [["time_start", startCol], ["time_end", endCol]] as const) {
    if (c < 0) throw new Error(`${file}:1: Kinetics CSV header has no '${name}' column`);
  }
  const template = options.pathTemplate ?? DEFAULT_KINETICS_TEMPLATE;
  for (let i = 1; i < lines.length; i++) {
    const lineNo = i + 1;
    if (lines[i].trim() === "") continue;
    const fields = parseCsvLine(lines[i]);
    if (!fields) { policy.report(file, lineNo, "unbalanced quotes"); continue; }
    if (fields.length !== header.length) {
      policy.report(file, lineNo, `expected ${header.length} fields (${header.join(",")}), got ${fields.length}`);
      continue;
    }
    const youtubeId = fields[idCol].trim();
    const label = labelCol >= 0 ? fields[labelCol].trim() : null;
    const start = clipTime(fields[startCol]);
    const end = clipTime(fields[endCol]);
    if (!youtubeId) { policy.report(file, lineNo, "empty youtube_id"); continue; }
    if (label === "") { policy.report(file, lineNo, "empty label"); continue; }
    if (start === null || end === null) { policy.report(file, lineNo, `time_start/time_end must be non-negative numbers, got '${fields[startCol]}', '${fields[endCol]}'`); continue; }
    const id = `${youtubeId}_${start}_${end}`;
    entries.push({ id, path: kineticsPath(template, { label, youtubeId, start, end, id }), label, source: { file, line: lineNo } });
  }
  return { entries, problems: policy.problems };
}

interface ClipFields { label: string | null; youtubeId: string; start: string; end: string; id: string }

export function kineticsPath(template: string, clip: ClipFields): string {
  let t = template;
  if (clip.label === null) t = t.replace(/^\{label_?\}\//, "");
  return t.replace(/\{(label_|label|youtube_id|start|end|id)\}/g, (_, token: string) => {
    switch (token) {
      case "label": return clip.label ?? "";
      case "label_": return (clip.label ?? "").replace(/ /g, "_");
      case "youtube_id": return clip.youtubeId;
      case "start": return clip.start;
      case "end": return clip.end;
      default: return clip.id;
    }
  });
}

/** Seconds as in the file names: integers zero-padded to 6 digits; other numbers kept as written. */
function clipTime(text: string): string | null {
  const t = text.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isInteger(n) ? String(n).padStart(6, "0") : t;
}
