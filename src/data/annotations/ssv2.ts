/**
 * Something-Something-v2 JSON: a list of {"id", "label", "template", "placeholders"} (train/validation) or {"id"} (test).
 * The class is the template with its brackets removed ("Pushing [something] from left to right" ->
 * "Pushing something from left to right"), looked up in something-something-v2-labels.json. Videos are `<id>.webm`.
 */
import { readFileSync } from "node:fs";
import { AnnotationEntry, MalformedPolicy, ParseOptions, ParseResult } from "./common";

export const DEFAULT_SSV2_TEMPLATE = "{id}.webm";

export function ssv2ClassName(template: string): string {
  return template.replace(/[[\]]/g, "");
}

export function parseSsv2Json(file: string, options: ParseOptions): ParseResult {
  const policy = new MalformedPolicy(options.strict);
  const text = readJsonText(file);
  const items = parseJson(file, text);
  if (!Array.isArray(items)) throw new Error(`${file}: expected a JSON list of {"id", "template"} objects`);
  const lineOf = elementLines(text);
  const template = options.pathTemplate ?? DEFAULT_SSV2_TEMPLATE;
  const entries: AnnotationEntry[] = [];
  items.forEach((item: unknown, i: number) => {
    const line = lineOf[i] ?? 1;
    if (typeof item !== "object" || item === null || Array.isArray(item)) { policy.report(file, line, "entry is not an object"); return; }
    const rec = item as Record<string, unknown>;
    const id = typeof rec.id === "number" ? String(rec.id) : rec.id;
    if (typeof id !== "string" || id === "") { policy.report(file, line, "entry has no 'id'"); return; }
    let label: string | null = null;
    if (rec.template !== undefined) {
      if (typeof rec.template !== "string") { policy.report(file, line, "'template' is not a string"); return; }
      label = ssv2ClassName(rec.template);
    }
    entries.push({ id, path: template.replace(/\{id\}/g, id), label, source: { file, line } });
  });
  return { entries, problems: policy.problems };
}

/** Class names in index order from something-something-v2-labels.json ({"<name>": "<index>"}). */
export function readSsv2Labels(file: string): string[] {
  const map = parseJson(file, readJsonText(file));
  if (typeof map !== "object" || map === null || Array.isArray(map)) throw new Error(`${file}: expected an object {"<class name>": "<index>"}`);
  const classes: string[] = [];
  for (const [name, value] of Object.entries(map as Record<string, unknown>)) {
    const index = Number(value);
    if (!Number.isInteger(index) || index < 0) throw new Error(`${file}: class '${name}' has index ${JSON.stringify(value)}, expected a non-negative integer`);
    if (classes[index] !== undefined) throw new Error(`${file}: index ${index} is given to both '${classes[index]}' and '${name}'`);
    classes[index] = name;
  }
  for (let i = 0; i < classes.length; i++) if (classes[i] === undefined) throw new Error(`${file}: no class has index ${i}`);
  return classes;
}

function readJsonText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read annotation file ${file}: ${(err as Error).message}`);
  }
}

function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const m = /position (\d+)/.exec((err as Error).message);
    const where = m ? `:${lineAt(text, Number(m[1]))}` : "";
    throw new Error(`${file}${where}: invalid JSON: ${(err as Error).message}`);
  }
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** 1-based line where each element of a top-level JSON array starts (so that problems can name their line). */
export function elementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1, depth = 0, inString = false, expectElement = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") { line++; continue; }
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") continue;
    if (depth === 1 && expectElement && c !== "]") { lines.push(line); expectElement = false; }
    if (c === '"') inString = true;
    else if (c === "[" || c === "{") { depth++; if (depth === 1) expectElement = true; }
    else if (c === "]" || c === "}") depth--;
    else if (c === "," && depth === 1) expectElement = true;
  }
  return lines;
}
