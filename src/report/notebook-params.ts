/**
 * A notebook's parameters. Each notebook opens with a parameters cell of plain literals, tagged `parameters` (as
 * papermill does), that a person edits before re-running:
 *
 *   const scale = "cpu";       // smoke | cpu | paper
 *   const seeds = [0, 1, 2];   // each seed trains its own runs
 *   const out = null;          // output folder
 *
 * and passes them to notebookParameters. The headless runner (`npm run notebooks:run -- --scale smoke -p seeds=[0]`)
 * injects a cell after it that redeclares the overridden values. A value left null comes from the environment,
 * else the default:
 *
 *   COVER_SCALE  smoke | cpu | paper   (default cpu: minutes on a laptop)
 *   COVER_SEEDS  comma-separated seeds (default: COVER_SEED, else 0)
 *   COVER_SEED   integer               (one seed)
 *   COVER_OUT    output folder         (default <project>/runs/notebooks/<notebook>/<scale>)
 */
import { isAbsolute, join, resolve } from "node:path";
import { Scale, SCALES } from "../runs/scales";
import { PROJECT_ROOT } from "../util/paths";
import { showProgressInNotebook } from "./notebook";

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

/** The values of a parameters cell; null or missing: from the environment, else the default. */
export interface ParameterCell {
  scale?: string | null;
  seeds?: number[] | null;
  out?: string | null;
}

/**
 * The notebook's parameters from its parameters cell, the environment where the cell leaves a value null, else the
 * defaults. In a kernel it also turns progress into one status line per cell, rewritten in place.
 */
export function notebookParameters(name: string, cell: ParameterCell = {}, env: NodeJS.ProcessEnv = process.env): NotebookParameters {
  const scaleText = cell.scale ?? env.COVER_SCALE ?? "cpu";
  const scaleFrom = cell.scale != null ? "scale" : "COVER_SCALE";
  if (!SCALES.includes(scaleText as Scale)) throw new Error(`${scaleFrom}=${JSON.stringify(scaleText)}: expected one of ${SCALES.join(", ")}`);
  const seeds = cell.seeds ?? seedsFromEnv(env);
  if (cell.seeds != null) checkSeeds(seeds, `seeds=${JSON.stringify(cell.seeds)}`);
  const outText = cell.out ?? env.COVER_OUT ?? join("runs", "notebooks", name, scaleText);
  const out = isAbsolute(outText) ? outText : resolve(PROJECT_ROOT, outText);
  showProgressInNotebook();
  return { name, scale: scaleText as Scale, seed: seeds[0], seeds, out };
}

function seedsFromEnv(env: NodeJS.ProcessEnv): number[] {
  const variable = env.COVER_SEEDS ? "COVER_SEEDS" : "COVER_SEED";
  const text = env.COVER_SEEDS || env.COVER_SEED || "0";
  const seeds = text.split(",").map((s) => Number(s.trim()));
  checkSeeds(seeds, `${variable}=${text}`);
  return seeds;
}

function checkSeeds(seeds: unknown, what: string): asserts seeds is number[] {
  const ok = Array.isArray(seeds) && seeds.length > 0 && seeds.every((s) => Number.isInteger(s) && s >= 0) && new Set(seeds).size === seeds.length;
  if (!ok) throw new Error(`${what}: expected distinct non-negative integers${what.startsWith("COVER") ? " separated by commas" : " in a list"}`);
}
