/**
 * Parity with the official TimeSformer (facebookresearch/TimeSformer vit.py run in PyTorch): fixtures in
 * test/fixtures/official (see its README). Logits to float32 precision for every attention type, other frame
 * counts (T=4, T=1 image), another image size, gradients, and the image-ViT loading recipe.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { readNpy } from "../../src/io/npy";
import { readSafetensors } from "../../src/io/safetensors";
import { modelConfig } from "../../src/model/config";
import { allSpecs, toOfficial } from "../../src/model/params";
import { TimeSformer } from "../../src/model/timesformer";
import { loadInto, loadModel } from "../../src/model/weights";
import { predictOfficialLayout } from "../../src/train/predict";
import { maxAbsDiff, tempDir, withBackend } from "../helpers/tf";

const FIXTURES = join(__dirname, "..", "fixtures", "official");
const ROOT = join(__dirname, "..", "..");
const fixture = (p: string) => join(FIXTURES, p);
interface Run { input: string; logits: string }
interface Case { weights?: string; runs?: Record<string, Run>; vit?: string; expected?: string; keys_left_at_init?: string[]; input?: string; logits?: string; model?: { img_size: number } }
const manifest = JSON.parse(readFileSync(fixture("manifest.json"), "utf8")) as { cases: Record<string, Case> };
const TOLERANCE = 1e-4;

before(() => withBackend());

/** Official [B, 3, T, H, W] -> the model's [B, T, H, W, 3]. */
const officialInput = (path: string) => { const a = readNpy(path); return tf.transpose(tf.tensor(a.data, a.shape), [0, 2, 3, 4, 1]); };

describe("official TimeSformer forward parity", () => {
  for (const attention of ["divided_space_time", "space_only", "joint_space_time"]) {
    const c = manifest.cases[attention];
    for (const [runName, run] of Object.entries(c.runs!)) {
      test(`${attention} on ${runName}: logits within ${TOLERANCE}`, () => {
        const rows = predictOfficialLayout(fixture(c.weights!), fixture(run.input), { numHeads: 4 });
        const expected = readNpy(fixture(run.logits)).data as Float32Array;
        const got = Float32Array.from(rows.flatMap((r) => [...r]));
        const diff = maxAbsDiff(got, expected);
        assert.ok(diff < TOLERANCE, `max |diff| ${diff}`);
      });
    }
  }

  test("the CLI contract: cover predict writes the official logits as .npy", () => {
    const c = manifest.cases.divided_space_time;
    const out = join(tempDir("predict"), "logits.npy");
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "cover.js"), "predict", "--weights", fixture(c.weights!), "--heads", "4",
      "--input", fixture(c.runs!.clip_t8_s32.input), "--out", out, "--backend", "wasm"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const got = readNpy(out);
    assert.deepEqual(got.shape, [2, 7]);
    assert.ok(maxAbsDiff(got.data, readNpy(fixture(c.runs!.clip_t8_s32.logits)).data) < TOLERANCE);
  });

  test("weights without our metadata need --heads, and say so", () => {
    assert.throws(() => loadModel(fixture(manifest.cases.divided_space_time.weights!)), /attention heads .*--heads N/);
  });
});

describe("official TimeSformer gradient parity", () => {
  test("d sum(logits * R) / d parameters and input match PyTorch", () => {
    const c = manifest.cases.divided_space_time;
    const model = loadModel(fixture(c.weights!), { numHeads: 4, headName: "default" });
    const x = officialInput(fixture("inputs/clip_t8_s32.npy"));
    const R = readNpy(fixture("divided_space_time/grads/R.npy"));
    const rTensor = tf.tensor(R.data, R.shape);
    const vars = [...model.params.values()];
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(model.logits(x, "default"), rTensor)) as tf.Scalar, vars);
    const inputGrad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(model.logits(v, "default"), rTensor)))(x);
    const specs = new Map(allSpecs(model.config).map((s) => [s.name, s]));
    const checked: string[] = [];
    const files = ["model.patch_embed.proj.weight", "model.blocks.0.temporal_attn.qkv.weight", "model.blocks.1.attn.proj.weight",
      "model.blocks.1.temporal_fc.weight", "model.cls_token", "model.head.weight", "model.pos_embed", "model.time_embed",
      "model.blocks.0.temporal_norm1.weight", "model.blocks.1.mlp.fc1.bias", "model.norm.weight"];
    for (const file of files) {
      const name = file === "model.head.weight" ? "model.heads.default.weight" : file;
      const expected = readNpy(fixture(`divided_space_time/grads/${file}.npy`)).data;
      const got = toOfficial(specs.get(name)!, grads[model.params.get(name)!.name]).dataSync();
      const scale = Math.max(...Array.from(expected, Math.abs));
      const diff = maxAbsDiff(got, expected);
      assert.ok(diff <= 1e-4 * Math.max(1, scale), `${file}: max |diff| ${diff} (gradient scale ${scale})`);
      checked.push(file);
    }
    const expectedInput = readNpy(fixture("divided_space_time/grads/input.npy"));
    const gotInput = tf.transpose(inputGrad, [0, 4, 1, 2, 3]).dataSync();
    assert.ok(maxAbsDiff(gotInput, expectedInput.data) < 1e-4, "input gradient");
    assert.equal(checked.length, 11);
    model.dispose();
  });
});

describe("image ViT -> divided TimeSformer, the official loading recipe", () => {
  for (const name of ["vit_load_same", "vit_load_resized"]) {
    test(`${name}: loaded tensors equal the official loader's, logits match`, () => {
      const c = manifest.cases[name];
      const model = TimeSformer.create(modelConfig("micro", {
        dim: 40, depth: 2, numHeads: 4, mlpRatio: 4, patchSize: 8, frames: 8, imageSize: c.model!.img_size, classifiers: { default: 7 },
      }), 0);
      loadInto(model, fixture(c.vit!), { strict: false, headName: "default" });
      const expected = readSafetensors(fixture(c.expected!)).tensors;
      const leftAtInit = new Set(c.keys_left_at_init!);
      const specs = new Map(allSpecs(model.config).map((s) => [s.name, s]));
      const nameOf = (k: string) => k.replace(/^model\.head\./, "model.heads.default.");
      for (const [key, t] of expected) {
        const spec = specs.get(nameOf(key));
        assert.ok(spec, `model lacks ${key}`);
        if (leftAtInit.has(key)) {
          // the official loader leaves these at the model's init; copy them so logits can be compared
          model.params.get(spec.name)!.assign(tf.tidy(() => {
            const official = tf.tensor(t.data as Float32Array, t.shape);
            if (spec.layout === "linear") return tf.transpose(official);
            return official;
          }));
          continue;
        }
        const got = toOfficial(spec, model.params.get(spec.name)!).dataSync();
        assert.equal(maxAbsDiff(got, t.data), 0, `${key} differs from the official loader's`);
      }
      const logits = model.logits(officialInput(fixture(c.input!)), "default").dataSync();
      const diff = maxAbsDiff(logits, readNpy(fixture(c.logits!)).data);
      assert.ok(diff < TOLERANCE, `max |diff| ${diff}`);
      model.dispose();
    });
  }
});
