/**
 * Figures as plotly specs ({data, layout}): absolute accuracies in one panel per dataset (bars or a sweep's lines, 95%
 * intervals, chance), the paper's claims as effects beside the paper's, loss curves from metrics.jsonl.
 * Exports: a self-contained HTML file (plotly.js-dist inlined, opens offline) and, where a Chromium exists,
 * PNG or SVG rendered by Plotly.toImage in headless Chromium driven by playwright-core (see ./browser).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readStepRecords, StepRecord } from "../runs/folder";
import { writeFileAtomic } from "../util/atomic";
import type { ResultRow } from "./table";
import { openRenderer, RendererChoice, StaticFormat } from "./browser";

export interface Trace {
  type: "bar" | "scatter";
  name?: string;
  /** Categories or numbers; null breaks a line (horizontal bars put the categories on y). */
  x: (string | number | null)[];
  y: (string | number | null)[];
  mode?: "lines" | "markers" | "lines+markers";
  /** Any other plotly trace attribute (marker, line, error_y, ...). */
  [attribute: string]: unknown;
}

export interface Axis {
  title?: { text: string };
  type?: "linear" | "log" | "category";
  range?: [number, number];
  [attribute: string]: unknown;
}

export interface Layout {
  title?: { text: string; [attribute: string]: unknown };
  xaxis?: Axis;
  yaxis?: Axis;
  barmode?: "group" | "stack" | "overlay";
  width?: number;
  height?: number;
  [attribute: string]: unknown;
}

/** Exactly what Plotly.newPlot and the application/vnd.plotly.v1+json mime type take. */
export interface FigureSpec {
  data: Trace[];
  layout: Layout;
}

export interface BarSeries { name: string; values: (number | null)[] }

const PAPER_COLOR = "#9aa5b1";
const KIT_COLOR = "#1f77b4";

/** Grouped bars: one group per category, one bar per series. */
export function barChart(options: { title: string; categories: string[]; series: BarSeries[]; xTitle?: string; yTitle?: string }): FigureSpec {
  for (const s of options.series) {
    if (s.values.length !== options.categories.length) {
      throw new Error(`bar series "${s.name}" has ${s.values.length} values for ${options.categories.length} categories`);
    }
  }
  return {
    data: options.series.map((s) => ({ type: "bar", name: s.name, x: [...options.categories], y: [...s.values], ...seriesStyle(s.name) })),
    layout: baseLayout(options.title, options.xTitle, options.yTitle, { barmode: "group" }),
  };
}

/** How a dataset's panel is named, and the paper's dataset in that role (its numbers become the panel's note). */
export interface PanelLabel { title: string; paper?: string }

export interface ResultPanelsOptions {
  title: string;
  /** The setting columns that tell a panel's bars apart (joined " / " when several). */
  by: string[];
  /** Panel title and paper dataset per row dataset (default: the dataset's own name, no paper name). */
  label?: (dataset: string) => PanelLabel;
  yTitle?: string;
}

/**
 * Result rows averaged over seeds (`kit`, `kit ±`, `chance`) as accuracyPanels: one panel per dataset, one bar per
 * setting with its 95% interval, the dataset's chance line. The paper's numbers are for other datasets, so they are
 * not drawn on the kit's axis: they are the panel's note.
 */
export function resultPanels(rows: ResultRow[], options: ResultPanelsOptions): FigureSpec {
  if (rows.length === 0) throw new Error(`figure "${options.title}": no result rows`);
  const setting = (r: ResultRow) => options.by.map((k) => {
    if (!(k in r)) throw new Error(`figure "${options.title}": a row has no column "${k}"`);
    return String(r[k]);
  }).join(" / ");
  const panels = groupBy(rows, (r) => r.dataset).map(([dataset, group]) => {
    const label = options.label?.(dataset) ?? { title: dataset };
    const { low, high } = rowIntervals(group);
    return {
      title: label.title, categories: group.map(setting), values: group.map((r) => r.kit), low, high,
      chance: chanceOf(group), note: paperNote(group.map((r) => [setting(r), r.paper]), label.paper),
    };
  });
  return accuracyPanels(panels, { title: `${options.title}<br>${INTERVAL_NOTE}`, yTitle: options.yTitle });
}

const INTERVAL_NOTE = "<sub>the kit's top-1: mean over seeds, 95% interval from the seeds and the evaluation size; dotted: chance</sub>";

/** One panel of accuracyPanels: a dataset's accuracies per setting, with 95% intervals and its chance level. */
export interface AccuracyPanel {
  title: string;
  categories: string[];
  values: (number | null)[];
  low: (number | null)[];
  high: (number | null)[];
  /** Top-1 of guessing (100 / classes), drawn as a dotted line across the panel. */
  chance?: number;
  /** A line or two under the panel title (e.g. the paper's numbers on its own datasets). */
  note?: string;
}

/**
 * Absolute accuracies side by side, one panel per dataset (each with its own y axis, since different datasets'
 * accuracies are not comparable): bars with their 95% intervals, and the panel's chance level.
 */
export function accuracyPanels(panels: AccuracyPanel[], options: { title: string; yTitle?: string }): FigureSpec {
  if (panels.length === 0) throw new Error(`figure "${options.title}": no panels`);
  return panelFigure(panels.map((panel) => ({
    // Labels wrapped to the width of a bar, kept level (plotly tilts labels that it finds too wide).
    title: panel.title, chance: panel.chance, note: panel.note, xaxis: { type: "category", tickangle: 0 },
    traces: [{
      type: "bar", name: panel.title, x: panel.categories.map((c) => wrapText(c, Math.max(8, Math.min(18, Math.floor(48 / panel.categories.length))))), y: panel.values, marker: { color: KIT_COLOR },
      error_y: errorBars(panel.values, panel.low, panel.high),
      hovertemplate: "%{x}: %{y:.1f}%<extra>" + panel.title.replace(/[<>]/g, "") + "</extra>",
    }],
  })), options);
}

/**
 * A sweep: the kit's metric against a numeric setting column (e.g. w_image), one panel per dataset with its line,
 * 95% intervals and chance level; the paper's numbers (on its own datasets) are the panel's note.
 */
export function sweepChart(rows: ResultRow[], options: { title: string; x: string; by?: string; xTitle?: string; yTitle?: string; label?: (group: string) => PanelLabel }): FigureSpec {
  if (rows.length === 0) throw new Error(`figure "${options.title}": no result rows`);
  const by = options.by ?? "dataset";
  const panels = groupBy(rows, (r) => String(r[by])).map(([group, groupRows]) => {
    const points = groupRows.map((r) => {
      const x = r[options.x];
      if (typeof x !== "number") throw new Error(`figure "${options.title}": column "${options.x}" must be a number in every row, got ${JSON.stringify(x)}`);
      return { x, row: r };
    }).sort((a, b) => a.x - b.x);
    const sorted = points.map((p) => p.row);
    const { low, high } = rowIntervals(sorted);
    const values = sorted.map((r) => r.kit);
    const label = options.label?.(group) ?? { title: group };
    return {
      title: label.title, chance: chanceOf(sorted), note: paperNote(points.map((p) => [`${options.x} ${p.x}`, p.row.paper]), label.paper),
      xaxis: { type: "linear" as const, title: { text: options.xTitle ?? options.x } },
      traces: [{
        type: "scatter" as const, mode: "lines+markers" as const, name: label.title, x: points.map((p) => p.x), y: values,
        line: { color: KIT_COLOR }, marker: { color: KIT_COLOR }, error_y: errorBars(values, low, high),
        hovertemplate: `${options.x} %{x}: %{y:.1f}%<extra></extra>`,
      }],
    };
  });
  const metrics = [...new Set(rows.map((r) => r.metric))];
  return panelFigure(panels, { title: `${options.title}<br>${INTERVAL_NOTE}`, yTitle: options.yTitle ?? metrics.join(", ") });
}

interface PanelContent {
  title: string;
  traces: Trace[];
  xaxis: Axis;
  chance?: number;
  note?: string;
}

/** Panels side by side, each on its own x and y axes, titled (and noted) above, with a dotted chance line. */
function panelFigure(panels: PanelContent[], options: { title: string; yTitle?: string }): FigureSpec {
  const gap = 0.07;
  const width = (1 - gap * (panels.length - 1)) / panels.length;
  const noteLines = Math.max(0, ...panels.map((p) => (p.note ? lineCount(p.note) : 0)));
  const titleLines = Math.max(...panels.map((p) => lineCount(p.title)));
  // Room above the panels for the (possibly multi-line) title, the panel titles and their notes.
  const top = 30 + 22 * lineCount(options.title) + 17 * titleLines + 13 * noteLines + 6;
  const layout: Layout = baseLayout(options.title, undefined, undefined, {
    showlegend: false, width: Math.max(640, 420 * panels.length), height: top + 380, margin: { t: top, r: 20, b: 60, l: 60 },
  });
  const data: Trace[] = [];
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  panels.forEach((panel, i) => {
    const axis = i === 0 ? "" : String(i + 1);
    const x0 = i * (width + gap);
    for (const trace of panel.traces) data.push({ ...trace, xaxis: `x${axis}`, yaxis: `y${axis}` });
    layout[`xaxis${axis}`] = { ...panel.xaxis, domain: [x0, x0 + width], automargin: true, anchor: `y${axis}` };
    layout[`yaxis${axis}`] = { anchor: `x${axis}`, automargin: true, rangemode: "tozero", ...(i === 0 && { title: { text: options.yTitle ?? "top-1 %" } }) };
    const middle = x0 + width / 2;
    if (panel.note) annotations.push({ text: panel.note, xref: "paper", yref: "paper", x: middle, xanchor: "center", y: 1.01, yanchor: "bottom", showarrow: false, font: { size: 10, color: "#555" } });
    annotations.push({
      text: `<b>${panel.title}</b>`, xref: "paper", yref: "paper", x: middle, xanchor: "center", y: 1.01, yanchor: "bottom", showarrow: false,
      yshift: panel.note ? 13 * lineCount(panel.note) + 2 : 0,
    });
    if (panel.chance !== undefined) {
      shapes.push({ type: "line", xref: `x${axis} domain`, yref: `y${axis}`, x0: 0, x1: 1, y0: panel.chance, y1: panel.chance, line: { color: "#d62728", width: 1.5, dash: "dot" } });
      annotations.push({ text: `chance ${panel.chance.toFixed(1)}%`, xref: `x${axis} domain`, yref: `y${axis}`, x: 1, y: panel.chance, xanchor: "right", yanchor: "bottom", showarrow: false, font: { size: 10, color: "#d62728" }, bgcolor: "rgba(255,255,255,0.85)" });
    }
  });
  return { data, layout: { ...layout, shapes, annotations } };
}

/** Rows of a panel, in first-seen order of their key. */
function groupBy<T>(items: T[], key: (item: T) => string): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return [...groups.entries()];
}

/** The 95% interval of each row's kit from its `kit ±` half-width (seeds and evaluation noise), clipped to 0..100. */
function rowIntervals(rows: ResultRow[]): { low: (number | null)[]; high: (number | null)[] } {
  const half = (r: ResultRow) => (typeof r["kit ±"] === "number" ? r["kit ±"] : 0);
  return {
    low: rows.map((r) => (r.kit === null ? null : Math.max(0, r.kit - half(r)))),
    high: rows.map((r) => (r.kit === null ? null : Math.min(100, r.kit + half(r)))),
  };
}

function chanceOf(rows: ResultRow[]): number | undefined {
  const chance = rows.find((r) => typeof r.chance === "number")?.chance;
  return typeof chance === "number" ? chance : undefined;
}

function errorBars(values: (number | null)[], low: (number | null)[], high: (number | null)[]): Record<string, unknown> {
  const span = (a: (number | null)[], b: (number | null)[]) => a.map((v, j) => (v === null || b[j] === null ? 0 : Math.abs(v - (b[j] as number))));
  return { type: "data", symmetric: false, array: span(high, values), arrayminus: span(values, low), color: "#333", thickness: 1.5, width: 6 };
}

/** "paper, SSv2: in order 58.8 · reversed 22.6", wrapped; undefined when the paper has none of these numbers. */
function paperNote(values: [string, number | null][], paperDataset?: string): string | undefined {
  const known = values.filter((v): v is [string, number] => v[1] !== null);
  if (known.length === 0) return undefined;
  const text = `paper${paperDataset ? `, ${paperDataset}` : ""} (not the kit's data): ${known.map(([s, v]) => `${s} ${v.toFixed(1)}`).join(" · ")}`;
  return wrapText(text, 52);
}

/** Breaks text at spaces into lines of at most `width` characters (a longer word stays whole), joined by <br>. */
export function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  for (const word of text.split(" ")) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines.join("<br>");
}

function lineCount(text: string): number {
  return text.split(/<br\s*\/?>/i).length;
}

/** What claimsChart needs of a claim (structurally the experiments' Claim). */
export interface ClaimPoint {
  id: string;
  claim: string;
  /** The dataset roles whose top-1s make up the effect; the claim's panel is its role, or "between roles". */
  roles?: string[];
  paper: { effect: number } | { range: [number, number] };
  kit: { effect: number; low: number; high: number };
  verdict: string;
}

export const BETWEEN_ROLES = "between roles";

/** An x range holding zero, every interval and the paper's values, with a margin so that none sits on the frame. */
function effectRange(claims: ClaimPoint[]): [number, number] {
  const values = claims.flatMap((c) => [c.kit.low, c.kit.high, ...("effect" in c.paper ? [c.paper.effect] : c.paper.range)]);
  const low = Math.min(0, ...values), high = Math.max(0, ...values);
  const pad = 0.08 * (high - low || 1);
  return [low - pad, high + pad];
}

/**
 * The kit's effect per claim (horizontal bar, 95% interval) beside the paper's (a diamond, or its range drawn as a
 * segment), the claim's text and verdict as the label, zero the line that decides; one panel per dataset role.
 */
export function claimsChart(claims: ClaimPoint[], options: { title: string; panelTitle?: (role: string) => string }): FigureSpec {
  if (claims.length === 0) throw new Error(`figure "${options.title}": no claims`);
  const roleOf = (c: ClaimPoint) => (!c.roles?.length ? "claims" : c.roles.length === 1 ? c.roles[0] : BETWEEN_ROLES);
  const groups = groupBy(claims, roleOf);
  const label = (c: ClaimPoint) => `${wrapText(c.claim, 46)}<br><b>${c.verdict}</b>`;
  const rowHeight = (c: ClaimPoint) => 16 * lineCount(label(c)) + 14;
  const panelHeights = groups.map(([, group]) => group.reduce((sum, c) => sum + rowHeight(c), 0));
  const titleGap = 34;
  const top = 30 + 22 * lineCount(options.title) + titleGap;
  const plotHeight = panelHeights.reduce((a, b) => a + b, 0) + titleGap * (groups.length - 1);
  const bottom = 90;
  const layout: Layout = baseLayout(options.title, undefined, undefined, {
    width: 900, height: top + plotHeight + bottom, margin: { t: top, r: 30, b: bottom, l: 20 },
    legend: { orientation: "h", x: 0, xanchor: "left", y: 0, yref: "container", yanchor: "bottom" },
  });
  const data: Trace[] = [];
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  let used = 0;
  groups.forEach(([role, group], i) => {
    const axis = i === 0 ? "" : String(i + 1);
    const y1 = 1 - used / plotHeight;
    const y0 = y1 - panelHeights[i] / plotHeight;
    used += panelHeights[i] + titleGap;
    const labels = group.map(label);
    const shown = (name: string) => ({ legendgroup: name, showlegend: !data.some((t) => t.legendgroup === name) });
    data.push({
      type: "bar", orientation: "h", name: "kit effect (95% interval)", x: group.map((c) => c.kit.effect), y: labels, marker: { color: KIT_COLOR },
      error_x: { type: "data", symmetric: false, array: group.map((c) => c.kit.high - c.kit.effect), arrayminus: group.map((c) => c.kit.effect - c.kit.low), color: "#333" },
      xaxis: `x${axis}`, yaxis: `y${axis}`, ...shown("kit effect (95% interval)"),
      hovertemplate: "kit %{x:+.1f}<extra></extra>",
    });
    const points = group.filter((c) => "effect" in c.paper);
    if (points.length) {
      data.push({
        type: "scatter", mode: "markers", name: "paper's effect", x: points.map((c) => ("effect" in c.paper ? c.paper.effect : null)), y: points.map(label),
        marker: { color: PAPER_COLOR, size: 12, symbol: "diamond", line: { color: "#333", width: 1 } },
        xaxis: `x${axis}`, yaxis: `y${axis}`, ...shown("paper's effect"), hovertemplate: "paper %{x:+.1f}<extra></extra>",
      });
    }
    const ranges = group.filter((c) => "range" in c.paper);
    if (ranges.length) {
      // One segment per claim from the paper's low to its high end: nulls break the line between claims.
      data.push({
        type: "scatter", mode: "lines", name: "paper's range", x: ranges.flatMap((c) => ("range" in c.paper ? [c.paper.range[0], c.paper.range[1], null] : [])),
        y: ranges.flatMap((c) => [label(c), label(c), null]), line: { color: PAPER_COLOR, width: 9 }, opacity: 0.8,
        xaxis: `x${axis}`, yaxis: `y${axis}`, ...shown("paper's range"), hoverinfo: "x",
      });
    }
    layout[`yaxis${axis}`] = { domain: [Math.max(0, y0), y1], anchor: `x${axis}`, type: "category", automargin: true, autorange: "reversed", tickfont: { size: 11 } };
    layout[`xaxis${axis}`] = { anchor: `y${axis}`, automargin: true, zeroline: false, range: effectRange(group), title: { text: i === groups.length - 1 ? "effect (top-1 points)" : "" } };
    shapes.push({ type: "line", xref: `x${axis}`, yref: `y${axis} domain`, x0: 0, x1: 0, y0: 0, y1: 1, line: { color: "#333", width: 1.5 } });
    const title = role === "claims" || role === BETWEEN_ROLES ? role : options.panelTitle?.(role) ?? role;
    annotations.push({ text: `<b>${title}</b>`, xref: "paper", yref: "paper", x: 1, xanchor: "right", y: y1, yanchor: "bottom", showarrow: false });
  });
  return { data, layout: { ...layout, shapes, annotations } };
}

/** A figure with the verdicts of the paper's claims under its title, so the picture never travels without them. */
export function withVerdicts(spec: FigureSpec, verdicts: string[]): FigureSpec {
  if (verdicts.length === 0) return spec;
  const title = spec.layout.title?.text ?? "";
  // A verdict wider than the figure is wrapped (about 6.5 px a character at the subtitle's size).
  const width = Math.max(40, Math.floor((spec.layout.width ?? 800) / 6.5));
  const wrapped = verdicts.flatMap((v) => wrapText(v.replace(/</g, "&lt;"), width).split("<br>"));
  const lines = wrapped.map((line) => `<sub>${line}</sub>`).join("<br>");
  const extra = 22 * wrapped.length; // one title line each
  const margin = (spec.layout.margin as Record<string, number> | undefined) ?? {};
  return {
    data: spec.data,
    layout: {
      ...spec.layout, title: { ...spec.layout.title, text: `${title}<br>${lines}` }, margin: { ...margin, t: (margin.t ?? 60) + extra },
      ...(spec.layout.height !== undefined && { height: spec.layout.height + extra }),
    },
  };
}

export interface LineSeries { name: string; x: number[]; y: (number | null)[]; dash?: "solid" | "dash" | "dot"; color?: string }


export function lineChart(options: { title: string; series: LineSeries[]; xTitle?: string; yTitle?: string; logY?: boolean }): FigureSpec {
  for (const s of options.series) {
    if (s.x.length !== s.y.length) throw new Error(`line series "${s.name}" has ${s.x.length} x values and ${s.y.length} y values`);
  }
  const layout = baseLayout(options.title, options.xTitle, options.yTitle);
  if (options.logY) layout.yaxis = { ...layout.yaxis, type: "log" };
  return {
    data: options.series.map((s) => ({
      type: "scatter", mode: s.x.length > 40 ? "lines" : "lines+markers", name: s.name, x: [...s.x], y: [...s.y],
      line: { dash: s.dash ?? "solid", ...(s.color ? { color: s.color } : {}) },
      ...(s.color ? { marker: { color: s.color } } : {}),
    })),
    layout,
  };
}

/**
 * Training loss against step, one line per run; with perDataset, one line per run and dataset head instead
 * (the per-dataset cross-entropies of the COVER loss, before the w_i weights).
 */
export function lossCurves(runs: Record<string, string | StepRecord[]>, options: { title?: string; perDataset?: boolean; logY?: boolean } = {}): FigureSpec {
  const series: LineSeries[] = [];
  for (const [run, source] of Object.entries(runs)) {
    const records = typeof source === "string" ? readStepRecords(source) : source;
    if (!options.perDataset) {
      series.push({ name: run, x: records.map((r) => r.step), y: records.map((r) => r.loss) });
      continue;
    }
    const heads = [...new Set(records.flatMap((r) => Object.keys(r.losses)))];
    for (const head of heads) {
      const withHead = records.filter((r) => head in r.losses);
      series.push({ name: `${run}: ${head}`, x: withHead.map((r) => r.step), y: withHead.map((r) => r.losses[head]) });
    }
  }
  return lineChart({ title: options.title ?? "Training loss", series, xTitle: "step", yTitle: "loss", logY: options.logY });
}

function seriesStyle(name: string): Record<string, unknown> {
  if (name === "paper") return { marker: { color: PAPER_COLOR } };
  if (name === "kit") return { marker: { color: KIT_COLOR } };
  return {};
}

function baseLayout(title: string, xTitle?: string, yTitle?: string, extra: Layout = {}): Layout {
  return {
    // Anchored at the top so that a title of several lines (verdicts) grows down into the top margin, not over the plot.
    title: { text: title, yref: "container", y: 1, yanchor: "top", pad: { t: 14 } },
    // automargin: long category labels ("motion / standard") are tilted and would be cut at the bottom otherwise
    xaxis: { automargin: true, ...(xTitle && { title: { text: xTitle } }) },
    yaxis: { automargin: true, ...(yTitle && { title: { text: yTitle } }) },
    template: "plotly_white",
    margin: { t: 60, r: 20, b: 60, l: 60 },
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Exports

export const PLOTLY_JS_PATH = require.resolve("plotly.js-dist");

export interface HtmlOptions {
  /** "inline" (default) embeds plotly.js (about 10 MB) so the file opens anywhere offline; a string is used as the script's src. */
  plotly?: "inline" | string;
}

/** A standalone HTML page showing the figure interactively. */
export function figureHtml(spec: FigureSpec, options: HtmlOptions = {}): string {
  const title = spec.layout.title?.text ?? "figure";
  const plotly = options.plotly ?? "inline";
  const library = plotly === "inline"
    ? `<script>${inlineScript(readFileSync(PLOTLY_JS_PATH, "utf8"))}</script>`
    : `<script src="${htmlAttribute(plotly)}"></script>`;
  return [
    "<!doctype html>",
    '<html><head><meta charset="utf-8">',
    `<title>${htmlAttribute(title)}</title>`,
    "<style>html,body{margin:0;height:100%}#figure{width:100%;height:100%}</style>",
    "</head><body>",
    '<div id="figure"></div>',
    library,
    `<script>var spec = ${scriptJson(spec)};`,
    'Plotly.newPlot("figure", spec.data, spec.layout, {responsive: true, displaylogo: false});</script>',
    "</body></html>",
  ].join("\n") + "\n";
}

export type FigureFormat = "html" | StaticFormat;

export interface FigureExportOptions extends HtmlOptions {
  /** Default ["html", "png"]; a static format is skipped with a note when no Chromium exists. */
  formats?: FigureFormat[];
  width?: number;
  height?: number;
  /** Reuse an open renderer (one browser start for many figures); otherwise one is opened and closed. */
  renderer?: RendererChoice;
  /** Where the one-line notes go (default: stderr). */
  log?: (line: string) => void;
}

export interface FigureExport {
  written: string[];
  /** Set when a static format was asked for and could not be produced. */
  note?: string;
}

/** Writes <dir>/<name>.html and the asked static images (atomic writes); returns what was written. */
export async function exportFigure(spec: FigureSpec, dir: string, name: string, options: FigureExportOptions = {}): Promise<FigureExport> {
  const results = await exportFigures({ [name]: spec }, dir, options);
  return results[name];
}

/** Exports several figures with a single browser start. */
export async function exportFigures(figures: Record<string, FigureSpec>, dir: string, options: FigureExportOptions = {}): Promise<Record<string, FigureExport>> {
  const formats = options.formats ?? ["html", "png"];
  for (const f of formats) if (!["html", "png", "svg"].includes(f)) throw new Error(`unknown figure format "${f}" (expected html, png, svg)`);
  for (const name of Object.keys(figures)) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw new Error(`figure name "${name}" must be a plain file name (letters, digits, . _ -)`);
  }
  const log = options.log ?? ((line: string) => console.error(line));
  const statics = formats.filter((f): f is StaticFormat => f !== "html");
  const results: Record<string, FigureExport> = {};
  for (const [name, spec] of Object.entries(figures)) {
    results[name] = { written: [] };
    if (formats.includes("html")) {
      const path = join(dir, `${name}.html`);
      writeFileAtomic(path, figureHtml(spec, options));
      results[name].written.push(path);
    }
  }
  if (statics.length === 0) return results;

  const renderer = options.renderer === undefined ? await openRenderer() : options.renderer;
  if ("reason" in renderer) {
    const note = `figures: ${renderer.reason}; wrote ${formats.includes("html") ? "HTML only" : "nothing"}, no ${statics.join("/").toUpperCase()}`;
    log(note);
    for (const r of Object.values(results)) r.note = note;
    return results;
  }
  try {
    for (const [name, spec] of Object.entries(figures)) {
      for (const format of statics) {
        const bytes = await renderer.render(spec, format, { width: options.width ?? spec.layout.width ?? 800, height: options.height ?? spec.layout.height ?? 480 });
        const path = join(dir, `${name}.${format}`);
        writeFileAtomic(path, bytes);
        results[name].written.push(path);
      }
    }
  } finally {
    if (options.renderer === undefined) await renderer.close();
  }
  return results;
}

/** Text safe inside <script>...</script>: a literal "</script" would end the element early. */
function inlineScript(js: string): string {
  return js.replace(/<\/script/gi, "<\\/script");
}

function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function htmlAttribute(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
