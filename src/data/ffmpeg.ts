/**
 * Locates the ffmpeg and ffprobe binaries and hands out a configured fluent-ffmpeg.
 * Order: env COVER_FFMPEG / COVER_FFPROBE, the static binaries shipped inside the npm packages
 * @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe (no download, ~4 ms process start),
 * then `ffmpeg` / `ffprobe` on PATH (e.g. Debian's, ~120 ms start).
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import ffmpeg from "fluent-ffmpeg";

export interface FfmpegBinaries { ffmpeg: string; ffprobe: string; source: "env" | "npm" | "system" }

let cached: FfmpegBinaries | undefined;

function isExecutable(path: string): boolean {
  try { accessSync(path, constants.X_OK); return true; } catch { return false; }
}

function fromNpm(pkg: string): string | undefined {
  try {
    const path = (require(pkg) as { path?: string }).path;
    return path && isExecutable(path) ? path : undefined;
  } catch {
    return undefined; // package missing, or no binary for this platform
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function locate(name: "ffmpeg" | "ffprobe"): { path: string; source: FfmpegBinaries["source"] } {
  const env = process.env[name === "ffmpeg" ? "COVER_FFMPEG" : "COVER_FFPROBE"];
  if (env) {
    if (!isExecutable(env)) throw new Error(`${env}: not an executable ${name} (from env ${name === "ffmpeg" ? "COVER_FFMPEG" : "COVER_FFPROBE"})`);
    return { path: env, source: "env" };
  }
  const npm = fromNpm(name === "ffmpeg" ? "@ffmpeg-installer/ffmpeg" : "@ffprobe-installer/ffprobe");
  if (npm) return { path: npm, source: "npm" };
  const system = onPath(name);
  if (system) return { path: system, source: "system" };
  throw new Error(`${name} not found: install the npm package ${name === "ffmpeg" ? "@ffmpeg-installer/ffmpeg" : "@ffprobe-installer/ffprobe"}, ` +
    `put ${name} on PATH, or set ${name === "ffmpeg" ? "COVER_FFMPEG" : "COVER_FFPROBE"}`);
}

/** The binaries in use (located once per process). */
export function ffmpegBinaries(): FfmpegBinaries {
  if (!cached) {
    const a = locate("ffmpeg");
    const b = locate("ffprobe");
    cached = { ffmpeg: a.path, ffprobe: b.path, source: a.source === b.source ? a.source : a.source === "npm" ? b.source : a.source };
  }
  return cached;
}

/** A fluent-ffmpeg command bound to the located binaries. */
export function ffmpegCommand(input?: string): ffmpeg.FfmpegCommand {
  const bins = ffmpegBinaries();
  const command = input === undefined ? ffmpeg() : ffmpeg(input);
  return command.setFfmpegPath(bins.ffmpeg).setFfprobePath(bins.ffprobe);
}
