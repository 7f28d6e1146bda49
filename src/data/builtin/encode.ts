/**
 * Encodes generated RGB clips as real video files: rawvideo rgb24 on stdin -> libx264rgb qp 0 (lossless) mp4 with
 * bit-exact flags. A batch of clips goes through ONE encoder as one stream with a key frame at every clip start,
 * cut into one mp4 per clip by the segment muxer (~1 ms per small clip, against ~10 ms for a process per clip).
 * A clip's bytes depend on its place in the batch, so callers keep batches fixed for determinism.
 * Segments are written to a temporary folder, then renamed into place.
 */
import { mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { runMediaProcess } from "../ffmpeg";

export interface ClipToEncode { path: string; clip: Uint8Array }

let batchCounter = 0;

export async function encodeLosslessMp4s(items: ClipToEncode[], frames: number, width: number, height: number, fps = 8): Promise<void> {
  if (items.length === 0) return;
  const clipBytes = frames * width * height * 3;
  for (const item of items) {
    if (item.clip.length !== clipBytes) throw new Error(`${item.path}: ${frames}x${height}x${width}x3 needs ${clipBytes} bytes, got ${item.clip.length}`);
  }
  const tmp = join(dirname(items[0].path), `.encode-${process.pid}-${batchCounter++}`);
  mkdirSync(tmp, { recursive: true });
  const cuts = items.slice(1).map((_, i) => (i + 1) * frames).join(",");
  const args = [
    "-v", "error", "-nostdin", "-y",
    "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", `${width}x${height}`, "-r", String(fps), "-i", "pipe:0",
    "-c:v", "libx264rgb", "-qp", "0", "-preset", "ultrafast", "-threads", "1",
    "-force_key_frames", `expr:eq(mod(n,${frames}),0)`,
    "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1",
    "-f", "segment", "-segment_format", "mp4", "-reset_timestamps", "1", ...(cuts ? ["-segment_frames", cuts] : []),
    join(tmp, "%06d.mp4"),
  ];
  const where = `${items[0].path}${items.length > 1 ? ` (and ${items.length - 1} more)` : ""}`;
  try {
    const clips = items.map((item) => Buffer.from(item.clip.buffer, item.clip.byteOffset, item.clip.byteLength));
    const { code, stderr } = await runMediaProcess("ffmpeg", args, where, clips);
    if (code !== 0) throw new Error(`${where}: ffmpeg encoding failed (exit ${code}): ${stderr.trim()}`);
    const written = readdirSync(tmp).sort();
    if (written.length !== items.length) throw new Error(`${where}: ffmpeg wrote ${written.length} clips, expected ${items.length}`);
    items.forEach((item, i) => {
      mkdirSync(dirname(item.path), { recursive: true });
      renameSync(join(tmp, written[i]), item.path);
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
