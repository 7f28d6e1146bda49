/**
 * Moments in Time CSV (trainingSet.csv / validationSet.csv): no header, `path,label[,agreements,disagreements]`,
 * the path relative to the split's media folder (e.g. `abseiling/getty-....mp4`). Classes: moments_categories.txt
 * (`name,index` per line).
 */
import { AnnotationEntry, MalformedPolicy, ParseOptions, ParseResult, parseCsvLine, readLines } from "./common";

export function parseMitCsv(file: string, options: ParseOptions): ParseResult {
  const policy = new MalformedPolicy(options.strict);
  const entries: AnnotationEntry[] = [];
  readLines(file).forEach((text, i) => {
    const line = i + 1;
    if (text.trim() === "") return;
    const fields = parseCsvLine(text);
    if (!fields) { policy.report(file, line, "unbalanced quotes"); return; }
    const path = fields[0].trim();
    if (!path) { policy.report(file, line, "empty path"); return; }
    if (i === 0 && /^(path|video|filename)$/i.test(path)) return; // tolerate a header some re-distributions add
    const label = fields.length > 1 ? fields[1].trim() : null;
    if (label === "") { policy.report(file, line, "empty label"); return; }
    entries.push({ id: path, path, label, source: { file, line } });
  });
  return { entries, problems: policy.problems };
}
