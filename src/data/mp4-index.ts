/**
 * What an MP4's sample index (its `moov` box) says about the file's one video track: frame size, packet count,
 * frame rate, codec, whether there is sound. The decoder needs these before it can pick T frames; reading them from
 * the index takes a few reads of the file, against an ffprobe process that reads every packet (about 25 ms of CPU
 * for a 40x40 clip, a third of decoding one).
 *
 * Only the plain case is answered: one video track, sample table in `moov` (not fragmented), an unrotated and
 * unstretched picture, no edit list that hides frames, a codec the kit names. Anything else, and anything malformed
 * (box sizes that do not add up, a truncated file), returns undefined: ffprobe then judges the file as before.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export interface Mp4VideoIndex {
  /** Samples of the video track: the packets ffprobe's -count_packets would count. */
  sampleCount: number;
  width: number;
  height: number;
  /** Average frame rate (0 where the track has no duration). */
  fps: number;
  /** ffmpeg's name of the codec. */
  codec: string;
  hasAudio: boolean;
}

/** Sample-entry types the kit knows, by ffmpeg's codec names. An unknown one (encrypted `encv` included) goes to ffprobe. */
const CODECS: Record<string, string> = {
  avc1: "h264", avc3: "h264", hvc1: "hevc", hev1: "hevc", vp09: "vp9", av01: "av1", mp4v: "mpeg4",
};

/** The index of a moov box is read whole: larger ones (hours of video) are left to ffprobe. */
const MAX_MOOV_BYTES = 32 * 1024 * 1024;
/** Top-level boxes looked at before giving up (a real file has a handful). */
const MAX_TOP_LEVEL_BOXES = 1024;

class NotPlain extends Error {}

interface Box { type: string; start: number; end: number }

/**
 * The box whose header starts at head[offset] and, in the file or buffer it belongs to, at position `at`, which may
 * extend to `end`: its type and content range in those positions. NotPlain where the sizes do not add up.
 */
function boxAt(head: Buffer, offset: number, at: number, end: number): Box {
  if (end - at < 8 || head.length - offset < 8) throw new NotPlain();
  let size = head.readUInt32BE(offset), header = 8;
  if (size === 1) {
    if (end - at < 16 || head.length - offset < 16) throw new NotPlain();
    size = Number(head.readBigUInt64BE(offset + 8));
    header = 16;
  } else if (size === 0) {
    size = end - at; // to the end of its parent (or of the file)
  }
  if (size < header || at + size > end) throw new NotPlain();
  return { type: head.toString("latin1", offset + 4, offset + 8), start: at + header, end: at + size };
}

/** The boxes inside bytes[start, end), each with its content range. */
function boxesIn(bytes: Buffer, start: number, end: number): Box[] {
  const boxes: Box[] = [];
  for (let at = start; at < end;) {
    const box = boxAt(bytes, at, at, end);
    boxes.push(box);
    at = box.end;
  }
  return boxes;
}

function only(boxes: Box[], type: string): Box {
  const found = boxes.filter((b) => b.type === type);
  if (found.length !== 1) throw new NotPlain();
  return found[0];
}

function maybe(boxes: Box[], type: string): Box | undefined {
  const found = boxes.filter((b) => b.type === type);
  if (found.length > 1) throw new NotPlain();
  return found[0];
}

/** A path of single child boxes, e.g. child(moov, "mdia", "minf", "stbl"). */
function child(bytes: Buffer, box: Box, ...types: string[]): Box {
  return types.reduce((parent, type) => only(boxesIn(bytes, parent.start, parent.end), type), box);
}

function need(box: Box, bytes: number): void {
  if (box.end - box.start < bytes) throw new NotPlain();
}

/** A full box's (version, flags) header is 4 bytes; the fields below start after it. */
function timescaleAndDuration(bytes: Buffer, mdhdOrMvhd: Box): { timescale: number; duration: number } {
  const version = bytes[mdhdOrMvhd.start];
  need(mdhdOrMvhd, version === 1 ? 32 : 20);
  if (version === 1) return { timescale: bytes.readUInt32BE(mdhdOrMvhd.start + 20), duration: Number(bytes.readBigUInt64BE(mdhdOrMvhd.start + 24)) };
  return { timescale: bytes.readUInt32BE(mdhdOrMvhd.start + 12), duration: bytes.readUInt32BE(mdhdOrMvhd.start + 16) };
}

function handlerOf(bytes: Buffer, trak: Box): string {
  const hdlr = child(bytes, trak, "mdia", "hdlr");
  need(hdlr, 12);
  return bytes.toString("latin1", hdlr.start + 8, hdlr.start + 12);
}

/** tkhd: the picture is shown as stored (identity rotation/scale matrix); returns its display size. */
function unrotatedTrackSize(bytes: Buffer, trak: Box): { width: number; height: number } {
  const tkhd = child(bytes, trak, "tkhd");
  const v1 = bytes[tkhd.start] === 1;
  const matrix = tkhd.start + (v1 ? 52 : 40);
  need(tkhd, (v1 ? 52 : 40) + 44);
  const [a, b, c, d] = [0, 4, 12, 16].map((o) => bytes.readInt32BE(matrix + o));
  if (a !== 0x10000 || b !== 0 || c !== 0 || d !== 0x10000) throw new NotPlain();
  return { width: bytes.readUInt32BE(matrix + 36) / 0x10000, height: bytes.readUInt32BE(matrix + 40) / 0x10000 };
}

/**
 * An edit list may start the track later or cut it short, and ffmpeg then drops packets: only the one-entry list
 * that plays the whole media from its start at normal rate is plain.
 */
function checkEditList(bytes: Buffer, trak: Box, media: { timescale: number; duration: number }, movieTimescale: number): void {
  const edts = maybe(boxesIn(bytes, trak.start, trak.end), "edts");
  if (!edts) return;
  const elst = child(bytes, edts, "elst");
  const v1 = bytes[elst.start] === 1;
  need(elst, 8 + (v1 ? 20 : 12));
  if (bytes.readUInt32BE(elst.start + 4) !== 1) throw new NotPlain();
  const entry = elst.start + 8;
  const segment = v1 ? bytes.readBigUInt64BE(entry) : BigInt(bytes.readUInt32BE(entry));
  const mediaTime = v1 ? bytes.readBigInt64BE(entry + 8) : BigInt(bytes.readInt32BE(entry + 4));
  const rate = bytes.readInt32BE(entry + (v1 ? 16 : 8));
  if (mediaTime !== 0n || rate !== 0x10000) throw new NotPlain();
  // The edit covers the whole media: segment / movie timescale >= media duration / media timescale.
  if (segment * BigInt(media.timescale) < BigInt(media.duration) * BigInt(movieTimescale)) throw new NotPlain();
}

function videoIndex(bytes: Buffer, moov: Box): Mp4VideoIndex {
  const children = boxesIn(bytes, moov.start, moov.end);
  const traks = children.filter((b) => b.type === "trak");
  const handlers = traks.map((t) => handlerOf(bytes, t));
  const videoTraks = traks.filter((_, i) => handlers[i] === "vide");
  if (videoTraks.length !== 1) throw new NotPlain();
  const trak = videoTraks[0];

  const movie = timescaleAndDuration(bytes, only(children, "mvhd"));
  const media = timescaleAndDuration(bytes, child(bytes, trak, "mdia", "mdhd"));
  if (!(movie.timescale > 0 && media.timescale > 0)) throw new NotPlain();
  checkEditList(bytes, trak, media, movie.timescale);

  const stbl = child(bytes, trak, "mdia", "minf", "stbl");
  const stsd = child(bytes, stbl, "stsd");
  need(stsd, 8);
  if (bytes.readUInt32BE(stsd.start + 4) !== 1) throw new NotPlain();
  const entries = boxesIn(bytes, stsd.start + 8, stsd.end);
  if (entries.length !== 1) throw new NotPlain();
  const entry = entries[0];
  const codec = CODECS[entry.type];
  if (!codec) throw new NotPlain();
  need(entry, 28);
  const width = bytes.readUInt16BE(entry.start + 24), height = bytes.readUInt16BE(entry.start + 26);
  // A display size other than the coded one: a stretched picture (pixel aspect) that ffprobe describes better.
  const shown = unrotatedTrackSize(bytes, trak);
  if (!(width > 0 && height > 0) || shown.width !== width || shown.height !== height) throw new NotPlain();

  const stsz = child(bytes, stbl, "stsz");
  need(stsz, 12);
  const sampleCount = bytes.readUInt32BE(stsz.start + 8);
  if (sampleCount === 0) throw new NotPlain();
  const fps = media.duration > 0 ? (sampleCount * media.timescale) / media.duration : 0;
  return { sampleCount, width, height, fps, codec, hasAudio: handlers.includes("soun") };
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let read = 0;
  while (read < length) {
    const n = readSync(fd, buffer, read, length - read, position + read);
    if (n === 0) throw new NotPlain();
    read += n;
  }
  return buffer;
}

/** The top-level box starting at `at`, read from the file (content range in file offsets). */
function topLevelBox(fd: number, at: number, fileSize: number): Box {
  if (fileSize - at < 8) throw new NotPlain();
  return boxAt(readAt(fd, at, Math.min(16, fileSize - at)), 0, at, fileSize);
}

/** The file's one moov box; NotPlain for a file that is not MP4, a fragmented one (moof), none or two moov. */
function findMoov(fd: number, fileSize: number): Box {
  let moov: Box | undefined;
  for (let at = 0, count = 0; at < fileSize; count++) {
    if (count >= MAX_TOP_LEVEL_BOXES) throw new NotPlain();
    const box = topLevelBox(fd, at, fileSize);
    if (count === 0 && box.type !== "ftyp") throw new NotPlain();
    if (box.type === "moof" || (box.type === "moov" && moov)) throw new NotPlain();
    if (box.type === "moov") moov = box;
    at = box.end;
  }
  if (!moov || moov.end - moov.start > MAX_MOOV_BYTES) throw new NotPlain();
  return moov;
}

/**
 * The video track as the MP4's index describes it, or undefined where the file is not a plain MP4 (see above) or
 * cannot be read: the caller then asks ffprobe, which also gives the reason a bad file is bad.
 */
export function readMp4VideoIndex(path: string): Mp4VideoIndex | undefined {
  let fd: number;
  try { fd = openSync(path, "r"); } catch { return undefined; }
  try {
    const moov = findMoov(fd, fstatSync(fd).size);
    const bytes = readAt(fd, moov.start, moov.end - moov.start);
    return videoIndex(bytes, { type: "moov", start: 0, end: bytes.length });
  } catch (err) {
    // NotPlain, a read past a box (RangeError), or a read error: ffprobe will say what it makes of the file.
    if (err instanceof NotPlain || err instanceof RangeError || (err as NodeJS.ErrnoException).code) return undefined;
    throw err;
  } finally {
    closeSync(fd);
  }
}
