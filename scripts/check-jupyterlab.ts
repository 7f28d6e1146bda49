/**
 * Checks that notebooks run in a real JupyterLab with the project's kernel, that a parameter edited in the page
 * takes effect, that their figures are interactive plotly charts there (not the static PNG fallback), and that the
 * Interrupt button stops a training cell with a checkpoint that the next run of the cell resumes. Run it after
 * `pip install jupyterlab plotly` and `npm run notebooks:setup` (.ci/notebooks.sh does both in CI):
 *
 *   npm run notebooks:check-lab [-- notebooks/<name>.ipynb ...] [--jupyter <path to the jupyter command>]
 *       [-p name=value ...] [--edit name=value --expect TEXT | --interrupt]
 *
 * It copies each notebook to runs/lab-check/ (JupyterLab autosaves outputs into what it opens) with the parameters
 * cell's values set by -p (e.g. -p scale=smoke), starts `jupyter lab` on a free local port once, opens each copy in
 * its own tab of headless Chromium, runs every cell, checks the cells for errors, checks that every figure went to
 * the plotly renderer, hovers each until it turns live and shows a tooltip, saves a screenshot next to the copy and
 * shuts the notebook's kernel down. With --edit (one notebook) it then types the new value into the parameters cell
 * in the page, runs every cell again and requires TEXT in the outputs (screenshots before and after).
 * With --interrupt (one notebook, whose parameters make a cell train for more than about 20 s) the runs go to a fresh
 * COVER_RUNS folder; while the cell trains it requires the kernel busy and answering, also from a second tab on the
 * same notebook, clicks the toolbar's Interrupt button and requires within 10 s the cell's InterruptedError with the
 * step it checkpointed at, the same kernel idle, and the checkpoint in the run folder; then runs that cell again
 * and requires that it resumes at that step and finishes (screenshots interrupt-1..5). Exit 1 names what failed.
 */
import { spawn, ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer } from "node:net";
import { basename, dirname, join, relative, resolve } from "node:path";
import { Browser, chromium, Page } from "playwright-core";
import { CHROMIUM_ARGS, findChromium } from "../src/report/browser";
import { readNotebook } from "./lib/nbcheck";
import { hasCheckpoint } from "../src/runs/checkpoint";
import { readRunResults } from "../src/runs/folder";
import { parametersCellIndex, parseParameter, ParameterValue, setParameterValue, withParameterValues } from "./lib/nbparams";

const ROOT = resolve(__dirname, "..");

interface Args {
  notebooks: string[];
  jupyter: string;
  /** Values set in each copy's parameters cell before it opens. */
  values: Record<string, ParameterValue>;
  /** A parameter typed into the parameters cell in the page after the first run, and text the rerun must show. */
  edit?: { name: string; value: ParameterValue; expect: string };
  /** Interrupt the training cell through the toolbar, then run it again (see the header). */
  interrupt: boolean;
}

function parseArgs(argv: string[]): Args {
  const notebooks: string[] = [];
  let jupyter = process.env.COVER_JUPYTER ?? "jupyter";
  const values: Record<string, ParameterValue> = {};
  let edit: [string, ParameterValue] | undefined;
  let expect: string | undefined;
  let interrupt = false;
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    if (argv[i] === "--jupyter") jupyter = value();
    else if (argv[i] === "-p") { const [k, v] = parseParameter(value()); values[k] = v; }
    else if (argv[i] === "--edit") edit = parseParameter(value());
    else if (argv[i] === "--expect") expect = value();
    else if (argv[i] === "--interrupt") interrupt = true;
    else notebooks.push(argv[i]);
  }
  if (notebooks.length === 0) notebooks.push("notebooks/_check.ipynb");
  if ((edit === undefined) !== (expect === undefined)) throw new Error("--edit and --expect go together");
  if ((edit || interrupt) && notebooks.length > 1) throw new Error("--edit and --interrupt check one notebook");
  if (edit && interrupt) throw new Error("--edit and --interrupt are separate checks");
  return { notebooks, jupyter, values, interrupt, ...(edit && expect !== undefined && { edit: { name: edit[0], value: edit[1], expect } }) };
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? done(address.port) : fail(new Error("no port"))));
    });
  });
}

async function startLab(jupyter: string, port: number, env: Record<string, string>): Promise<ChildProcess> {
  // Its own workspaces folder: JupyterLab restores the tabs of the last session (another check's, too) from there.
  const workspaces = mkdtempSync(join(tmpdir(), "cover-lab-check-"));
  const lab = spawn(jupyter, ["lab", "--no-browser", "--allow-root", `--port=${port}`, "--ServerApp.ip=127.0.0.1", `--LabApp.workspaces_dir=${workspaces}`,
    "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True", `--ServerApp.root_dir=${ROOT}`],
  { cwd: ROOT, env: { ...process.env, ...env, JUPYTER_PATH: join(ROOT, ".jupyter/share/jupyter") }, stdio: ["ignore", "ignore", "pipe"] });
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

/** Once the kernel is idle (it has started), runs every cell through JupyterLab's own command, without waiting. */
async function startAllCells(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const app = (globalThis as unknown as { jupyterapp?: { shell: { currentWidget?: { sessionContext?: { session?: { kernel?: { status: string } } } } } } }).jupyterapp;
    return app?.shell.currentWidget?.sessionContext?.session?.kernel?.status === "idle";
  }, undefined, { timeout: 300_000 }); // a kernel's start takes over a minute on a loaded machine
  // The command's promise settles only when every cell has run: not awaited here.
  await page.evaluate(() => { void (globalThis as unknown as { jupyterapp: { commands: { execute(id: string): Promise<unknown> } } }).jupyterapp.commands.execute("notebook:run-all-cells"); });
}

/** Runs every cell through JupyterLab's own command and waits until every cell ran again (or one failed). */
async function runAllCells(page: Page, timeoutMs: number): Promise<void> {
  const before = await lastExecutionCount(page);
  await startAllCells(page);
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

type KernelStatus = { id: string; status: string } | null;

/** The current notebook's kernel as the page's JupyterLab sees it (null before it is connected). */
function kernelOf(page: Page): Promise<KernelStatus> {
  return page.evaluate(() => {
    const app = (globalThis as unknown as { jupyterapp?: { shell: { currentWidget?: { sessionContext?: { session?: { kernel?: { id: string; status: string } | null } | null } } } } }).jupyterapp;
    const kernel = app?.shell.currentWidget?.sessionContext?.session?.kernel;
    return kernel ? { id: kernel.id, status: kernel.status } : null;
  });
}

/** Asks the kernel for its kernel_info from the page: true when it answers within `ms` (it is busy in a cell). */
function kernelAnswers(page: Page, ms: number): Promise<boolean> {
  return page.evaluate((ms) => {
    const app = (globalThis as unknown as { jupyterapp?: { shell: { currentWidget?: { sessionContext?: { session?: { kernel?: { requestKernelInfo(): Promise<unknown> } | null } | null } } } } }).jupyterapp;
    const kernel = app?.shell.currentWidget?.sessionContext?.session?.kernel;
    if (!kernel) return false;
    return Promise.race([kernel.requestKernelInfo().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  }, ms);
}

async function openNotebook(page: Page, port: number, path: string): Promise<void> {
  // ?reset: only this notebook, not the tabs an earlier notebook of this check left in the workspace.
  await page.goto(`http://127.0.0.1:${port}/lab/tree/${path}?reset`, { waitUntil: "domcontentloaded", timeout: 120_000 });
  await page.locator(".jp-Notebook .jp-Cell").first().waitFor({ timeout: 120_000 });
}

/** Ends the notebook's kernel (a closed tab leaves it running, and every notebook of a run has its own). */
async function shutDownKernel(page: Page): Promise<void> {
  await page.evaluate(() => {
    const app = (globalThis as unknown as { jupyterapp?: { shell: { currentWidget?: { sessionContext?: { shutdown(): Promise<void> } } } } }).jupyterapp;
    return app?.shell.currentWidget?.sessionContext?.shutdown();
  });
}

/** Cell errors on the page (stderr outputs that name an error). */
async function cellErrors(page: Page): Promise<string[]> {
  const errors = await page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").allTextContents();
  return errors.filter((e) => /Error|error TS/.test(e));
}

/** Hovers every plotly output until it is a live chart with a tooltip; returns what failed. */
async function checkCharts(page: Page): Promise<string[]> {
  const problems: string[] = [];
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
    // Hover the drawn data points first (bars and markers plotly draws as `.point`; a bar of height or width 0, e.g. an
    // effect of 0 at smoke scale, has nothing to hover), then a grid over the plot area: rows from the middle down to
    // near the axis, a point every 5% across. Under load a tooltip can take a few hundred ms.
    let tooltips = 0;
    const points = live > 0 ? await chart.locator(".plot-container .point").all() : [];
    for (const point of points.slice(0, 12)) {
      const p = await point.boundingBox();
      if (!p || p.width < 1 || p.height < 1) continue;
      await page.mouse.move(p.x + p.width / 2, p.y + p.height / 2);
      await page.waitForTimeout(200);
      tooltips = await chart.locator(".hoverlayer .hovertext").count();
      if (tooltips) break;
    }
    for (const y of [0.55, 0.7, 0.8, 0.4]) {
      if (tooltips) break;
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
  return problems;
}

/** Types the edit into the parameters cell, runs every cell again and checks the outputs; returns what failed. */
async function checkEdit(page: Page, copy: string, parametersAt: number, edit: NonNullable<Args["edit"]>): Promise<string[]> {
  const problems: string[] = [];
  const work = dirname(copy);
  const name = basename(copy, ".ipynb");
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
  return problems;
}

const TRAINING = /train [^:\n]*: (\d+)\/(\d+) steps/;
const CHECKPOINTED = /InterruptedError: interrupted by SIGINT: the run is checkpointed at step (\d+)\/(\d+) in (\S+);/;

/** The text of every output of the code cells, by cell index on the page. */
function cellOutputs(page: Page): Promise<string[]> {
  return page.locator(".jp-Notebook .jp-Cell").evaluateAll((cells) => cells.map((c) => c.querySelector(".jp-OutputArea")?.textContent ?? ""));
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | null | undefined | false>): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > until) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Runs all cells, interrupts the cell that trains with the toolbar's Interrupt button, checks the stop and the
 * checkpoint, then runs that cell again and checks that it resumes and finishes; returns what failed.
 */
async function checkInterrupt(browser: Browser, page: Page, port: number, copy: string): Promise<string[]> {
  const problems: string[] = [];
  const work = dirname(copy);
  const shot = async (p: Page, stage: string) => {
    const file = join(work, `interrupt-${stage}.png`);
    await p.screenshot({ path: file });
    console.log(`lab-check: screenshot ${relative(ROOT, file)}`);
  };
  await startAllCells(page);
  const [cell, step] = await waitFor("a cell showing training progress", 10 * 60_000, async () => {
    const outputs = await cellOutputs(page);
    const at = outputs.findIndex((o) => Number(TRAINING.exec(o)?.[1] ?? 0) >= 3);
    return at >= 0 ? [at, Number(TRAINING.exec(outputs[at])![1])] as const : null;
  });
  const kernel = await kernelOf(page);
  const indicator = await page.locator(".jp-Notebook-ExecutionIndicator").first().getAttribute("data-status");
  console.log(`lab-check: cell ${cell + 1} trains (step ${step} shown); kernel ${kernel?.status}, toolbar indicator ${indicator}`);
  if (kernel?.status !== "busy" || indicator !== "busy") problems.push(`while the cell trains the kernel is ${kernel?.status} and the toolbar indicator ${indicator}, not busy`);
  await page.locator(".jp-Notebook .jp-Cell").nth(cell).scrollIntoViewIfNeeded();
  await shot(page, "1-training");
  if (!(await kernelAnswers(page, 10_000))) problems.push("the kernel did not answer kernel_info within 10 s while the cell trains");

  const second = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await openNotebook(second, port, relative(ROOT, copy));
  const seen = await waitFor("the second tab connected to the kernel", 60_000, async () => {
    const k = await kernelOf(second);
    return k && k.status !== "unknown" && k.status !== "starting" ? k : null;
  });
  const answers = await kernelAnswers(second, 10_000);
  console.log(`lab-check: a second tab on the notebook sees kernel ${seen.id === kernel?.id ? "the same" : "another"} (${seen.status}), which ${answers ? "answers" : "does not answer"} kernel_info`);
  if (seen.id !== kernel?.id || seen.status !== "busy" || !answers) problems.push(`the second tab sees kernel ${seen.id} (${seen.status}, ${answers ? "answering" : "not answering"}), not the busy kernel ${kernel?.id} answering`);
  await shot(second, "2-second-tab");
  await second.close();

  await page.locator(".jp-NotebookPanel-toolbar").getByTitle("Interrupt the kernel").click();
  const clicked = performance.now();
  console.log("lab-check: clicked the toolbar's Interrupt button");
  const stopped = await waitFor("the cell's InterruptedError with its checkpoint", 10_000, async () => CHECKPOINTED.exec((await cellOutputs(page))[cell]))
    .catch((err: Error) => { problems.push(err.message); return null; });
  const idle = await waitFor("the kernel idle again", Math.max(1000, 10_000 - (performance.now() - clicked)), async () => {
    const k = await kernelOf(page);
    return k?.status === "idle" ? k : null;
  }).catch((err: Error) => { problems.push(err.message); return null; });
  await page.locator(".jp-Notebook .jp-Cell").nth(cell).scrollIntoViewIfNeeded();
  await shot(page, "3-interrupted");
  if (idle && idle.id !== kernel?.id) problems.push(`after the interrupt the notebook has another kernel (${idle.id}, was ${kernel?.id})`);
  if (!stopped) return problems;
  const [, at, total, dir] = stopped;
  console.log(`lab-check: ${((performance.now() - clicked) / 1000).toFixed(1)} s after the click: checkpointed at step ${at}/${total} in ${dir}, kernel ${idle?.status ?? "not idle"}`);
  if (!hasCheckpoint(resolve(ROOT, dir))) problems.push(`${dir} has no checkpoint after the interrupt`);

  // The same cell again, the way a person does (click into it, Shift+Enter): it needs the setup cells' variables, so
  // it also shows that the kernel was not restarted.
  const resumed = `(resumed at step ${at})`;
  await page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".cm-content").click();
  await page.keyboard.press("Shift+Enter");
  let sawResume = false;
  const rerun = performance.now();
  await waitFor("the rerun cell to finish", 10 * 60_000, async () => {
    const output = (await cellOutputs(page))[cell];
    if (!sawResume && output.includes(resumed)) { sawResume = true; await shot(page, "4-resuming"); }
    const prompt = (await page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".jp-InputArea-prompt").textContent()) ?? "";
    return !prompt.includes("*") && /\[\d+\]/.test(prompt) && (await kernelOf(page))?.status === "idle";
  });
  const output = (await cellOutputs(page))[cell];
  console.log(`lab-check: the cell ran again in ${((performance.now() - rerun) / 1000).toFixed(1)} s; ${sawResume ? `its progress showed "${resumed}"` : "it never showed a resume"}`);
  if (!sawResume) problems.push(`the rerun's progress never showed "${resumed}"`);
  if (/Error/.test(output)) problems.push(`the rerun failed: ${output.slice(0, 1500)}`);
  if (!readRunResults(resolve(ROOT, dir))) problems.push(`${dir} has no results.json after the rerun`);
  await page.locator(".jp-Notebook .jp-Cell").nth(cell).scrollIntoViewIfNeeded();
  await shot(page, "5-finished");
  return problems;
}

/** Opens one notebook's copy in its own tab and runs the checks asked for; returns what failed. */
async function checkNotebook(browser: Browser, port: number, notebook: string, args: Args): Promise<string[]> {
  const { values, edit, interrupt } = args;
  const copyJson = withParameterValues(resolve(notebook), values) as { cells: { cell_type: string; source: string | string[]; metadata?: { tags?: string[] } }[] };
  const parametersAt = parametersCellIndex(copyJson.cells, notebook);
  const work = join(ROOT, "runs/lab-check");
  mkdirSync(work, { recursive: true });
  // The interrupt check has its own copy: it may run beside a check of the same notebook.
  const copy = join(work, `${interrupt ? "interrupt-" : ""}${basename(notebook)}`);
  writeFileSync(copy, JSON.stringify(copyJson, null, 1) + "\n");
  const path = relative(ROOT, copy);
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const problems: string[] = [];
  const started = performance.now();
  try {
    await openNotebook(page, port, path);
    console.log(`lab-check: opened ${path} in JupyterLab on port ${port}${Object.keys(values).length ? ` with ${JSON.stringify(values)}` : ""}; running all cells`);
    if (interrupt) {
      problems.push(...await checkInterrupt(browser, page, port, copy));
      return problems;
    }
    await runAllCells(page, 15 * 60_000);
    if (edit) problems.push(...await checkEdit(page, copy, parametersAt, edit));
    const failures = await cellErrors(page);
    if (failures.length) problems.push(`cells reported errors:\n${failures.join("\n").slice(0, 2000)}`);
    problems.push(...await checkCharts(page));
    const shot = join(work, `${basename(path, ".ipynb")}.png`);
    await page.screenshot({ path: shot, fullPage: false });
    console.log(`lab-check: screenshot ${relative(ROOT, shot)}`);
    return problems;
  } finally {
    console.log(`lab-check: ${basename(notebook)} ${problems.length ? "FAILED" : "passed"} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await shutDownKernel(page).catch(() => undefined);
    await page.close();
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const browserPath = findChromium();
  if ("reason" in browserPath) throw new Error(browserPath.reason);
  // Interrupted runs train from scratch in their own runs folder: the shared cache would hold them finished next time.
  const runs = join(ROOT, "runs/lab-check/interrupt-runs");
  if (args.interrupt) rmSync(runs, { recursive: true, force: true });
  const port = await freePort();
  const lab = await startLab(args.jupyter, port, args.interrupt ? { COVER_RUNS: runs } : {});
  const browser = await chromium.launch({ executablePath: browserPath.path, headless: true, args: CHROMIUM_ARGS });
  const failed: string[] = [];
  try {
    for (const notebook of args.notebooks) {
      const problems = await checkNotebook(browser, port, notebook, args);
      if (problems.length) failed.push(`${basename(notebook)}:\n  - ${problems.join("\n  - ")}`);
    }
  } finally {
    await browser.close();
    lab.kill("SIGTERM");
  }
  if (failed.length) {
    console.error(`lab-check: FAILED\n${failed.join("\n")}`);
    process.exit(1);
  }
  console.log(`lab-check: passed (${args.notebooks.length} notebook${args.notebooks.length > 1 ? "s" : ""})`);
}

main().catch((err: unknown) => {
  console.error(`lab-check: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
