/**
 * Encodes generated RGB clips as real video files: rawvideo rgb24 on stdin -> libx264rgb qp 0 (lossless) mp4 with
 * bit-exact flags. A batch of clips goes through ONE encoder as one stream with a key frame at every clip start,
 * cut into one mp4 per clip by the segment muxer (~1 ms per small clip, against ~10 ms for a process per clip).
 * A clip's bytes depend on its place in the batch, so callers keep batches fixed for determinism.
 * Segments are written to a temporary folder, then renamed into place.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { ffmpegBinaries, MEDIA_PROCESS_OPTIONS } from "../ffmpeg";

export interface ClipToEncode { path: string; clip: Uint8Array }

let batchCounter = 0;

export function encodeLosslessMp4s(items: ClipToEncode[], frames: number, width: number, height: number, fps = 8): Promise<void> {
  if (items.length === 0) return Promise.resolve();
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
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => { rmSync(tmp, { recursive: true, force: true }); reject(err); };
    const proc = spawn(ffmpegBinaries().ffmpeg, args, { ...MEDIA_PROCESS_OPTIONS, stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    proc.on("error", (err) => fail(new Error(`${where}: cannot start ffmpeg (${err.message})`)));
    proc.on("close", (code) => {
      if (code !== 0) return fail(new Error(`${where}: ffmpeg encoding failed (exit ${code}): ${stderr.trim()}`));
      const written = readdirSync(tmp).sort();
      if (written.length !== items.length) return fail(new Error(`${where}: ffmpeg wrote ${written.length} clips, expected ${items.length}`));
      items.forEach((item, i) => {
        mkdirSync(dirname(item.path), { recursive: true });
        renameSync(join(tmp, written[i]), item.path);
      });
      rmSync(tmp, { recursive: true, force: true });
      resolve();
    });
    proc.stdin.on("error", () => { /* reported by close */ });
    for (const item of items) proc.stdin.write(Buffer.from(item.clip.buffer, item.clip.byteOffset, item.clip.byteLength));
    proc.stdin.end();
  });
}
