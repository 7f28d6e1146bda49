/**
 * Static figure rendering: playwright-core drives a Chromium that is already on the machine (Debian's
 * /usr/bin/chromium; playwright's own browser downloads do not work here) and calls Plotly.toImage in a page.
 * COVER_CHROMIUM=<path> picks another browser binary; COVER_CHROMIUM=none turns static export off.
 */
import { existsSync } from "node:fs";
import type { Browser, Page } from "playwright-core";
import type { FigureSpec } from "./figure";

export type StaticFormat = "png" | "svg";

export interface StaticRenderer {
  ok: true;
  browserPath: string;
  render(spec: FigureSpec, format: StaticFormat, size: { width: number; height: number }): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface NoRenderer {
  ok: false;
  /** One line saying why and what to do, e.g. "no Chromium found (apt-get install chromium, or set COVER_CHROMIUM)". */
  reason: string;
}

export type RendererChoice = StaticRenderer | NoRenderer;

const ORIGIN = "http://cover-kit.invalid";
const CANDIDATES = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome", "/usr/bin/google-chrome-stable"];

/** Flags for a headless browser in a container without a GPU, a sandbox-capable kernel or network. */
export const CHROMIUM_ARGS = [
  "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--mute-audio",
];

/** The browser binary to use, or why there is none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): { path: string } | { reason: string } {
  const chosen = env.COVER_CHROMIUM;
  if (chosen === "none") return { reason: "static figure export is off (COVER_CHROMIUM=none)" };
  if (chosen) return existsSync(chosen) ? { path: chosen } : { reason: `COVER_CHROMIUM=${chosen} does not exist` };
  const found = CANDIDATES.find((p) => existsSync(p));
  return found ? { path: found } : { reason: "no Chromium found (apt-get install chromium, or set COVER_CHROMIUM=<binary>)" };
}

/** Starts the browser and loads plotly.js once; render() can then be called for many figures. */
export async function openRenderer(env: NodeJS.ProcessEnv = process.env): Promise<RendererChoice> {
  const found = findChromium(env);
  if ("reason" in found) return { ok: false, reason: found.reason };
  let browser: Browser;
  try {
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: found.path, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
  } catch (err) {
    return { ok: false, reason: `${found.path} did not start (${firstLine(err)})` };
  }
  let page: Page;
  try {
    page = await browser.newPage();
    // Served from memory under a made-up origin: nothing goes to the network and no file:// access is needed.
    await page.route(`${ORIGIN}/**`, (route) => route.request().url() === `${ORIGIN}/plotly.js`
      ? route.fulfill({ path: require.resolve("plotly.js-dist"), contentType: "text/javascript" })
      : route.fulfill({ body: '<!doctype html><html><body><script src="plotly.js"></script></body></html>', contentType: "text/html" }));
    await page.goto(`${ORIGIN}/index.html`, { waitUntil: "load", timeout: 120_000 });
    if (!(await page.evaluate(() => typeof (globalThis as { Plotly?: unknown }).Plotly === "object"))) throw new Error("plotly.js did not load in the page");
  } catch (err) {
    await browser.close();
    return { ok: false, reason: `plotly.js could not be loaded in ${found.path} (${firstLine(err)})` };
  }
  return {
    ok: true,
    browserPath: found.path,
    async render(spec, format, size) {
      const url = await page.evaluate(async ({ spec, format, size }) => {
        const plotly = (globalThis as unknown as { Plotly: { toImage(fig: unknown, opts: unknown): Promise<string> } }).Plotly;
        return plotly.toImage({ data: spec.data, layout: spec.layout }, { format, width: size.width, height: size.height });
      }, { spec, format, size });
      return decodeDataUrl(url);
    },
    async close() { await browser.close(); },
  };
}

/** Plotly.toImage returns base64 for PNG and percent-encoded text for SVG. */
export function decodeDataUrl(url: string): Uint8Array {
  const comma = url.indexOf(",");
  if (!url.startsWith("data:") || comma < 0) throw new Error(`not a data URL: ${url.slice(0, 40)}...`);
  const header = url.slice(0, comma);
  const body = url.slice(comma + 1);
  return header.endsWith(";base64") ? Buffer.from(body, "base64") : Buffer.from(decodeURIComponent(body), "utf8");
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split("\n")[0];
}
