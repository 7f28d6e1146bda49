/**
 * Atomic file writes: write a temporary file in the same folder, then rename it over the target, so that readers
 * see the old file or the whole new one, never a part. With `fsync` (the default) the data is also on disk before
 * the rename (survives a power cut); files that can be rebuilt (caches, generated data) may skip it: it costs
 * milliseconds per file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, writeSync, unlinkSync } from "node:fs";
import { dirname, basename, join } from "node:path";
import { fsErrorReason } from "./fs-errors";

export interface AtomicWriteOptions { fsync?: boolean }

let counter = 0;

/** `.<name>.<pid>.<time>.<n>.tmp`: the temporary files writeFileAtomic makes. */
const TEMP_FILE = /^\..+\.\d+\.\d+\.\d+\.tmp$/;

/**
 * Removes the temporary files a killed writer left in `dir` (not its subfolders); returns their names. Only for a
 * folder no other process writes to at the same time (e.g. a run folder whose lock this process holds).
 */
export function removeLeftoverTempFiles(dir: string): string[] {
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  const removed: string[] = [];
  for (const name of names.filter((n) => TEMP_FILE.test(n))) {
    try { unlinkSync(join(dir, name)); removed.push(name); } catch { /* gone already */ }
  }
  return removed;
}

export function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): void {
  try {
    writeThenRename(path, data, options);
  } catch (err) {
    throw Object.assign(new Error(`${path}: cannot write: ${fsErrorReason(err)}`, { cause: err }), { code: (err as NodeJS.ErrnoException).code });
  }
}

function writeThenRename(path: string, data: Uint8Array | string, options: AtomicWriteOptions): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.${counter++}.tmp`);
  const fd = openSync(tmp, "w");
  try {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    if (options.fsync !== false) fsyncSync(fd);
    closeSync(fd);
  } catch (err) {
    try { closeSync(fd); } catch { /* closed already */ }
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
  try {
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw err;
  }
}
