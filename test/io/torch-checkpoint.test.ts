/**
 * PyTorch checkpoints read natively and converted: the fixtures in test/fixtures/checkpoints were written by real
 * PyTorch (make_fixtures.py there). Converted weights give exactly the tensors and logits of the same tensors in
 * safetensors; `--init` takes a .pyth directly; a timm ViT goes through the image-ViT inflation; odd dtypes,
 * strides and offsets are materialised; broken or unsupported files give errors naming the file and the problem.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateRawSync } from "node:zlib";
import * as tf from "@tensorflow/tfjs";
import { writePng } from "../../src/data/image";
import { readClassListFile } from "../../src/data/manifest";
import { resolveRunConfig } from "../../src/runs/named";
import { unpickle } from "../../src/io/pickle";
import { readSafetensors } from "../../src/io/safetensors";
import { readTorchCheckpoint } from "../../src/io/torch";
import { ZipReader } from "../../src/io/zip";
import { convertCheckpoint } from "../../src/model/convert";
import { TimeSformer } from "../../src/model/timesformer";
import { readHeadInfo } from "../../src/model/head-info";
import { loadModel } from "../../src/model/weights";
import { initModel } from "../../src/runs/init";
import { predictFiles } from "../../src/train/predict";
import { maxAbsDiff, tempDir, withBackend } from "../helpers/tf";

before(() => withBackend());

const ROOT = join(__dirname, "..", "..");
const FIXTURES = join(ROOT, "test", "fixtures", "checkpoints");
const PYTH = join(FIXTURES, "tiny-timesformer.pyth");
const PYTH_AS_SAFETENSORS = join(FIXTURES, "tiny-timesformer.safetensors");
const VIT = join(FIXTURES, "tiny-vit.safetensors");
const CLASSES = ["abseiling", "air drumming", "answering questions", "applauding", "applying cream"];

function logits(model: TimeSformer, frames: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.randomNormal([2, frames, model.config.imageSize, model.config.imageSize, 3], 0, 1, "float32", 7);
    return model.logits(x, model.headNames[0]).dataSync() as Float32Array;
  });
}

function paramsOf(model: TimeSformer): Map<string, Float32Array> {
  return new Map([...model.params].map(([name, v]) => [name, v.dataSync() as Float32Array]));
}

describe("PyTorch checkpoints", () => {
  test("dtypes, strides, storage offsets, a 0-d tensor, and a module. prefix under state_dict read exactly", () => {
    const { tensors, stateDictKey } = readTorchCheckpoint(join(FIXTURES, "odd-dtypes.pt"));
    assert.equal(stateDictKey, "state_dict");
    const expected = JSON.parse(readFileSync(join(FIXTURES, "odd-dtypes.json"), "utf8")) as Record<string, { shape: number[]; values: number[] }>;
    assert.deepEqual([...tensors.keys()].sort(), Object.keys(expected).map((k) => `module.${k}`).sort());
    for (const [name, want] of Object.entries(expected)) {
      const t = tensors.get(`module.${name}`)!;
      assert.deepEqual(t.shape, want.shape, name);
      assert.deepEqual(Array.from(t.data), want.values, name);
    }
    assert.ok(tensors.get("module.i64")!.data instanceof Int32Array);
  });

  test("a converted .pyth holds exactly the tensors of the same checkpoint in safetensors, and gives the same logits", () => {
    const out = join(tempDir("convert"), "k400-like.safetensors");
    const report = convertCheckpoint(PYTH, out, { numHeads: 2, classes: CLASSES });
    assert.equal(report.kind, "timesformer");
    assert.equal(report.config.attention, "divided_space_time");
    assert.deepEqual([report.config.frames, report.config.imageSize, report.config.dim, report.config.depth], [4, 16, 32, 2]);
    const converted = readSafetensors(out);
    const reference = readSafetensors(PYTH_AS_SAFETENSORS).tensors;
    for (const [name, t] of reference) {
      const key = name === "model.head.weight" ? "model.heads.default.weight" : name === "model.head.bias" ? "model.heads.default.bias" : name;
      assert.deepEqual(converted.tensors.get(key)?.shape, t.shape, name);
      assert.equal(maxAbsDiff(converted.tensors.get(key)!.data, t.data), 0, name);
    }
    assert.equal(converted.tensors.size, reference.size);
    assert.deepEqual(readHeadInfo(converted.metadata, out).default.labels, CLASSES);
    const fromPyth = loadModel(out);
    const fromSafetensors = loadModel(PYTH_AS_SAFETENSORS, { numHeads: 2 });
    const a = logits(fromPyth, 4), b = logits(fromSafetensors, 4);
    assert.ok(a.some((v) => v !== 0));
    assert.equal(maxAbsDiff(a, b), 0);
    // The .pyth loads directly too (no conversion step), with the same result.
    const direct = loadModel(PYTH, { numHeads: 2 });
    assert.equal(maxAbsDiff(logits(direct, 4), b), 0);
    for (const m of [fromPyth, fromSafetensors, direct]) m.dispose();
  });

  test("cover train --init takes a .pyth directly: the run starts from exactly its tensors", () => {
    const base = resolveRunConfig("standard-motion", "smoke", 0);
    const classes = { "builtin-digits-motion": 8 };
    const fromPyth = initModel({ ...base, init: { from: "weights", path: PYTH } }, classes, () => undefined);
    const fromSafetensors = initModel({ ...base, init: { from: "weights", path: PYTH_AS_SAFETENSORS } }, classes, () => undefined);
    const scratch = initModel(base, classes, () => undefined);
    const p = paramsOf(fromPyth), q = paramsOf(fromSafetensors), r = paramsOf(scratch);
    for (const [name, v] of p) assert.equal(maxAbsDiff(v, q.get(name)!), 0, name);
    assert.ok(maxAbsDiff(p.get("model.blocks.0.attn.qkv.weight")!, r.get("model.blocks.0.attn.qkv.weight")!) > 0.01, "weights were loaded");
    for (const m of [fromPyth, fromSafetensors, scratch]) m.dispose();
  });

  test("a timm-style ViT converts (space-only, same logits) and initialises a divided TimeSformer by inflation", () => {
    const out = join(tempDir("convert-vit"), "vit.safetensors");
    const report = convertCheckpoint(VIT, out, { numHeads: 2 });
    assert.equal(report.kind, "image-vit");
    assert.equal(report.config.attention, "space_only");
    const converted = loadModel(out);
    const original = loadModel(VIT, { numHeads: 2 });
    assert.equal(maxAbsDiff(logits(converted, 1), logits(original, 1)), 0);
    converted.dispose(); original.dispose();
    const base = resolveRunConfig("standard-motion", "smoke", 0);
    const classes = { "builtin-digits-motion": 8 };
    const a = initModel({ ...base, init: { from: "weights", path: out } }, classes, () => undefined);
    const b = initModel({ ...base, init: { from: "weights", path: VIT } }, classes, () => undefined);
    const p = paramsOf(a), q = paramsOf(b);
    for (const [name, v] of p) assert.equal(maxAbsDiff(v, q.get(name)!), 0, name);
    assert.equal(maxAbsDiff(p.get("model.blocks.1.temporal_attn.qkv.weight")!, p.get("model.blocks.1.attn.qkv.weight")!), 0, "temporal attention inflated from spatial");
    a.dispose(); b.dispose();
  });

  test("converted weights predict with class names, from the CLI (cover convert, then cover predict)", async () => {
    const dir = tempDir("convert-cli");
    const classesFile = join(dir, "classes.txt");
    writeFileSync(classesFile, CLASSES.join("\n") + "\n");
    const out = join(dir, "k400.safetensors");
    const cover = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", "cover.js"), ...args, "--backend", "wasm"], { encoding: "utf8" });
    const converted = cover("convert", PYTH, "--out", out, "--classes", classesFile, "--heads", "2");
    assert.equal(converted.status, 0, converted.stderr);
    assert.match(converted.stderr, /head 'default' with 5 classes \(named\)/);
    const image = join(dir, "frame.png");
    writePng(image, Uint8Array.from({ length: 20 * 24 * 3 }, (_, i) => (i * 37) % 256), 24, 20);
    const predicted = cover("predict", "--weights", out, image, "--top-k", "5");
    assert.equal(predicted.status, 0, predicted.stderr);
    const names = predicted.stdout.trim().split("\n").slice(1).map((l) => l.replace(/^\s+\d+\.\s+[\d.]+\s+/, ""));
    assert.deepEqual([...names].sort(), [...CLASSES].sort());
    assert.match(predicted.stderr, /no input normalisation/);
    const result = await predictFiles(out, [image], { topK: 1 });
    assert.ok(CLASSES.includes(result.predictions[0].top[0].label));
  });

  test("class lists: lines, a JSON list, SlowFast's {name: index}; duplicates and gaps are errors", () => {
    const dir = tempDir("classes");
    const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };
    assert.deepEqual(readClassListFile(file("a.txt", "x\r\ny\nz\n\n")), ["x", "y", "z"]);
    assert.deepEqual(readClassListFile(file("b.json", '["x", "y"]')), ["x", "y"]);
    assert.deepEqual(readClassListFile(file("c.json", '{"\\"y\\"": 1, "x": 0}')), ["x", "y"]);
    assert.throws(() => readClassListFile(file("d.txt", "x\n\ny\n")), /d\.txt:2: empty line/);
    assert.throws(() => readClassListFile(file("e.txt", "x\ny\nx\n")), /'x' is listed twice/);
    assert.throws(() => readClassListFile(file("f.json", '{"x": 0, "y": 2}')), /f\.json: class indices must be 0\.\.1/);
    assert.throws(() => convertCheckpoint(PYTH, join(dir, "o.safetensors"), { numHeads: 2, classes: ["a", "b"] }), /head 'default' has 5 classes, but 2 class names/);
  });
});

/** A zip archive of the given entries: stored, or deflated (method 8), optionally with zip64 records. */
function zipArchive(entries: { name: string; data: Buffer; deflate?: boolean }[], zip64 = false): Buffer {
  const locals: Buffer[] = [], centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const name = Buffer.from(e.name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, body);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(zip64 ? 0xffffffff : body.length, 20);
    central.writeUInt32LE(zip64 ? 0xffffffff : e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    const extra = Buffer.alloc(zip64 ? 28 : 0);
    if (zip64) {
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE(zip64 ? 0xffffffff : offset, 42);
    centrals.push(central, name, extra);
    offset += 30 + name.length + body.length;
  }
  const dir = Buffer.concat(centrals);
  const tail: Buffer[] = [];
  if (zip64) {
    const record = Buffer.alloc(56);
    record.writeUInt32LE(0x06064b50, 0);
    record.writeBigUInt64LE(44n, 4);
    record.writeBigUInt64LE(BigInt(entries.length), 24);
    record.writeBigUInt64LE(BigInt(entries.length), 32);
    record.writeBigUInt64LE(BigInt(dir.length), 40);
    record.writeBigUInt64LE(BigInt(offset), 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(offset + dir.length), 8);
    locator.writeUInt32LE(1, 16);
    tail.push(record, locator);
  }
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 8);
  end.writeUInt16LE(zip64 ? 0xffff : entries.length, 10);
  end.writeUInt32LE(zip64 ? 0xffffffff : dir.length, 12);
  end.writeUInt32LE(zip64 ? 0xffffffff : offset, 16);
  return Buffer.concat([...locals, dir, ...tail, end]);
}

/** The fixture's entries, to be packed again differently. */
function fixtureEntries(path: string): { name: string; data: Buffer }[] {
  const zip = new ZipReader(path);
  try { return zip.names().map((name) => ({ name, data: zip.read(name) })); } finally { zip.close(); }
}

/** A pickle of {"a": 3} (PROTO 2, EMPTY_DICT, BINUNICODE 'a', BININT1 3, SETITEM, STOP). */
const PICKLE_NO_TENSORS = Buffer.from([0x80, 0x02, 0x7d, 0x58, 1, 0, 0, 0, 0x61, 0x4b, 3, 0x73, 0x2e]);

describe("broken and unsupported checkpoints", () => {
  test("zip64 archives read the same as plain ones", () => {
    const path = join(tempDir("zip64"), "zip64.pyth");
    writeFileSync(path, zipArchive(fixtureEntries(PYTH), true));
    const a = readTorchCheckpoint(path).tensors, b = readTorchCheckpoint(PYTH).tensors;
    assert.equal(a.size, b.size);
    for (const [name, t] of b) assert.equal(maxAbsDiff(a.get(name)!.data, t.data), 0, name);
  });

  test("errors name the file and the problem", () => {
    const dir = tempDir("bad-ckpt");
    const write = (name: string, bytes: Buffer) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
    const entries = fixtureEntries(PYTH);
    const compressed = write("deflated.pyth", zipArchive(entries.map((e) => ({ ...e, deflate: e.name.endsWith("data.pkl") }))));
    assert.throws(() => readTorchCheckpoint(compressed), (e: Error) => e.message.includes(compressed) && /entry 'tiny-timesformer\/data\.pkl' is compressed \(method 8\)/.test(e.message));
    const whole = readFileSync(PYTH);
    const truncated = write("truncated.pyth", whole.subarray(0, whole.length - 100));
    assert.throws(() => readTorchCheckpoint(truncated), /truncated\.pyth: (not a zip archive|.*past the end)/);
    const legacy = write("legacy.pth", Buffer.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e]));
    assert.throws(() => loadModel(legacy, { numHeads: 2 }), /legacy\.pth: not a zip-format PyTorch checkpoint/);
    const noTensors = write("no-tensors.pt", zipArchive([{ name: "x/data.pkl", data: PICKLE_NO_TENSORS }]));
    assert.throws(() => readTorchCheckpoint(noTensors), /no-tensors\.pt: no state dict found \(looked for model_state, state_dict, model .*keys: a\)/);
    const notTorch = write("other.pt", zipArchive([{ name: "readme.txt", data: Buffer.from("hi") }]));
    assert.throws(() => readTorchCheckpoint(notTorch), /other\.pt: a zip archive but not a PyTorch checkpoint/);
  });

  test("the pickle interpreter refuses opcodes outside torch.save's set, naming them", () => {
    const hooks = { resolveGlobal: () => undefined, persistentLoad: () => undefined };
    assert.deepEqual(unpickle(PICKLE_NO_TENSORS, hooks, "p"), new Map([["a", 3]]));
    // INST ('i'), a protocol-0 opcode torch.save never writes.
    assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x69, 0x61, 0x0a, 0x62, 0x0a, 0x2e]), hooks, "x.pkl"),
      /x\.pkl: unsupported pickle opcode 0x69 \('i'\).*\(byte 2\)/);
    assert.throws(() => unpickle(Buffer.from([0x80, 0x02, 0x7d]), hooks, "y.pkl"), /y\.pkl: the pickle ends early/);
  });
});
