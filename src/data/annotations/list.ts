/**
 * mmaction2-style lists: `relative/path label` per line (a label index, or a class name without spaces);
 * rawframe lists `frame_dir total_frames label` take the last field as the label; a line with a path only is unlabelled.
 * Lines starting with # are comments.
 */
import { AnnotationEntry, MalformedPolicy, ParseOptions, ParseResult, parseIndex, readLines } from "./common";

export function parseList(file: string, options: ParseOptions): ParseResult {
  const policy = new MalformedPolicy(options.strict);
  const entries: AnnotationEntry[] = [];
  readLines(file).forEach((text, i) => {
    const line = i + 1;
    const t = text.trim();
    if (t === "" || t.startsWith("#")) return;
    const fields = t.split(/\s+/);
    if (fields.length > 3) { policy.report(file, line, `expected 'path label', got ${fields.length} fields (paths with spaces are not supported)`); return; }
    if (fields.length === 3 && parseIndex(fields[1]) === null) { policy.report(file, line, `expected 'frame_dir total_frames label', got '${t}'`); return; }
    const path = fields[0];
    const raw = fields.length > 1 ? fields[fields.length - 1] : null;
    const label = raw === null ? null : parseIndex(raw) ?? raw;
    entries.push({ id: path, path, label, source: { file, line } });
  });
  return { entries, problems: policy.problems };
}
