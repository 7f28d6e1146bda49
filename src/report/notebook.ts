/**
 * Showing tables and figures in a tslab notebook, and the same calls as plain text on the command line.
 *
 * In the tslab kernel a display is one Jupyter display_data message carrying several MIME types: JupyterLab
 * renders the richest it knows (application/vnd.plotly.v1+json interactively when the plotly extension is
 * there), nbconvert and GitHub fall back to image/png or text/html. tslab's public `display` sends one MIME
 * type per message, so the bundle goes through tslab's own writer (tslab/dist/jupyter, pinned tslab 1.0.22).
 * Outside a kernel nothing of tslab is loaded.
 */
import type { FigureSpec } from "./figure";
import type { DataFrame } from "danfojs-node";
import { Table } from "./table";
import { setProgressDisplay } from "../util/progress";

export type MimeBundle = Record<string, unknown>;
type WriteDisplay = (message: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id?: string } }, update: boolean) => void;

/** tslab's display writer when this process is a running tslab kernel, else null. */
function kernelWriter(): WriteDisplay | null {
  let path: string;
  try { path = require.resolve("tslab/dist/jupyter"); } catch { return null; }
  const loaded = require.cache[path]?.exports as { lastWriteDisplayData?: unknown } | undefined;
  return typeof loaded?.lastWriteDisplayData === "function" ? (loaded.lastWriteDisplayData as WriteDisplay) : null;
}

export function inNotebook(): boolean {
  return kernelWriter() !== null;
}

/** Sends a MIME bundle to the notebook; prints its text/plain part when not in a notebook. */
export function displayBundle(bundle: MimeBundle, displayId?: string, update = false): void {
  const write = kernelWriter();
  if (write) write({ data: bundle, metadata: {}, transient: displayId ? { display_id: displayId } : {} }, update);
  else console.log(String(bundle["text/plain"] ?? ""));
}

export function tableBundle(table: Table): MimeBundle {
  return { "text/html": table.toHtml(), "text/markdown": table.toMarkdown(), "text/plain": table.toText() };
}

export interface FigureDisplayOptions {
  /** A DataFrame's caption, and the digits its result columns are rounded to (default 1). */
  title?: string;
  digits?: number;
  /** A rendered PNG of the same figure (see exportFigure) for viewers without plotly: nbconvert HTML, GitHub. */
  png?: Uint8Array;
}

export function figureBundle(spec: FigureSpec, options: FigureDisplayOptions = {}): MimeBundle {
  const png = options.png ? Buffer.from(options.png).toString("base64") : null;
  // Frontends without plotly (nbconvert HTML, GitHub, the classic notebook) prefer text/html to image/png,
  // so the HTML carries the picture when there is one, else the figure's numbers as a table.
  const bundle: MimeBundle = {
    "application/vnd.plotly.v1+json": { data: spec.data, layout: spec.layout },
    "text/html": png ? figureImageHtml(spec, png) : figureSummaryHtml(spec),
    "text/plain": figureSummaryText(spec),
  };
  if (png) bundle["image/png"] = png;
  return bundle;
}

/** Shows a table, a danfojs DataFrame, a figure spec or text: rich in a notebook, text on the command line. */
export function show(value: Table | DataFrame | FigureSpec | string, options: FigureDisplayOptions = {}): void {
  if (typeof value === "string") displayBundle({ "text/markdown": value, "text/plain": value });
  else if (isTable(value)) displayBundle(tableBundle(value));
  else if (isDataFrame(value)) displayBundle(tableBundle(Table.fromFrame("frame", value, { title: options.title ?? "DataFrame", digits: options.digits })));
  else displayBundle(figureBundle(value, options));
}

function isDataFrame(value: DataFrame | FigureSpec): value is DataFrame {
  return Array.isArray((value as DataFrame).columns) && Array.isArray((value as DataFrame).values) && !("data" in value && "layout" in value);
}

/**
 * Duck-typed: a notebook may reach src/report through tslab's compiler and through tsx at once, which gives
 * two copies of the Table class.
 */
function isTable(value: Table | DataFrame | FigureSpec): value is Table {
  return typeof (value as Table).toHtml === "function" && typeof (value as Table).toText === "function";
}

/**
 * One status line that is rewritten in place in a notebook (update_display_data) and printed as a new line on
 * the command line; for long work such as training loops.
 */
export function statusLine(): { update(text: string): void } {
  const id = `cover-status-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2)}`;
  let shown = false;
  return {
    update(text: string) {
      if (!inNotebook()) { console.error(text); return; }
      displayBundle({ "text/plain": text }, id, shown);
      shown = true;
    },
  };
}

/**
 * Routes progress (frame decoding, training, evaluation: run name, step, rate, ETA, loss) to one status line per
 * cell, rewritten in place, instead of a growing stack of stderr lines. Does nothing outside a kernel.
 */
export function showProgressInNotebook(): void {
  if (!inNotebook()) return;
  let writer: WriteDisplay | null = null;
  let status = statusLine();
  setProgressDisplay((line) => {
    const current = kernelWriter();
    // tslab makes a new writer for each cell it executes: a new cell gets its own status line.
    if (current !== writer) { writer = current; status = statusLine(); }
    status.update(line);
  });
}

/** A figure's title and its traces as text (the plain-text view of a figure). */
export function figureSummaryText(spec: FigureSpec): string {
  const title = spec.layout.title?.text ?? "figure";
  const traces = spec.data.map((t) => `${t.name ?? t.type} (${t.y.length} points)`).join(", ");
  return `[figure] ${title}: ${traces}`;
}

function figureImageHtml(spec: FigureSpec, pngBase64: string): string {
  const title = (spec.layout.title?.text ?? "figure").replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");
  return `<img class="cover-figure" alt="${title}" src="data:image/png;base64,${pngBase64}">`;
}

/** The figure's data as small HTML tables, for frontends that do not render plotly. */
function figureSummaryHtml(spec: FigureSpec): string {
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const fmt = (v: string | number | null) => (v === null ? "–" : typeof v === "number" ? String(Math.round(v * 1000) / 1000) : esc(v));
  const xs = [...new Set(spec.data.flatMap((t) => t.x.map(String)))];
  const head = `<tr><th></th>${spec.data.map((t) => `<th>${esc(t.name ?? t.type)}</th>`).join("")}</tr>`;
  const body = xs.slice(0, 50).map((x) => `<tr><td>${esc(x)}</td>${spec.data.map((t) => {
    const i = t.x.map(String).indexOf(x);
    return `<td style="text-align:right">${i < 0 ? "" : fmt(t.y[i])}</td>`;
  }).join("")}</tr>`).join("");
  const more = xs.length > 50 ? `<p>(${xs.length - 50} more x values in the exported figure)</p>` : "";
  return `<div class="cover-figure"><p><b>${esc(spec.layout.title?.text ?? "figure")}</b> (interactive in JupyterLab with plotly; static copy in the exports)</p><table>${head}${body}</table>${more}</div>`;
}
