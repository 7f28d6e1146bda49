/**
 * Training planned runs side by side on this machine: up to `jobs` runs at once, each as
 * `cover train <run>/config.json --out <run> --resume --quiet` in its own process (its output appended to
 * <run>/local-job.log), a run that starts from another run's weights only once that run is finished.
 *
 * Why processes and not threads: a laptop-scale run is too small to keep two TensorFlow threads busy. Measured on 2
 * cores (native backend, one COVER epoch at cpu scale, 159 steps): 67 s with TensorFlow's default threads, 54 s with
 * one thread, and two one-thread runs side by side took 58 s each. So every process gets cores / jobs compute
 * threads (TF_NUM_INTRAOP_THREADS, unless the environment sets it); on wasm, which computes on one thread, a process
 * gets its second thread (a model worker) only where cores / jobs leaves it one.
 *
 * Each process runs in its own process group, so that a Ctrl-C at the terminal reaches only this process, which
 * passes one SIGTERM to every training process: each checkpoints after its micro-batch, and the same command again
 * resumes them.
 */
import { ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { PROJECT_ROOT } from "../util/paths";
import { interruptedBy } from "../util/interrupt";
import { readRunResults, runFiles, writeRunConfig } from "../runs/folder";
import type { ExperimentPlan, PlannedRun } from "./planning";
import { lastLogLine, lastStep } from "./slurm";

export interface ProcessPoolOptions {
  /** Runs trained at once (at least 1). */
  jobs: number;
  /** The compute backend the training processes must use (`cover train --backend`); by default each chooses. */
  backend?: string;
  log(line: string): void;
  signal?: AbortSignal;
  /** Seconds between two lines listing the running runs' steps (default 60). */
  reportSeconds?: number;
}

export const localJobLogPath = (runDir: string): string => join(runDir, "local-job.log");

/**
 * Trains every run a plan lists in a pool of processes, planning again after each round (an experiment that needs a
 * run's results before it asks for its next runs), until the plan lists no unfinished run. Throws, naming each
 * failed run with the last line of its log, when a run ends without results; the same call again retrains only those.
 */
export async function trainInProcesses(what: string, plan: () => Promise<ExperimentPlan>, options: ProcessPoolOptions): Promise<void> {
  const trained = new Set<string>();
  for (;;) {
    const planned = await plan();
    if (planned.runs.length === 0) return;
    const repeated = planned.runs.find((r) => trained.has(r.dir));
    if (repeated) throw new Error(`${what}: run ${repeated.name} (${repeated.dir}) is still unfinished after it was trained`);
    const failed = await trainPool(planned.runs, options);
    if (failed.length) {
      const lines = failed.map(({ run, why }) => `  ${label(run)} (${run.dir}): ${why}`);
      throw new Error(`${what}: ${failed.length} of ${planned.runs.length} runs failed; the same command again retrains only the unfinished ones:\n${lines.join("\n")}`);
    }
    for (const r of planned.runs) trained.add(r.dir);
  }
}

interface Running { run: PlannedRun; child: ChildProcess; started: number; exited: Promise<number | null> }

export interface FailedRun { run: PlannedRun; why: string }

/** Trains `runs` (a run after the one it starts from; see nextRun), `jobs` at a time; returns the runs that failed. */
export async function trainPool(runs: PlannedRun[], options: ProcessPoolOptions): Promise<FailedRun[]> {
  const jobs = Math.max(1, Math.floor(options.jobs));
  const threads = Math.max(1, Math.floor(availableParallelism() / jobs));
  const waiting = [...runs];
  const running = new Map<string, Running>();
  const failed: FailedRun[] = [];
  const failedDirs = new Set<string>();
  const planned = new Set(runs.map((r) => r.dir));
  const start = Date.now();
  const stamp = () => `[${Math.round((Date.now() - start) / 1000)} s]`;
  const reportMs = (options.reportSeconds ?? 60) * 1000;
  let lastReport = Date.now();
  try {
    while (waiting.length || running.size) {
      if (options.signal?.aborted) throw await stopAll(running, options.signal);
      for (const run of [...waiting]) {
        const blocker = run.after && (failedDirs.has(run.after) ? "failed" : !planned.has(run.after) && !readRunResults(run.after) ? "is neither finished nor planned" : null);
        if (!blocker) continue;
        waiting.splice(waiting.indexOf(run), 1);
        failed.push({ run, why: `the run it starts from (${run.after}) ${blocker}` });
        failedDirs.add(run.dir);
      }
      while (running.size < jobs) {
        const next = nextRun(waiting, (r) => !r.after || readRunResults(r.after) !== null);
        if (!next) break;
        waiting.splice(waiting.indexOf(next), 1);
        if (readRunResults(next.dir)) { // e.g. by another experiment sharing the run cache
          options.log(`${stamp()} ${label(next)}: finished elsewhere since it was planned`);
          continue;
        }
        running.set(next.dir, launch(next, threads, options.backend));
        options.log(`${stamp()} ${label(next)}: training (${running.size} running, ${waiting.length} waiting; log ${localJobLogPath(next.dir)})`);
      }
      if (!running.size) continue; // only runs whose dependency just failed are left: marked failed above
      const ended = await nextExit([...running.values()], options.signal, reportMs);
      if (!ended) {
        if (Date.now() - lastReport >= reportMs) {
          lastReport = Date.now();
          options.log(`${stamp()} ${[...running.values()].map((r) => `${label(r.run)} step ${lastStep(r.run.dir) ?? 0}`).join(", ")}`);
        }
        continue;
      }
      running.delete(ended.r.run.dir);
      const seconds = Math.round((Date.now() - ended.r.started) / 1000);
      if (readRunResults(ended.r.run.dir)) {
        options.log(`${stamp()} ${label(ended.r.run)}: done in ${seconds} s`);
      } else {
        const log = localJobLogPath(ended.r.run.dir);
        const why = `exit ${ended.code ?? "by signal"} after ${seconds} s: ${lastLogLine(log) ?? `no output (${log})`}`;
        options.log(`${stamp()} ${label(ended.r.run)}: failed, ${why}`);
        failed.push({ run: ended.r.run, why });
        failedDirs.add(ended.r.run.dir);
      }
    }
    return failed;
  } finally {
    for (const r of running.values()) r.child.kill("SIGTERM"); // an error here: no training process outlives the pool
  }
}

/**
 * The next run to start among the waiting runs that are ready: the one most waiting runs start from, directly or
 * through others, ties in plan order. Pre-trainings go first, so the runs that start from them are not left to train
 * alone at the end while the other cores idle.
 */
export function nextRun(waiting: PlannedRun[], isReady: (run: PlannedRun) => boolean): PlannedRun | undefined {
  const byDir = new Map(waiting.map((r) => [r.dir, r]));
  const dependents = new Map<string, number>();
  for (const run of waiting) {
    for (let from = run.after && byDir.get(run.after); from; from = from.after && byDir.get(from.after)) {
      dependents.set(from.dir, (dependents.get(from.dir) ?? 0) + 1);
    }
  }
  let best: PlannedRun | undefined;
  for (const run of waiting.filter(isReady)) {
    if (!best || (dependents.get(run.dir) ?? 0) > (dependents.get(best.dir) ?? 0)) best = run;
  }
  return best;
}

/** A run as the log names it: its name and seed (an experiment over seeds trains each name once per seed). */
function label(run: PlannedRun): string { return `${run.name} seed ${run.config.seed}`; }

function launch(run: PlannedRun, threads: number, backend: string | undefined): Running {
  mkdirSync(run.dir, { recursive: true });
  // An interrupted run's config.json is kept: `cover train --resume` checks it against the checkpoint.
  if (!existsSync(runFiles(run.dir).config)) writeRunConfig(run.dir, run.config);
  const log = openSync(localJobLogPath(run.dir), "a");
  const args = [join(PROJECT_ROOT, "bin", "cover.js"), "train", runFiles(run.dir).config, "--out", run.dir, "--resume", "--quiet", ...(backend ? ["--backend", backend] : [])];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TF_NUM_INTRAOP_THREADS: process.env.TF_NUM_INTRAOP_THREADS ?? String(threads),
    TF_NUM_INTEROP_THREADS: process.env.TF_NUM_INTEROP_THREADS ?? "1",
  };
  // wasm's second thread (model-worker.ts) only where the processes leave a core free for it
  if (threads < 2) env.COVER_MODEL_WORKER ??= "off";
  const child = spawn(process.execPath, args, { stdio: ["ignore", log, log], env, detached: true });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", () => resolve(-1));
    child.once("exit", (code) => resolve(code));
  });
  return { run, child, started: Date.now(), exited };
}

/** The first training process to end, or null after `ms` (or as soon as `signal` aborts). */
function nextExit(running: Running[], signal: AbortSignal | undefined, ms: number): Promise<{ r: Running; code: number | null } | null> {
  return new Promise((resolve) => {
    const done = (value: { r: Running; code: number | null } | null) => { clearTimeout(timer); signal?.removeEventListener("abort", onAbort); resolve(value); };
    const onAbort = () => done(null);
    const timer = setTimeout(() => done(null), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
    for (const r of running) void r.exited.then((code) => done({ r, code }));
  });
}

/** Asks every training process to checkpoint and stop (SIGTERM), waits for them, and returns the error to throw. */
async function stopAll(running: Map<string, Running>, signal: AbortSignal): Promise<Error> {
  const names = [...running.values()].map((r) => label(r.run));
  for (const r of running.values()) r.child.kill("SIGTERM");
  await Promise.all([...running.values()].map((r) => r.exited));
  running.clear();
  return interruptedBy(signal, names.length
    ? `${names.length} run${names.length > 1 ? "s" : ""} checkpointed (${names.join(", ")}); the same command again resumes them`
    : "no run was training; the same command again goes on");
}
