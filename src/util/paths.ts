/**
 * Where the kit keeps things on disk. Every root has a default under the project and an environment variable that
 * moves it (a shared cache on a cluster, a scratch disk); nothing else in the kit spells these paths.
 */
import { realpathSync } from "node:fs";
import { join, resolve } from "node:path";

/** The project root, also when this file is reached through the notebooks/src link. */
export const PROJECT_ROOT = resolve(realpathSync(__dirname), "../..");

const fromEnv = (name: string, fallback: string): string => {
  const value = process.env[name];
  return value ? resolve(value) : fallback;
};

/** Training runs, shared by every experiment, notebook and CLI command: $COVER_RUNS, else <project>/runs/cache. */
export function defaultRunsRoot(): string {
  return fromEnv("COVER_RUNS", join(PROJECT_ROOT, "runs", "cache"));
}

/** Decoded clips (uint8 .npy): $COVER_CACHE_DIR, else <project>/.cache/frames. */
export function defaultFrameCacheDir(): string {
  return fromEnv("COVER_CACHE_DIR", join(PROJECT_ROOT, ".cache", "frames"));
}

/** Generated built-in datasets, one folder each: $COVER_DATA_DIR, else <project>/.cache/builtin. */
export function builtinDataRoot(): string {
  return fromEnv("COVER_DATA_DIR", join(PROJECT_ROOT, ".cache", "builtin"));
}

/** Where `npm run native:build` puts its output: $COVER_NATIVE_DIR (e.g. a shared build), else <project>/native. */
export function nativeDir(): string {
  return fromEnv("COVER_NATIVE_DIR", join(PROJECT_ROOT, "native"));
}
