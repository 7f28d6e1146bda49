/** Drawing MNIST digits onto small RGB frames: scaled, rotated, coloured sprites with bilinear sampling. */
import { DIGIT_SIZE } from "./mnist";
import type { Rng } from "../../util/rng";

export type Rgb = [number, number, number];

export interface Placement {
  /** Centre in pixels (x right, y down). */
  x: number;
  y: number;
  /** Sprite scale: the 28-pixel MNIST box becomes 28 * scale pixels. */
  scale: number;
  /** Clockwise on screen, radians. */
  angle: number;
}

/** A blank clip [frames, size, size, 3]. */
export function blankClip(frames: number, size: number): Uint8Array {
  return new Uint8Array(frames * size * size * 3);
}

function pixel(sprite: Uint8Array, x: number, y: number): number {
  return x < 0 || y < 0 || x >= DIGIT_SIZE || y >= DIGIT_SIZE ? 0 : sprite[y * DIGIT_SIZE + x];
}

function sample(sprite: Uint8Array, u: number, v: number): number {
  if (u <= -1 || v <= -1 || u >= DIGIT_SIZE || v >= DIGIT_SIZE) return 0;
  const x0 = Math.floor(u), y0 = Math.floor(v);
  const fx = u - x0, fy = v - y0;
  const top = pixel(sprite, x0, y0) * (1 - fx) + pixel(sprite, x0 + 1, y0) * fx;
  const bottom = pixel(sprite, x0, y0 + 1) * (1 - fx) + pixel(sprite, x0 + 1, y0 + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}

/** Draws a digit into frame `t` of a clip (max-blending, so overlapping digits stay visible). */
export function drawDigit(clip: Uint8Array, size: number, t: number, sprite: Uint8Array, place: Placement, color: Rgb): void {
  const cos = Math.cos(place.angle), sin = Math.sin(place.angle);
  const reach = (DIGIT_SIZE / 2) * place.scale * Math.SQRT2 + 1;
  const x0 = Math.max(0, Math.floor(place.x - reach)), x1 = Math.min(size - 1, Math.ceil(place.x + reach));
  const y0 = Math.max(0, Math.floor(place.y - reach)), y1 = Math.min(size - 1, Math.ceil(place.y + reach));
  const base = t * size * size * 3;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - place.x, dy = y + 0.5 - place.y;
      // Inverse of a clockwise (y-down) rotation, then of the scale; sprite pixel centres sit at k + 0.5.
      const u = (dx * cos + dy * sin) / place.scale + DIGIT_SIZE / 2 - 0.5;
      const v = (-dx * sin + dy * cos) / place.scale + DIGIT_SIZE / 2 - 0.5;
      const alpha = sample(sprite, u, v) / 255;
      if (alpha <= 0) continue;
      const p = base + (y * size + x) * 3;
      for (let c = 0; c < 3; c++) {
        const value = Math.round(alpha * color[c]);
        if (value > clip[p + c]) clip[p + c] = value;
      }
    }
  }
}

/** A saturated colour of random hue (colour never carries label information). */
export function randomColor(rng: Rng): Rgb {
  const h = rng.next() * 6, i = Math.floor(h), f = h - i;
  const rise = Math.round(255 * f), fall = Math.round(255 * (1 - f));
  const table: Rgb[] = [[255, rise, 55], [fall, 255, 55], [55, 255, rise], [55, fall, 255], [rise, 55, 255], [255, 55, fall]];
  return table[i % 6];
}

/** Frames [0..n) in reverse order. */
export function reverseClip(clip: Uint8Array, frames: number): Uint8Array {
  const frameBytes = clip.length / frames;
  const out = new Uint8Array(clip.length);
  for (let t = 0; t < frames; t++) out.set(clip.subarray(t * frameBytes, (t + 1) * frameBytes), (frames - 1 - t) * frameBytes);
  return out;
}

export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.next();
}
