import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeClip, MediaError, probeVideo, uniformIndices } from "../../src/data/video";
import { resizeShortSide } from "../../src/data/frame-size";
import { decodeImage, writePng } from "../../src/data/image";
import { ffmpegBinaries } from "../../src/data/ffmpeg";
import { DEMO_CLIP_SETS } from "../helpers/demo-clips";

const tmp = mkdtempSync(join(tmpdir(), "cover-video-"));

test("uniform indices: frame i of T at floor((i + 0.5) * N / T)", () => {
  assert.deepEqual(uniformIndices(10, 4), [1, 3, 6, 8]);
  assert.deepEqual(uniformIndices(154, 8), [9, 28, 48, 67, 86, 105, 125, 144]);
  assert.deepEqual(uniformIndices(3, 6), [0, 0, 1, 1, 2, 2]);
  assert.deepEqual(uniformIndices(1, 3), [0, 0, 0]);
  assert.throws(() => uniformIndices(0, 8));
});

test("resize by the short side keeps the aspect", () => {
  assert.deepEqual(resizeShortSide({ width: 427, height: 240 }, 32), { width: 57, height: 32 });
  assert.deepEqual(resizeShortSide({ width: 1080, height: 1920 }, 32), { width: 32, height: 57 });
});

async function rejectsNaming(file: string, reason: RegExp): Promise<void> {
  await assert.rejects(decodeClip(file, { frames: 8, size: 32 }), (err: Error) => {
    assert.ok(err instanceof MediaError, String(err));
    assert.ok(err.message.startsWith(file), err.message);
    assert.match(err.message, reason);
    return true;
  });
}

/** One field of the file's first video ("v:0") or audio ("a:0") stream, as ffprobe reads it from the header. */
function ffprobeField(file: string, stream: "v:0" | "a:0", field: string): string {
  return execFileSync(ffmpegBinaries().ffprobe, ["-v", "error", "-select_streams", stream, "-show_entries", `stream=${field}`, "-of", "csv=p=0", file],
    { encoding: "utf8" }).trim();
}

/** The file cut 20 bytes into its first WebM Cluster: headers and a video track, but not one whole frame. */
function cutInsideFirstCluster(file: string): Buffer {
  const bytes = readFileSync(file);
  const cluster = Buffer.from([0x1f, 0x43, 0xb6, 0x75]);
  const seekId = Buffer.from([0x53, 0xab, 0x84]); // a SeekHead entry naming the Cluster ID is not a Cluster
  for (let at = bytes.indexOf(cluster); at >= 0; at = bytes.indexOf(cluster, at + 1)) {
    if (!bytes.subarray(at - 3, at).equals(seekId)) return bytes.subarray(0, at + 20);
  }
  throw new Error(`${file}: no WebM Cluster found`);
}

for (const clips of DEMO_CLIP_SETS) {
  const clip = async (name: string) => join(await clips.root(), name);

  test(`probe counts packets of VP9 WebM without header frame counts, sees audio and portrait sizes (${clips.label})`, clips.options, async () => {
    const portrait = await clip("task41/0.webm"), small = await clip("task5/2.webm");
    assert.equal(ffprobeField(portrait, "v:0", "nb_frames"), "N/A", "the header has no frame count");
    const p = await probeVideo(portrait);
    assert.equal(p.frameCount, clips.frames("task41/0.webm"));
    assert.deepEqual([p.width, p.height, p.fps, p.hasAudio, p.codec], [1080, 1920, 30, true, "vp9"]);
    assert.equal(ffprobeField(portrait, "a:0", "codec_name"), "opus");
    const s = await probeVideo(small);
    assert.deepEqual([s.frameCount, s.width, s.height, s.fps, s.hasAudio], [clips.frames("task5/2.webm"), 427, 240, 12, false]);
  });

  test(`decoded shapes: 427x240, 1080p and portrait sources (Opus track ignored), with and without centre crop (${clips.label})`, clips.options, async () => {
    const portrait = await clip("task41/0.webm"), landscape = await clip("task93/0.webm");
    for (const file of [await clip("task5/2.webm"), landscape, portrait]) {
      const c = await decodeClip(file, { frames: 8, size: 32, crop: true });
      assert.deepEqual([c.frames, c.height, c.width, c.data.length], [8, 32, 32, 8 * 32 * 32 * 3], file);
    }
    const full = await decodeClip(portrait, { frames: 4, size: 24 });
    assert.deepEqual([full.frames, full.height, full.width], [4, 43, 24]);
    const wide = await decodeClip(landscape, { frames: 4, size: 24 });
    assert.deepEqual([wide.frames, wide.height, wide.width], [4, 24, 43]);
  });

  test(`the sampled frames are exactly the frames at the uniform indices (${clips.label})`, clips.options, async () => {
    const small = await clip("task5/2.webm"), count = clips.frames("task5/2.webm");
    const all = await decodeClip(small, { frames: count, size: 24 }); // T = N: every frame once
    const eight = await decodeClip(small, { frames: 8, size: 24 });
    const frameBytes = all.height * all.width * 3;
    const frame = (f: { data: Uint8Array }, k: number) => Buffer.from(f.data.subarray(k * frameBytes, (k + 1) * frameBytes));
    assert.ok(!frame(all, 0).equals(frame(all, count - 1)), "first and last frames differ");
    uniformIndices(count, 8).forEach((index, t) => assert.ok(frame(eight, t).equals(frame(all, index)), `frame ${t} is source frame ${index}`));
  });

  test(`more frames than the video has repeat frames in order (${clips.label})`, clips.options, async () => {
    const twice = 2 * clips.frames("task5/2.webm");
    const c = await decodeClip(await clip("task5/2.webm"), { frames: twice, size: 16, crop: true });
    const frameBytes = 16 * 16 * 3;
    const f = (k: number) => Buffer.from(c.data.subarray(k * frameBytes, (k + 1) * frameBytes));
    assert.ok(f(0).equals(f(1)) && f(twice - 2).equals(f(twice - 1)));
  });

  test(`byte-identical files decode to identical frames (${clips.label})`, clips.options, async () => {
    const [one, two] = [await clip("task93/1.webm"), await clip("task93/2.webm")];
    assert.ok(readFileSync(one).equals(readFileSync(two)), "the two files are byte-identical");
    const a = await decodeClip(one, { frames: 8, size: 32, crop: true });
    const b = await decodeClip(two, { frames: 8, size: 32, crop: true });
    assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)));
  });

  test(`a video track cut before its first frame has zero decodable frames (${clips.label})`, clips.options, async () => {
    const headersOnly = join(tmp, `headers-only-${clips.key}.webm`);
    writeFileSync(headersOnly, cutInsideFirstCluster(await clip("task5/1.webm")));
    await rejectsNaming(headersOnly, /zero decodable video frames/);
  });

  test(`a truncated download still decodes the frames it has (${clips.label})`, clips.options, async () => {
    const small = await clip("task5/2.webm");
    const cut = join(tmp, `cut-${clips.key}.webm`);
    const bytes = readFileSync(small);
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    assert.ok((await probeVideo(cut)).frameCount < clips.frames("task5/2.webm"), "the cut file has lost frames");
    const c = await decodeClip(cut, { frames: 8, size: 16, crop: true });
    assert.equal(c.frames, 8);
  });
}

test("bad files give errors naming them: missing, not a file, corrupt, empty, no video", async () => {
  await rejectsNaming(join(tmp, "missing.mp4"), /no such file/);
  mkdirSync(join(tmp, "folder.mp4"));
  await rejectsNaming(join(tmp, "folder.mp4"), /not a regular file/);
  const corrupt = join(tmp, "corrupt.webm");
  writeFileSync(corrupt, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  await rejectsNaming(corrupt, /not a readable video/);
  writeFileSync(join(tmp, "empty.mp4"), "");
  await rejectsNaming(join(tmp, "empty.mp4"), /not a readable video/);
  const audioOnly = join(tmp, "audio.ogg");
  execFileSync(ffmpegBinaries().ffmpeg, ["-v", "error", "-y", "-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", "0.2", "-c:a", "libopus", audioOnly]);
  await rejectsNaming(audioOnly, /no video stream/);
});

test("PNG and JPEG images are 1-frame clips through the same path", async () => {
  const w = 6, h = 4;
  const rgb = new Uint8Array(w * h * 3).map((_, i) => (i * 37) % 256);
  const png = join(tmp, "a.png");
  writePng(png, rgb, w, h);
  const exact = await decodeImage(png, { size: h });
  assert.deepEqual([exact.frames, exact.height, exact.width], [1, h, w]);
  assert.ok(Buffer.from(exact.data).equals(Buffer.from(rgb)), "lossless PNG round trip");
  const jpg = join(tmp, "a.jpg");
  execFileSync(ffmpegBinaries().ffmpeg, ["-v", "error", "-y", "-i", png, "-vf", "scale=60:40", jpg]);
  const viaClip = await decodeClip(jpg, { frames: 8, size: 20, crop: true });
  assert.deepEqual([viaClip.frames, viaClip.height, viaClip.width], [1, 20, 20]);
});

function makeVfrClip(): string {
  // 60 frames: the first 30 at 30 fps, the rest 3x slower (variable frame rate); testsrc draws a different frame each time.
  const file = join(tmp, "vfr.mkv");
  execFileSync(ffmpegBinaries().ffmpeg, ["-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=30:duration=2",
    "-vf", "setpts='if(lt(N,30),N/(30*TB),(30+(N-30)*3)/(30*TB))'", "-vsync", "vfr", "-c:v", "libx264", "-pix_fmt", "yuv420p", file]);
  return file;
}

test("variable frame rate: frames are sampled by index, never duplicated or dropped", async () => {
  const vfr = makeVfrClip();
  assert.equal((await probeVideo(vfr)).frameCount, 60);
  const all = await decodeClip(vfr, { frames: 60, size: 48 });
  const n = all.height * all.width * 3;
  const frame = (f: { data: Uint8Array }, k: number) => Buffer.from(f.data.subarray(k * n, (k + 1) * n));
  for (let k = 1; k < 60; k++) assert.ok(!frame(all, k).equals(frame(all, k - 1)), `frames ${k - 1} and ${k} differ`);
  const eight = await decodeClip(vfr, { frames: 8, size: 48 });
  uniformIndices(60, 8).forEach((index, t) => assert.ok(frame(eight, t).equals(frame(all, index)), `frame ${t} is source frame ${index}`));
});

test("rotation metadata: a phone video tagged 90 degrees decodes upright in portrait", async () => {
  const vfr = join(tmp, "vfr.mkv");
  if (!existsSync(vfr)) makeVfrClip();
  const rotated = join(tmp, "rotated.mp4");
  execFileSync(ffmpegBinaries().ffmpeg, ["-v", "error", "-y", "-i", vfr, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated]);
  const info = await probeVideo(rotated);
  assert.deepEqual([info.rotation, info.width, info.height], [90, 48, 64]);
  const upright = await decodeClip(rotated, { frames: 1, size: 48 });
  assert.deepEqual([upright.height, upright.width], [64, 48]);
  // The pixels are the landscape frame turned by a quarter: compare with the unrotated decode.
  const plain = await decodeClip(vfr, { frames: 1, size: 48 });
  const at = (f: { data: Uint8Array; width: number }, x: number, y: number) => f.data[(y * f.width + x) * 3];
  let cw = 0, ccw = 0;
  for (let y = 0; y < 64; y++) for (let x = 0; x < 48; x++) {
    cw += Math.abs(at(upright, x, y) - at(plain, y, 47 - x));
    ccw += Math.abs(at(upright, x, y) - at(plain, 63 - y, x));
  }
  assert.ok(Math.min(cw, ccw) < 0.05 * Math.max(cw, ccw), `one quarter turn matches (${cw} vs ${ccw})`);
});
