/**
 * Runs ffprobe on one file (JSON output, streams and format) in a process group of its own, and parses what it
 * prints through one schema. ffprobe is spawned here rather than through fluent-ffmpeg, whose probe cannot be given
 * spawn options: a probe in the kit's process group gets the terminal's Ctrl-C and exits half way, printing a partial
 * probe of a good file (seen as "no frame size"), which the frame cache would then remember as bad for good.
 */
import { spawn } from "node:child_process";
import { z } from "zod";
import { ffmpegBinaries, lastLine, MEDIA_PROCESS_OPTIONS } from "./ffmpeg";
import { checkSchema } from "../util/schema";

const STREAM = z.object({
  codec_type: z.string().optional(),
  codec_name: z.string().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
  /** Counted by reading the file (-count_packets / -count_frames); "N/A" where ffprobe cannot tell. */
  nb_read_packets: z.string().optional(),
  nb_read_frames: z.string().optional(),
  avg_frame_rate: z.string().optional(),
  r_frame_rate: z.string().optional(),
  disposition: z.object({ attached_pic: z.number().optional() }).passthrough().optional(),
  tags: z.record(z.string(), z.unknown()).optional(),
  side_data_list: z.array(z.object({ rotation: z.number().optional() }).passthrough()).optional(),
}).passthrough();

const FFPROBE_OUTPUT = z.object({
  streams: z.array(STREAM).default([]),
  format: z.object({ format_name: z.string().optional() }).passthrough().default({}),
}).passthrough();

export type ProbedStream = z.infer<typeof STREAM>;
export type ProbeOutput = z.infer<typeof FFPROBE_OUTPUT>;

/** ffprobe did not give a probe; `killedBy`: the signal that ended it (then the file itself is not to blame). */
export class ProbeFailure extends Error {
  constructor(readonly path: string, readonly reason: string, readonly killedBy: NodeJS.Signals | null) {
    super(`${path}: ${reason}`);
    this.name = "ProbeFailure";
  }
}

/** ffprobe's streams and format for `path`, with the extra options (e.g. -count_packets). */
export function runFfprobe(path: string, options: string[]): Promise<ProbeOutput> {
  const args = ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", ...options, path];
  return new Promise((resolve, reject) => {
    const proc = spawn(ffmpegBinaries().ffprobe, args, { ...MEDIA_PROCESS_OPTIONS, stdio: ["ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [], stderr: Buffer[] = [];
    proc.stdout.on("data", (d: Buffer) => stdout.push(d));
    proc.stderr.on("data", (d: Buffer) => stderr.push(d));
    proc.on("error", (err) => reject(new Error(`${path}: cannot start ffprobe ${ffmpegBinaries().ffprobe} (${err.message})`)));
    proc.on("close", (code, signal) => {
      const message = lastLine(Buffer.concat(stderr).toString("utf8")).split(`${path}: `).join("").trim();
      if (signal) return reject(new ProbeFailure(path, `ffprobe was killed with signal ${signal}`, signal));
      if (code !== 0) return reject(new ProbeFailure(path, message || `ffprobe exited with code ${code}`, null));
      let json: unknown;
      try { json = JSON.parse(Buffer.concat(stdout).toString("utf8")); } catch {
        return reject(new ProbeFailure(path, "ffprobe printed no readable probe", null));
      }
      try { resolve(checkSchema(FFPROBE_OUTPUT, json, `ffprobe output for ${path}`)); } catch (err) {
        reject(new ProbeFailure(path, (err as Error).message, null));
      }
    });
  });
}
