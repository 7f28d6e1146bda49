/**
 * Checks that a notebook runs in a real JupyterLab with the project's kernel, that a parameter edited in the page
 * takes effect, and that its figures are interactive plotly charts there (not the static PNG fallback). Run it after
 * `pip install jupyterlab plotly` and `npm run notebooks:setup` (.ci/notebooks.sh does both in CI):
 *
 *   npm run notebooks:check-lab [-- notebooks/_check.ipynb] [--jupyter <path to the jupyter command>]
 *       [-p name=value ...] [--edit name=value --expect TEXT]
 *
 * It copies the notebook to runs/lab-check/ (JupyterLab autosaves outputs into what it opens) with the parameters
 * cell's values set by -p (e.g. -p scale=smoke), starts `jupyter lab` on a free local port, opens the copy in headless
 * Chromium and runs every cell. With --edit it then types the new value into the parameters cell in the page, runs
 * every cell again and requires TEXT in the outputs (screenshots before and after). It checks the cells for errors,
 * checks that every figure went to the plotly renderer, hovers each until it turns live and shows a tooltip, and
 * saves a screenshot next to the copy. Exit 1 names what failed.
 */
import { spawn, ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { basename, join, relative, resolve } from "node:path";
import { chromium, Page } from "playwright-core";
import { CHROMIUM_ARGS, findChromium } from "../src/report/browser";
import { readNotebook } from "./lib/nbcheck";
import { parametersCellIndex, parseParameter, ParameterValue, setParameterValue, withParameterValues } from "./lib/nbparams";

const ROOT = resolve(__dirname, "..");

interface Args {
  notebook: string;
  jupyter: string;
  /** Values set in the copy's parameters cell before it opens. */
  values: Record<string, ParameterValue>;
  /** A parameter typed into the parameters cell in the page after the first run, and text the rerun must show. */
  edit?: { name: string; value: ParameterValue; expect: string };
}

function parseArgs(argv: string[]): Args {
  let notebook = "notebooks/_check.ipynb";
  let jupyter = process.env.COVER_JUPYTER ?? "jupyter";
  const values: Record<string, ParameterValue> = {};
  let edit: [string, ParameterValue] | undefined;
  let expect: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    if (argv[i] === "--jupyter") jupyter = value();
    else if (argv[i] === "-p") { const [k, v] = parseParameter(value()); values[k] = v; }
    else if (argv[i] === "--edit") edit = parseParameter(value());
    else if (argv[i] === "--expect") expect = value();
    else notebook = argv[i];
  }
  if ((edit === undefined) !== (expect === undefined)) throw new Error("--edit and --expect go together");
  return { notebook, jupyter, values, ...(edit && expect !== undefined && { edit: { name: edit[0], value: edit[1], expect } }) };
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

/** Runs every cell through JupyterLab's own command and waits until every cell ran again (or one failed). */
async function runAllCells(page: Page, timeoutMs: number): Promise<void> {
  const before = await lastExecutionCount(page);
  await page.waitForFunction(() => {
    const app = (globalThis as unknown as { jupyterapp?: { shell: { currentWidget?: { sessionContext?: { session?: { kernel?: { status: string } } } } } } }).jupyterapp;
    return app?.shell.currentWidget?.sessionContext?.session?.kernel?.status === "idle";
  }, undefined, { timeout: 120_000 });
  await page.evaluate(() => (globalThis as unknown as { jupyterapp: { commands: { execute(id: string): Promise<unknown> } } }).jupyterapp.commands.execute("notebook:run-all-cells"));
  // A cell still running or queued shows "[*]" in its prompt.
  await page.waitForFunction((previous) => {
    const page = globalThis as unknown as { document: { querySelectorAll(selector: string): Iterable<{ textContent: string | null }> } };
    const prompts = [...page.document.querySelectorAll(".jp-CodeCell .jp-InputArea-prompt")].map((p) => p.textContent ?? "");
    if (prompts.length === 0 || prompts.some((p) => p.includes("*"))) return false;
    const last = Number(/\[(\d+)\]/.exec(prompts[prompts.length - 1])?.[1] ?? 0);
    const failed = page.document.querySelectorAll(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']");
    return last > previous || [...failed].some((e) => /Error/.test(e.textContent ?? ""));
  }, before, { timeout: timeoutMs, polling: 1000 });
}

/** The execution count of the last code cell (0 before it ran). */
function lastExecutionCount(page: Page): Promise<number> {
  return page.evaluate(() => {
    const page = globalThis as unknown as { document: { querySelectorAll(selector: string): Iterable<{ textContent: string | null }> } };
    const prompts = [...page.document.querySelectorAll(".jp-CodeCell .jp-InputArea-prompt")].map((p) => p.textContent ?? "");
    return Number(/\[(\d+)\]/.exec(prompts[prompts.length - 1] ?? "")?.[1] ?? 0);
  });
}

/** Replaces the parameters cell's text in the page the way a person does: click into it, select all, type. */
async function editParameter(page: Page, cellIndex: number, source: string): Promise<void> {
  const cell = page.locator(".jp-Notebook .jp-Cell").nth(cellIndex);
  await cell.scrollIntoViewIfNeeded();
  await cell.locator(".cm-content").click();
  await page.keyboard.press("Control+A");
  // insertText types the text as one input (as a paste does), so the editor does not auto-close brackets.
  await page.keyboard.insertText(source);
  await page.keyboard.press("Escape");
}

async function main(): Promise<void> {
  const { notebook, jupyter, values, edit } = parseArgs(process.argv.slice(2));
  const copyJson = withParameterValues(resolve(notebook), values) as { cells: { cell_type: string; source: string | string[]; metadata?: { tags?: string[] } }[] };
  const parametersAt = parametersCellIndex(copyJson.cells, notebook);
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
    writeFileSync(copy, JSON.stringify(copyJson, null, 1) + "\n");
    const path = relative(ROOT, copy);
    const name = basename(path, ".ipynb");
    await page.goto(`http://127.0.0.1:${port}/lab/tree/${path}`, { waitUntil: "domcontentloaded", timeout: 120_000 });
    console.log(`lab-check: opened ${path} in JupyterLab on port ${port}${Object.keys(values).length ? ` with ${JSON.stringify(values)}` : ""}; running all cells`);
    await runAllCells(page, 15 * 60_000);
    if (edit) {
      const shotBefore = join(work, `${name}-before.png`);
      await page.locator(".jp-Notebook .jp-Cell").nth(parametersAt).scrollIntoViewIfNeeded();
      await page.screenshot({ path: shotBefore });
      const raw = readNotebook(copy).cells?.[parametersAt]?.source ?? "";
      const source = setParameterValue(Array.isArray(raw) ? raw.join("") : raw, edit.name, edit.value);
      await editParameter(page, parametersAt, source);
      console.log(`lab-check: typed ${edit.name} = ${JSON.stringify(edit.value)} into the parameters cell (screenshot before: ${relative(ROOT, shotBefore)}); running all cells again`);
      const seconds = performance.now();
      await runAllCells(page, 15 * 60_000);
      const outputs = (await page.locator(".jp-OutputArea-output").allTextContents()).join("\n");
      const edited = (await page.locator(".jp-Notebook .jp-Cell").nth(parametersAt).locator(".cm-content").textContent()) ?? "";
      if (!edited.includes(`${edit.name} = ${JSON.stringify(edit.value)}`)) problems.push(`the parameters cell does not show the edit: ${edited.slice(0, 300)}`);
      if (!outputs.includes(edit.expect)) problems.push(`after the edit, no output shows "${edit.expect}"`);
      else console.log(`lab-check: after the edit the outputs show "${edit.expect}" (rerun ${((performance.now() - seconds) / 1000).toFixed(1)} s)`);
      await page.locator(".jp-Notebook .jp-Cell").nth(parametersAt).scrollIntoViewIfNeeded();
      const shotAfter = join(work, `${name}-after.png`);
      await page.screenshot({ path: shotAfter });
      console.log(`lab-check: screenshot after the edit: ${relative(ROOT, shotAfter)}`);
    }

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
      // Hover over the plot area until plotly draws a tooltip: rows from the middle down to near the axis (short bars
      // of a smoke-scale run sit low), a point every 5% across; under load a tooltip can take a few hundred ms.
      let tooltips = 0;
      for (const y of [0.55, 0.7, 0.8, 0.4]) {
        for (let x = 0.15; x < 0.9 && tooltips === 0 && live > 0; x += 0.05) {
          await page.mouse.move(box.x + box.width * x, box.y + box.height * y);
          await page.waitForTimeout(200);
          tooltips = await chart.locator(".hoverlayer .hovertext").count();
        }
        if (tooltips) break;
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
