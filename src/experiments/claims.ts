/**
 * The paper's claims as effects the kit measures, with a 95% interval over seeds and evaluation noise and a verdict.
 *
 * An effect is a signed sum of top-1 accuracies (points), e.g. reversed minus in order, or COVER minus standard. Per
 * seed it is measured once; over n seeds the interval's half-width combines
 *   - seed variation: t(0.975, n-1) * sd / sqrt(n), and
 *   - evaluation noise: the validation clips are the same for every seed, so their sampling noise does not average out
 *     over seeds. Where every top-1 of the effect kept its per-clip hits ("paired"), the effect is a mean over clips of
 *     d_i = sum_k c_k * 100 * hit_k(i) (averaged over seeds), and the noise is 1.96 * sqrt(var_i(d_i) / clips), summed
 *     over the datasets (clip sets) involved. Two models right and wrong on the same clips differ by little whatever
 *     the clips; scoring them as independent draws would count that shared noise twice. Otherwise ("independent"):
 *     1.96 * sqrt(sum_k c_k^2 p_k (1 - p_k) / clips_k), the binomial variance of each top-1, treated as independent
 *     (conservative for top-1s measured on the same clips).
 * Verdict: "holds" when the interval excludes zero on the side the paper claims, "does not hold" when it excludes zero on
 * the other side, otherwise "inconclusive" (always so with fewer than 2 seeds: seed variation is then unknown).
 */
import type { DatasetResult } from "../train/evaluate";
import type { CachedRun } from "../runs/cache";
import type { Role, ScaleSettings } from "../runs/scales";
import { roleResult } from "./experiment";
import { mean, sampleVariance } from "../util/stats";

export type Verdict = "holds" | "does not hold" | "inconclusive";

/** The paper's value of an effect, or the range it reports across settings. */
export type PaperEffect = { effect: number } | { range: [number, number] };

export interface ClaimSpec {
  id: string;
  claim: string;
  paper: PaperEffect;
  /** The sign the paper's claim predicts for the effect. */
  expect: "positive" | "negative";
}

/**
 * One top-1 in an effect: coefficient, accuracy (%), the clips it was measured on and the role of their dataset;
 * where the result kept them, its per-clip hits and the clip set they were scored on.
 */
export interface EffectTerm { coef: number; top1: number; clips: number; role: Role; hits?: string; clipSet?: string }

/** How a claim's evaluation noise was estimated (see the top of this module). */
export type EvalNoise = "paired" | "independent";

/** A claim measured on one seed. */
export interface ClaimMeasure extends ClaimSpec { terms: EffectTerm[] }

export interface Claim extends ClaimSpec {
  /** The roles whose top-1s make up the effect (one for most claims; two for e.g. motion's change minus appearance's). */
  roles: Role[];
  kit: { effect: number; low: number; high: number; seeds: number[]; perSeed: number[]; evalNoise: EvalNoise };
  verdict: Verdict;
}

type Results = CachedRun | Record<string, DatasetResult>;

/** `coef` x the top-1 of a role in a run's results (or in a separate evaluation of it, e.g. reversed frames). */
export function term(coef: number, results: Results, role: Role, settings: ScaleSettings): EffectTerm {
  const r = roleResult(results, role, settings);
  if (!r) throw new Error(`claims: the run did not evaluate '${settings.datasets[role]}' (${role})`);
  return { coef, top1: r.top1, clips: r.samples, role, ...(r.hits !== undefined && r.clipSet !== undefined && { hits: r.hits, clipSet: r.clipSet }) };
}

export function measure(spec: ClaimSpec, terms: EffectTerm[]): ClaimMeasure {
  return { ...spec, terms };
}

export function effectOf(m: ClaimMeasure): number {
  return m.terms.reduce((sum, t) => sum + t.coef * t.top1, 0);
}

/** Variance of an effect (points^2) from the binomial noise of its top-1s, treated as independent. */
function independentEvalVariance(m: ClaimMeasure): number {
  return m.terms.reduce((sum, t) => sum + t.coef ** 2 * top1Variance(t.top1, t.clips), 0);
}

/**
 * Variance (points^2) of the seed-mean effect over the sampling of the evaluation clips, from per-clip hits; undefined
 * unless every term of every seed has hits and every seed scored the same clip sets.
 */
export function pairedEvalVariance(measures: ClaimMeasure[]): number | undefined {
  const perClip = new Map<string, Float64Array>();
  const clipSetsOf = (m: ClaimMeasure) => [...new Set(m.terms.map((t) => t.clipSet))].sort().join(",");
  if (measures.length === 0 || measures.some((m) => clipSetsOf(m) !== clipSetsOf(measures[0]))) return undefined;
  for (const m of measures) {
    for (const t of m.terms) {
      if (t.hits === undefined || t.clipSet === undefined) return undefined;
      const d = perClip.get(t.clipSet) ?? new Float64Array(t.hits.length);
      if (d.length !== t.hits.length) return undefined;
      perClip.set(t.clipSet, d);
      const w = (t.coef * 100) / measures.length;
      for (let i = 0; i < d.length; i++) if (t.hits.charCodeAt(i) === 49 /* "1" */) d[i] += w;
    }
  }
  let variance = 0;
  for (const d of perClip.values()) {
    if (d.length < 2) return undefined;
    variance += sampleVariance(d) / d.length;
  }
  return variance;
}

/** Two-sided 95% quantile of Student's t with `df` degrees of freedom. */
export function tQuantile95(df: number): number {
  const table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
    2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042];
  if (!(Number.isInteger(df) && df >= 1)) throw new Error(`tQuantile95: degrees of freedom must be a positive integer, got ${df}`);
  return df <= table.length ? table[df - 1] : 1.96;
}

/** Combines the per-seed measures of every claim (same ids on every seed) into claims with intervals and verdicts. */
export function combineClaims(perSeed: { seed: number; claims: ClaimMeasure[] }[]): Claim[] {
  if (perSeed.length === 0) return [];
  const ids = perSeed[0].claims.map((c) => c.id);
  return ids.map((id) => {
    const measures = perSeed.map(({ seed, claims }) => {
      const m = claims.find((c) => c.id === id);
      if (!m) throw new Error(`claims: seed ${seed} did not measure claim '${id}'`);
      return m;
    });
    const values = measures.map(effectOf);
    const paired = pairedEvalVariance(measures);
    const evalVariance = paired ?? mean(measures.map(independentEvalVariance));
    const { mean: effect, half } = intervalOverSeeds(values, evalVariance);
    const { terms, ...spec } = measures[0];
    const roles = [...new Set(terms.map((t) => t.role))];
    const kit = { effect: round2(effect), low: round2(effect - half), high: round2(effect + half), seeds: perSeed.map((s) => s.seed), perSeed: values.map(round2), evalNoise: (paired === undefined ? "independent" : "paired") as EvalNoise };
    return { ...spec, roles, kit, verdict: verdictOf(spec.expect, kit.low, kit.high, values.length) };
  });
}

/**
 * Mean of one value per seed and the half-width of its 95% interval: seed variation (t interval) combined with the
 * evaluation noise of the mean (`evalVariance`, points^2: the clips are the same for every seed, so it does not
 * shrink with more seeds).
 */
export function intervalOverSeeds(values: number[], evalVariance: number): { mean: number; half: number } {
  const n = values.length;
  if (n === 0 || !(evalVariance >= 0)) throw new Error(`intervalOverSeeds: ${n} values, evaluation variance ${evalVariance}`);
  const seedHalf = n > 1 ? (tQuantile95(n - 1) * Math.sqrt(sampleVariance(values))) / Math.sqrt(n) : 0;
  const evalHalf = 1.96 * Math.sqrt(evalVariance);
  return { mean: mean(values), half: Math.sqrt(seedHalf ** 2 + evalHalf ** 2) };
}

/** Binomial variance (points^2) of a top-1 (%) measured on `clips` clips. */
export function top1Variance(top1: number, clips: number): number {
  const p = top1 / 100;
  return (p * (1 - p) * 1e4) / Math.max(1, clips);
}

export function verdictOf(expect: ClaimSpec["expect"], low: number, high: number, seeds: number): Verdict {
  if (seeds < 2) return "inconclusive";
  const sign = expect === "positive" ? 1 : -1;
  const [lo, hi] = sign > 0 ? [low, high] : [-high, -low];
  if (lo > 0) return "holds";
  if (hi < 0) return "does not hold";
  return "inconclusive";
}

/**
 * Whether a measurement of this design could have decided an effect as large as the paper's: an "inconclusive" verdict
 * says little about the claim when the interval is wider than the paper's effect itself. From a claim's stored numbers:
 * the evaluation part of its half-width (which more seeds do not shrink: the clips are the same for every seed), its
 * seed spread, and the fewest seeds whose interval (with the spread measured here) would be narrower than the paper's
 * smallest effect; null where the evaluation noise alone is wider, so that no number of seeds suffices and only a
 * larger validation set would.
 */
export interface Resolution { paperSize: number; evalHalf: number; seedSd: number; seedsNeeded: number | null }

export function resolutionOf(c: Pick<Claim, "paper" | "kit">): Resolution {
  const { perSeed, low, high } = c.kit;
  const paperSize = "effect" in c.paper ? Math.abs(c.paper.effect) : Math.min(...c.paper.range.map(Math.abs));
  const seedSd = perSeed.length > 1 ? Math.sqrt(sampleVariance(perSeed)) : NaN;
  const seedHalfAt = (n: number) => (tQuantile95(n - 1) * seedSd) / Math.sqrt(n);
  const half = (high - low) / 2;
  const evalHalf = Math.sqrt(Math.max(0, half ** 2 - (perSeed.length > 1 ? seedHalfAt(perSeed.length) ** 2 : 0)));
  if (!(evalHalf < paperSize) || Number.isNaN(seedSd)) return { paperSize, evalHalf, seedSd, seedsNeeded: null };
  // The seed part shrinks like 1/sqrt(n) (1.96 beyond the t table): solve for large n, then walk down to the fewest.
  const limit = Math.max(2, Math.ceil(((1.96 * seedSd) ** 2) / (paperSize ** 2 - evalHalf ** 2)) + 1);
  let n = limit;
  while (n > 2 && Math.hypot(seedHalfAt(n - 1), evalHalf) < paperSize) n--;
  while (Math.hypot(seedHalfAt(n), evalHalf) >= paperSize) n++;
  return { paperSize, evalHalf, seedSd, seedsNeeded: n };
}

/**
 * A short reading of `resolutionOf` for an inconclusive claim (empty for a decided one): could this design have decided
 * an effect of the paper's size, and if not, what it would take.
 */
export function resolutionText(c: Pick<Claim, "paper" | "kit" | "verdict">): string {
  if (c.verdict !== "inconclusive") return "";
  const r = resolutionOf(c);
  const paper = r.paperSize.toFixed(1);
  if (Number.isNaN(r.seedSd)) return "unknown: one seed";
  if (r.seedsNeeded === null) return `no: evaluation noise alone is ±${r.evalHalf.toFixed(1)}, the paper's effect ${paper}`;
  if (r.seedsNeeded <= c.kit.perSeed.length) return `yes: the interval is narrower than the paper's ${paper}, the kit's effect smaller`;
  const seeds = r.seedsNeeded > 100 ? "over 100" : `about ${r.seedsNeeded}`;
  return `${seeds} seeds needed for the paper's ${paper} (seed sd ${r.seedSd.toFixed(1)}, evaluation ±${r.evalHalf.toFixed(1)})`;
}

/** One line per claim, for findings and logs. */
export function claimLine(c: Claim): string {
  const paper = "effect" in c.paper ? fmtSigned(c.paper.effect) : `${fmtSigned(c.paper.range[0])} to ${fmtSigned(c.paper.range[1])}`;
  const resolution = resolutionText(c);
  return `${c.claim}: ${c.verdict} (kit ${fmtSigned(c.kit.effect)} [${fmtSigned(c.kit.low)}, ${fmtSigned(c.kit.high)}] over ${c.kit.seeds.length} seed(s); paper ${paper})${resolution ? `; could it decide the paper's effect? ${resolution}` : ""}`;
}

const round2 = (x: number) => Math.round(x * 100) / 100;
const fmtSigned = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`;
