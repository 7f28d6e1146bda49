/**
 * Where every run of a runs folder stands (`cover runs status`): done (results.json), running or pending (its Slurm
 * job, or the local process holding its lock, with its step), failed (its job ended without results: the log's last
 * line says why) or missing (never trained, or interrupted with no job to resume it). Runs an experiment needs that
 * have no folder yet are missing too, when its plan is given.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { hasCheckpoint } from "../runs/checkpoint";
import { lockPath } from "../runs/lock";
import { readRunResults, runFoldersIn } from "../runs/folder";
import type { PlannedRun } from "./planning";
import { describeState, lastStep, QueuedJob, readJobRecord, runState } from "./slurm";

export type RunStatusState = "done" | "running" | "pending" | "failed" | "missing" | "submitted";

export interface RunStatus {
  /** The run folder's name (<run name>-<config hash>). */
  run: string;
  dir: string;
  state: RunStatusState;
  /** The Slurm job, or the local process, training it. */
  by?: string;
  step?: number | null;
  detail: string;
}

/**
 * The runs under <runsRoot>/runs and the planned ones without a folder. `queue` is the Slurm queue, or null where
 * squeue is not available (jobs are then listed as submitted, their state unknown).
 */
export function runsStatus(runsRoot: string, queue: Map<string, QueuedJob> | null, planned: PlannedRun[] = []): RunStatus[] {
  const folder = runFoldersIn(runsRoot);
  const dirs = existsSync(folder) ? readdirSync(folder).map((n) => join(folder, n)).filter((d) => statSync(d).isDirectory()).sort() : [];
  const statuses = dirs.map((dir) => statusOf(dir, queue));
  for (const run of planned) {
    if (!dirs.includes(run.dir)) statuses.push({ run: basename(run.dir), dir: run.dir, state: "missing", detail: "not started" });
  }
  return statuses;
}

function statusOf(dir: string, queue: Map<string, QueuedJob> | null): RunStatus {
  const run = basename(dir);
  if (readRunResults(dir)) return { run, dir, state: "done", detail: "" };
  const record = readJobRecord(dir);
  if (record && queue === null) return { run, dir, state: "submitted", by: `job ${record.jobId}`, step: lastStep(dir), detail: "squeue not available: the job's state is unknown" };
  if (record && queue) {
    const s = runState(dir, record.jobId, queue);
    const by = `job ${record.jobId}`;
    if (s.state === "failed" || s.state === "done") return { run, dir, state: s.state, by, detail: describeState(s) };
    return { run, dir, state: s.state, by, step: s.step, detail: s.reason };
  }
  const holder = lockHolder(dir);
  if (holder) return { run, dir, state: "running", by: holder, step: lastStep(dir), detail: "trained locally" };
  const step = lastStep(dir);
  return { run, dir, state: "missing", detail: hasCheckpoint(dir) ? `interrupted at step ${step ?? "?"}: resumes when its experiment runs again` : "not started" };
}

function lockHolder(dir: string): string | null {
  try {
    const holder = JSON.parse(readFileSync(lockPath(dir), "utf8")) as { pid: number; hostname: string };
    return `process ${holder.pid} on ${holder.hostname}`;
  } catch {
    return null;
  }
}

/** One line per run: state, folder, who trains it and its step, and why. */
export function formatRunsStatus(statuses: RunStatus[]): string {
  const counts = new Map<string, number>();
  for (const s of statuses) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const width = Math.max(3, ...statuses.map((s) => s.run.length));
  const lines = statuses.map((s) => {
    const who = [s.by, s.step !== undefined && s.step !== null ? `step ${s.step}` : ""].filter(Boolean).join(", ");
    return `${s.state.padEnd(9)} ${s.run.padEnd(width)}  ${[who, s.detail].filter(Boolean).join("; ")}`.trimEnd();
  });
  const summary = [...counts.entries()].map(([state, n]) => `${n} ${state}`).join(", ");
  return [...lines, `${statuses.length} runs${summary ? `: ${summary}` : ""}`].join("\n");
}
