/**
 * Progress for long work: count, rate, ETA and running metrics. On a terminal one line is redrawn in place;
 * elsewhere (CI logs, Jupyter/tslab notebooks) a plain line is printed every few seconds and at the end.
 * Env COVER_PROGRESS: "off" silences every display, a number sets the seconds between plain lines.
 */
export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  /** Nothing is printed (tests, or a caller with its own display). */
  silent?: boolean;
  /** Seconds between plain lines when not on a terminal. */
  everySeconds?: number;
  stream?: NodeJS.WriteStream;
  /** Extra text after the count, from the count (e.g. the epoch a step is in). */
  detail?: (count: number) => string;
}

export interface Progress {
  /** Advances by n (default 1) and records the latest metrics. */
  tick(n?: number, metrics?: Record<string, number>): void;
  done(): void;
}

/** Shows a progress line in place of the stream, e.g. one notebook status line rewritten in place. */
export type ProgressDisplay = (line: string) => void;

/**
 * Process-wide, not module-wide: a notebook kernel may load this file twice (through tslab's compiler and through
 * tsx), and the display set through one copy must reach the trainer that imported the other.
 */
const shared = ((globalThis as Record<symbol, unknown>)[Symbol.for("cover-kit.progress")] ??= { display: null, context: "" }) as
  { display: ProgressDisplay | null; context: string };

/** Sends every progress line (from now on) to `d` instead of the stream; null restores the stream. */
export function setProgressDisplay(d: ProgressDisplay | null): void {
  shared.display = d;
}

/** A prefix for every progress line, e.g. "ablation 3/8" while a sweep trains its third run; "" clears it. */
export function setProgressContext(text: string): void {
  shared.context = text;
}

/** A one-off status line (a sweep starting its next run): on the progress display when there is one, else stderr. */
export function progressNote(line: string): void {
  if (shared.display) shared.display(line);
  else console.error(line);
}

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const env = process.env.COVER_PROGRESS;
  const silent = options.silent === true || env === "off";
  const envSeconds = env !== undefined && env !== "" && Number.isFinite(Number(env)) ? Number(env) : undefined;
  const sink = options.stream ? null : shared.display;
  const every = (options.everySeconds ?? (tty || sink ? 0.5 : envSeconds ?? 10)) * 1000;
  const unit = options.unit ?? "item";
  const started = Date.now();
  let count = 0;
  let firstCount: number | null = null;
  let lastPrint = 0;
  let metrics: Record<string, number> = {};
  let finished = false;

  const line = (): string => {
    const elapsed = (Date.now() - started) / 1000;
    const counted = count - (firstCount ?? 0);
    const rate = elapsed > 0 ? counted / elapsed : 0;
    const eta = rate > 0 && options.total > count ? (options.total - count) / rate : 0;
    const pct = options.total > 0 ? Math.floor((100 * count) / options.total) : 100;
    const shown = Object.entries(metrics).map(([k, v]) => `${k} ${formatMetric(v)}`).join("  ");
    const detail = options.detail ? `  ${options.detail(count)}` : "";
    return `${shared.context ? `[${shared.context}] ` : ""}${options.label}: ${count}/${options.total} ${unit}s (${pct}%)${detail}  ${rate.toFixed(rate < 10 ? 2 : 1)} ${unit}/s` +
      `  elapsed ${duration(elapsed)}  eta ${duration(eta)}${shown ? `  ${shown}` : ""}`;
  };
  const print = (final: boolean) => {
    if (silent) return;
    if (sink) sink(line());
    else if (tty) stream.write(`\r\x1b[2K${line()}${final ? "\n" : ""}`);
    else stream.write(`${line()}\n`);
  };

  return {
    tick(n = 1, m?: Record<string, number>) {
      if (firstCount === null) { firstCount = count + n; lastPrint = Date.now(); count += n; return; } // the first tick may be a resume offset
      count += n;
      if (m) metrics = { ...metrics, ...m };
      const now = Date.now();
      if (now - lastPrint >= every) { lastPrint = now; print(false); }
    },
    done() {
      if (finished) return;
      finished = true;
      print(true);
    },
  };
}

function formatMetric(v: number): string {
  if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4)) return v.toExponential(2);
  return v.toFixed(4).replace(/\.?0+$/, "");
}

export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
