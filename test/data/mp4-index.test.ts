import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { readMp4VideoIndex } from "../../src/data/mp4-index";
import { runFfprobe } from "../../src/data/ffprobe";
import { ffmpegBinaries } from "../../src/data/ffmpeg";
import { decodeClip, probeVideo } from "../../src/data/video";
import { encodeLosslessMp4s } from "../../src/data/builtin/encode";
import { Rng } from "../../src/util/rng";
import { tempDir } from "../helpers/tf";
import { mediaCallsOf } from "../helpers/media-calls";

const dir = tempDir("mp4-index");
const SOURCE = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10"];
const BASELINE = ["-c:v", "libx264", "-profile:v", "baseline", "-threads", "1", "-pix_fmt", "yuv420p"];

/** Each variant: how it is encoded, and whether its index is plain enough to be read without ffprobe. */
const VARIANTS: Record<string, { args: string[]; plain: boolean }> = {
  "baseline.mp4": { args: [...SOURCE, "-frames:v", "12", ...BASELINE], plain: true },
  "faststart.mp4": { args: [...SOURCE, "-frames:v", "13", ...BASELINE, "-movflags", "+faststart"], plain: true },
  "audio.mp4": {
    args: [...SOURCE, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1.2", "-frames:v", "12", ...BASELINE, "-c:a", "aac", "-shortest"],
    plain: true,
  },
  "mpeg4.mp4": { args: [...SOURCE, "-frames:v", "11", "-c:v", "mpeg4", "-threads", "1"], plain: true },
  // B-frames: the edit list starts the media later (media_time > 0), and ffmpeg may drop packets by it.
  "bframes.mp4": { args: [...SOURCE, "-frames:v", "12", "-c:v", "libx264", "-threads", "1", "-pix_fmt", "yuv420p"], plain: false },
  "fragmented.mp4": { args: [...SOURCE, "-frames:v", "12", ...BASELINE, "-movflags", "frag_keyframe+empty_moov"], plain: false },
  // Pixel aspect 2:1: shown twice as wide as stored.
  "anamorphic.mp4": { args: [...SOURCE, "-frames:v", "12", ...BASELINE, "-vf", "setsar=2"], plain: false },
  "video.webm": { args: [...SOURCE, "-frames:v", "6", "-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-threads", "1"], plain: false },
};

function encode(name: string, args: string[]): Promise<string> {
  const out = join(dir, name);
  return new Promise((done, fail) => execFile(ffmpegBinaries().ffmpeg, ["-v", "error", "-nostdin", "-y", ...args, "-fflags", "+bitexact", out],
    (err, _o, stderr) => (err ? fail(new Error(`${name}: ${stderr || err.message}`)) : done(out))));
}

let encoded: Promise<Record<string, string>> | undefined;
function variants(): Promise<Record<string, string>> {
  encoded ??= Promise.all(Object.entries(VARIANTS).map(async ([name, v]) => [name, await encode(name, v.args)] as const)).then(Object.fromEntries);
  return encoded;
}

/** What ffprobe reads by counting packets: the facts the index must reproduce. */
async function ffprobeFacts(file: string) {
  const probe = await runFfprobe(file, ["-count_packets"]);
  const video = probe.streams.find((s) => s.codec_type === "video");
  assert.ok(video, file);
  const [num, den] = String(video.avg_frame_rate).split("/").map(Number);
  return {
    sampleCount: Number(video.nb_read_packets), width: video.width, height: video.height,
    fps: den ? num / den : 0, codec: video.codec_name, hasAudio: probe.streams.some((s) => s.codec_type === "audio"),
  };
}

test("a plain MP4's index gives what ffprobe counts (packets, size, rate, codec, sound); other files are left to ffprobe", async () => {
  const files = await variants();
  for (const [name, { plain }] of Object.entries(VARIANTS)) {
    const index = readMp4VideoIndex(files[name]);
    if (!plain) { assert.equal(index, undefined, `${name} is not plain`); continue; }
    assert.ok(index, `${name} is plain`);
    assert.deepEqual(index, await ffprobeFacts(files[name]), name);
  }
  assert.equal(readMp4VideoIndex(files["audio.mp4"])?.hasAudio, true);
});

test("the built-in datasets' clips (lossless x264 cut by the segment muxer) are read from their index", async () => {
  const rng = new Rng(3);
  const clips = Array.from({ length: 3 }, (_, i) => ({ path: join(dir, `builtin-${i}.mp4`), clip: Uint8Array.from({ length: 16 * 40 * 40 * 3 }, () => Math.floor(rng.next() * 256)) }));
  await encodeLosslessMp4s(clips, 16, 40, 40);
  for (const { path } of clips) {
    const index = readMp4VideoIndex(path);
    assert.ok(index, path);
    assert.deepEqual(index, await ffprobeFacts(path), path);
    assert.equal(index.sampleCount, 16);
  }
});

test("decoding a plain MP4 through its index samples the same frames as through ffprobe's count", async () => {
  const file = (await variants())["faststart.mp4"];
  const counted = await probeVideo(file, true); // ffprobe -count_frames: decodes the whole file
  assert.equal(counted.frameCount, 13);
  const viaIndex = await decodeClip(file, { frames: 4, size: 32 });
  const viaFfprobe = await decodeClip(file, { frames: 4, size: 32, info: counted });
  assert.deepEqual(Buffer.from(viaIndex.data), Buffer.from(viaFfprobe.data));
});

/** The rotation matrix of the first tkhd set to 90 degrees, as a phone writes it. */
function rotated(bytes: Buffer): Buffer {
  const copy = Buffer.from(bytes);
  const tkhd = copy.indexOf("tkhd") + 4;
  const matrix = tkhd + (copy[tkhd] === 1 ? 52 : 40);
  copy.writeInt32BE(0, matrix); copy.writeInt32BE(0x10000, matrix + 4); copy.writeInt32BE(-0x10000, matrix + 12); copy.writeInt32BE(0, matrix + 16);
  return copy;
}

test("rotated, truncated and corrupted MP4s are left to ffprobe, and reading them never throws", async () => {
  const files = await variants();
  const plain = readFileSync(files["faststart.mp4"]); // moov first: a cut keeps it whole, but mdat no longer fits
  const rot = join(dir, "rotated.mp4");
  writeFileSync(rot, rotated(plain));
  assert.equal(readMp4VideoIndex(rot), undefined);
  const probed = await probeVideo(rot);
  assert.deepEqual([probed.rotation, probed.width, probed.height], [270, 48, 64], "ffprobe sees the rotation");

  const cut = join(dir, "cut.mp4");
  for (const length of [0, 7, 8, 40, plain.length - 1]) {
    writeFileSync(cut, plain.subarray(0, length));
    assert.equal(readMp4VideoIndex(cut), undefined, `cut at ${length} bytes`);
  }
  assert.equal(readMp4VideoIndex(join(dir, "missing.mp4")), undefined);

  // Every byte of the moov box overwritten in turn with values that break sizes, counts and versions.
  const moov = plain.indexOf("moov") - 4;
  const damaged = join(dir, "damaged.mp4");
  for (let at = moov; at < moov + plain.readUInt32BE(moov); at += 3) {
    for (const value of [0x00, 0x01, 0xff]) {
      const copy = Buffer.from(plain);
      copy[at] = value;
      writeFileSync(damaged, copy);
      assert.doesNotThrow(() => readMp4VideoIndex(damaged), `byte ${at} = ${value}`);
    }
  }
});

test("preparing plain MP4 clips runs no ffprobe process", async () => {
  const files = await variants();
  const script = `const { decodeClip } = require(${JSON.stringify(resolve("src/data/video.ts"))});
    (async () => { for (const f of ${JSON.stringify([files["baseline.mp4"], files["audio.mp4"], files["video.webm"]])}) await decodeClip(f, { frames: 4, size: 16 }); })()
      .catch((e) => { console.error(e); process.exit(1); });`;
  const probed = mediaCallsOf(script, dir).ffprobe;
  assert.equal(probed.length, 1, `ffprobe ran for: ${probed.join(" | ")}`);
  assert.match(probed[0], /video\.webm$/);
});
