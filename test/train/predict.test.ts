/**
 * cover predict on media files: a smoke-scale run's weights alone (class names and normalisation in their metadata)
 * give, for a built-in clip, exactly the probabilities evaluation computes for it, with class names; old weights
 * answer with class indices and say so; bad inputs give errors naming the file.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { openSplit } from "../../src/data/builtin";
import type { EvalViews } from "../../src/data/augment";
import { subsetSplit } from "../../src/data/manifest";
import { openRunData } from "../../src/runs/pipeline";
import { resolveRunConfig } from "../../src/runs/named";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors";
import { modelConfig } from "../../src/model/config";
import { TimeSformer } from "../../src/model/timesformer";
import { readHeadInfo } from "../../src/model/head-info";
import { exportTensors, loadModel, loadModelWithHeads, saveWeights } from "../../src/model/weights";
import { clipScores } from "../../src/train/evaluate";
import { predictFiles } from "../../src/train/predict";
import type { RunConfig } from "../../src/runs/config";
import { trainRun } from "../../src/runs/train";
import { maxAbsDiff, tempDir, withBackend } from "../helpers/tf";

before(() => withBackend());

const ROOT = join(__dirname, "..", "..");
const DATASET = "builtin-digits-motion";
const IMAGES = "builtin-digits-images";

/** A smoke-scale run trained here, its first evaluation clip, and the probabilities evaluation computes for it. */
interface TrainedRun { weights: string; clip: string; evaluated: Record<EvalViews, Float32Array> }

async function trainAndEvaluate(runName: string, dataset: string): Promise<TrainedRun> {
  const base = resolveRunConfig(runName, "smoke", 0);
  const config: RunConfig = { ...base, optim: { ...base.optim, epochs: 2 } };
  const dir = tempDir(`predict-${runName}`);
  const weights = join(dir, "weights.safetensors");
  const evaluated = {} as Record<EvalViews, Float32Array>;
  const data = await openRunData(config, { quiet: true });
  try {
    assert.ok(await trainRun(config, data, dir, { quiet: true }));
    const model = loadModel(weights);
    for (const views of ["1x1", "1x3"] as const) {
      const first = (await data.evalBatches(dataset, views)[Symbol.asyncIterator]().next()).value!;
      evaluated[views] = clipScores(model, dataset, first, false).slice(0, model.config.classifiers[dataset]);
    }
    model.dispose();
  } finally {
    await data.close();
  }
  // The evaluation split as the run data opens it (capped, class-balanced, seeded): its first clip.
  const split = subsetSplit(await openSplit(dataset, config.splits.eval, { silent: true }), config.maxSamples!.eval!, config.seed);
  return { weights, clip: split.samples[0].path, evaluated };
}

describe("predicting media files", () => {
  let weights: string;
  let clip: string;
  let evaluated: Record<EvalViews, Float32Array>;
  let imageRun: TrainedRun;

  before(async () => {
    ({ weights, clip, evaluated } = await trainAndEvaluate("standard-motion", DATASET));
    imageRun = await trainAndEvaluate("image-pretrain", IMAGES);
  });

  test("the weights carry every head's class names and its dataset's normalisation", () => {
    const heads = readHeadInfo(readSafetensors(weights).metadata, weights);
    assert.equal(heads[DATASET].labels!.length, 8);
    assert.ok(heads[DATASET].labels!.includes("moving left to right"), heads[DATASET].labels!.join(", "));
    // The built-in digits' manifest normalises with mean 0, not TimeSformer's 0.45: predict must use the manifest's.
    assert.deepEqual(heads[DATASET].normalization, JSON.parse(readFileSync(join(ROOT, "data-manifests", `${DATASET}.json`), "utf8")).normalization);
  });

  test("a clip's prediction equals what evaluation computes for it, with class names (1x3 and 1x1)", async () => {
    for (const views of ["1x3", "1x1"] as const) {
      const result = await predictFiles(weights, [clip], { views, topK: 8 });
      assert.equal(result.head, DATASET);
      assert.equal(result.labelled, true);
      assert.deepEqual(result.notes, []);
      const [p] = result.predictions;
      assert.equal(p.error, undefined);
      const byIndex = new Float32Array(8);
      for (const c of p.top) byIndex[c.index] = c.probability;
      assert.ok(maxAbsDiff(byIndex, evaluated[views]) < 1e-5, `${views}: ${byIndex} vs ${evaluated[views]}`);
      const labels = readHeadInfo(readSafetensors(weights).metadata, weights)[DATASET].labels!;
      assert.deepEqual(p.top.map((c) => c.label), p.top.map((c) => labels[c.index]));
      assert.ok(p.top.every((c, i) => i === 0 || c.probability <= p.top[i - 1].probability), "sorted by probability");
    }
  });

  test("an image's prediction equals what evaluation computes for it (a space-only image model)", async () => {
    assert.match(imageRun.clip, /\.png$/);
    const result = await predictFiles(imageRun.weights, [imageRun.clip], { topK: 10 });
    assert.equal(result.head, IMAGES);
    const byIndex = new Float32Array(10);
    for (const c of result.predictions[0].top) byIndex[c.index] = c.probability;
    assert.ok(maxAbsDiff(byIndex, imageRun.evaluated["1x3"]) < 1e-5, `${byIndex} vs ${imageRun.evaluated["1x3"]}`);
    assert.ok(result.predictions[0].top.some((c) => c.label === "seven"), "digit names");
  });

  test("the CLI prints top-k names, and writes JSON and CSV; a folder stands for its media files", () => {
    const folder = tempDir("predict-folder");
    copyFileSync(clip, join(folder, "a.mp4"));
    copyFileSync(clip, join(folder, "b.mp4"));
    writeFileSync(join(folder, "notes.txt"), "not media");
    const cover = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", "cover.js"), "predict", "--weights", weights, "--backend", "wasm", ...args], { encoding: "utf8" });
    const text = cover(clip, "--top-k", "2");
    assert.equal(text.status, 0, text.stderr);
    const lines = text.stdout.trim().split("\n");
    assert.equal(lines.length, 3, text.stdout);
    const best = Math.max(...evaluated["1x3"]);
    assert.match(lines[1], new RegExp(`^\\s+1\\. ${best.toFixed(4)}  [a-z ]+$`));
    const out = join(folder, "p.json");
    const json = cover(folder, "--format", "json", "--out", out, "--top-k", "3");
    assert.equal(json.status, 0, json.stderr);
    const parsed = JSON.parse(readFileSync(out, "utf8")) as { predictions: { file: string; top: unknown[] }[] };
    assert.deepEqual(parsed.predictions.map((p) => [p.file, p.top.length]), [[join(folder, "a.mp4"), 3], [join(folder, "b.mp4"), 3]]);
    const csv = cover(clip, "--format", "csv", "--top-k", "2");
    assert.equal(csv.status, 0, csv.stderr);
    const rows = csv.stdout.trim().split("\n");
    assert.equal(rows[0], "file,rank,index,label,probability");
    assert.equal(rows.length, 3);
    assert.ok(rows[1].startsWith(`${clip},1,`));
  });

  test("old weights without class names answer with indices and say so once, and nothing leaks", async () => {
    const path = join(tempDir("old-weights"), "old.safetensors");
    const model = TimeSformer.create(modelConfig("micro", { classifiers: { default: 8 } }), 1);
    saveWeights(model, path);
    model.dispose();
    const tensorsBefore = tf.memory().numTensors;
    const result = await predictFiles(path, [clip, clip], { topK: 2 });
    assert.equal(tf.memory().numTensors, tensorsBefore, "every tensor is freed");
    assert.equal(result.labelled, false);
    assert.equal(result.notes.filter((n) => n.includes("no class names")).length, 1);
    assert.ok(result.predictions.every((p) => p.top.every((c) => c.label === String(c.index))));
  });

  test("damaged class names or normalisation in the metadata are errors naming the file", () => {
    const model = TimeSformer.create(modelConfig("micro", { classifiers: { a: 3 } }), 1);
    const dir = tempDir("bad-metadata");
    const cases: [Record<string, string>, RegExp][] = [
      [{ "cover.id2label": "{not json" }, /metadata 'cover\.id2label' is not JSON/],
      [{ "cover.id2label": JSON.stringify({ a: { 0: "x", 2: "y" } }) }, /cover\.id2label of head 'a': bad entry "2": "y" \(ids must be 0\.\.1/],
      [{ "cover.normalization": JSON.stringify({ a: { mean: [0, 0, 0], std: [1, 0, 1] } }) }, /cover\.normalization of head 'a': must be .* with positive std/],
    ];
    cases.forEach(([metadata, error], i) => {
      const path = join(dir, `w${i}.safetensors`);
      writeSafetensors(path, exportTensors(model), { "cover.config": JSON.stringify(model.config), ...metadata });
      assert.throws(() => loadModelWithHeads(path), (err: Error) => err.message.startsWith(`${path}: `) && error.test(err.message), JSON.stringify(metadata));
    });
    assert.throws(() => saveWeights(model, join(dir, "x.safetensors"), {}, { a: { labels: ["x"] } }), /head 'a' has 3 classes but 1 class names/);
    model.dispose();
  });

  test("bad inputs: several heads without --head, a missing file, a file that is not media", async () => {
    const path = join(tempDir("two-heads"), "two.safetensors");
    const model = TimeSformer.create(modelConfig("micro", { classifiers: { a: 3, b: 4 } }), 1);
    saveWeights(model, path);
    model.dispose();
    await assert.rejects(predictFiles(path, [clip]), /2 heads; choose one with --head \(a, b\)/);
    await assert.rejects(predictFiles(path, [clip], { head: "c" }), /no head 'c' \(heads: a, b\)/);
    await assert.rejects(predictFiles(path, ["/no/such/clip.mp4"], { head: "a" }), /\/no\/such\/clip\.mp4: no such file/);
    const dir = tempDir("bad-media");
    mkdirSync(join(dir, "empty"));
    await assert.rejects(predictFiles(path, [join(dir, "empty")], { head: "a" }), /holds no video or image files/);
    const fake = join(dir, "fake.mp4");
    writeFileSync(fake, "this is not a video");
    const result = await predictFiles(path, [fake, clip], { head: "a" });
    assert.match(result.predictions[0].error!, /fake\.mp4: not a readable video or image/);
    assert.equal(result.predictions[1].top.length, 3);
  });
});
