/**
 * Images as 1-frame clips: decoding goes through the same ffmpeg path as videos (src/data/video.ts), and
 * a small PNG writer (RGB, 8 bit, zlib from node) for generated data.
 */
import { deflateSync } from "node:zlib";
import type { Frames } from "./types";
import { decodeClip } from "./video";
import { writeFileAtomic } from "../util/atomic";
import type { AtomicWriteOptions } from "../util/atomic";

export { isImagePath } from "./video";

/** Decodes an image (PNG, JPEG, ...) as a clip of 1 frame, short side resized to `size`, optionally centre-cropped. */
export function decodeImage(path: string, options: { size: number; crop?: boolean }): Promise<Frames> {
  return decodeClip(path, { frames: 1, size: options.size, crop: options.crop });
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, body: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, "latin1");
  out.set(body, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** Encodes interleaved RGB uint8 pixels [height, width, 3] as a PNG (colour type 2, no filtering). */
export function encodePng(rgb: Uint8Array, width: number, height: number): Buffer {
  if (rgb.length !== width * height * 3) throw new Error(`encodePng: ${width}x${height} RGB needs ${width * height * 3} bytes, got ${rgb.length}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour RGB
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    rows[y * (1 + width * 3)] = 0; // filter: none
    rows.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", header), chunk("IDAT", deflateSync(rows, { level: 9 })), chunk("IEND", new Uint8Array(0))]);
}

export function writePng(path: string, rgb: Uint8Array, width: number, height: number, options: AtomicWriteOptions = {}): void {
  writeFileAtomic(path, encodePng(rgb, width, height), options);
}
