/**
 * Training runs by name for `cover train <name>`: the building blocks of the experiments at a scale, each starting
 * from scratch unless an initialisation is given. A JSON file holding a RunConfig works as well.
 */
import { existsSync, readFileSync } from "node:fs";
import { RunConfig, validateRunConfig } from "./config";
import { coverRun, imagePretrainRun, SCRATCH, standardRun } from "./factories";
import { ALL_ROLES, mixOf, Role, scaleSettings, VIDEO_ROLES } from "./scales";

export const NAMED_RUNS: Record<string, { summary: string; make: (scale: string, seed: number) => RunConfig }> = {
  cover: {
    summary: "COVER on the three video datasets and the image dataset (Sec. 3.3)",
    make: (scale, seed) => coverRun(scaleSettings(scale), mixOf(scaleSettings(scale), ALL_ROLES), seed, SCRATCH, "cover"),
  },
  "cover-video": {
    summary: "COVER on the three video datasets only",
    make: (scale, seed) => coverRun(scaleSettings(scale), mixOf(scaleSettings(scale), VIDEO_ROLES), seed, SCRATCH, "cover-video"),
  },
  "image-pretrain": {
    summary: "space-only pre-training on the image dataset (Eq. 1)",
    make: (scale, seed) => imagePretrainRun(scaleSettings(scale), seed),
  },
  ...Object.fromEntries(VIDEO_ROLES.map((role: Role) => [`standard-${role}`, {
    summary: `the standard paradigm on the ${role} dataset alone`,
    make: (scale: string, seed: number) => standardRun(scaleSettings(scale), role, seed, SCRATCH),
  }])),
};

/** A named run at a scale, or a RunConfig JSON file. */
export function resolveRunConfig(nameOrFile: string, scale: string, seed: number): RunConfig {
  const named = NAMED_RUNS[nameOrFile];
  if (named) return named.make(scale, seed);
  if (!existsSync(nameOrFile)) {
    throw new Error(`'${nameOrFile}' is neither a named run (${Object.keys(NAMED_RUNS).join(", ")}) nor a config file`);
  }
  let json: unknown;
  try { json = JSON.parse(readFileSync(nameOrFile, "utf8")); }
  catch (err) { throw new Error(`${nameOrFile}: not valid JSON (${(err as Error).message})`); }
  return validateRunConfig(json, nameOrFile);
}
