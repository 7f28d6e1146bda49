/** Small statistics for benchmarks and for the claims' intervals. */
export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) throw new Error("mean of no values");
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += xs[i];
  return sum / xs.length;
}

/** Sample variance (n - 1 in the denominator); needs at least two values. */
export function sampleVariance(xs: ArrayLike<number>): number {
  if (xs.length < 2) throw new Error(`sample variance of ${xs.length} value(s)`);
  const m = mean(xs);
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += (xs[i] - m) ** 2;
  return sum / (xs.length - 1);
}

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error("median of no values");
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
