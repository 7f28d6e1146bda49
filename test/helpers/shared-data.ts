/**
 * The real reference data (official annotation files, real demo clips) that CI and developers keep beside the
 * clone. A user's plain clone has none, so the tests that read it are extra coverage: they run only when the
 * environment variable COVER_SHARED_DATA names that folder (a relative path counts from the project root).
 * The default suite covers the same behaviours on fixtures inside the repo.
 */
import { statSync } from "node:fs";
import { join, resolve } from "node:path";

const VARIABLE = "COVER_SHARED_DATA";
const PROJECT_ROOT = resolve(__dirname, "../..");

function configuredRoot(): string | undefined {
  const value = process.env[VARIABLE];
  return value ? resolve(PROJECT_ROOT, value) : undefined;
}

/**
 * node:test options for a test that reads the real data: skipped, saying exactly why, when COVER_SHARED_DATA is
 * unset. When it is set the test runs, so a wrong path fails loudly instead of skipping quietly.
 */
export function needsSharedData(what: string): { skip: string | false } {
  if (configuredRoot()) return { skip: false };
  return { skip: `needs ${what}: set ${VARIABLE}=/path/to/shared/data (CI sets it)` };
}

/** A path inside the real data folder; throws, naming the variable, when it is unset or not a folder. */
export function sharedDataPath(...parts: string[]): string {
  const root = configuredRoot();
  if (!root) throw new Error(`${VARIABLE} is not set`);
  let isFolder = false;
  try { isFolder = statSync(root).isDirectory(); } catch { /* reported below */ }
  if (!isFolder) throw new Error(`${VARIABLE}=${process.env[VARIABLE]}: ${root} is not a folder`);
  return join(root, ...parts);
}
