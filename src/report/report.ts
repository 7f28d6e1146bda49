/**
 * A report folder: what an experiment notebook (or its CLI twin) calls to export and show its results.
 *
 *   <dir>/tables/<name>.{csv,md,tex,json}
 *   <dir>/figures/<name>.{html,png}
 *   <dir>/exports.json      every file written so far, rewritten after each export
 *
 * Figures share one headless browser, closed after a few idle seconds (or by close()).
 */
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { writeFileAtomic } from "../util/atomic";
import { openRenderer, RendererChoice } from "./browser";
import { exportFigures, FigureFormat, FigureSpec, PLOTLY_JS_PATH } from "./figure";
import { inNotebook, show } from "./notebook";
import { exportTable, Table, TableFormat, TABLE_FORMATS } from "./table";

export interface ReportOptions {
  tableFormats?: TableFormat[];
  /** Default ["html", "png"]. */
  figureFormats?: FigureFormat[];
  /**
   * "inline" (default): each HTML file carries plotly.js (about 10 MB) and opens anywhere.
   * "link": HTML files load plotly.js from this checkout's node_modules (small files, for committed exports).
   */
  html?: "inline" | "link";
  /** Show each table and figure as it is exported (default: only inside a notebook). */
  show?: boolean;
  /** Seconds the browser may stay idle before it is closed. */
  browserIdleSeconds?: number;
}

export interface ExportManifest {
  tables: Record<string, string[]>;
  figures: Record<string, string[]>;
  /** One-line notes, e.g. why no PNG was written. */
  notes: string[];
}

export class Report {
  private readonly manifest: ExportManifest = { tables: {}, figures: {}, notes: [] };
  private renderer: Promise<RendererChoice> | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(readonly dir: string, private readonly options: ReportOptions = {}) {}

  get tablesDir(): string { return join(this.dir, "tables"); }
  get figuresDir(): string { return join(this.dir, "figures"); }

  /** Exports the table (all four formats by default) and shows it. Returns nothing, so a notebook cell echoes nothing. */
  table(table: Table): void {
    const written = exportTable(table, this.tablesDir, this.options.tableFormats ?? TABLE_FORMATS);
    this.manifest.tables[table.name] = written.map((p) => relative(this.dir, p));
    this.writeManifest();
    if (this.shouldShow()) show(table);
  }

  /**
   * Exports the figure (HTML and PNG by default; PNG skipped with a one-line note, kept in exports().notes,
   * when there is no browser) and shows it.
   */
  async figure(name: string, spec: FigureSpec): Promise<void> {
    const formats = this.options.figureFormats ?? ["html", "png"];
    const needsBrowser = formats.some((f) => f !== "html");
    this.stopIdleTimer();
    const plotly = this.options.html === "link" ? relative(this.figuresDir, PLOTLY_JS_PATH) : "inline";
    const result = (await exportFigures({ [name]: spec }, this.figuresDir, {
      formats, plotly, renderer: needsBrowser ? await this.browser() : undefined,
      log: (line) => { if (!this.manifest.notes.includes(line)) { this.manifest.notes.push(line); console.error(line); } },
    }))[name];
    this.startIdleTimer();
    this.manifest.figures[name] = result.written.map((p) => relative(this.dir, p));
    this.writeManifest();
    if (this.shouldShow()) {
      const png = result.written.find((p) => p.endsWith(".png"));
      show(spec, png ? { png: readFileSync(png) } : {});
    }
  }

  /** What has been written so far (paths relative to the report folder). */
  exports(): ExportManifest {
    return JSON.parse(JSON.stringify(this.manifest)) as ExportManifest;
  }

  /** Closes the browser if one is open. */
  async close(): Promise<void> {
    this.stopIdleTimer();
    const pending = this.renderer;
    this.renderer = null;
    if (!pending) return;
    const renderer = await pending;
    if (renderer.ok) await renderer.close();
  }

  private browser(): Promise<RendererChoice> {
    this.renderer ??= openRenderer();
    return this.renderer;
  }

  private startIdleTimer(): void {
    if (!this.renderer) return;
    this.idleTimer = setTimeout(() => { void this.close(); }, (this.options.browserIdleSeconds ?? 15) * 1000);
  }

  private stopIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private shouldShow(): boolean {
    return this.options.show ?? inNotebook();
  }

  private writeManifest(): void {
    writeFileAtomic(join(this.dir, "exports.json"), JSON.stringify(this.manifest, null, 2) + "\n");
  }
}
