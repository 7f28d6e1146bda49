/**
 * Figures as plotly specs ({data, layout}): paper-vs-kit bars, loss curves from metrics.jsonl, sweeps.
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
  x: (string | number)[];
  y: (number | null)[];
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
  title?: { text: string };
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

/**
 * Paper vs kit bars from result rows: one category per distinct value of the `by` columns (default: dataset),
 * labelled "a / b" when several. A missing paper number leaves a gap. Rows averaged over seeds (a `kit ±` column)
 * get error bars; rows with a `chance` column get chance markers.
 */
export function paperVsKitBars(rows: ResultRow[], options: { title: string; by?: string[]; yTitle?: string }): FigureSpec {
  if (rows.length === 0) throw new Error(`figure "${options.title}": no result rows`);
  const by = options.by ?? ["dataset"];
  const label = (r: ResultRow) => by.map((k) => {
    if (!(k in r)) throw new Error(`figure "${options.title}": a row has no column "${k}"`);
    return String(r[k]);
  }).join(" / ");
  const categories = [...new Set(rows.map(label))];
  const pick = (key: "paper" | "kit") => categories.map((c) => rows.find((r) => label(r) === c)?.[key] ?? null);
  const metrics = [...new Set(rows.map((r) => r.metric))];
  const spec = barChart({
    title: options.title,
    categories,
    series: [{ name: "paper", values: pick("paper") }, { name: "kit", values: pick("kit") }],
    yTitle: options.yTitle ?? metrics.join(", "),
  });
  const spread = categories.map((c) => rows.find((r) => label(r) === c)?.["kit ±"]);
  const data = spread.some((v) => typeof v === "number" && v > 0)
    ? spec.data.map((t) => (t.name === "kit" ? { ...t, name: "kit (95% interval over seeds)", error_y: { type: "data", array: spread.map((v) => (typeof v === "number" ? v : 0)) } } : t))
    : spec.data;
  const chance = chanceTrace(categories, rows, label);
  return { ...spec, data: chance ? [...data, chance] : data };
}

/** What claimsChart needs of a claim (structurally the experiments' Claim). */
export interface ClaimPoint {
  id: string;
  paper: { effect: number } | { range: [number, number] };
  kit: { effect: number; low: number; high: number };
  verdict: string;
}

/**
 * The kit's effect per claim (bar, 95% interval as error bars) beside the paper's (a point, or a range drawn as an
 * interval around its middle), the verdict in the category label; zero is the line that decides.
 */
export function claimsChart(claims: ClaimPoint[], options: { title: string }): FigureSpec {
  if (claims.length === 0) throw new Error(`figure "${options.title}": no claims`);
  const labels = claims.map((c) => `${c.id}<br>(${c.verdict})`);
  const paperMid = claims.map((c) => ("effect" in c.paper ? c.paper.effect : (c.paper.range[0] + c.paper.range[1]) / 2));
  const paperHalf = claims.map((c) => ("effect" in c.paper ? 0 : (c.paper.range[1] - c.paper.range[0]) / 2));
  return {
    data: [
      {
        type: "bar", name: "kit (95% interval)", x: labels, y: claims.map((c) => c.kit.effect), marker: { color: KIT_COLOR },
        error_y: { type: "data", symmetric: false, array: claims.map((c) => c.kit.high - c.kit.effect), arrayminus: claims.map((c) => c.kit.effect - c.kit.low) },
      },
      {
        type: "scatter", mode: "markers", name: "paper (point or range)", x: labels, y: paperMid,
        marker: { color: PAPER_COLOR, size: 11, symbol: "diamond" }, error_y: { type: "data", array: paperHalf, visible: true },
      },
    ],
    layout: baseLayout(options.title, undefined, "effect (top-1 points)", {
      shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: 0, y1: 0, line: { color: "#333", width: 1 } }],
    }),
  };
}

/** One panel of accuracyPanels: a dataset's accuracies per setting, with 95% intervals and its chance level. */
export interface AccuracyPanel {
  title: string;
  categories: string[];
  values: (number | null)[];
  low: (number | null)[];
  high: (number | null)[];
  /** Top-1 of guessing (100 / classes), drawn as a dotted line across the panel. */
  chance?: number;
}

/**
 * Absolute accuracies side by side, one panel per dataset (each with its own y axis, since different datasets'
 * accuracies are not comparable): bars with their 95% intervals, and the panel's chance level.
 */
export function accuracyPanels(panels: AccuracyPanel[], options: { title: string; yTitle?: string }): FigureSpec {
  if (panels.length === 0) throw new Error(`figure "${options.title}": no panels`);
  const gap = 0.06;
  const width = (1 - gap * (panels.length - 1)) / panels.length;
  const data: Trace[] = [];
  // The top margin leaves room for a two-line title above the panels' own titles.
  const layout: Layout = baseLayout(options.title, undefined, undefined, { showlegend: false, width: Math.max(560, 320 * panels.length), margin: { t: 120, r: 20, b: 60, l: 60 } });
  const shapes: Record<string, unknown>[] = [];
  const annotations: Record<string, unknown>[] = [];
  panels.forEach((panel, i) => {
    const n = panels.length > 1 ? String(i + 1) : "";
    const axis = i === 0 ? "" : n;
    const x0 = i * (width + gap);
    const span = (v: (number | null)[], from: (number | null)[]) => v.map((value, j) => (value === null || from[j] === null ? 0 : Math.abs((value as number) - (from[j] as number))));
    data.push({
      type: "bar", name: panel.title, x: panel.categories, y: panel.values, xaxis: `x${axis}`, yaxis: `y${axis}`,
      marker: { color: KIT_COLOR },
      error_y: { type: "data", symmetric: false, array: span(panel.high, panel.values), arrayminus: span(panel.values, panel.low) },
      hovertemplate: "%{x}: %{y:.1f}%<extra>" + panel.title.replace(/[<>]/g, "") + "</extra>",
    });
    layout[`xaxis${axis}`] = { domain: [x0, x0 + width], automargin: true, anchor: `y${axis}`, type: "category" };
    layout[`yaxis${axis}`] = { anchor: `x${axis}`, automargin: true, rangemode: "tozero", ...(i === 0 && { title: { text: options.yTitle ?? "top-1 %" } }) };
    annotations.push({ text: `<b>${panel.title}</b>`, xref: "paper", yref: "paper", x: x0 + width / 2, y: 1.02, yanchor: "bottom", showarrow: false });
    if (panel.chance !== undefined) {
      shapes.push({ type: "line", xref: `x${axis} domain`, yref: `y${axis}`, x0: 0, x1: 1, y0: panel.chance, y1: panel.chance, line: { color: "#d62728", width: 1.5, dash: "dot" } });
      annotations.push({ text: `chance ${panel.chance.toFixed(1)}%`, xref: `x${axis} domain`, yref: `y${axis}`, x: 1, y: panel.chance, xanchor: "right", yanchor: "bottom", showarrow: false, font: { size: 10, color: "#d62728" } });
    }
  });
  return { data, layout: { ...layout, shapes, annotations } };
}

/** A figure with the verdicts of the paper's claims under its title, so the picture never travels without them. */
export function withVerdicts(spec: FigureSpec, verdicts: string[]): FigureSpec {
  if (verdicts.length === 0) return spec;
  const title = spec.layout.title?.text ?? "";
  const lines = verdicts.map((v) => `<sub>${v.replace(/</g, "&lt;")}</sub>`).join("<br>");
  const top = 60 + 18 * verdicts.length;
  const margin = (spec.layout.margin as Record<string, number> | undefined) ?? {};
  return { data: spec.data, layout: { ...spec.layout, title: { text: `${title}<br>${lines}` }, margin: { ...margin, t: top } } };
}

/**
 * Chance level markers beside the bars of a paper-vs-kit figure whose rows carry a numeric `chance` column (the top-1
 * of guessing on that row's dataset), so absolute accuracies of datasets with different class counts can be read.
 */
function chanceTrace(categories: string[], rows: ResultRow[], label: (r: ResultRow) => string): Trace | null {
  const chance = categories.map((c) => {
    const v = rows.find((r) => label(r) === c)?.chance;
    return typeof v === "number" ? v : null;
  });
  if (chance.every((v) => v === null)) return null;
  return { type: "scatter", mode: "markers", name: "chance", x: categories, y: chance, marker: { symbol: "line-ew-open", size: 40, color: "#d62728", line: { width: 2 } } };
}

export interface LineSeries { name: string; x: number[]; y: (number | null)[]; dash?: "solid" | "dash" | "dot"; color?: string }

/** plotly's default colour cycle, so that related lines (a dataset's kit and paper) can share a colour. */
export const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

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

/**
 * A sweep: the kit's metric against a numeric setting column (e.g. w_image), one solid line per dataset,
 * with the paper's numbers as a dashed line of the same colour where it has them.
 */
export function sweepChart(rows: ResultRow[], options: { title: string; x: string; by?: string; xTitle?: string; yTitle?: string }): FigureSpec {
  const by = options.by ?? "dataset";
  const groups = [...new Set(rows.map((r) => String(r[by])))];
  const series: LineSeries[] = [];
  for (const [g, group] of groups.entries()) {
    const color = PALETTE[g % PALETTE.length];
    const points = rows.filter((r) => String(r[by]) === group).map((r) => {
      const x = r[options.x];
      if (typeof x !== "number") throw new Error(`figure "${options.title}": column "${options.x}" must be a number in every row, got ${JSON.stringify(x)}`);
      return { x, kit: r.kit, paper: r.paper };
    }).sort((a, b) => a.x - b.x);
    series.push({ name: `${group} kit`, x: points.map((p) => p.x), y: points.map((p) => p.kit), color });
    if (points.some((p) => p.paper !== null)) {
      series.push({ name: `${group} paper`, x: points.map((p) => p.x), y: points.map((p) => p.paper), dash: "dash", color });
    }
    const chance = rows.find((r) => String(r[by]) === group && typeof r.chance === "number")?.chance;
    if (typeof chance === "number") series.push({ name: `${group} chance`, x: points.map((p) => p.x), y: points.map(() => chance), dash: "dot", color });
  }
  const metrics = [...new Set(rows.map((r) => r.metric))];
  return lineChart({ title: options.title, series, xTitle: options.xTitle ?? options.x, yTitle: options.yTitle ?? metrics.join(", ") });
}

function seriesStyle(name: string): Record<string, unknown> {
  if (name === "paper") return { marker: { color: PAPER_COLOR } };
  if (name === "kit") return { marker: { color: KIT_COLOR } };
  return {};
}

function baseLayout(title: string, xTitle?: string, yTitle?: string, extra: Layout = {}): Layout {
  return {
    title: { text: title },
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
