/**
 * A notebook's parameters cell: scale, seed and output folder, taken from the environment so that the headless
 * runner (`npm run notebooks:run -- --scale smoke`) and a person in JupyterLab run the same cell.
 *
 *   COVER_SCALE  smoke | cpu | paper   (default cpu: minutes on a laptop)
 *   COVER_SEED   integer               (default 0)
 *   COVER_OUT    output folder         (default <project>/runs/notebooks/<notebook>/<scale>)
 */
import { realpathSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { Scale, SCALES } from "../experiments/scales";

export interface NotebookParameters {
  /** The notebook's name (used in the default output folder). */
  name: string;
  scale: Scale;
  seed: number;
  /** Absolute output folder. */
  out: string;
}

/** The project root, also when this file is reached through the notebooks/src link. */
export const PROJECT_ROOT = resolve(realpathSync(__dirname), "../..");

export function notebookParameters(name: string, defaults: { scale?: Scale; seed?: number } = {}, env: NodeJS.ProcessEnv = process.env): NotebookParameters {
  const scale = (env.COVER_SCALE || defaults.scale || "cpu") as Scale;
  if (!SCALES.includes(scale)) throw new Error(`COVER_SCALE=${env.COVER_SCALE}: expected one of ${SCALES.join(", ")}`);
  const seedText = env.COVER_SEED ?? String(defaults.seed ?? 0);
  const seed = Number(seedText);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`COVER_SEED=${seedText}: expected a non-negative integer`);
  const outText = env.COVER_OUT || join("runs", "notebooks", name, scale);
  const out = isAbsolute(outText) ? outText : resolve(PROJECT_ROOT, outText);
  return { name, scale, seed, out };
}
