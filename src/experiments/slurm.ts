/**
 * Training planned runs as Slurm jobs: every run runs `cover train <run>/config.json --out <run> --resume` in its own
 * folder of the shared run cache, so a job that is preempted, requeued or cancelled and submitted again continues from
 * its checkpoint. Runs with the same dependency are submitted together as one job array (`sbatch --array`), one task
 * per run; a run initialised from another run's weights depends on that run's task (`--dependency=afterok`). Each
 * run folder keeps its task's record (slurm-job.json, job id `<array job>_<task>`) and log (slurm-<job id>.out),
 * which is how later commands find a run's job again; each array's script and run list lie in <runs root>/jobs/.
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { PROJECT_ROOT } from "../util/paths";
import { writeFileAtomic } from "../util/atomic";
import { interruptedBy } from "../util/interrupt";
import { lockPath } from "../runs/lock";
import { readRunResults, runFiles, writeRunConfig } from "../runs/folder";
import type { PlannedRun } from "./planning";

export interface SlurmOptions {
  partition?: string;
  /** GPUs per job (`--gres=gpu:N`); none by default. */
  gpusPerRun?: number;
  /** Time limit per job, HH:MM:SS (or any form sbatch takes). */
  time?: string;
  /** The compute backend the jobs must use (`cover train --backend`); by default each job chooses as cover train does. */
  backend?: string;
}

/** A job as squeue lists it. */
export interface QueuedJob { jobId: string; state: string; reason: string }

/** What slurm-job.json in a run folder holds: the job (array task, `<array job>_<task>`) last submitted for the run. */
export interface JobRecord { jobId: string; submitted: string; dependsOn: string[] }

/** Slurm's commands (sbatch, squeue, scancel) from PATH. */
export class SlurmCommands {
  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** Submits a batch script; returns the job id. */
  submit(args: string[]): string {
    const out = this.call("sbatch", ["--parsable", ...args]);
    const jobId = out.trim().split(";")[0];
    if (!/^\d+(_\d+)?$/.test(jobId)) throw new Error(`sbatch answered '${out.trim()}', not a job id`);
    return jobId;
  }

  /**
   * This user's jobs still known to the controller (pending, running, completing, requeued...), one entry per array
   * task (`-r`: without it squeue lists an array's pending tasks on one line, as `<array job>_[0-3]`).
   */
  queue(): Map<string, QueuedJob> {
    const user = this.env.USER ?? this.env.LOGNAME;
    const out = this.call("squeue", ["-h", "-r", "-o", "%i|%T|%r", ...(user ? ["-u", user] : [])]);
    const jobs = new Map<string, QueuedJob>();
    for (const line of out.split("\n").filter((l) => l.trim())) {
      const [jobId, state, reason] = line.trim().split("|");
      jobs.set(jobId, { jobId, state, reason: reason ?? "" });
    }
    return jobs;
  }

  cancel(jobId: string): void {
    this.call("scancel", [jobId]);
  }

  private call(command: string, args: string[]): string {
    const result = spawnSync(command, args, { encoding: "utf8", env: this.env, timeout: 60_000 });
    if (result.error) {
      const code = (result.error as NodeJS.ErrnoException).code;
      throw new Error(code === "ENOENT"
        ? `${command} not found on PATH: the slurm executor needs Slurm's commands (run it on a login node of the cluster)`
        : `${command}: ${result.error.message}`);
    }
    if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status}): ${(result.stderr || result.stdout).trim()}`);
    return result.stdout;
  }
}

/** Job states in which a job will still train its run (or is training it). */
const ACTIVE_STATES = new Set(["PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING"]);

/** A pending job whose dependency failed waits forever (unless the cluster kills such jobs): it will never run. */
export function isStuck(job: QueuedJob): boolean {
  return job.state === "PENDING" && job.reason === "DependencyNeverSatisfied";
}

export function isActive(job: QueuedJob | undefined): job is QueuedJob {
  return job !== undefined && ACTIVE_STATES.has(job.state) && !isStuck(job);
}

export const jobRecordPath = (runDir: string) => join(runDir, "slurm-job.json");
export const jobLogPath = (runDir: string, jobId: string) => join(runDir, `slurm-${jobId}.out`);

export function readJobRecord(runDir: string): JobRecord | null {
  const path = jobRecordPath(runDir);
  if (!existsSync(path)) return null;
  try {
    const json = JSON.parse(readFileSync(path, "utf8")) as Partial<JobRecord>;
    if (typeof json.jobId === "string" && typeof json.submitted === "string" && Array.isArray(json.dependsOn)) return json as JobRecord;
  } catch { /* garbled: treated as no record below */ }
  throw new Error(`${path}: not a job record (expected {"jobId", "submitted", "dependsOn"}); delete it if no job trains this run`);
}

/** A run and the job that trains it. */
export interface SubmittedRun {
  run: PlannedRun;
  /** The array task training the run, `<array job id>_<task id>` (a plain job id in records from before arrays). */
  jobId: string;
  /** The jobs it waits for (afterok). */
  dependsOn: string[];
  /** True when a job already queued for the run was kept. */
  reused: boolean;
}

/** The most tasks one array gets: Slurm's default MaxArraySize (1001) allows task ids 0 to 1000. */
export const MAX_ARRAY_TASKS = 1000;

/**
 * Submits a job for each planned run (given in plan order: a run after the one it starts from), keeping a job that is
 * still queued or running for a run instead of submitting a second one. The others are submitted as job arrays (see
 * arrayGroups); each array's script and run list are written into a new folder under `jobsDir`.
 */
export function submitRuns(runs: PlannedRun[], options: SlurmOptions, slurm: SlurmCommands, jobsDir: string): SubmittedRun[] {
  const queue = slurm.queue();
  const jobOf = new Map<string, string>();
  const byDir = new Map<string, SubmittedRun>();
  const missing: PlannedRun[] = [];
  for (const run of runs) {
    const record = readJobRecord(run.dir);
    const queued = record ? queue.get(record.jobId) : undefined;
    if (record && isActive(queued)) {
      jobOf.set(run.dir, record.jobId);
      byDir.set(run.dir, { run, jobId: record.jobId, dependsOn: record.dependsOn, reused: true });
      continue;
    }
    if (record && queued && isStuck(queued)) slurm.cancel(record.jobId);
    if (record) removeLockOfEndedJob(run.dir, record);
    missing.push(run);
  }
  for (const group of arrayGroups(missing)) {
    // The task that trains the run this array starts from (afterok:<array>_<task>), not that task's whole array
    // (afterok:<array> waits for every task): a fine-tuning then starts as soon as its own image pre-training is done,
    // and one seed's failed pre-training cancels (--kill-on-invalid-dep) only the runs that start from it.
    const dependsOn = group[0].after ? [dependencyJob(group[0], jobOf)] : [];
    const jobIds = submitArray(group, dependsOn, options, slurm, jobsDir);
    group.forEach((run, i) => {
      jobOf.set(run.dir, jobIds[i]);
      byDir.set(run.dir, { run, jobId: jobIds[i], dependsOn, reused: false });
    });
  }
  return runs.map((run) => byDir.get(run.dir) as SubmittedRun);
}

/**
 * Runs to submit, grouped into job arrays in submission order. Runs that start from the same run, or from none, are
 * independent of each other and wait for the same job: one array (split every MAX_ARRAY_TASKS tasks). A group is
 * created at its first run, which comes after the run it starts from, whose group is therefore created (and
 * submitted) before it.
 */
export function arrayGroups(runs: PlannedRun[]): PlannedRun[][] {
  const groups = new Map<string, PlannedRun[]>();
  for (const run of runs) {
    const key = run.after ?? "";
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].flatMap((group) =>
    Array.from({ length: Math.ceil(group.length / MAX_ARRAY_TASKS) }, (_, i) => group.slice(i * MAX_ARRAY_TASKS, (i + 1) * MAX_ARRAY_TASKS)));
}

/**
 * A job killed hard (SIGKILL, a node lost) leaves its run.lock behind, naming a process on the node it ran on, which
 * no other node can check; the next job would then find the run locked for ever. A lock taken after the run's last
 * job was submitted, once that job has left the queue, is that job's: it is removed.
 */
function removeLockOfEndedJob(runDir: string, record: JobRecord): void {
  const path = lockPath(runDir);
  let started: string | undefined;
  try { started = (JSON.parse(readFileSync(path, "utf8")) as { started?: string }).started; } catch { return; }
  if (started !== undefined && Date.parse(started) >= Date.parse(record.submitted)) rmSync(path, { force: true });
}

function dependencyJob(run: PlannedRun, jobOf: Map<string, string>): string {
  const after = run.after as string;
  const job = jobOf.get(after);
  if (job) return job;
  if (readRunResults(after)) throw new Error(`run ${run.name}: planned to wait for ${after}, which is finished (plan again)`);
  throw new Error(`run ${run.name} starts from ${after}, which is neither finished nor planned`);
}

export const arrayListPath = (arrayDir: string) => join(arrayDir, "runs.txt");
export const arrayScriptPath = (arrayDir: string) => join(arrayDir, "job.sh");

/**
 * One array for the runs: its folder holds the run list (task i trains line i + 1), the script, and for each task a
 * link `<i>` to its run folder, through which Slurm writes the task's log into the run folder (--output takes one
 * pattern for every task; %a picks the link). Returns each run's task id, `<array job id>_<i>`.
 */
function submitArray(runs: PlannedRun[], dependsOn: string[], options: SlurmOptions, slurm: SlurmCommands, jobsDir: string): string[] {
  for (const run of runs) {
    if (/[\n\r]/.test(run.dir)) throw new Error(`run folder ${JSON.stringify(run.dir)}: a line break in its path cannot go into an array's run list`);
    // An interrupted run's config.json is kept: `cover train --resume` checks it against the checkpoint.
    if (!existsSync(runFiles(run.dir).config)) writeRunConfig(run.dir, run.config);
  }
  mkdirSync(jobsDir, { recursive: true });
  const dir = mkdtempSync(join(jobsDir, `${new Date().toISOString().replace(/[-:]|\.\d+Z$/g, "")}-`));
  writeFileAtomic(arrayListPath(dir), runs.map((r) => r.dir).join("\n") + "\n");
  runs.forEach((run, i) => symlinkSync(relative(dir, run.dir), join(dir, String(i))));
  writeFileSync(arrayScriptPath(dir), arrayScript(dir, options.backend), { mode: 0o755 });
  const submitted = new Date().toISOString();
  const arrayId = slurm.submit([...sbatchArgs(runs, dir, dependsOn, options), arrayScriptPath(dir)]);
  return runs.map((run, i) => {
    const jobId = `${arrayId}_${i}`;
    const record: JobRecord = { jobId, submitted, dependsOn };
    writeFileAtomic(jobRecordPath(run.dir), JSON.stringify(record, null, 2) + "\n");
    return jobId;
  });
}

/** The sbatch options of an array of runs, whose folder is `arrayDir`. */
export function sbatchArgs(runs: PlannedRun[], arrayDir: string, dependsOn: string[], options: SlurmOptions): string[] {
  const names = [...new Set(runs.map((r) => r.name))];
  return [
    `--job-name=cover-${names[0]}${names.length > 1 ? `+${names.length - 1}` : ""}`,
    `--array=0-${runs.length - 1}`,
    `--output=${join(arrayDir, "%a", "slurm-%A_%a.out")}`, // <array dir>/<task> links to the task's run folder
    "--open-mode=append", // a requeued task appends to its log
    "--requeue",
    "--signal=B:TERM@60", // SIGTERM a minute before the time limit: the run checkpoints and exits
    `--chdir=${PROJECT_ROOT}`,
    ...(options.partition ? [`--partition=${options.partition}`] : []),
    ...(options.gpusPerRun ? [`--gres=gpu:${options.gpusPerRun}`] : []),
    ...(options.time ? [`--time=${options.time}`] : []),
    ...(dependsOn.length ? [`--dependency=afterok:${dependsOn.join(":")}`, "--kill-on-invalid-dep=yes"] : []),
  ];
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Task i trains the run on line i + 1 of the array's run list; `exec`, so that Slurm's signals reach the training process, which checkpoints on SIGTERM. */
export function arrayScript(arrayDir: string, backend?: string): string {
  const cover = join(PROJECT_ROOT, "bin", "cover.js");
  const list = shellQuote(arrayListPath(arrayDir));
  return [
    "#!/bin/sh",
    "# cover-kit runs submitted by the slurm executor as one job array: each task trains its run, or resumes it from its checkpoint",
    `dir="$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" ${list})"`,
    `[ -n "$dir" ] || { echo "task $SLURM_ARRAY_TASK_ID: no such line in "${list}; exit 1; }`,
    `echo "job \${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID} ($dir) starts on $(hostname) at $(date +%s.%N)"`,
    `exec ${shellQuote(process.execPath)} ${shellQuote(cover)} train "$dir/config.json" --out "$dir" --resume${backend ? ` --backend ${shellQuote(backend)}` : ""}`,
    "",
  ].join("\n");
}

/** How a run stands while its job is waited for. */
export type RunState = { state: "done" } | { state: "pending" | "running"; jobId: string; reason: string; step: number | null } | { state: "failed"; jobId: string; why: string };

/** A run's state from its folder (results.json), its job in the queue, and the job's log. */
export function runState(dir: string, jobId: string, queue: Map<string, QueuedJob>): RunState {
  if (readRunResults(dir)) return { state: "done" };
  const job = queue.get(jobId);
  if (job && isStuck(job)) return { state: "failed", jobId, why: "the run it starts from failed, so its job can never start" };
  if (isActive(job)) {
    return { state: job.state === "PENDING" ? "pending" : "running", jobId, reason: job.reason === "None" ? "" : job.reason, step: lastStep(dir) };
  }
  return { state: "failed", jobId, why: lastLogLine(jobLogPath(dir, jobId)) ?? `job ${jobId} ended without results and without a log (cancelled before it started, or the run it starts from failed)` };
}

/** The step of the last line of a run's metrics.jsonl, or null before the first step. */
export function lastStep(dir: string): number | null {
  const line = lastLine(runFiles(dir).metrics);
  if (!line) return null;
  try { return (JSON.parse(line) as { step: number }).step; } catch { return null; }
}

/** The last line of a log file with the file's path, e.g. for saying why a run failed; null for a missing or empty log. */
export function lastLogLine(path: string): string | null {
  const line = lastLine(path);
  return line ? `${line} (log: ${path})` : null;
}

/** The last non-empty line of a file, reading only its end; null when the file is missing or empty. */
function lastLine(path: string): string | null {
  let fd: number;
  try { fd = openSync(path, "r"); } catch { return null; }
  try {
    const size = statSync(path).size;
    const length = Math.min(size, 8192);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const lines = buf.toString("utf8").split("\n").map((l) => l.trim()).filter(Boolean);
    return lines.length ? lines[lines.length - 1] : null;
  } finally {
    closeSync(fd);
  }
}

export interface WaitOptions {
  pollSeconds: number;
  log(line: string): void;
  signal?: AbortSignal;
}

export interface WaitOutcome { done: SubmittedRun[]; failed: { run: SubmittedRun; why: string }[] }

/**
 * Polls the queue and the run folders until no job is left to wait for; logs each run's state when it changes
 * (with its step from metrics.jsonl while running). A job stuck behind a failed dependency is cancelled. Stopping
 * (Ctrl-C) stops the waiting only: the jobs keep running.
 */
export async function waitForRuns(runs: SubmittedRun[], slurm: SlurmCommands, options: WaitOptions): Promise<WaitOutcome> {
  const started = Date.now();
  const shown = new Map<string, string>();
  for (;;) {
    const queue = slurm.queue();
    const states = runs.map((r) => ({ r, s: runState(r.run.dir, r.jobId, queue) }));
    for (const { r, s } of states) {
      const text = describeState(s);
      if (shown.get(r.run.dir) !== text) options.log(`[${Math.round((Date.now() - started) / 1000)} s] ${r.run.name} (job ${r.jobId}): ${text}`);
      shown.set(r.run.dir, text);
      if (s.state === "failed" && queue.has(r.jobId) && isStuck(queue.get(r.jobId) as QueuedJob)) slurm.cancel(r.jobId);
    }
    if (states.every(({ s }) => s.state === "done" || s.state === "failed")) {
      return {
        done: states.filter(({ s }) => s.state === "done").map(({ r }) => r),
        failed: states.flatMap(({ r, s }) => (s.state === "failed" ? [{ run: r, why: s.why }] : [])),
      };
    }
    await sleep(options.pollSeconds * 1000, options.signal);
  }
}

export function describeState(s: RunState): string {
  switch (s.state) {
    case "done": return "done";
    case "failed": return `failed: ${s.why}`;
    default: return `${s.state}${s.reason ? ` (${s.reason})` : ""}${s.step !== null ? `, step ${s.step}` : ""}`;
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = () => { clearTimeout(timer); reject(interruptedBy(signal as AbortSignal, "stopped waiting; the jobs keep running, and the same command again waits for them")); };
    const timer = setTimeout(() => { signal?.removeEventListener("abort", stop); resolve(); }, ms);
    if (signal?.aborted) stop();
    else signal?.addEventListener("abort", stop, { once: true });
  });
}
