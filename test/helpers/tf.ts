/** Test set-up for tfjs: one backend per test file (wasm by default, like the kit on this machine). */
import { BackendName, useBackend } from "../../src/backend";

/** wasm unless COVER_TEST_BACKEND names another (CI runs the suite again on the native backend). */
export async function withBackend(name = process.env.COVER_TEST_BACKEND ?? "wasm"): Promise<void> {
  await useBackend(name as BackendName);
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const made: string[] = [];
process.on("exit", () => {
  const { rmSync } = require("node:fs") as typeof import("node:fs");
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary folder, removed when the test process exits. */
export function tempDir(prefix: string): string {
  const { mkdtempSync } = require("node:fs") as typeof import("node:fs");
  const { join } = require("node:path") as typeof import("node:path");
  const { tmpdir } = require("node:os") as typeof import("node:os");
  const dir = mkdtempSync(join(tmpdir(), `cover-${prefix}-`));
  made.push(dir);
  return dir;
}
