/**
 * A notebook's parameters cell: scale, seed and output folder, taken from the environment so that the headless
 * runner (`npm run notebooks:run -- --scale smoke`) and a person in JupyterLab run the same cell.
 *
 *   COVER_SCALE  smoke | cpu | paper   (default cpu: minutes on a laptop)
 *   COVER_SEEDS  comma-separated seeds (default: COVER_SEED, else 0); each seed trains its own runs
 *   COVER_SEED   integer               (one seed)
 *   COVER_OUT    output folder         (default <project>/runs/notebooks/<notebook>/<scale>)
 */
import { realpathSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { Scale, SCALES } from "../experiments/scales";

export interface NotebookParameters {
  /** The notebook's name (used in the default output folder). */
  name: string;
  scale: Scale;
  /** The first of `seeds`. */
  seed: number;
  seeds: number[];
  /** Absolute output folder. */
  out: string;
}

/** The project root, also when this file is reached through the notebooks/src link. */
export const PROJECT_ROOT = resolve(realpathSync(__dirname), "../..");

export function notebookParameters(name: string, defaults: { scale?: Scale; seeds?: number[] } = {}, env: NodeJS.ProcessEnv = process.env): NotebookParameters {
  const scale = (env.COVER_SCALE || defaults.scale || "cpu") as Scale;
  if (!SCALES.includes(scale)) throw new Error(`COVER_SCALE=${env.COVER_SCALE}: expected one of ${SCALES.join(", ")}`);
  const variable = env.COVER_SEEDS ? "COVER_SEEDS" : "COVER_SEED";
  const seedText = env.COVER_SEEDS || env.COVER_SEED || (defaults.seeds ?? [0]).join(",");
  const seeds = seedText.split(",").map((s) => Number(s.trim()));
  if (!seeds.every((s) => Number.isInteger(s) && s >= 0) || new Set(seeds).size !== seeds.length) {
    throw new Error(`${variable}=${seedText}: expected distinct non-negative integers separated by commas`);
  }
  const seed = seeds[0];
  const outText = env.COVER_OUT || join("runs", "notebooks", name, scale);
  const out = isAbsolute(outText) ? outText : resolve(PROJECT_ROOT, outText);
  return { name, scale, seed, seeds, out };
}
