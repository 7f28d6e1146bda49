/**
 * Two sets of clips in the layout of the real demo folder (task5/, task41/, task93/, each with 0.webm to 2.webm):
 * the real Something-Something-v2 demonstration clips (when COVER_SHARED_DATA is set), and clips with the same
 * real-world traits encoded here by the kit's ffmpeg: VP9 in WebM (no frame count in the header), 12 and 30 fps,
 * 427x240, 1920x1080 and portrait 1080x1920, an Opus audio track, two byte-identical files. The encoded clips
 * are a few frames long, so encoding the whole set takes about a second.
 */
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { ffmpegBinaries } from "../../src/data/ffmpeg";
import { needsSharedData, sharedDataPath } from "./shared-data";
import { tempDir } from "./tf";

export interface DemoClips {
  /** Which set this is, for test names. */
  label: string;
  /** The same in one word, for file names. */
  key: string;
  /** node:test options: the real set is skipped, saying why, without the real data. */
  options: { skip: string | false };
  /** The folder holding task5/, task41/ and task93/ (the encoded set is written on the first call). */
  root(): Promise<string>;
  /** Decodable frames of a clip, e.g. `frames("task5/2.webm")`. */
  frames(clip: string): number;
}

interface Recipe { width: number; height: number; fps: number; frames: number; audio: boolean; pattern: "testsrc" | "testsrc2" }

const SMALL = { width: 427, height: 240, fps: 12, audio: false, pattern: "testsrc" } as const; // testsrc2 needs an even width
const PORTRAIT = { width: 1080, height: 1920, fps: 30, audio: true, pattern: "testsrc2" } as const;
const LANDSCAPE = { width: 1920, height: 1080, fps: 30, audio: true, pattern: "testsrc2" } as const;

/** What each encoded clip is; the large ones are 2 frames long to keep encoding fast. */
const RECIPES: Record<string, Recipe> = {
  "task5/0.webm": { ...SMALL, frames: 14 },
  "task5/1.webm": { ...SMALL, frames: 13 },
  "task5/2.webm": { ...SMALL, frames: 12 },
  "task41/0.webm": { ...PORTRAIT, frames: 2 },
  "task41/1.webm": { ...SMALL, frames: 10 },
  "task41/2.webm": { ...SMALL, frames: 9 },
  "task93/0.webm": { ...LANDSCAPE, frames: 2 },
  "task93/1.webm": { width: 320, height: 180, fps: 30, audio: true, pattern: "testsrc2", frames: 6 },
};

/** Byte-identical copies, as two downloads of the same video are. */
const COPIES: Record<string, string> = { "task93/2.webm": "task93/1.webm" };

/** Frames in the real clips, counted once by decoding (their headers have no frame count). */
const REAL_FRAMES: Record<string, number> = {
  "task5/0.webm": 52, "task5/1.webm": 53, "task5/2.webm": 47,
  "task41/0.webm": 154, "task41/1.webm": 58, "task41/2.webm": 58,
  "task93/0.webm": 107, "task93/1.webm": 94, "task93/2.webm": 94,
};

function encodeArgs(recipe: Recipe, out: string): string[] {
  const seconds = recipe.frames / recipe.fps;
  return [
    "-v", "error", "-nostdin", "-y",
    "-f", "lavfi", "-i", `${recipe.pattern}=size=${recipe.width}x${recipe.height}:rate=${recipe.fps}`,
    ...(recipe.audio ? ["-f", "lavfi", "-i", `sine=frequency=440:sample_rate=48000:duration=${seconds}`] : []),
    "-frames:v", String(recipe.frames),
    "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-threads", "1", "-b:v", "1M", "-pix_fmt", "yuv420p",
    ...(recipe.audio ? ["-c:a", "libopus"] : []),
    "-map_metadata", "-1", "-fflags", "+bitexact", out,
  ];
}

function encode(recipe: Recipe, out: string): Promise<void> {
  mkdirSync(dirname(out), { recursive: true });
  return new Promise((resolve, reject) => {
    execFile(ffmpegBinaries().ffmpeg, encodeArgs(recipe, out), (err, _stdout, stderr) => {
      if (err) reject(new Error(`${out}: ffmpeg could not encode the test clip: ${stderr.trim() || err.message}`));
      else resolve();
    });
  });
}

async function encodeAll(dir: string): Promise<string> {
  await Promise.all(Object.entries(RECIPES).map(([clip, recipe]) => encode(recipe, join(dir, clip))));
  for (const [copy, original] of Object.entries(COPIES)) copyFileSync(join(dir, original), join(dir, copy));
  return dir;
}

function encodedFrames(clip: string): number {
  const recipe = RECIPES[COPIES[clip] ?? clip];
  if (!recipe) throw new Error(`no encoded demo clip '${clip}'`);
  return recipe.frames;
}

let encoded: Promise<string> | undefined;

/** Clips with the real clips' traits, encoded once per test process into a temporary folder. */
export const encodedDemoClips: DemoClips = {
  label: "encoded clips",
  key: "encoded",
  options: { skip: false },
  root: () => (encoded ??= encodeAll(tempDir("demo-clips"))),
  frames: encodedFrames,
};

/** The real demonstration clips (COVER_SHARED_DATA/videos/ssv2-demos). */
export const realDemoClips: DemoClips = {
  label: "real clips",
  key: "real",
  options: needsSharedData("the real demo clips"),
  root: async () => sharedDataPath("videos/ssv2-demos"),
  frames: (clip) => {
    const frames = REAL_FRAMES[clip];
    if (frames === undefined) throw new Error(`no real demo clip '${clip}'`);
    return frames;
  },
};

/** Both sets: tests loop over them, so every real-clip check has its twin on the encoded clips. */
export const DEMO_CLIP_SETS: readonly DemoClips[] = [encodedDemoClips, realDemoClips];
