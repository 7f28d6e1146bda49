/**
 * Clip views for the model, on plain typed arrays: uint8 frames [T, H, W, 3] in, float32 [T, S, S, 3] out (channels
 * last), normalised with TimeSformer's mean 0.45 / std 0.225 per channel.
 * - training: one random crop and one horizontal-flip decision per clip, applied to every frame (flips follow the
 *   dataset's policy: never for motion-direction datasets, or with a left/right label swap);
 * - evaluation: the short side resized to S, then 3 crops along the long side (left/centre/right or top/centre/bottom),
 *   or a single centre crop (the paper's 1 temporal clip x 3 spatial crops).
 * Resampling, crop and flip are one separable pass: per-axis filter taps (a triangle filter widened when downscaling, so
 * large frames are averaged rather than aliased), horizontal then vertical. A crop at scale 1 is a plain copy.
 */
import type { InputNormalization } from "./manifest";
import type { Frames } from "./types";
import type { Rng } from "../util/rng";
import { resizeShortSide } from "./frame-size";

export type Normalization = InputNormalization;

/** TimeSformer's input normalisation (official config: MEAN 0.45, STD 0.225 per channel, on [0, 1] pixels). */
export const TIMESFORMER_NORM: Normalization = { mean: [0.45, 0.45, 0.45], std: [0.225, 0.225, 0.225] };

/** Where a view comes from: the frame resized to resizedHeight x resizedWidth, an S x S crop at (top, left), maybe mirrored. */
export interface ViewBox {
  resizedHeight: number;
  resizedWidth: number;
  top: number;
  left: number;
  size: number;
  flip: boolean;
}

/** Evaluation views: 1 clip x 1 centre crop, or 1 clip x 3 crops along the long side. */
export const EVAL_VIEWS = ["1x1", "1x3"] as const;
export type EvalViews = typeof EVAL_VIEWS[number];

export function viewCount(views: EvalViews): number { return views === "1x3" ? 3 : 1; }

/** Floats in one view: T * S * S * 3. */
export function viewLength(frames: number, size: number): number { return frames * size * size * 3; }

export interface TrainViewOptions {
  /** Crop size S. */
  size: number;
  /** Whether a horizontal flip may be drawn (false for flip policy "never"). */
  allowFlip: boolean;
  /**
   * Short-side scale jitter as multiples of S, e.g. [1, 1.43] for TimeSformer's 224 crops from 256-320 short sides.
   * Without it the frames are cropped at their own resolution (the frame cache's), upscaled only if smaller than S.
   */
  scale?: [number, number];
}

/** One random crop (and flip decision) for a whole clip. Draws from `rng` in a fixed order, so it is reproducible. */
export function randomViewBox(height: number, width: number, rng: Rng, options: TrainViewOptions): ViewBox {
  const S = options.size;
  let short = Math.min(height, width);
  if (options.scale) {
    const [lo, hi] = options.scale;
    if (!(lo >= 1 && hi >= lo)) throw new Error(`augment: scale jitter must satisfy 1 <= min <= max, got [${lo}, ${hi}]`);
    const loPx = Math.round(lo * S), hiPx = Math.round(hi * S);
    short = loPx + rng.int(hiPx - loPx + 1);
  }
  short = Math.max(short, S);
  const resized = short === Math.min(height, width) ? { height, width } : resizeShortSide({ width, height }, short);
  const top = rng.int(resized.height - S + 1);
  const left = rng.int(resized.width - S + 1);
  const flip = options.allowFlip && rng.next() < 0.5;
  return { resizedHeight: resized.height, resizedWidth: resized.width, top, left, size: S, flip };
}

/**
 * Evaluation crops: short side resized to `shortSide` (default S, the official test-time resize), then 1 centre crop or 3
 * crops along the long side (start, centre, end). A `shortSide` above S evaluates at the training crops' scale when
 * training crops the frames at their own resolution.
 */
export function evalViewBoxes(height: number, width: number, size: number, views: EvalViews, shortSide = size): ViewBox[] {
  if (!(Number.isInteger(shortSide) && shortSide >= size)) throw new Error(`augment: evaluation short side must be an integer >= the crop ${size}, got ${shortSide}`);
  const r = resizeShortSide({ width, height }, shortSide);
  const landscape = r.width >= r.height;
  const slack = landscape ? r.width - size : r.height - size;
  const across = Math.floor((landscape ? r.height - size : r.width - size) / 2);
  const offsets = views === "1x3" ? [0, Math.floor(slack / 2), slack] : [Math.floor(slack / 2)];
  return offsets.map((o) => ({
    resizedHeight: r.height, resizedWidth: r.width, size, flip: false,
    top: landscape ? across : o, left: landscape ? o : across,
  }));
}

/** Filter taps of one axis: output i reads source indices idx[start[i] .. start[i]+count[i]) with weights w. */
interface AxisTaps { start: Int32Array; count: Int32Array; idx: Int32Array; w: Float32Array }

function axisTaps(srcLen: number, resizedLen: number, offset: number, outLen: number, reverse: boolean): AxisTaps {
  const scale = srcLen / resizedLen;
  const support = Math.max(1, scale); // triangle half-width in source pixels
  const start = new Int32Array(outLen), count = new Int32Array(outLen);
  const idx: number[] = [], w: number[] = [];
  for (let i = 0; i < outLen; i++) {
    const p = offset + (reverse ? outLen - 1 - i : i);
    const center = (p + 0.5) * scale;
    const first = Math.floor(center - support), last = Math.ceil(center + support);
    start[i] = idx.length;
    let total = 0;
    const from = idx.length;
    for (let j = first; j <= last; j++) {
      const weight = 1 - Math.abs(j + 0.5 - center) / support;
      if (weight <= 1e-6 || j < 0 || j >= srcLen) continue; // taps past the border are dropped and the rest renormalised
      idx.push(j);
      w.push(weight);
      total += weight;
    }
    for (let k = from; k < idx.length; k++) w[k] /= total;
    count[i] = idx.length - from;
  }
  return { start, count, idx: Int32Array.from(idx), w: Float32Array.from(w) };
}

/**
 * Writes one view of the clip, float32 [T, S, S, 3] normalised, into `out` at `offset`. Every frame gets the same box.
 */
export function renderView(frames: Frames, box: ViewBox, out: Float32Array, offset = 0, norm: Normalization = TIMESFORMER_NORM): void {
  const { height: H, width: W, frames: T, data } = frames;
  const S = box.size;
  if (box.top < 0 || box.left < 0 || box.top + S > box.resizedHeight || box.left + S > box.resizedWidth) {
    throw new Error(`augment: crop ${S}x${S} at (${box.top}, ${box.left}) lies outside the ${box.resizedHeight}x${box.resizedWidth} frame`);
  }
  if (data.length !== T * H * W * 3) throw new Error(`augment: frame data holds ${data.length} bytes, expected ${T}x${H}x${W}x3`);
  if (offset + viewLength(T, S) > out.length) throw new Error("augment: output buffer too small for the view");
  const ys = axisTaps(H, box.resizedHeight, box.top, S, false);
  const xs = axisTaps(W, box.resizedWidth, box.left, S, box.flip);
  // (v / 255 - mean) / std  ==  v * a + b
  const a = norm.std.map((s) => 1 / (255 * s));
  const b = norm.mean.map((m, c) => -m / norm.std[c]);
  const frameBytes = H * W * 3;
  if (isIdentity(ys) && isIdentity(xs)) {
    copyView(data, T, H, W, ys, xs, S, out, offset, a, b);
    return;
  }
  // Separable: horizontal taps over the source rows the vertical taps need, then vertical taps.
  let y0 = H, y1 = -1;
  for (const y of ys.idx) { if (y < y0) y0 = y; if (y > y1) y1 = y; }
  const rows = y1 - y0 + 1;
  const tmp = new Float32Array(rows * S * 3);
  for (let t = 0; t < T; t++) {
    const src = t * frameBytes;
    for (let ry = 0; ry < rows; ry++) {
      const rowBase = src + (y0 + ry) * W * 3;
      let o = ry * S * 3;
      for (let ox = 0; ox < S; ox++) {
        const xEnd = xs.start[ox] + xs.count[ox];
        let r = 0, g = 0, bl = 0;
        for (let kx = xs.start[ox]; kx < xEnd; kx++) {
          const p = rowBase + xs.idx[kx] * 3;
          const wx = xs.w[kx];
          r += data[p] * wx;
          g += data[p + 1] * wx;
          bl += data[p + 2] * wx;
        }
        tmp[o++] = r; tmp[o++] = g; tmp[o++] = bl;
      }
    }
    for (let oy = 0; oy < S; oy++) {
      const o = offset + (t * S + oy) * S * 3;
      const yEnd = ys.start[oy] + ys.count[oy];
      for (let k = 0; k < S * 3; k += 3) {
        let r = 0, g = 0, bl = 0;
        for (let ky = ys.start[oy]; ky < yEnd; ky++) {
          const q = (ys.idx[ky] - y0) * S * 3 + k;
          const wy = ys.w[ky];
          r += tmp[q] * wy;
          g += tmp[q + 1] * wy;
          bl += tmp[q + 2] * wy;
        }
        out[o + k] = r * a[0] + b[0];
        out[o + k + 1] = g * a[1] + b[1];
        out[o + k + 2] = bl * a[2] + b[2];
      }
    }
  }
}

/** True when every output reads exactly one source pixel with weight 1 (a crop at scale 1). */
function isIdentity(taps: AxisTaps): boolean {
  for (let i = 0; i < taps.count.length; i++) if (taps.count[i] !== 1) return false;
  return true;
}

function copyView(data: Uint8Array, T: number, H: number, W: number, ys: AxisTaps, xs: AxisTaps, S: number,
  out: Float32Array, offset: number, a: number[], b: number[]): void {
  for (let t = 0; t < T; t++) {
    for (let oy = 0; oy < S; oy++) {
      const rowBase = (t * H + ys.idx[oy]) * W * 3;
      let o = offset + (t * S + oy) * S * 3;
      for (let ox = 0; ox < S; ox++) {
        const p = rowBase + xs.idx[ox] * 3;
        out[o++] = data[p] * a[0] + b[0];
        out[o++] = data[p + 1] * a[1] + b[1];
        out[o++] = data[p + 2] * a[2] + b[2];
      }
    }
  }
}

export interface TrainView { x: Float32Array; label: number; box: ViewBox }

/**
 * A training view of one clip: random crop (and scale jitter, if asked), horizontal flip per the flip map
 * (null = never flip; otherwise flipped clips take label flipMap[label]), normalised float32 [T, S, S, 3].
 * Pass `out`/`offset` to write straight into a batch buffer.
 */
export function trainView(
  frames: Frames, label: number, rng: Rng,
  options: { size: number; flipMap: Int32Array | null; scale?: [number, number]; norm?: Normalization },
  out?: Float32Array, offset = 0,
): TrainView {
  const box = randomViewBox(frames.height, frames.width, rng, { size: options.size, allowFlip: options.flipMap !== null, scale: options.scale });
  const x = out ?? new Float32Array(viewLength(frames.frames, options.size));
  renderView(frames, box, x, out ? offset : 0, options.norm);
  const flipped = box.flip && label >= 0 && options.flipMap ? options.flipMap[label] : label;
  return { x, label: flipped, box };
}

/** Evaluation views of one clip, float32 [views, T, S, S, 3] (view-major), into `out` at `offset` if given. */
export function evalViews(frames: Frames, size: number, views: EvalViews, out?: Float32Array, offset = 0, norm?: Normalization, shortSide = size): Float32Array {
  const boxes = evalViewBoxes(frames.height, frames.width, size, views, shortSide);
  const per = viewLength(frames.frames, size);
  const x = out ?? new Float32Array(per * boxes.length);
  const base = out ? offset : 0;
  boxes.forEach((box, v) => renderView(frames, box, x, base + v * per, norm));
  return x;
}
