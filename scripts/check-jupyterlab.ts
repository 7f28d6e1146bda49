/**
 * Manual check that a notebook runs in a real JupyterLab with the project's kernel and that its figures are
 * interactive plotly charts there (not the static PNG fallback). JupyterLab is not a Debian package, so CI cannot
 * run this; run it after `pip install jupyterlab plotly` and `npm run notebooks:setup`:
 *
 *   npm run notebooks:check-lab [-- notebooks/_check.ipynb] [--jupyter <path to the jupyter command>]
 *
 * It copies the notebook to runs/lab-check/ (JupyterLab autosaves outputs into what it opens), starts `jupyter lab`
 * on a free local port, opens the copy in headless Chromium and runs every cell. It then checks the cells for errors,
 * checks that every figure went to the plotly renderer, hovers each until it turns live and shows a tooltip, and
 * saves a screenshot next to the copy. Exit 1 names what failed.
 */
import { spawn, ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { basename, join, relative, resolve } from "node:path";
import { chromium, Page } from "playwright-core";
import { CHROMIUM_ARGS, findChromium } from "../src/report/browser";

const ROOT = resolve(__dirname, "..");

function parseArgs(argv: string[]): { notebook: string; jupyter: string } {
  let notebook = "notebooks/_check.ipynb";
  let jupyter = process.env.COVER_JUPYTER ?? "jupyter";
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--jupyter") jupyter = argv[++i];
    else notebook = argv[i];
  }
  return { notebook, jupyter };
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? done(address.port) : fail(new Error("no port"))));
    });
  });
}

async function startLab(jupyter: string, port: number): Promise<ChildProcess> {
  const lab = spawn(jupyter, ["lab", "--no-browser", "--allow-root", `--port=${port}`, "--ServerApp.ip=127.0.0.1",
    "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True", `--ServerApp.root_dir=${ROOT}`],
  { cwd: ROOT, env: { ...process.env, JUPYTER_PATH: join(ROOT, ".jupyter/share/jupyter") }, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  lab.stderr?.on("data", (chunk: Buffer) => { log += chunk.toString(); });
  let spawnError: Error | null = null;
  lab.on("error", (err) => { spawnError = err; });
  for (let waited = 0; waited < 60_000; waited += 500) {
    if (spawnError) throw new Error(`could not start ${jupyter} (${(spawnError as Error).message}); pip install jupyterlab plotly, or pass --jupyter <path>`);
    if (lab.exitCode !== null) throw new Error(`jupyter lab exited with ${lab.exitCode}:\n${log.slice(-2000)}`);
    if (log.includes(`127.0.0.1:${port}/lab`)) return lab;
    await new Promise((r) => setTimeout(r, 500));
  }
  lab.kill();
  throw new Error(`jupyter lab did not start within 60 s:\n${log.slice(-2000)}`);
}

/** Runs every cell through JupyterLab's own command and waits until the kernel is idle again. */
async function runAllCells(page: Page, timeoutMs: number): Promise<void> {
  await page.waitForFunction(() => {
    const app = (globalThis as unknown as { jupyterapp?: { shell: { currentWidget?: { sessionContext?: { session?: { kernel?: { status: string } } } } } } }).jupyterapp;
    return app?.shell.currentWidget?.sessionContext?.session?.kernel?.status === "idle";
  }, undefined, { timeout: 120_000 });
  await page.evaluate(() => (globalThis as unknown as { jupyterapp: { commands: { execute(id: string): Promise<unknown> } } }).jupyterapp.commands.execute("notebook:run-all-cells"));
  // A cell still running or queued shows "[*]" in its prompt.
  await page.waitForFunction(() => {
    const page = globalThis as unknown as { document: { querySelectorAll(selector: string): Iterable<{ textContent: string | null }> } };
    const prompts = [...page.document.querySelectorAll(".jp-InputArea-prompt")].map((p) => p.textContent ?? "");
    return prompts.length > 0 && prompts.every((p) => !p.includes("*")) && prompts.some((p) => /\[\d+\]/.test(p));
  }, undefined, { timeout: timeoutMs, polling: 1000 });
}

async function main(): Promise<void> {
  const { notebook, jupyter } = parseArgs(process.argv.slice(2));
  const browserPath = findChromium();
  if ("reason" in browserPath) throw new Error(browserPath.reason);
  const port = await freePort();
  const lab = await startLab(jupyter, port);
  const browser = await chromium.launch({ executablePath: browserPath.path, headless: true, args: CHROMIUM_ARGS });
  const problems: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const work = join(ROOT, "runs/lab-check");
    mkdirSync(work, { recursive: true });
    const copy = join(work, basename(notebook));
    copyFileSync(resolve(notebook), copy);
    const path = relative(ROOT, copy);
    await page.goto(`http://127.0.0.1:${port}/lab/tree/${path}`, { waitUntil: "domcontentloaded", timeout: 120_000 });
    console.log(`lab-check: opened ${path} in JupyterLab on port ${port}; running all cells`);
    await runAllCells(page, 15 * 60_000);

    const errors = await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").allTextContents();
    const failures = errors.filter((e) => /Error|error TS/.test(e));
    if (failures.length) problems.push(`cells reported errors:\n${failures.join("\n").slice(0, 2000)}`);
    // jupyterlab-plotly shows the bundle's PNG first and swaps in the live chart when the mouse enters it.
    const rendered = page.locator(".jp-RenderedPlotly");
    const charts = await rendered.count();
    console.log(`lab-check: ${charts} outputs rendered by the plotly extension`);
    if (charts === 0) problems.push("no output went to the plotly renderer (is the plotly package, which brings jupyterlab-plotly, installed?)");
    for (let i = 0; i < charts; i++) {
      const chart = rendered.nth(i);
      await chart.scrollIntoViewIfNeeded();
      const box = await chart.boundingBox();
      if (!box) { problems.push(`chart ${i + 1} has no size on the page`); continue; }
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await chart.locator(".plot-container .main-svg").first().waitFor({ timeout: 30_000 }).catch(() => undefined);
      const live = await chart.locator(".plot-container").count(); // Plotly draws into the renderer node itself
      // Hover over the plot area until plotly draws a tooltip (a point lies somewhere along the middle row).
      let tooltips = 0;
      for (let x = 0.15; x < 0.9 && tooltips === 0 && live > 0; x += 0.05) {
        await page.mouse.move(box.x + box.width * x, box.y + box.height * 0.55);
        await page.waitForTimeout(100);
        tooltips = await chart.locator(".hoverlayer .hovertext").count();
      }
      console.log(`lab-check: chart ${i + 1}: ${live ? "live plotly chart" : "still a static image"}, ${tooltips ? "tooltip on hover" : "no tooltip"}`);
      if (!live) problems.push(`chart ${i + 1} did not become a live plotly chart`);
      else if (!tooltips) problems.push(`chart ${i + 1} showed no tooltip on hover`);
    }
    const shot = join(work, `${basename(path, ".ipynb")}.png`);
    await page.screenshot({ path: shot, fullPage: false });
    console.log(`lab-check: screenshot ${relative(ROOT, shot)}`);
  } finally {
    await browser.close();
    lab.kill("SIGTERM");
  }
  if (problems.length) {
    console.error(`lab-check: FAILED\n- ${problems.join("\n- ")}`);
    process.exit(1);
  }
  console.log("lab-check: passed");
}

main().catch((err: unknown) => {
  console.error(`lab-check: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
