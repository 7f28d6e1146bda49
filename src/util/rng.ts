/**
 * A small seeded PRNG (xoshiro128**, seeded through splitmix32) whose whole state is four uint32 numbers, so a
 * checkpoint can save it as JSON and a resumed run continues the exact same sequence.
 */

/** The complete generator state: four uint32 words (not all zero). Plain JSON. */
export type RngState = [number, number, number, number];

export class Rng {
  private s: Uint32Array;

  /** A generator for an integer (or any finite number, truncated to 32 bits) seed. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    this.s = new Uint32Array(4);
    let x = seedWord(seed);
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      this.s[i] = splitmix32(x);
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }

  static fromState(state: RngState): Rng {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new Error(`Rng.fromState: expected four uint32 words, got ${JSON.stringify(state)}`);
    }
    if (state.every((w) => w === 0)) throw new Error("Rng.fromState: the all-zero state is invalid");
    const rng = new Rng(0);
    rng.s.set(state);
    return rng;
  }

  /** A copy of the state; `Rng.fromState(rng.state())` continues exactly where `rng` is. */
  state(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  clone(): Rng { return Rng.fromState(this.state()); }

  /** Next uint32 (xoshiro128**). */
  uint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number { return this.uint32() / 4294967296; }

  /** Uniform integer in [0, n), unbiased (rejection sampling); n a positive integer up to 2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) throw new Error(`Rng.int: n must be an integer in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n); // largest multiple of n not above 2^32
    for (;;) {
      const x = this.uint32();
      if (x < limit) return x % n;
    }
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number { return lo + (hi - lo) * this.next(); }

  /** Standard normal sample (Box-Muller; uses two draws). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = p[i];
      p[i] = p[j];
      p[j] = tmp;
    }
    return p;
  }
}

/** A seed derived from a base seed and labels (e.g. dataset name, epoch): independent streams per purpose. */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  let h = splitmix32(seedWord(seed) ^ 0x85ebca6b);
  for (const label of labels) {
    const text = String(label);
    for (let i = 0; i < text.length; i++) h = splitmix32((h ^ text.charCodeAt(i)) >>> 0);
    h = splitmix32((h ^ 0x27d4eb2f) >>> 0);
  }
  return h;
}

/** 32 bits from a seed: the low word as is (so seeds 0..2^32-1 map to themselves), the high word (negative or large seeds) mixed in. */
function seedWord(seed: number): number {
  const t = Math.trunc(seed);
  const lo = t >>> 0;
  const hi = Math.floor(t / 4294967296) >>> 0;
  return hi === 0 ? lo : (lo ^ splitmix32(hi)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}
