/** Generic JSON lines: one {"path": ..., "label": <name or 0-based index>, "id"?: ...} object per line. */
import { AnnotationEntry, MalformedPolicy, ParseOptions, ParseResult, readLines } from "./common";

export function parseJsonl(file: string, options: ParseOptions): ParseResult {
  const policy = new MalformedPolicy(options.strict);
  const entries: AnnotationEntry[] = [];
  readLines(file).forEach((text, i) => {
    const line = i + 1;
    if (text.trim() === "") return;
    let rec: unknown;
    try {
      rec = JSON.parse(text);
    } catch (err) {
      policy.report(file, line, `invalid JSON: ${(err as Error).message}`);
      return;
    }
    if (typeof rec !== "object" || rec === null || Array.isArray(rec)) { policy.report(file, line, "expected a JSON object"); return; }
    const { path, label, id } = rec as Record<string, unknown>;
    if (typeof path !== "string" || path === "") { policy.report(file, line, "'path' must be a non-empty string"); return; }
    if (label !== undefined && label !== null && typeof label !== "string" && !(Number.isInteger(label) && (label as number) >= 0)) {
      policy.report(file, line, "'label' must be a class name or a non-negative integer index");
      return;
    }
    if (id !== undefined && typeof id !== "string" && typeof id !== "number") { policy.report(file, line, "'id' must be a string or number"); return; }
    entries.push({ id: id === undefined ? path : String(id), path, label: (label ?? null) as string | number | null, source: { file, line } });
  });
  return { entries, problems: policy.problems };
}
