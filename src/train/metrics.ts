/** Classification metrics over averaged view scores: top-1, top-5, per-class counts and a confusion matrix. */

export interface ClassificationResult {
  samples: number;
  top1: number;
  top5: number;
  /** confusion[true][predicted] */
  confusion: number[][];
}

export class ClassificationMeter {
  private count = 0;
  private hits1 = 0;
  private hits5 = 0;
  private readonly confusion: number[][];
  private readonly perClip: string[] = [];

  constructor(readonly classes: number) {
    this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  /** scores: one row of class scores per sample (higher = more likely). */
  add(scores: Float32Array, labels: ArrayLike<number>): void {
    const k = this.classes;
    for (let i = 0; i < labels.length; i++) {
      const row = scores.subarray(i * k, (i + 1) * k);
      const label = labels[i];
      if (!(label >= 0 && label < k)) throw new Error(`label ${label} is outside the head's ${k} classes`);
      const order = topK(row, Math.min(5, k));
      this.count++;
      if (order[0] === label) this.hits1++;
      this.perClip.push(order[0] === label ? "1" : "0");
      if (order.includes(label)) this.hits5++;
      this.confusion[label][order[0]]++;
    }
  }

  result(): ClassificationResult {
    const pct = (n: number) => (this.count ? (100 * n) / this.count : 0);
    return { samples: this.count, top1: pct(this.hits1), top5: pct(this.hits5), confusion: this.confusion.map((r) => [...r]) };
  }

  /** Top-1 correctness of every sample so far, in order: "1" for a hit, "0" for a miss. */
  hits(): string { return this.perClip.join(""); }
}

/** Indices of the k largest values, largest first (ties: lower index first). */
export function topK(row: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: row.length }, (_, i) => i);
  idx.sort((a, b) => row[b] - row[a] || a - b);
  return idx.slice(0, k);
}
