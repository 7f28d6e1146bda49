/** `cover data sample <video> --frames T --size S --out frames.npy`: uint8 [T, S, S, 3] (short side to S, centre crop). */
import { resolve } from "node:path";
import { Flags, OptionSpecs, UsageError } from "../args";
import { printJson } from "../output";
import { writeNpy } from "../../io/npy";
import { decodeClip, MediaError, probeVideo, uniformIndices } from "../../data/video";

export const usage = `usage: cover data sample <video or image> --out frames.npy [--frames T] [--size S] [--no-crop] [--json]

Decodes T frames (default 8) sampled uniformly over the whole video (frame i at floor((i + 0.5) * N / T) of the
N decodable frames), resizes the short side to S (default 224) and centre-crops to S x S, then writes uint8
[T, S, S, 3] as .npy. --no-crop keeps the whole frame ([T, H, W, 3], short side S). An image gives T = 1.`;

export const options: OptionSpecs = { frames: "string", size: "string", out: "string", "no-crop": "boolean", json: "boolean" };

export async function run(flags: Flags): Promise<number> {
  const positionals = flags.positionals[0] === "sample" ? flags.positionals.slice(1) : flags.positionals;
  if (flags.bool("help")) { console.log(usage); return 0; }
  const frames = flags.int("frames", 8);
  const size = flags.int("size", 224);
  const out = flags.requiredString("out");
  const crop = !flags.bool("no-crop");
  const json = flags.bool("json");
  flags.rejectUnknown();
  if (positionals.length !== 1) throw new UsageError("sample takes exactly one video or image");
  if (frames < 1) throw new UsageError("--frames must be >= 1");
  if (size < 1) throw new UsageError("--size must be >= 1");
  const path = resolve(positionals[0]);
  try {
    const info = await probeVideo(path);
    const clip = await decodeClip(path, { frames, size, crop, info });
    writeNpy(out, { dtype: "uint8", shape: [clip.frames, clip.height, clip.width, 3], data: clip.data });
    const report = {
      input: path, out: resolve(out), shape: [clip.frames, clip.height, clip.width, 3],
      decodableFrames: info.frameCount, indices: uniformIndices(info.frameCount, clip.frames),
      source: { width: info.width, height: info.height, fps: info.fps, codec: info.codec, audio: info.hasAudio, rotation: info.rotation },
    };
    if (json) printJson(report);
    else console.log(`wrote ${report.out}: uint8 [${report.shape.join(", ")}] from ${path} ` +
      `(${info.frameCount} frames, ${info.width}x${info.height}, ${info.fps.toFixed(2)} fps, ${info.codec}; frames ${report.indices.join(",")})`);
    return 0;
  } catch (err) {
    if (err instanceof MediaError) { console.error(`cover data sample: ${err.message}`); return 1; }
    throw err;
  }
}
