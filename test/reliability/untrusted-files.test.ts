/**
 * Weights files and arrays are untrusted input: every malformed file built here fails fast (milliseconds, no large
 * allocation) with a message that names the file and says what is wrong in words.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { decodeNpy, encodeNpy } from "../../src/io/npy";
import { decodeSafetensors, encodeSafetensors, NamedTensor, readSafetensors, writeSafetensors } from "../../src/io/safetensors";
import { modelConfig } from "../../src/model/config";
import { TimeSformer } from "../../src/model/timesformer";
import { loadModel, saveWeights } from "../../src/model/weights";
import { initModel } from "../../src/runs/init";
import { resolveRunConfig } from "../../src/runs/named";
import { RunConfig } from "../../src/runs/config";
import { predictOfficialLayout } from "../../src/train/predict";
import { writeNpy } from "../../src/io/npy";
import { tempDir, withBackend } from "../helpers/tf";

before(() => withBackend());

const FILE = "bad.safetensors";

/** A safetensors file from a header object and a body, bypassing the writer's own checks. */
function rawSafetensors(header: unknown, body: Uint8Array = new Uint8Array(0)): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length), 0);
  return Buffer.concat([prefix, json, body]);
}

const f32 = (shape: number[], begin: number) => ({ dtype: "F32", shape, data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)] });

/** Decoding must fail in well under a second with a message starting with the file name and matching `why`. */
function rejects(bytes: Uint8Array, why: RegExp): void {
  const started = performance.now();
  assert.throws(() => decodeSafetensors(bytes, FILE), (err: Error) => {
    assert.ok(err.message.startsWith(`${FILE}: `), err.message);
    assert.match(err.message, why);
    return true;
  });
  assert.ok(performance.now() - started < 500, "fails fast");
}

describe("untrusted safetensors headers", () => {
  test("a well-formed file still decodes", () => {
    const tensors = new Map<string, NamedTensor>([["a", { shape: [2], data: new Float32Array([1, 2]) }], ["b", { shape: [0, 3], data: new Float32Array(0) }]]);
    const decoded = decodeSafetensors(encodeSafetensors(tensors, { k: "v" }), FILE);
    assert.deepEqual([...decoded.tensors.get("a")!.data], [1, 2]);
    assert.deepEqual(decoded.tensors.get("b")!.shape, [0, 3]);
    assert.deepEqual(decoded.metadata, { k: "v" });
  });

  const body8 = new Uint8Array(8);
  const cases: [string, Uint8Array, RegExp][] = [
    ["too short", new Uint8Array(3), /too short|even the header length/],
    ["header length beyond the file", (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(2n ** 63n, 0); return b; })(), /header length \d+ exceeds the file's 16 bytes/],
    ["header not JSON", (() => { const j = Buffer.from("{not json"); const p = Buffer.alloc(8); p.writeBigUInt64LE(BigInt(j.length)); return Buffer.concat([p, j]); })(), /header is not JSON/],
    ["header a JSON array", rawSafetensors([1, 2]), /header is not a JSON object/],
    ["header null", rawSafetensors(null), /header is not a JSON object/],
    ["entry not an object", rawSafetensors({ a: 5 }), /tensor 'a' is not an object/],
    ["entry null", rawSafetensors({ a: null }), /tensor 'a' is not an object/],
    ["unknown dtype", rawSafetensors({ a: { ...f32([2], 0), dtype: "Q7" } }, body8), /tensor 'a' has unsupported dtype "Q7"/],
    ["missing dtype", rawSafetensors({ a: { shape: [2], data_offsets: [0, 8] } }, body8), /unsupported dtype undefined/],
    ["negative dimension", rawSafetensors({ a: { ...f32([2], 0), shape: [-2] } }, body8), /shape \[-2\]; a shape is a list of non-negative integers/],
    ["fractional dimension", rawSafetensors({ a: { ...f32([2], 0), shape: [0.5, 4] } }, body8), /non-negative integers/],
    ["shape a string", rawSafetensors({ a: { ...f32([2], 0), shape: "2" } }, body8), /non-negative integers/],
    ["missing offsets", rawSafetensors({ a: { dtype: "F32", shape: [2] } }, body8), /data_offsets undefined/],
    ["offsets reversed", rawSafetensors({ a: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, body8), /data_offsets \[8,0\]/],
    ["byte size differs from the offsets", rawSafetensors({ a: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, body8), /needs 12 bytes, but its data_offsets \[0, 8\] hold 8/],
    ["huge shape of zero bytes", rawSafetensors({ a: { dtype: "F32", shape: [1e6, 1e6, 1e6], data_offsets: [0, 0] } }), /needs \d+ bytes/],
    ["offsets past the data block", rawSafetensors({ a: f32([4], 0) }, body8), /ends at byte 16 of the data block, but the data block has 8 bytes/],
    ["overlapping tensors", rawSafetensors({ a: f32([2], 0), b: f32([2], 4) }, new Uint8Array(12)), /tensor 'b' .* overlaps/],
    ["the same bytes for two tensors", rawSafetensors({ a: f32([2], 0), b: f32([2], 0) }, body8), /overlaps/],
    ["a gap between tensors", rawSafetensors({ a: f32([1], 0), b: f32([1], 8) }, new Uint8Array(12)), /bytes \[4, 8\] of the data block belong to no tensor/],
    ["trailing bytes after the last tensor", rawSafetensors({ a: f32([2], 0) }, new Uint8Array(12)), /data block has 12 bytes but its tensors cover 8/],
    ["metadata not strings", rawSafetensors({ __metadata__: { k: 5 } }), /__metadata__ entry 'k' is not a string/],
    ["metadata an array", rawSafetensors({ __metadata__: ["x"] }), /__metadata__ is not an object/],
  ];
  for (const [name, bytes, why] of cases) test(`rejected: ${name}`, () => rejects(bytes, why));

  test("a very long key is quoted shortened in the error", () => {
    const key = "k".repeat(100_000);
    assert.throws(() => decodeSafetensors(rawSafetensors({ [key]: 1 }), FILE), (err: Error) => err.message.length < 500 && /100000 characters/.test(err.message));
  });

  test("a missing file names the path and the cause", () => {
    assert.throws(() => readSafetensors("/nonexistent/w.safetensors"), /^Error: \/nonexistent\/w\.safetensors: cannot read weights \(ENOENT/);
  });
});

describe("untrusted .npy headers", () => {
  const good = encodeNpy({ dtype: "float32", shape: [2, 3], data: new Float32Array(6) });
  const withHeader = (header: string, body = new Uint8Array(0), declared = header.length): Buffer => {
    const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
    prefix.writeUInt16LE(declared, 8);
    return Buffer.concat([prefix, Buffer.from(header, "latin1"), body]);
  };
  const cases: [string, Buffer, RegExp][] = [
    ["bad magic", Buffer.from("hello world!"), /bad magic/],
    ["unknown version", (() => { const b = Buffer.from(good); b[6] = 9; return b; })(), /unsupported \.npy format version 9/],
    ["header length beyond the file", withHeader("{'descr': '<f4'}", new Uint8Array(0), 60000), /header length 60000 exceeds/],
    ["no shape", withHeader("{'descr': '<f4', 'fortran_order': False, }"), /malformed \.npy header \(needs 'descr', 'fortran_order' and 'shape'\)/],
    ["negative dimension", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }"), /shape \(-1, 3\) is not a tuple of non-negative integers/],
    ["non-numeric dimension", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (a, 3), }"), /not a tuple of non-negative integers/],
    ["huge shape, no data", withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 100000), }"), /needs \d+ bytes of data, found 0/],
    ["unknown dtype", withHeader("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(16)), /unsupported \.npy dtype '<c16'/],
  ];
  for (const [name, bytes, why] of cases) {
    test(`rejected: ${name}`, () => {
      assert.throws(() => decodeNpy(bytes, "x.npy"), (err: Error) => err.message.startsWith("x.npy: ") && why.test(err.message));
    });
  }

  test("a long header is echoed capped", () => {
    const bytes = withHeader(`{'descr': '<f4', ${"x".repeat(50_000)}}`);
    assert.throws(() => decodeNpy(bytes, "x.npy"), (err: Error) => err.message.length < 400 && /\.\.\. \(\d+ characters\)/.test(err.message));
  });

  test("a good array still decodes, scalars and 1-d tuples included", () => {
    assert.deepEqual(decodeNpy(good).shape, [2, 3]);
    assert.deepEqual(decodeNpy(encodeNpy({ dtype: "int32", shape: [5], data: new Int32Array(5) })).shape, [5]);
    assert.deepEqual(decodeNpy(withHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", new Uint8Array(4))).shape, []);
  });
});

describe("architecture read from a file is bounded by what the file holds", () => {
  const micro = () => modelConfig("micro", { classifiers: { a: 5 } });
  /** Our own weights of the micro model, for editing. */
  function microTensors(dir: string): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
    const model = TimeSformer.create(micro(), 1);
    const path = join(dir, "micro.safetensors");
    saveWeights(model, path);
    model.dispose();
    return readSafetensors(path);
  }
  /** loadModel fails in under a second with a message naming the file and matching `why`. */
  function loadFails(path: string, why: RegExp, options: Parameters<typeof loadModel>[1] = {}): void {
    const started = performance.now();
    assert.throws(() => loadModel(path, options), (err: Error) => err.message.startsWith(path) && why.test(err.message));
    assert.ok(performance.now() - started < 1000, `failed in ${Math.round(performance.now() - started)} ms`);
  }
  /** An official-style file (no cover.config metadata) from the micro model's tensors. */
  function official(dir: string, edit: (t: Map<string, NamedTensor>) => void): string {
    const { tensors } = microTensors(dir);
    tensors.set("model.head.weight", tensors.get("model.heads.a.weight")!); tensors.delete("model.heads.a.weight");
    tensors.set("model.head.bias", tensors.get("model.heads.a.bias")!); tensors.delete("model.heads.a.bias");
    edit(tensors);
    const path = join(dir, `official-${Math.random().toString(36).slice(2)}.safetensors`);
    writeSafetensors(path, tensors);
    return path;
  }

  test("an official-style file of the right shapes loads (the control case)", () => {
    const dir = tempDir("official-ok");
    const model = loadModel(official(dir, () => undefined), { numHeads: 2 });
    assert.equal(model.config.depth, 2);
    model.dispose();
  });

  test("key model.blocks.99999999.norm1.bias", () => {
    const dir = tempDir("blocks");
    const path = official(dir, (t) => t.set("model.blocks.99999999.norm1.bias", { shape: [32], data: new Float32Array(32) }));
    loadFails(path, /tensor 'model\.blocks\.99999999\.norm1\.bias' is block 99999999, but block 2 has no tensors/, { numHeads: 2 });
  });

  test("a zero-size tensor claiming dim 1e6", () => {
    const dir = tempDir("dim");
    const path = official(dir, (t) => t.set("model.cls_token", { shape: [0, 1, 1_000_000], data: new Float32Array(0) }));
    loadFails(path, /model\.cls_token: file \[0,1,1000000\] vs model \[1,1,1000000\]/, { numHeads: 2 });
  });

  test("temporal attention weights without a time embedding", () => {
    const dir = tempDir("no-time");
    const path = official(dir, (t) => t.delete("model.time_embed"));
    loadFails(path, /cannot infer the architecture: no attention scheme has a temporal branch and no 'model\.time_embed'/, { numHeads: 2 });
  });

  test("a tensor of the wrong rank", () => {
    const dir = tempDir("rank");
    const path = official(dir, (t) => t.set("model.cls_token", { shape: [32], data: new Float32Array(32) }));
    loadFails(path, /tensor 'model\.cls_token' has shape \[32\], expected 3 dimensions/, { numHeads: 2 });
  });

  const metadataCases: [string, (c: Record<string, unknown>) => unknown, RegExp][] = [
    ["frames 1e7", (c) => ({ ...c, frames: 1e7 }), /model\.time_embed: file \[1,4,32\] vs model \[1,10000000,32\]/],
    ["depth 1e8", (c) => ({ ...c, depth: 1e8 }), /claims 100000000 blocks, but the file holds only \d+ tensors/],
    ["a head of 1e9 classes", (c) => ({ ...c, classifiers: { a: 1e9 } }), /model\.heads\.a\.weight: file \[5,32\] vs model \[1000000000,32\]/],
    ["dim as a string", (c) => ({ ...c, dim: "32" }), /metadata 'cover\.config': dim: expected a positive integer, got "32"/],
    ["frames negative", (c) => ({ ...c, frames: -3 }), /metadata 'cover\.config': frames: expected a positive integer, got -3/],
    ["not JSON", () => "{oops", /metadata 'cover\.config' is not JSON/],
    ["null", () => null, /metadata 'cover\.config': \(top level\): expected object/i],
    ["no classifiers", (c) => ({ ...c, classifiers: undefined }), /metadata 'cover\.config': classifiers: missing/],
  ];
  for (const [name, edit, why] of metadataCases) {
    test(`cover.config metadata with ${name}`, () => {
      const dir = tempDir("meta");
      const { tensors, metadata } = microTensors(dir);
      const edited = edit(JSON.parse(metadata["cover.config"]));
      const path = join(dir, "edited.safetensors");
      writeSafetensors(path, tensors, { ...metadata, "cover.config": typeof edited === "string" ? edited : JSON.stringify(edited) });
      loadFails(path, why);
    });
  }

  test("a garbage file with the .safetensors extension", () => {
    const dir = tempDir("garbage");
    const path = join(dir, "w.safetensors");
    writeFileSync(path, "this is a text file, not weights\n");
    loadFails(path, /not a safetensors file/);
  });
});

describe("--init that does not fit the model", () => {
  const config = (path: string, partial?: boolean): RunConfig => ({ ...resolveRunConfig("standard-motion", "smoke", 0), init: { from: "weights", path, ...(partial && { partial }) } });
  const classes = { "builtin-digits-motion": 6 };
  const quiet = () => undefined;
  /** Weights of the run's own model with another width (a ViT of another size). */
  function otherWidth(dir: string, dim: number): string {
    const base = resolveRunConfig("standard-motion", "smoke", 0);
    const preset = modelConfig(base.model.preset);
    const model = TimeSformer.create({ ...preset, dim, numHeads: 2, classifiers: classes });
    const path = join(dir, `dim${dim}.safetensors`);
    saveWeights(model, path);
    model.dispose();
    return path;
  }

  test("a model of another width matches no tensor: an error listing what did not match", () => {
    const dir = tempDir("init-width");
    const path = otherWidth(dir, 16);
    assert.throws(() => initModel(config(path), classes, quiet), (err: Error) =>
      err.message.startsWith(`${path}: no tensor of the file matches this model's backbone`) && /mis-shaped model\.cls_token: file \[1,1,16\]/.test(err.message));
  });

  test("part of the backbone missing: an error, unless --init-partial asks for it", () => {
    const dir = tempDir("init-part");
    const model = initModel({ ...config("unused"), init: { from: "scratch" } }, classes, quiet);
    const full = join(dir, "full.safetensors");
    saveWeights(model, full);
    model.dispose();
    const file = readSafetensors(full);
    for (const k of [...file.tensors.keys()]) if (k.startsWith("model.blocks.1.")) file.tensors.delete(k);
    const part = join(dir, "part.safetensors");
    writeSafetensors(part, file.tensors, file.metadata);
    assert.throws(() => initModel(config(part), classes, quiet), (err: Error) =>
      err.message.startsWith(part) && /fill only part .*missing model\.blocks\.1\./.test(err.message) && /--init-partial/.test(err.message));
    const lines: string[] = [];
    const loaded = initModel(config(part, true), classes, (l) => lines.push(l));
    assert.match(lines.join("\n"), /init: \d+ tensors from/);
    loaded.dispose();
  });

  test("the run's own full weights still load", () => {
    const dir = tempDir("init-ok");
    const model = initModel({ ...config("unused"), init: { from: "scratch" } }, classes, quiet);
    const full = join(dir, "full.safetensors");
    saveWeights(model, full);
    model.dispose();
    initModel(config(full), classes, quiet).dispose();
  });
});

describe("predict inputs that do not fit the model", () => {
  test("wrong dtype, rank, frame size or head: errors naming the file, never a tfjs shape error", () => {
    const dir = tempDir("predict");
    const weights = join(dir, "w.safetensors");
    const model = TimeSformer.create(modelConfig("micro", { classifiers: { a: 5 } }), 1);
    saveWeights(model, weights);
    model.dispose();
    const input = (name: string, shape: number[], dtype: "float32" | "int32" = "float32"): string => {
      const path = join(dir, name);
      const n = shape.reduce((a, b) => a * b, 1);
      writeNpy(path, dtype === "float32" ? { dtype, shape, data: new Float32Array(n) } : { dtype, shape, data: new Int32Array(n) });
      return path;
    };
    const cases: [string, RegExp, string?][] = [
      [input("int.npy", [1, 3, 4, 16, 16], "int32"), /int\.npy: expected float32 \[B, 3, T, H, W\], got int32/],
      [input("rank4.npy", [3, 4, 16, 16]), /rank4\.npy: expected float32 \[B, 3, T, H, W\]/],
      [input("size.npy", [1, 3, 4, 20, 20]), /size\.npy: the model of .*w\.safetensors cannot take this input: frame size 20x20 is not a multiple of the patch size 8/],
      [input("tiny.npy", [1, 3, 4, 4, 4]), /tiny\.npy: expected \[B >= 1, 3, T >= 1, H >= 8, W >= 8\], got \[1, 3, 4, 4, 4\]/],
      [input("empty.npy", [0, 3, 4, 16, 16]), /empty\.npy: expected \[B >= 1/],
      [input("ok.npy", [1, 3, 4, 16, 16]), /w\.safetensors: no head 'nope' \(heads: a\)/, "nope"],
    ];
    for (const [path, why, head] of cases) assert.throws(() => predictOfficialLayout(weights, path, { head }), why);
    assert.equal(predictOfficialLayout(weights, join(dir, "ok.npy"), {})[0].length, 5, "the control input runs");
  });
});
