/**
 * One process at a time per run folder: `run.lock` holds the owner's pid, host and start time, created atomically
 * (O_EXCL), so a second `cover train` or experiment on the same folder fails at once naming the holder. A lock left
 * by a process that no longer runs on this host is stale and taken over; taking over is itself guarded by an
 * O_EXCL file, so two processes finding the same stale lock cannot both win.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { runFiles } from "./folder";

export interface LockHolder { pid: number; hostname: string; started: string }

export interface RunLock { readonly path: string; readonly holder: LockHolder; release(): void }

/** The lock is held by another live process (or one on another host, which cannot be checked). */
export class RunLockedError extends Error {
  constructor(readonly path: string, readonly holder: LockHolder | undefined) {
    super(holder
      ? `${path}: the run folder is in use by process ${holder.pid} on ${holder.hostname} (since ${holder.started}); ` +
        "wait for it to finish or stop it; if that process is gone, delete the lock file"
      : `${path}: the run folder is locked by another process (unreadable lock file); if no process uses it, delete the lock file`);
    this.name = "RunLockedError";
  }
}

export function lockPath(runDir: string): string { return runFiles(runDir).lock; }

/** Takes the run folder's lock, or throws RunLockedError naming the holder; a stale lock is taken over. */
export function acquireRunLock(runDir: string): RunLock {
  mkdirSync(runDir, { recursive: true });
  const path = lockPath(runDir);
  const me: LockHolder = { pid: process.pid, hostname: hostname(), started: new Date().toISOString() };
  if (tryCreate(path, me)) return heldLock(path, me);
  const holder = readHolder(path);
  if (!holder || !isStale(holder)) throw new RunLockedError(path, holder);
  takeOver(path, holder, me);
  return heldLock(path, me);
}

function heldLock(path: string, holder: LockHolder): RunLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    const current = readHolder(path);
    if (current && current.pid === holder.pid && current.started === holder.started) {
      try { unlinkSync(path); } catch { /* removed already */ }
    }
  };
  process.on("exit", release);
  return { path, holder, release };
}

/** Creates the lock file only if none exists (O_EXCL): true when this process now holds it. */
function tryCreate(path: string, holder: LockHolder): boolean {
  try {
    writeFileSync(path, JSON.stringify(holder) + "\n", { flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw new Error(`${path}: cannot create the run lock (${(err as Error).message})`);
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const json = JSON.parse(readFileSync(path, "utf8")) as Partial<LockHolder>;
    if (Number.isSafeInteger(json.pid) && typeof json.hostname === "string" && typeof json.started === "string") return json as LockHolder;
  } catch { /* missing, half-written or garbled */ }
  return undefined;
}

/** A holder on this host whose process no longer exists. Another host's process cannot be checked: never stale. */
function isStale(holder: LockHolder): boolean {
  if (holder.hostname !== hostname()) return false;
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH"; // EPERM: alive, owned by another user
  }
}

/**
 * Replaces a stale lock. Only the process that creates `<lock>.takeover` (O_EXCL) may replace it, and only if the
 * lock still names the stale holder; a takeover file left by a process that died meanwhile is itself stale.
 */
function takeOver(path: string, stale: LockHolder, me: LockHolder): void {
  const guard = `${path}.takeover`;
  if (!tryCreate(guard, me)) {
    const other = readHolder(guard);
    if (!other || !isStale(other)) throw new RunLockedError(path, other);
    try { unlinkSync(guard); } catch { /* another process removed it */ }
    if (!tryCreate(guard, me)) throw new RunLockedError(path, readHolder(guard));
  }
  try {
    const current = readHolder(path);
    if (current && (current.pid !== stale.pid || current.started !== stale.started)) throw new RunLockedError(path, current);
    try { unlinkSync(path); } catch { /* already gone */ }
    if (!tryCreate(path, me)) throw new RunLockedError(path, readHolder(path));
  } finally {
    try { unlinkSync(guard); } catch { /* already gone */ }
  }
}
