/**
 * npm run notebooks:run -- [--scale smoke|cpu|paper] [-p name=value ...] [--out dir] [--timeout seconds] [--seed n] [notebooks...]
 *
 * Executes notebooks headless through Jupyter (nbclient, Debian's python3) with the project's tslab kernel. Parameters
 * go in as papermill does it: a cell after each notebook's parameters cell redeclares `scale` (from --scale) and every
 * `-p name=value` (value as JSON, e.g. -p seeds=[0,1], else text; --seed n is -p seeds=[n]). The output folder comes
 * through COVER_OUT, which a parameters cell's `out = null` falls back to. The runner
 * writes the executed copies to <out>/<name>.ipynb and their exports to <out>/<name>/, then checks that every
 * table and figure declared in the notebook's metadata.cover was exported. Exits 1 when any notebook fails.
 * Default notebooks: every notebooks/*.ipynb. The kernel is (re-)registered first (scripts/notebooks-setup.sh).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parseFlags, UsageError } from "../src/cli/args";
import { SCALES, Scale } from "../src/runs/scales";
import { findChromium } from "../src/report/browser";
import { checkExports, declaredExports, describeFailure } from "./lib/nbcheck";
import { injectParameters, parseParameter, ParameterValue } from "./lib/nbparams";
import { executeNotebook } from "./lib/nbrun";
import { PROJECT_ROOT } from "../src/util/paths";
import { writeFileAtomic } from "../src/util/atomic";

const JUPYTER_PATH = join(PROJECT_ROOT, ".jupyter", "share", "jupyter");

interface Outcome { notebook: string; ok: boolean; seconds: number; problems: string[]; executed: string; out: string }

const USAGE = "usage: npm run notebooks:run -- [--scale smoke|cpu|paper] [-p name=value ...] [--out dir] [--timeout seconds-per-cell] [--seed n] [--python path] [notebooks...]";

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) { console.log(USAGE); return 0; }
  const flags = parseFlags(argv.map((a) => (a === "-p" ? "--param" : a)), { scale: "string", out: "string", timeout: "string", seed: "string", python: "string", param: "strings" });
  const scale = (flags.string("scale") ?? "smoke") as Scale;
  if (!SCALES.includes(scale)) throw new UsageError(`--scale must be one of ${SCALES.join(", ")}, got '${scale}'`);
  const outRoot = resolve(flags.string("out") ?? join(PROJECT_ROOT, "runs", "notebooks-run", scale));
  const cellTimeout = flags.int("timeout", 1800);
  const overrides = parameterOverrides(scale, flags.strings("param"), flags.int("seed"));
  const python = flags.string("python") ?? process.env.COVER_JUPYTER_PYTHON ?? "/usr/bin/python3";
  flags.rejectUnknown();
  const notebooks = flags.positionals.length ? flags.positionals.map((p) => resolve(p)) : defaultNotebooks();
  if (notebooks.length === 0) throw new UsageError("no notebooks given and none in notebooks/");
  for (const nb of notebooks) if (!existsSync(nb)) throw new UsageError(`${nb}: no such notebook`);

  ensureKernel(python);
  const browser = findChromium();
  const staticFormat = "path" in browser ? "png" : undefined;
  if ("reason" in browser) console.error(`notebooks: ${browser.reason}; figures are checked for HTML only`);
  mkdirSync(outRoot, { recursive: true });

  const outcomes: Outcome[] = [];
  for (const [i, notebook] of notebooks.entries()) {
    const name = basename(notebook, ".ipynb");
    const out = join(outRoot, name);
    const executed = join(outRoot, `${name}.ipynb`);
    console.error(`[${i + 1}/${notebooks.length}] ${relative(process.cwd(), notebook)} (scale ${scale})`);
    const problems: string[] = [];
    let declared;
    try { declared = declaredExports(notebook); } catch (err) { problems.push((err as Error).message); }
    const input = join(outRoot, `${name}.input.ipynb`);
    try {
      writeFileAtomic(input, JSON.stringify(injectParameters(notebook, overrides), null, 1) + "\n");
    } catch (err) {
      problems.push((err as Error).message);
      outcomes.push({ notebook: relative(PROJECT_ROOT, notebook), ok: false, seconds: 0, problems, executed, out });
      console.error(`  FAILED: ${(err as Error).message}`);
      continue;
    }
    const run = await executeNotebook({
      notebook: input, executed, python, cellTimeout, workingDir: dirname(notebook),
      env: { ...process.env, JUPYTER_PATH, COVER_SCALE: scale, COVER_OUT: out },
    });
    if (!run.ok) {
      const failure = existsSync(executed) ? describeFailure(executed, run.failedCell) : null;
      problems.push(failure ?? run.error ?? "execution failed");
      // nbclient's own line adds nothing when the cell's output was found ("CellExecutionError: <Error>:").
      if (failure && run.error && !run.error.startsWith("CellExecutionError")) problems.push(run.error);
    } else if (declared) {
      problems.push(...checkExports(declared, out, staticFormat));
    }
    const ok = problems.length === 0;
    outcomes.push({ notebook: relative(PROJECT_ROOT, notebook), ok, seconds: round(run.seconds), problems, executed, out });
    console.error(`  ${ok ? "ok" : "FAILED"} in ${run.seconds.toFixed(1)} s${ok ? `: ${declared?.tables.length ?? 0} tables, ${declared?.figures.length ?? 0} figures in ${relative(process.cwd(), out)}` : ""}`);
    for (const p of problems) console.error(p.split("\n").map((l) => `  ${l}`).join("\n"));
  }

  writeFileAtomic(join(outRoot, "summary.json"), JSON.stringify({ scale, notebooks: outcomes }, null, 2) + "\n");
  const failed = outcomes.filter((o) => !o.ok).length;
  console.log(`notebooks: ${outcomes.length - failed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

/** --scale, then every -p name=value, then --seed n as seeds=[n]. */
function parameterOverrides(scale: Scale, params: string[], seed: number | undefined): Record<string, ParameterValue> {
  const overrides: Record<string, ParameterValue> = { scale };
  for (const flag of params) {
    let parsed: [string, ParameterValue];
    try { parsed = parseParameter(flag); } catch (err) { throw new UsageError((err as Error).message); }
    overrides[parsed[0]] = parsed[1];
  }
  if (seed !== undefined) {
    if ("seeds" in overrides) throw new UsageError("give --seed or -p seeds=[...], not both");
    overrides.seeds = [seed];
  }
  return overrides;
}

function defaultNotebooks(): string[] {
  const dir = join(PROJECT_ROOT, "notebooks");
  return readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort().map((f) => join(dir, f));
}

/** (Re-)registers the project's kernel: idempotent, a few seconds, and right for this checkout's paths. */
function ensureKernel(python: string): void {
  const setup = spawnSync("bash", [join(PROJECT_ROOT, "scripts", "notebooks-setup.sh")], {
    encoding: "utf8", env: { ...process.env, COVER_JUPYTER_PYTHON: python },
  });
  if (setup.status !== 0) throw new Error(`notebooks: kernel registration failed:\n${setup.stdout}${setup.stderr}`);
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
  console.error(err instanceof UsageError ? `notebooks:run: ${err.message}\n${USAGE}` : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
