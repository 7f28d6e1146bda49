/**
 * An experiment's numbers as danfojs DataFrames, for a notebook's next cell (groupby, query, sortValues, merge across
 * experiments): every seed's rows, the mean over seeds, and the paper's claims.
 */
import type { DataFrame } from "danfojs-node";
import { resultTable, ResultRow } from "../report/table";
import type { ExperimentOutput } from "./experiment";
import { meanOverSeeds } from "./run-experiment";

export interface ResultFrames {
  /** One row per seed and result: every column of the experiment's rows and `seed`. */
  perSeed: DataFrame;
  /** One row per result: `kit` the mean over seeds, `kit ±` the 95% half-width (seeds and evaluation size), `seeds` how many. */
  summary: DataFrame;
  /** One row per claim: paper effect or range, kit effect with its 95% interval, verdict. */
  claims: DataFrame;
}

export function resultFrames(output: ExperimentOutput): ResultFrames {
  const table = (suffix: string) => {
    const found = output.tables.find((t) => t.name === `${output.name}-${suffix}`);
    if (!found) throw new Error(`experiment ${output.name}: no ${suffix} table in its output`);
    return found.frame;
  };
  const bySeed = output.seeds.map((seed) => output.rows.filter((r) => r.seed === seed).map(withoutSeed));
  return {
    perSeed: table("per-seed"),
    summary: resultTable(`${output.name}-summary`, meanOverSeeds(bySeed)).frame,
    claims: table("claims"),
  };
}

function withoutSeed(row: ResultRow): ResultRow {
  const { seed: _seed, ...rest } = row;
  return rest as ResultRow;
}
