/**
 * Video (and image) decoding through ffmpeg: probe the number of decodable frames, pick T frame indices
 * uniformly over the whole video as in the paper, and decode exactly those frames in one ffmpeg process
 * (`select` by frame index, `-vsync 0`, rawvideo rgb24 to a pipe), resized by the short side and
 * optionally centre-cropped. Images are 1-frame clips through the same path; many PNGs of one size can also go
 * through one process together (decodeImageBatch).
 */
import { accessSync, closeSync, constants, openSync, readFileSync, readSync, statSync } from "node:fs";
import { extname } from "node:path";
import type { Frames } from "./types";
import { ffmpegCommand, lastLine, runMediaProcess } from "./ffmpeg";
import { ProbedStream, ProbeFailure, ProbeOutput, runFfprobe } from "./ffprobe";
import { FrameSize, resizeShortSide } from "./frame-size";
import { readMp4VideoIndex } from "./mp4-index";
import { fsErrorReason } from "../util/fs-errors";

/**
 * A media file that cannot be used; the message names the file. `transient`: the decoder failed while running
 * (it may have been killed), so the file is not known to be bad for good.
 */
export class MediaError extends Error {
  constructor(readonly path: string, readonly reason: string, readonly transient = false) {
    super(`${path}: ${reason}`);
    this.name = "MediaError";
  }
}

export interface VideoInfo {
  path: string;
  /** Decodable frames (packets of the video stream, counted by reading the whole file). */
  frameCount: number;
  /** Display size, after the rotation in the file's metadata. */
  width: number;
  height: number;
  /** Average frame rate (0 where unknown, e.g. images). */
  fps: number;
  rotation: number;
  codec: string;
  hasAudio: boolean;
  isImage: boolean;
}

export interface DecodeOptions {
  /** Frames to sample uniformly (T). Images always give 1 frame. */
  frames: number;
  /** The short side is resized to this many pixels. */
  size: number;
  /** Centre-crop to size x size after resizing. */
  crop?: boolean;
  /** ffmpeg decoding threads (1 when several decoders run in parallel). Default: ffmpeg's choice. */
  threads?: number;
  /** The file's probe, when the caller has it already. */
  info?: VideoInfo;
  /**
   * The long side is at most this many pixels (>= size): a frame of extreme aspect ratio (8x8192) is squeezed
   * along its long side instead of growing with its ratio (a 1.6 GB clip at short side 258).
   */
  maxLongSide?: number;
}

const IMAGE_EXTENSIONS = new Set([".png", ".jpg", ".jpeg", ".bmp", ".webp"]);

export function isImagePath(path: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(path).toLowerCase());
}

const VIDEO_EXTENSIONS = new Set([".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".gif"]);

/** A file name that looks like a video or an image (for picking media out of a folder). */
export function isMediaPath(path: string): boolean {
  return isImagePath(path) || VIDEO_EXTENSIONS.has(extname(path).toLowerCase());
}

/** Frame i of T sits at floor((i + 0.5) * N / T): the centre of the i-th of T equal segments. */
export function uniformIndices(frameCount: number, frames: number): number[] {
  if (!(frameCount > 0) || !(frames > 0)) throw new Error(`uniformIndices: need frameCount > 0 and frames > 0, got ${frameCount}, ${frames}`);
  return Array.from({ length: frames }, (_, i) => Math.min(frameCount - 1, Math.floor(((i + 0.5) * frameCount) / frames)));
}

function checkReadable(path: string): void {
  let isFile: boolean;
  try { isFile = statSync(path).isFile(); } catch (err) { throw new MediaError(path, fsErrorReason(err)); }
  if (!isFile) throw new MediaError(path, "not a regular file");
  try { accessSync(path, constants.R_OK); } catch (err) { throw new MediaError(path, `not readable: ${fsErrorReason(err)}`); }
}

async function ffprobe(path: string, options: string[]): Promise<ProbeOutput> {
  try {
    return await runFfprobe(path, options);
  } catch (err) {
    if (!(err instanceof ProbeFailure)) throw err;
    // ffprobe killed by a signal (e.g. the OOM killer) says nothing about the file.
    throw new MediaError(path, `not a readable video or image (ffprobe: ${err.reason})`, err.killedBy !== null);
  }
}

function rotationOf(stream: ProbedStream): number {
  const fromTag = Number(stream.tags?.rotate);
  const fromSideData = Number(stream.side_data_list?.find((d) => d.rotation !== undefined)?.rotation);
  const r = Number.isFinite(fromSideData) && fromSideData !== 0 ? fromSideData : Number.isFinite(fromTag) ? fromTag : 0;
  return ((Math.round(r) % 360) + 360) % 360;
}

function rate(text: string | undefined): number {
  if (!text) return 0;
  const [a, b] = text.split("/").map(Number);
  return b ? a / b : Number.isFinite(a) ? a : 0;
}

/**
 * Probes the file. `countFrames` decodes everything to count frames (slow; only used when the packet count
 * turned out to be wrong). Packet counts are used because header frame counts are often wrong or missing
 * (VP9 in WebM has none). A plain MP4's sample index gives the same count without an ffprobe process.
 */
export async function probeVideo(path: string, countFrames = false): Promise<VideoInfo> {
  checkReadable(path);
  const png = pngHeader(path);
  if (png) return { path, frameCount: 1, width: png.width, height: png.height, fps: 0, rotation: 0, codec: "png", hasAudio: false, isImage: true };
  const mp4 = countFrames ? undefined : readMp4VideoIndex(path);
  if (mp4) {
    const { sampleCount, ...rest } = mp4;
    return { path, frameCount: sampleCount, ...rest, rotation: 0, isImage: false };
  }
  const data = await ffprobe(path, countFrames ? ["-count_frames"] : ["-count_packets"]);
  const video = data.streams.find((s) => s.codec_type === "video" && !(s.disposition?.attached_pic));
  if (!video) throw new MediaError(path, "no video stream");
  const count = Number(countFrames ? video.nb_read_frames : video.nb_read_packets);
  const image = isImagePath(path) || /_pipe$|^image2/.test(String(data.format.format_name ?? ""));
  const rotation = rotationOf(video);
  const codedW = Number(video.width), codedH = Number(video.height);
  if (!(codedW > 0 && codedH > 0)) throw new MediaError(path, "video stream without a frame size");
  const swap = rotation === 90 || rotation === 270;
  if (!Number.isFinite(count) && !countFrames && !image) return probeVideo(path, true); // packets "N/A": count by decoding
  if (!(count > 0) && !image) throw new MediaError(path, "zero decodable video frames");
  return {
    path,
    frameCount: image ? 1 : count,
    width: swap ? codedH : codedW,
    height: swap ? codedW : codedH,
    fps: rate(video.avg_frame_rate) || rate(video.r_frame_rate),
    rotation,
    codec: String(video.codec_name ?? "unknown"),
    hasAudio: data.streams.some((s) => s.codec_type === "audio"),
    isImage: image,
  };
}

/**
 * Width and height from a PNG's IHDR chunk (saves an ffprobe process per image), and its pixel layout (bit depth,
 * colour type, interlacing) as one key; undefined if not a PNG.
 */
function pngHeader(path: string): { width: number; height: number; layout: string } | undefined {
  if (extname(path).toLowerCase() !== ".png") return undefined;
  const head = Buffer.alloc(29);
  const fd = openSync(path, "r");
  try { readSync(fd, head, 0, 29, 0); } finally { closeSync(fd); }
  const signature = head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  if (!signature || head.toString("latin1", 12, 16) !== "IHDR") return undefined; // let ffprobe judge it
  const width = head.readUInt32BE(16), height = head.readUInt32BE(20);
  return width > 0 && height > 0 ? { width, height, layout: `${head[24]}:${head[25]}:${head[28]}` } : undefined;
}

/**
 * What makes PNG images decodable together in one batch (decodeImageBatch): the same size and pixel layout. Undefined
 * for anything else (not a PNG, unreadable), which is decoded on its own.
 */
export function pngBatchKey(path: string): string | undefined {
  try {
    const png = pngHeader(path);
    return png && `${png.width}x${png.height}:${png.layout}`;
  } catch {
    return undefined;
  }
}

interface RawDecode { data: Buffer; frameBytes: number; decoded: number }

/** The filters after frame selection: resize by the short side (area when shrinking), then the optional centre crop. */
function resizeFilters(source: FrameSize, scale: FrameSize, out: FrameSize, crop: boolean): string[] {
  return [
    `scale=${scale.width}:${scale.height}:flags=${scale.width < source.width ? "area" : "bilinear"}`,
    ...(crop ? [`crop=${out.width}:${out.height}`] : []),
  ];
}

/** Runs one ffmpeg process that outputs the frames with the given (sorted, unique) indices. */
function decodeIndices(path: string, indices: number[], source: FrameSize, scale: FrameSize, out: FrameSize, crop: boolean,
  threads: number | undefined): Promise<RawDecode> {
  const select = indices.map((i) => `eq(n,${i})`).join("+");
  const filters = [`select='${select}'`, ...resizeFilters(source, scale, out, crop)];
  const frameBytes = out.width * out.height * 3;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let streamEnded = false, processEnded = false;
    const finish = () => {
      if (!streamEnded || !processEnded) return;
      const data = Buffer.concat(chunks);
      resolve({ data, frameBytes, decoded: Math.floor(data.length / frameBytes) });
    };
    const command = ffmpegCommand(path)
      .inputOptions(threads ? ["-threads", String(threads)] : [])
      .noAudio()
      .outputOptions(["-sn", "-dn", "-vsync", "0", "-frames:v", String(indices.length), "-pix_fmt", "rgb24", "-v", "error"])
      .videoFilters(filters.join(","))
      .format("rawvideo")
      .on("error", (err: Error, _stdout: string | null, stderr: string | null) => {
        // fluent-ffmpeg reports "Output stream closed" when ffmpeg's exit comes more than 20 ms after its stdout
        // closed (seen under load): the output is complete then, and a short one is caught by the frame count.
        if (streamEnded && err.message === "Output stream closed") { processEnded = true; finish(); return; }
        reject(new MediaError(path, `ffmpeg could not decode it (${lastLine(stderr || err.message)})`, true));
      })
      .on("end", () => { processEnded = true; finish(); });
    const stream = command.pipe();
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => { streamEnded = true; finish(); });
  });
}

/**
 * Decodes T frames sampled uniformly over the whole video (1 frame for an image), resized so that the short
 * side is `size`, optionally centre-cropped. Layout [T, H, W, 3] uint8 RGB.
 */
export async function decodeClip(path: string, options: DecodeOptions): Promise<Frames> {
  if (!(options.frames >= 1) || !(options.size >= 1)) throw new Error(`decodeClip: frames and size must be >= 1 (got ${options.frames}, ${options.size})`);
  let info = options.info ?? await probeVideo(path);
  const scale = resizeShortSide(info, options.size, options.maxLongSide);
  const out = options.crop ? { width: options.size, height: options.size } : scale;
  const frames = info.isImage ? 1 : options.frames;

  let indices = uniformIndices(info.frameCount, frames);
  let unique = [...new Set(indices)];
  let raw = await decodeIndices(path, unique, info, scale, out, options.crop === true, options.threads);
  if (raw.decoded < unique.length && !info.isImage) {
    // Some packets did not decode to frames: count real frames (slow, rare) and sample again.
    info = await probeVideo(path, true);
    indices = uniformIndices(info.frameCount, frames);
    unique = [...new Set(indices)];
    raw = await decodeIndices(path, unique, info, scale, out, options.crop === true, options.threads);
  }
  if (raw.decoded === 0) throw new MediaError(path, "zero decodable video frames");

  // Expand repeated indices (videos shorter than T); if frames are still missing, repeat the last decoded one.
  const data = new Uint8Array(frames * raw.frameBytes);
  for (let t = 0; t < frames; t++) {
    const k = Math.min(unique.indexOf(indices[t]), raw.decoded - 1);
    data.set(raw.data.subarray(k * raw.frameBytes, (k + 1) * raw.frameBytes), t * raw.frameBytes);
  }
  return { data, frames, height: out.height, width: out.width };
}

/**
 * Decodes PNG images of one size and pixel layout (pngBatchKey) with ONE ffmpeg process: their bytes concatenated on
 * stdin (png_pipe), one frame each, through the same filters as decodeClip (the same pixels, tested). A process per
 * image costs about 25 ms of CPU; a batch of 64 costs about as much as one. Throws MediaError naming the batch when
 * ffmpeg fails or gives another number of frames (a bad image among them): decode each on its own to find it.
 */
export async function decodeImageBatch(paths: string[], options: Pick<DecodeOptions, "size" | "crop" | "maxLongSide">): Promise<Frames[]> {
  if (paths.length === 0) return [];
  const keys = new Set(paths.map(pngBatchKey));
  const first = pngHeader(paths[0]);
  if (keys.size !== 1 || !first) throw new Error(`decodeImageBatch: needs PNG images of one size and pixel layout (${paths[0]} and ${paths.length - 1} more)`);
  const scale = resizeShortSide(first, options.size, options.maxLongSide);
  const out = options.crop ? { width: options.size, height: options.size } : scale;
  const frameBytes = out.width * out.height * 3;
  const where = `${paths[0]}${paths.length > 1 ? ` (and ${paths.length - 1} more in its batch)` : ""}`;
  const args = [
    "-v", "error", "-threads", "1", "-f", "png_pipe", "-i", "pipe:0",
    "-vf", resizeFilters(first, scale, out, options.crop === true).join(","), "-vsync", "0", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
  ];
  const { code, signal, stdout: data, stderr } = await runMediaProcess("ffmpeg", args, where, paths.map((p) => readFileSync(p)));
  if (code !== 0) throw new MediaError(where, `ffmpeg could not decode the batch (${signal ?? `exit ${code}`}: ${lastLine(stderr)})`, true);
  if (data.length !== paths.length * frameBytes) {
    throw new MediaError(where, `ffmpeg decoded ${data.length / frameBytes} frames from ${paths.length} images`, true);
  }
  return paths.map((_, i) => ({ data: new Uint8Array(data.buffer, data.byteOffset + i * frameBytes, frameBytes), frames: 1, height: out.height, width: out.width }));
}
