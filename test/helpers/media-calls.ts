/**
 * Which ffmpeg and ffprobe processes a piece of the kit starts: `script` (CommonJS, run by tsx in a child process) sees
 * COVER_FFMPEG and COVER_FFPROBE pointing at wrappers that log each call's arguments and the process that started it,
 * one line per call, then run the real binary.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ffmpegBinaries } from "../../src/data/ffmpeg";

export interface MediaCalls {
  ffmpeg: string[];
  ffprobe: string[];
  /** The pid of the process that started each call, in the same order. */
  parents: { ffmpeg: number[]; ffprobe: number[] };
  /** The script's process id. */
  scriptPid: number;
}

export function mediaCallsOf(script: string, dir: string): MediaCalls {
  const binaries = { ffmpeg: ffmpegBinaries().ffmpeg, ffprobe: ffmpegBinaries().ffprobe };
  const log = (name: string, what: string) => join(dir, `${name}-${what}.txt`);
  for (const [name, real] of Object.entries(binaries)) {
    writeFileSync(log(name, "calls"), "");
    writeFileSync(log(name, "parents"), "");
    writeFileSync(join(dir, name), `#!/bin/sh\necho "$@" >> '${log(name, "calls")}'\necho "$PPID" >> '${log(name, "parents")}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  }
  const pidFile = join(dir, "script-pid.txt");
  execFileSync(process.execPath, ["--import", "tsx", "-e", `require("node:fs").writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));\n${script}`],
    { env: { ...process.env, COVER_FFMPEG: join(dir, "ffmpeg"), COVER_FFPROBE: join(dir, "ffprobe") } });
  const lines = (name: string, what: string) => readFileSync(log(name, what), "utf8").split("\n").filter((line) => line.length > 0);
  return {
    ffmpeg: lines("ffmpeg", "calls"), ffprobe: lines("ffprobe", "calls"),
    parents: { ffmpeg: lines("ffmpeg", "parents").map(Number), ffprobe: lines("ffprobe", "parents").map(Number) },
    scriptPid: Number(readFileSync(pidFile, "utf8")),
  };
}
