/**
 * Locates the ffmpeg and ffprobe binaries and hands out a configured fluent-ffmpeg.
 * Order: env COVER_FFMPEG / COVER_FFPROBE, the static binaries shipped inside the npm packages
 * @ffmpeg-installer/ffmpeg and @ffprobe-installer/ffprobe (no download, ~4 ms process start),
 * then `ffmpeg` / `ffprobe` on PATH (e.g. Debian's, ~120 ms start).
 */
import { spawn } from "node:child_process";
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

/**
 * Spawn options of every ffmpeg and ffprobe the kit runs: a process group of its own. A Ctrl-C in the terminal
 * signals the whole foreground group; the kit then stops between clips, but a decoder in that group would die half
 * way through a good file (or, ffprobe, print a partial probe and exit 0), and the file would be taken for bad.
 * The decoder running at that moment finishes its clip instead (a fraction of a second).
 */
export const MEDIA_PROCESS_OPTIONS = { detached: true } as const;

type SpawnFfmpeg = (args: string[], options: object, ...callbacks: unknown[]) => void;

/**
 * A fluent-ffmpeg command bound to the located binaries, whose ffmpeg is spawned with MEDIA_PROCESS_OPTIONS.
 * fluent-ffmpeg (pinned at 2.1.3) has no option for the process group, so its one spawning method is wrapped.
 */
export function ffmpegCommand(input?: string): ffmpeg.FfmpegCommand {
  const bins = ffmpegBinaries();
  const command = (input === undefined ? ffmpeg() : ffmpeg(input)).setFfmpegPath(bins.ffmpeg).setFfprobePath(bins.ffprobe);
  const internals = command as unknown as { _spawnFfmpeg: SpawnFfmpeg };
  const spawnFfmpeg = internals._spawnFfmpeg;
  if (typeof spawnFfmpeg !== "function") throw new Error("fluent-ffmpeg: no _spawnFfmpeg to wrap; the kit needs fluent-ffmpeg 2.1.3");
  internals._spawnFfmpeg = (args, options, ...callbacks) => typeof options === "function"
    ? spawnFfmpeg.call(command, args, MEDIA_PROCESS_OPTIONS, options, ...callbacks)
    : spawnFfmpeg.call(command, args, { ...options, ...MEDIA_PROCESS_OPTIONS }, ...callbacks);
  return command;
}

export interface MediaProcessResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
}

/**
 * Runs ffmpeg or ffprobe (spawned with MEDIA_PROCESS_OPTIONS) to its end: `input` written to its stdin (none: stdin
 * closed), its stdout and stderr collected. Rejects only when it cannot be started, naming `where` (what it was run
 * for) and the binary; how it ended (code, signal, message) is for the caller to judge.
 */
export function runMediaProcess(tool: "ffmpeg" | "ffprobe", args: string[], where: string, input?: Buffer[]): Promise<MediaProcessResult> {
  const binary = ffmpegBinaries()[tool];
  return new Promise((resolve, reject) => {
    const proc = spawn(binary, args, { ...MEDIA_PROCESS_OPTIONS, stdio: [input ? "pipe" : "ignore", "pipe", "pipe"] });
    const stdout: Buffer[] = [], stderr: Buffer[] = [];
    proc.stdout!.on("data", (d: Buffer) => stdout.push(d));
    proc.stderr!.on("data", (d: Buffer) => stderr.push(d));
    proc.on("error", (err) => reject(new Error(`${where}: cannot start ${tool} ${binary} (${err.message})`)));
    proc.on("close", (code, signal) => resolve({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8") }));
    if (input) {
      proc.stdin!.on("error", () => { /* a process that stops reading ends with a code the caller judges */ });
      for (const chunk of input) proc.stdin!.write(chunk);
      proc.stdin!.end();
    }
  });
}

/** The last non-empty line of a decoder's message (ffmpeg and ffprobe end with the one that says what failed). */
export function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.length ? lines[lines.length - 1] : text;
}
