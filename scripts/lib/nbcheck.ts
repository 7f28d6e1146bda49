/**
 * What a notebook promises to export, and whether its run kept the promise.
 *
 * A notebook declares its exports in its metadata (Edit > Notebook metadata in JupyterLab):
 *   "cover": { "tables": ["frame-reversal"], "figures": ["frame-reversal-bars"] }
 * and writes them with a Report into COVER_OUT: tables/<name>.{csv,md,tex,json}, figures/<name>.{html,png}.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { TABLE_FORMATS } from "../../src/report/table";

export interface DeclaredExports {
  tables: string[];
  figures: string[];
}

interface NotebookJson {
  metadata?: { cover?: { tables?: unknown; figures?: unknown }; kernelspec?: { name?: string } };
  cells?: NotebookCell[];
}

interface NotebookCell {
  cell_type: string;
  source: string | string[];
  outputs?: { output_type: string; name?: string; text?: string | string[]; ename?: string; evalue?: string; traceback?: string[] }[];
}

export function readNotebook(path: string): NotebookJson {
  let nb: unknown;
  try { nb = JSON.parse(readFileSync(path, "utf8")); } catch (err) { throw new Error(`${path}: not a notebook (${(err as Error).message})`); }
  if (typeof nb !== "object" || nb === null || !Array.isArray((nb as NotebookJson).cells)) throw new Error(`${path}: not a notebook (no cells)`);
  return nb as NotebookJson;
}

/** The notebook's metadata.cover declaration; an error names the file when it is missing or malformed. */
export function declaredExports(path: string): DeclaredExports {
  const cover = readNotebook(path).metadata?.cover;
  if (!cover) throw new Error(`${path}: metadata.cover is missing; declare the exports, e.g. {"tables": ["name"], "figures": ["name"]}`);
  const names = (key: "tables" | "figures"): string[] => {
    const v = cover[key] ?? [];
    if (!Array.isArray(v) || !v.every((n) => typeof n === "string" && n !== "")) throw new Error(`${path}: metadata.cover.${key} must be a list of names`);
    return v as string[];
  };
  return { tables: names("tables"), figures: names("figures") };
}

/**
 * Problems with a run's exports in `out` (empty when all is there). Static images are required only when
 * `staticFormat` is given (a browser exists on this machine).
 */
export function checkExports(declared: DeclaredExports, out: string, staticFormat?: "png" | "svg"): string[] {
  const problems: string[] = [];
  const need = (path: string) => {
    if (!existsSync(path)) problems.push(`missing ${path}`);
    else if (statSync(path).size === 0) problems.push(`empty ${path}`);
    else return true;
    return false;
  };
  for (const name of declared.tables) {
    for (const ext of TABLE_FORMATS) need(join(out, "tables", `${name}.${ext}`));
    const json = join(out, "tables", `${name}.json`);
    if (existsSync(json) && statSync(json).size > 0) {
      try {
        const t = JSON.parse(readFileSync(json, "utf8")) as { rows?: unknown };
        if (!Array.isArray(t.rows) || t.rows.length === 0) problems.push(`${json} has no rows`);
      } catch { problems.push(`${json} is not JSON`); }
    }
  }
  for (const name of declared.figures) {
    const html = join(out, "figures", `${name}.html`);
    if (need(html) && !readFileSync(html, "utf8").includes("Plotly.newPlot")) problems.push(`${html} does not draw a plotly figure`);
    if (staticFormat && need(join(out, "figures", `${name}.${staticFormat}`)) && staticFormat === "png") {
      const head = readFileSync(join(out, "figures", `${name}.png`)).subarray(0, 8);
      if (!head.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) problems.push(`${name}.png is not a PNG`);
    }
  }
  return problems;
}

/**
 * A failed cell of an executed notebook as a few readable lines: its first source lines, then the end of its
 * output and error. `failedCell` (1-based among code cells) comes from the runner; without it the first cell
 * with an error output is taken (tslab reports some failures only on stderr, with an empty error).
 */
export function describeFailure(executed: string, failedCell?: number): string | null {
  const cells = readNotebook(executed).cells ?? [];
  const codeCells = cells.filter((c) => c.cell_type === "code");
  const index = failedCell !== undefined ? failedCell - 1 : codeCells.findIndex((c) => (c.outputs ?? []).some((o) => o.output_type === "error"));
  if (index < 0 || index >= codeCells.length) return null;
  const cell = codeCells[index];
  const text = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join("") : v ?? "");
  const source = text(cell.source).split("\n").slice(0, 3).map((l) => `    > ${l}`).join("\n");
  const outputs = (cell.outputs ?? []).map((o) => {
    if (o.output_type === "stream") return text(o.text).trimEnd();
    if (o.output_type === "error") return [`${o.ename}: ${o.evalue}`, ...(o.traceback ?? []).slice(0, 8)].join("\n").trimEnd();
    return "";
  }).filter((s) => s !== "").join("\n").split("\n").map(stripAnsi).filter((l) => !isMachineryFrame(l))
    .slice(-20).map((l) => `    ${l}`).join("\n");
  return `code cell ${index + 1} failed:\n${source}\n${outputs}`;
}

/** Stack frames of node's vm and of tslab itself say nothing about the notebook. */
function isMachineryFrame(line: string): boolean {
  return /^\s+at /.test(line) && /node_modules\/tslab\/|\(node:|node:vm|sigintHandlersWrap|^\s+at evalmachine\.<anonymous>:\d+:\d+$/.test(line);
}

function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, "");
}
