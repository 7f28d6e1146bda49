/**
 * Which ffmpeg and ffprobe processes a piece of the kit starts: `script` (CommonJS, run by tsx in a child process) sees
 * COVER_FFMPEG and COVER_FFPROBE pointing at wrappers that log each call's arguments, one line per call, then run the
 * real binary.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ffmpegBinaries } from "../../src/data/ffmpeg";

export function mediaCallsOf(script: string, dir: string): { ffmpeg: string[]; ffprobe: string[] } {
  const binaries = { ffmpeg: ffmpegBinaries().ffmpeg, ffprobe: ffmpegBinaries().ffprobe };
  const log = (name: string) => join(dir, `${name}-calls.txt`);
  for (const [name, real] of Object.entries(binaries)) {
    writeFileSync(log(name), "");
    writeFileSync(join(dir, name), `#!/bin/sh\necho "$@" >> '${log(name)}'\nexec '${real}' "$@"\n`, { mode: 0o755 });
  }
  execFileSync(process.execPath, ["--import", "tsx", "-e", script],
    { env: { ...process.env, COVER_FFMPEG: join(dir, "ffmpeg"), COVER_FFPROBE: join(dir, "ffprobe") } });
  const calls = (name: string) => readFileSync(log(name), "utf8").split("\n").filter((line) => line.length > 0);
  return { ffmpeg: calls("ffmpeg"), ffprobe: calls("ffprobe") };
}
