/**
 * COVER's mixed batches (Sec. 3.3): every clip of a batch comes from dataset d with probability proportional to d's size
 * (or to given weights), so each batch mixes all training datasets. Within a dataset, samples are visited in a seeded
 * shuffle that changes every pass over that dataset.
 *
 * Determinism and resume: the dataset draws of batch k use a generator seeded by (seed, k) alone, and the per-dataset
 * order of pass e by (seed, dataset, e) alone, so the whole sequence is a function of the seed and a checkpoint needs
 * only the step: `atBatch(k)` rebuilds the sampler of batch k by replaying the cheap draws.
 */
import { deriveSeed, Rng } from "../util/rng";

export interface MixtureConfig {
  /** Number of samples per dataset. */
  datasets: Record<string, number>;
  /** Sampling weights per dataset (default: the sizes). Need not sum to 1. */
  weights?: Record<string, number>;
  /** Clips per batch. */
  batchSize: number;
  seed: number;
  /** Batches per epoch (default: floor(sum of sizes / batchSize), at least 1). */
  batchesPerEpoch?: number;
  /**
   * "random" (default): each clip's dataset drawn independently with the datasets' probabilities.
   * "proportional": each batch holds floor or ceil of batchSize * p_d clips of dataset d (systematic sampling with a
   * random offset, so expected counts stay exact): lower variance, and at small batch sizes no dataset goes missing
   * from a batch by chance.
   */
  allocation?: "random" | "proportional";
}

/** One clip of a batch: the dataset and the sample's index within that dataset's split. */
export interface Pick { dataset: string; index: number }

interface DatasetCursor { /** passes completed over this dataset */ epoch: number; /** next slot in the pass's order */ position: number }

export class MixtureSampler {
  readonly names: string[];
  readonly batchesPerEpoch: number;
  private readonly cumulative: Float64Array;
  private readonly probs: number[];
  private readonly sizes: number[];
  private readonly cursors: DatasetCursor[];
  private readonly orders: (Int32Array | null)[];
  private batch: number;

  constructor(private readonly config: MixtureConfig) {
    this.names = Object.keys(config.datasets).sort();
    if (this.names.length === 0) throw new Error("mixture: no datasets");
    if (!Number.isInteger(config.batchSize) || config.batchSize < 1) throw new Error(`mixture: batchSize must be a positive integer, got ${config.batchSize}`);
    if (config.allocation !== undefined && config.allocation !== "random" && config.allocation !== "proportional") {
      throw new Error(`mixture: allocation must be "random" or "proportional", got ${JSON.stringify(config.allocation)}`);
    }
    if (!Number.isFinite(config.seed)) throw new Error(`mixture: seed must be a number, got ${config.seed}`);
    this.sizes = this.names.map((n) => {
      const size = config.datasets[n];
      if (!Number.isInteger(size) || size < 0) throw new Error(`mixture: dataset '${n}' has size ${size}; expected a non-negative integer`);
      return size;
    });
    const weights = this.names.map((n, i) => {
      const w = config.weights ? config.weights[n] : this.sizes[i];
      if (w === undefined) throw new Error(`mixture: no weight for dataset '${n}'`);
      if (!(w >= 0) || !Number.isFinite(w)) throw new Error(`mixture: weight of '${n}' must be a finite number >= 0, got ${w}`);
      if (w > 0 && this.sizes[i] === 0) throw new Error(`mixture: dataset '${n}' is empty but has weight ${w}`);
      return w;
    });
    if (config.weights) for (const n of Object.keys(config.weights)) if (!(n in config.datasets)) throw new Error(`mixture: weight given for unknown dataset '${n}'`);
    const total = weights.reduce((a, b) => a + b, 0);
    if (total <= 0) throw new Error("mixture: all weights (or sizes) are zero");
    this.probs = weights.map((w) => w / total);
    this.cumulative = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, i) => { acc += w / total; this.cumulative[i] = acc; });
    this.cumulative[weights.length - 1] = 1;
    const sum = this.sizes.reduce((a, b) => a + b, 0);
    this.batchesPerEpoch = config.batchesPerEpoch ?? Math.max(1, Math.floor(sum / config.batchSize));
    if (!Number.isInteger(this.batchesPerEpoch) || this.batchesPerEpoch < 1) throw new Error(`mixture: batchesPerEpoch must be a positive integer, got ${config.batchesPerEpoch}`);
    this.orders = this.names.map(() => null);
    this.cursors = this.names.map(() => ({ epoch: 0, position: 0 }));
    this.batch = 0;
  }

  /** A sampler positioned at batch `batch` (as if `batch` batches had been drawn), by replaying the draws. */
  static atBatch(config: MixtureConfig, batch: number): MixtureSampler {
    const sampler = new MixtureSampler(config);
    sampler.skip(batch);
    return sampler;
  }

  /** The probability of each dataset per clip. */
  probabilities(): Record<string, number> {
    return Object.fromEntries(this.names.map((n, i) => [n, this.probs[i]]));
  }

  /** Batches drawn so far (the index of the next batch). */
  get position(): number { return this.batch; }

  /** The epoch the next batch belongs to (fractional progress is position / batchesPerEpoch). */
  get epoch(): number { return Math.floor(this.batch / this.batchesPerEpoch); }

  /** The next batch's clips, in draw order. */
  next(): Pick[] {
    const counts = this.draw(this.batch);
    const picks: Pick[] = [];
    for (const d of counts) picks.push({ dataset: this.names[d], index: this.take(d) });
    this.batch++;
    return picks;
  }

  /** Advances over `n` batches without materialising them. */
  skip(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new Error(`mixture: cannot skip ${n} batches`);
    for (let k = 0; k < n; k++) {
      const draws = this.draw(this.batch);
      const per = new Array<number>(this.names.length).fill(0);
      for (const d of draws) per[d]++;
      per.forEach((c, d) => this.advance(d, c));
      this.batch++;
    }
  }

  /** Dataset of each clip of batch k: a function of (seed, k) only. */
  private draw(k: number): number[] {
    const rng = new Rng(deriveSeed(this.config.seed, "mixture-batch", k));
    const B = this.config.batchSize;
    const proportional = this.config.allocation === "proportional";
    const offset = proportional ? rng.next() : 0;
    const out = new Array<number>(B);
    let d = 0;
    for (let i = 0; i < B; i++) {
      // systematic: points (offset + i) / B sweep the cumulative distribution once, in order
      const u = proportional ? (offset + i) / B : rng.next();
      if (!proportional) d = 0;
      while (u >= this.cumulative[d]) d++;
      out[i] = d;
    }
    return out;
  }

  /** The next sample index of dataset d in its current pass's shuffled order. */
  private take(d: number): number {
    const cursor = this.cursors[d];
    if (cursor.position >= this.sizes[d]) { cursor.epoch++; cursor.position = 0; this.orders[d] = null; }
    const order = (this.orders[d] ??= this.order(d, cursor.epoch));
    return order[cursor.position++];
  }

  private advance(d: number, count: number): void {
    const cursor = this.cursors[d];
    const size = this.sizes[d];
    if (count === 0) return;
    // positions run 1..size within a pass (a pass rolls over lazily, on the next take), as take() leaves them
    const flat = cursor.epoch * size + cursor.position + count;
    const epoch = Math.floor((flat - 1) / size);
    const position = flat - epoch * size;
    if (epoch !== cursor.epoch) this.orders[d] = null;
    cursor.epoch = epoch;
    cursor.position = position;
  }

  private order(d: number, epoch: number): Int32Array {
    return new Rng(deriveSeed(this.config.seed, "mixture-order", this.names[d], epoch)).permutation(this.sizes[d]);
  }
}
