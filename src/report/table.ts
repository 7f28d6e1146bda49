/**
 * Result tables: one row per (experiment, dataset, metric) with the kit's number beside the paper's, held in a
 * danfojs DataFrame and exported as CSV, Markdown, LaTeX (booktabs) and JSON.
 */
import * as dfd from "danfojs-node";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic";

/** A table cell: text, a number, or missing (the paper has no number, or the kit did not run that setting). */
export type Cell = string | number | null;

/** One result: extra columns (setting, scale, seed, w_image, ...) are allowed beside the fixed ones. */
export interface ResultRow {
  experiment: string;
  dataset: string;
  metric: string;
  kit: number | null;
  paper: number | null;
  [column: string]: Cell;
}

export type TableFormat = "csv" | "md" | "tex" | "json";
export const TABLE_FORMATS: TableFormat[] = ["csv", "md", "tex", "json"];

export interface TableOptions {
  /** Shown above the Markdown table and as the LaTeX caption. */
  title?: string;
  /**
   * Digits after the decimal point for the result columns (kit, paper, delta, "<x> kit", ...) in Markdown, LaTeX,
   * HTML and text; other numbers (settings such as w_image = 0.75) are shown as they are. CSV and JSON keep full precision.
   */
  digits?: number;
}

/** A named, ordered table over a danfojs DataFrame. Names become file names, so they are checked. */
export class Table {
  readonly frame: dfd.DataFrame;
  readonly title: string;
  readonly digits: number;
  private readonly columnNames: string[];
  private readonly records: Record<string, Cell>[];

  constructor(readonly name: string, rows: Record<string, Cell>[], options: TableOptions & { columns?: string[] } = {}) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`table name "${name}" must be a plain file name (letters, digits, . _ -)`);
    this.columnNames = options.columns ?? columnsOf(rows);
    if (this.columnNames.length === 0) throw new Error(`table "${name}" has no columns`);
    this.records = rows.map((row, i) => normaliseRow(row, this.columnNames, `table "${name}" row ${i}`));
    this.title = options.title ?? name;
    this.digits = options.digits ?? 1;
    this.frame = new dfd.DataFrame(this.records.length ? this.records : [emptyRecord(this.columnNames)], { columns: this.columnNames });
    if (!this.records.length) this.frame.drop({ index: [0], inplace: true });
  }

  /** Wraps an existing DataFrame (missing values, NaN included, become null). */
  static fromFrame(name: string, frame: dfd.DataFrame, options: TableOptions = {}): Table {
    const columns = frame.columns.map(String);
    const values = frame.values as unknown[][];
    const rows = values.map((row) => Object.fromEntries(columns.map((c, j) => [c, toCell(row[j])])));
    return new Table(name, rows, { ...options, columns });
  }

  get columns(): string[] { return [...this.columnNames]; }
  get rows(): Record<string, Cell>[] { return this.records.map((r) => ({ ...r })); }
  get length(): number { return this.records.length; }

  /** Cells as display text: numbers rounded to `digits`, missing values as an en dash. */
  formatted(): string[][] {
    const digits = this.columnNames.map((c) => (isValueColumn(c) ? this.digits : null));
    return this.records.map((r) => this.columnNames.map((c, j) => formatCell(r[c], digits[j])));
  }

  toCsv(): string {
    const lines = [this.columnNames.map(csvField).join(",")];
    for (const r of this.records) lines.push(this.columnNames.map((c) => csvField(r[c])).join(","));
    return lines.join("\n") + "\n";
  }

  toMarkdown(): string {
    const numeric = this.columnNames.map((c) => this.isNumeric(c));
    const header = `| ${this.columnNames.map(markdownText).join(" | ")} |`;
    const rule = `|${numeric.map((n) => (n ? "---:" : "---")).join("|")}|`;
    const body = this.formatted().map((cells) => `| ${cells.map(markdownText).join(" | ")} |`);
    return [`**${markdownText(this.title)}**`, "", header, rule, ...body].join("\n") + "\n";
  }

  /** A booktabs table (needs \usepackage{booktabs}); numbers right-aligned. */
  toLatex(): string {
    const spec = this.columnNames.map((c) => (this.isNumeric(c) ? "r" : "l")).join("");
    const row = (cells: string[]) => `    ${cells.map(latexText).join(" & ")} \\\\`;
    return [
      "\\begin{table}[t]",
      "  \\centering",
      `  \\caption{${latexText(this.title)}}`,
      `  \\label{tab:${this.name}}`,
      `  \\begin{tabular}{${spec}}`,
      "    \\toprule",
      row(this.columnNames),
      "    \\midrule",
      ...this.formatted().map(row),
      "    \\bottomrule",
      "  \\end{tabular}",
      "\\end{table}",
    ].join("\n") + "\n";
  }

  toJson(): string {
    return JSON.stringify({ name: this.name, title: this.title, columns: this.columnNames, rows: this.records }, null, 2) + "\n";
  }

  toHtml(): string {
    const numeric = this.columnNames.map((c) => this.isNumeric(c));
    const align = (j: number) => (numeric[j] ? ' style="text-align:right"' : "");
    const head = this.columnNames.map((c, j) => `<th${align(j)}>${htmlText(c)}</th>`).join("");
    const body = this.formatted().map((cells) => `<tr>${cells.map((v, j) => `<td${align(j)}>${htmlText(v)}</td>`).join("")}</tr>`);
    return `<table class="cover-table"><caption>${htmlText(this.title)}</caption><thead><tr>${head}</tr></thead><tbody>${body.join("")}</tbody></table>`;
  }

  /** Fixed-width text for terminals and logs. */
  toText(): string {
    const cells = [this.columnNames, ...this.formatted()];
    const widths = this.columnNames.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
    const numeric = this.columnNames.map((c) => this.isNumeric(c));
    const line = (r: string[]) => r.map((v, j) => (numeric[j] ? v.padStart(widths[j]) : v.padEnd(widths[j]))).join("  ").trimEnd();
    return [this.title, line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n") + "\n";
  }

  render(format: TableFormat): string {
    switch (format) {
      case "csv": return this.toCsv();
      case "md": return this.toMarkdown();
      case "tex": return this.toLatex();
      case "json": return this.toJson();
    }
  }

  private isNumeric(column: string): boolean {
    const present = this.records.map((r) => r[column]).filter((v) => v !== null);
    return present.length > 0 && present.every((v) => typeof v === "number");
  }
}

/** A table of results; adds `delta` = kit - paper when asked. Rows are checked for the fixed columns. */
export function resultTable(name: string, rows: ResultRow[], options: TableOptions & { delta?: boolean } = {}): Table {
  rows.forEach((r, i) => checkResultRow(r, `table "${name}" row ${i}`));
  const withDelta = options.delta ? rows.map((r) => ({ ...r, delta: difference(r.kit, r.paper) })) : rows;
  const fixed = ["experiment", "dataset", "metric", "paper", "kit", ...(options.delta ? ["delta"] : [])];
  const extra = columnsOf(rows).filter((c) => !fixed.includes(c));
  // Extra columns (settings) go between the metric and the numbers so each row reads left to right.
  const columns = ["experiment", "dataset", "metric", ...extra, ...fixed.slice(3)];
  return new Table(name, withDelta, { ...options, columns });
}

/** Rows for one experiment and metric from the kit's and the paper's numbers by dataset (either may be missing). */
export function compareRows(
  experiment: string, metric: string,
  kit: Record<string, number | null | undefined>, paper: Record<string, number | null | undefined>,
  extra: Record<string, Cell> = {},
): ResultRow[] {
  const datasets = [...new Set([...Object.keys(paper), ...Object.keys(kit)])];
  return datasets.map((dataset) => ({ experiment, dataset, metric, ...extra, kit: kit[dataset] ?? null, paper: paper[dataset] ?? null }));
}

export interface SideBySideOptions extends TableOptions {
  /** Columns that identify a row of the wide table (default: experiment, then every extra column). */
  rowKeys?: string[];
  /** The column whose values become column groups (default: dataset). */
  across?: string;
  /** Add a "<value> Δ" column (kit - paper) after each pair. */
  delta?: boolean;
}

/**
 * Long results -> wide "paper vs kit" table: one row per rowKeys value, and for each value of `across`
 * (e.g. each dataset) the columns "<value> paper" and "<value> kit", as the paper's tables are laid out.
 */
export function sideBySide(name: string, rows: ResultRow[], options: SideBySideOptions = {}): Table {
  rows.forEach((r, i) => checkResultRow(r, `table "${name}" row ${i}`));
  const across = options.across ?? "dataset";
  const rowKeys = options.rowKeys ?? ["experiment", ...columnsOf(rows).filter((c) => !["experiment", "dataset", "metric", "kit", "paper"].includes(c))];
  for (const key of [across, ...rowKeys]) {
    if (!rows.every((r) => key in r)) throw new Error(`table "${name}": column "${key}" is missing from some rows`);
  }
  const groups = [...new Set(rows.map((r) => String(r[across])))];
  const wide = new Map<string, Record<string, Cell>>();
  for (const r of rows) {
    const id = JSON.stringify(rowKeys.map((k) => r[k]));
    const out = wide.get(id) ?? Object.fromEntries(rowKeys.map((k) => [k, r[k]]));
    const group = String(r[across]);
    if (`${group} kit` in out) throw new Error(`table "${name}": two results for ${across}=${group} in row ${id}; add a row key to tell them apart`);
    out[`${group} paper`] = r.paper;
    out[`${group} kit`] = r.kit;
    if (options.delta) out[`${group} Δ`] = difference(r.kit, r.paper);
    wide.set(id, out);
  }
  const perGroup = (g: string) => [`${g} paper`, `${g} kit`, ...(options.delta ? [`${g} Δ`] : [])];
  return new Table(name, [...wide.values()], { ...options, columns: [...rowKeys, ...groups.flatMap(perGroup)] });
}

/** Writes the table in each format as <dir>/<name>.<ext> (atomic: temp file then rename); returns the paths. */
export function exportTable(table: Table, dir: string, formats: TableFormat[] = TABLE_FORMATS): string[] {
  return formats.map((format) => {
    if (!TABLE_FORMATS.includes(format)) throw new Error(`unknown table format "${format}" (expected ${TABLE_FORMATS.join(", ")})`);
    const path = join(dir, `${table.name}.${format}`);
    writeFileAtomic(path, table.render(format));
    return path;
  });
}

function checkResultRow(row: ResultRow, where: string): void {
  for (const key of ["experiment", "dataset", "metric"] as const) {
    if (typeof row[key] !== "string" || row[key] === "") throw new Error(`${where}: "${key}" must be a non-empty string`);
  }
  for (const key of ["kit", "paper"] as const) {
    if (row[key] !== null && !Number.isFinite(row[key])) throw new Error(`${where}: "${key}" must be a finite number or null, got ${row[key]}`);
  }
}

function difference(kit: number | null, paper: number | null): number | null {
  // Rounded so that CSV and JSON show 13.1 rather than 13.100000000000009.
  return kit === null || paper === null ? null : Math.round((kit - paper) * 1e6) / 1e6;
}

function columnsOf(rows: Record<string, Cell>[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

function normaliseRow(row: Record<string, Cell>, columns: string[], where: string): Record<string, Cell> {
  for (const key of Object.keys(row)) if (!columns.includes(key)) throw new Error(`${where}: column "${key}" is not one of ${columns.join(", ")}`);
  return Object.fromEntries(columns.map((c) => {
    const v = row[c] ?? null;
    if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`${where}: column "${c}" is ${v}; use null for a missing value`);
    if (v !== null && typeof v !== "number" && typeof v !== "string") throw new Error(`${where}: column "${c}" must be a string, a number or null`);
    return [c, v];
  }));
}

function emptyRecord(columns: string[]): Record<string, Cell> {
  return Object.fromEntries(columns.map((c) => [c, null]));
}

function toCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "boolean") return String(v);
  return String(v);
}

/** Result columns are rounded for display; setting columns are not. */
export function isValueColumn(column: string): boolean {
  return /(^|\s)(kit|paper|delta|Δ)$/.test(column);
}

/** Display text of a cell: numbers with `digits` decimals (as they are when digits is null), missing as an en dash. */
export function formatCell(v: Cell, digits: number | null): string {
  if (v === null) return "–";
  if (typeof v === "number") return digits === null ? String(v) : v.toFixed(digits);
  return v;
}

function csvField(v: Cell): string {
  if (v === null) return "";
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function markdownText(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

const LATEX_SPECIAL: Record<string, string> = {
  "\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", $: "\\$", "#": "\\#", _: "\\_", "{": "\\{", "}": "\\}",
  "~": "\\textasciitilde{}", "^": "\\textasciicircum{}", "–": "--", "Δ": "$\\Delta$",
};

function latexText(s: string): string {
  return s.replace(/[\\&%$#_{}~^–Δ]/g, (ch) => LATEX_SPECIAL[ch]);
}

function htmlText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
