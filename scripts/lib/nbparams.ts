/**
 * Notebook parameters the papermill way: the notebook's parameters cell (a code cell tagged `parameters`) declares
 * each parameter as a plain literal (`const seeds = [0, 1, 2];`); a run with other values gets a cell tagged
 * `injected-parameters` right after it that declares them again (tslab lets a later cell redeclare a name), so the
 * executed copy shows exactly what ran.
 */
import { readNotebook } from "./nbcheck";

export type ParameterValue = string | number | boolean | null | ParameterValue[] | { [key: string]: ParameterValue };

interface Cell { cell_type: string; source: string | string[]; metadata?: { tags?: string[] }; [key: string]: unknown }

export const PARAMETERS_TAG = "parameters";
export const INJECTED_TAG = "injected-parameters";

/** `name=value` (the value JSON where it parses, else text) -> [name, value]; an error names the flag. */
export function parseParameter(flag: string): [string, ParameterValue] {
  const eq = flag.indexOf("=");
  const name = flag.slice(0, eq);
  if (eq <= 0 || !/^[A-Za-z_$][\w$]*$/.test(name)) throw new Error(`-p ${flag}: expected NAME=VALUE, e.g. -p seeds=[0,1]`);
  const text = flag.slice(eq + 1);
  try { return [name, JSON.parse(text) as ParameterValue]; } catch { return [name, text]; }
}

/** The names a parameters cell declares (`const NAME =` or `let NAME =` at the start of a line). */
export function declaredParameters(source: string): string[] {
  return [...source.matchAll(/^\s*(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=/gm)].map((m) => m[1]);
}

/**
 * The notebook (read from `path`) with an injected-parameters cell after its parameters cell; an error names the file
 * when it has no parameters cell or when an override names a parameter the cell does not declare.
 */
export function injectParameters(path: string, overrides: Record<string, ParameterValue>): Record<string, unknown> {
  const nb = readNotebook(path) as unknown as { cells: Cell[] } & Record<string, unknown>;
  const cells = nb.cells.filter((c) => !(c.metadata?.tags ?? []).includes(INJECTED_TAG));
  const at = parametersCellIndex(cells, path);
  const raw = cells[at].source;
  const source = Array.isArray(raw) ? raw.join("") : raw;
  const known = declaredParameters(source);
  const unknown = Object.keys(overrides).filter((k) => !known.includes(k));
  if (unknown.length) throw new Error(`${path}: the parameters cell declares ${known.join(", ") || "nothing"}, not ${unknown.join(", ")}`);
  if (Object.keys(overrides).length === 0) return { ...nb, cells };
  const lines = Object.entries(overrides).map(([k, v]) => `const ${k} = ${JSON.stringify(v)};`);
  const injected: Cell = {
    cell_type: "code", execution_count: null, id: "injected-parameters", outputs: [],
    metadata: { tags: [INJECTED_TAG] }, source: ["// Injected by the notebook runner: these values replace the parameters cell's.\n", ...lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l))],
  };
  return { ...nb, cells: [...cells.slice(0, at + 1), injected, ...cells.slice(at + 1)] };
}

/**
 * `source` (a parameters cell) with the value of `name` replaced, the rest of its line (a comment) kept: what a person
 * does by hand in the cell, and how a working copy of a notebook gets other defaults.
 */
export function setParameterValue(source: string, name: string, value: ParameterValue): string {
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new Error(`'${name}' is not a parameter name`);
  const line = new RegExp(`^(\\s*(?:const|let|var)\\s+${name.replace(/\$/g, "\\$")}\\s*(?::[^=]+)?=\\s*)[^;\\n]*;`, "m");
  if (!line.test(source)) throw new Error(`the parameters cell does not declare '${name}' (it declares ${declaredParameters(source).join(", ") || "nothing"})`);
  return source.replace(line, (_, head: string) => `${head}${JSON.stringify(value)};`);
}

/** The notebook with its parameters cell's values replaced in place (no injected cell); errors name the file. */
export function withParameterValues(path: string, values: Record<string, ParameterValue>): Record<string, unknown> {
  const nb = readNotebook(path) as unknown as { cells: Cell[] } & Record<string, unknown>;
  const at = parametersCellIndex(nb.cells, path);
  const raw = nb.cells[at].source;
  let source = Array.isArray(raw) ? raw.join("") : raw;
  for (const [name, value] of Object.entries(values)) {
    try { source = setParameterValue(source, name, value); } catch (err) { throw new Error(`${path}: ${(err as Error).message}`); }
  }
  const cells = nb.cells.map((c, i) => (i === at ? { ...c, source } : c));
  return { ...nb, cells };
}

/** Index of the notebook's parameters cell; an error names the file when there is none. */
export function parametersCellIndex(cells: { cell_type: string; metadata?: { tags?: string[] } }[], path: string): number {
  const at = cells.findIndex((c) => c.cell_type === "code" && (c.metadata?.tags ?? []).includes(PARAMETERS_TAG));
  if (at < 0) throw new Error(`${path}: no parameters cell (a code cell tagged "${PARAMETERS_TAG}" in its metadata)`);
  return at;
}
