/**
 * Runs ffprobe on one file (JSON output, streams and format) in a process group of its own, and parses what it
 * prints through one schema. ffprobe is spawned here rather than through fluent-ffmpeg, whose probe cannot be given
 * spawn options: a probe in the kit's process group gets the terminal's Ctrl-C and exits half way, printing a partial
 * probe of a good file (seen as "no frame size"), which the frame cache would then remember as bad for good.
 */
import { z } from "zod";
import { lastLine, runMediaProcess } from "./ffmpeg";
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
export async function runFfprobe(path: string, options: string[]): Promise<ProbeOutput> {
  const args = ["-v", "error", "-print_format", "json", "-show_streams", "-show_format", ...options, path];
  const { code, signal, stdout, stderr } = await runMediaProcess("ffprobe", args, path);
  const message = lastLine(stderr).split(`${path}: `).join("").trim();
  if (signal) throw new ProbeFailure(path, `ffprobe was killed with signal ${signal}`, signal);
  if (code !== 0) throw new ProbeFailure(path, message || `ffprobe exited with code ${code}`, null);
  let json: unknown;
  try { json = JSON.parse(stdout.toString("utf8")); } catch {
    throw new ProbeFailure(path, "ffprobe printed no readable probe", null);
  }
  try { return checkSchema(FFPROBE_OUTPUT, json, `ffprobe output for ${path}`); } catch (err) {
    throw new ProbeFailure(path, (err as Error).message, null);
  }
}
