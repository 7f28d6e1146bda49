/**
 * The training policies at smoke scale on the built-in data: losses fall, checkpoints resume to the same result as
 * an uninterrupted run (also after SIGKILL), divergence stops with the last good checkpoint kept, heads stay apart,
 * and the image loss weight changes what is learned.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { openRunData } from "../../src/runs/pipeline";
import { resolveRunConfig } from "../../src/runs/named";
import { readSafetensors } from "../../src/io/safetensors";
import { loadModel } from "../../src/model/weights";
import { TimeSformer } from "../../src/model/timesformer";
import { initModel } from "../../src/runs/init";
import { RunConfig } from "../../src/runs/config";
import type { Batch } from "../../src/data/batches";
import { lossAndGradients } from "../../src/train/step";
import { DivergenceError, trainRun } from "../../src/runs/train";
import { RunResults } from "../../src/runs/folder";
import { RunCache } from "../../src/runs/cache";
import { imagePretrainFor } from "../../src/runs/factories";
import { setProgressDisplay } from "../../src/util/progress";
import { maxAbsDiff, tempDir, withBackend } from "../helpers/tf";

before(() => withBackend());

const ROOT = join(__dirname, "..", "..");

/** A smoke-scale run with a few more steps than the preset, so that learning and checkpoints can be seen. */
function smoke(name: string, overrides: Partial<RunConfig> = {}): RunConfig {
  const base = resolveRunConfig(name, "smoke", 0);
  return { ...base, checkpointEvery: 3, optim: { ...base.optim, optimizer: "adamw", epochs: 3, schedule: { ...base.optim.schedule, baseLr: 3e-4, warmup: 0, milestones: [] } }, ...overrides };
}

async function run(config: RunConfig, dir: string, options: Parameters<typeof trainRun>[3] = {}): Promise<RunResults | null> {
  const data = await openRunData(config, { quiet: true });
  try { return await trainRun(config, data, dir, { quiet: true, ...options }); } finally { await data.close(); }
}

const metrics = (dir: string) => readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; loss: number; losses: Record<string, number> });
const weights = (dir: string) => readSafetensors(join(dir, "weights.safetensors")).tensors;

describe("training runs", () => {
  test("COVER: every dataset's loss is logged per step, losses fall, results per dataset", async () => {
    const dir = tempDir("cover");
    const config = smoke("cover", { optim: { ...smoke("cover").optim, epochs: 24 } });
    const results = (await run(config, dir))!;
    const rows = metrics(dir);
    assert.equal(rows.length, results.steps);
    const datasets = Object.keys(config.train);
    assert.deepEqual(Object.keys(results.datasets).sort(), [...datasets].sort());
    const seen = new Set(rows.flatMap((r) => Object.keys(r.losses)));
    assert.deepEqual([...seen].sort(), [...datasets].sort(), "every dataset appears in the mixed batches");
    // The loss on the same training batches, before and after: per-step losses are too noisy to compare.
    const data = await openRunData(config, { quiet: true });
    const batches = data.trainBatches(0);
    const fixed: Batch[] = [];
    for (let i = 0; i < 4; i++) fixed.push((await batches.next()).value as Batch);
    await data.close();
    const classes = Object.fromEntries(Object.entries(data.classes).map(([k, v]) => [k, v.length]));
    const lossOn = (model: TimeSformer) => fixed.reduce((sum, b) => {
      const r = lossAndGradients(model, b, config.train, { labelSmoothing: 0, seed: 0, trainable: new Map(model.params) });
      for (const g of r.grads.values()) g.dispose();
      return sum + r.losses.total;
    }, 0) / fixed.length;
    const initial = initModel(config, classes, () => undefined);
    const trained = loadModel(join(dir, "weights.safetensors"));
    const before = lossOn(initial);
    const after = lossOn(trained);
    initial.dispose(); trained.dispose();
    assert.ok(after < before * 0.9, `loss on the first training batches ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    for (const r of Object.values(results.datasets)) assert.ok(r.samples > 0 && r.top1 >= 0 && r.top1 <= 100);
    for (const f of ["config.json", "checkpoint.safetensors", "weights.safetensors", "results.json"]) assert.ok(existsSync(join(dir, f)), f);
  });

  test("stopped and resumed, a run ends with exactly the weights of an uninterrupted run", async () => {
    const config = smoke("standard-motion");
    const whole = tempDir("whole");
    const parts = tempDir("parts");
    await run(config, whole);
    assert.equal(await run(config, parts, { stopAfterSteps: 4 }), null);
    assert.equal(metrics(parts).length, 4);
    const shown: string[] = [];
    setProgressDisplay((line) => shown.push(line));
    try { await run(config, parts, { resume: true, quiet: false }); } finally { setProgressDisplay(null); }
    assert.ok(shown.some((line) => line.startsWith("train standard-motion (resumed at step 4): ")), shown.join("\n"));
    const a = weights(whole);
    const b = weights(parts);
    for (const [name, t] of a) assert.equal(maxAbsDiff(t.data, b.get(name)!.data), 0, name);
    assert.deepEqual(metrics(parts).map((r) => r.loss), metrics(whole).map((r) => r.loss));
  });

  const onWasm = (process.env.COVER_TEST_BACKEND ?? "wasm") === "wasm";
  test("with a model worker thread (half of every pass's clips), a COVER run resumes exactly and differs from one thread by rounding only",
    { skip: !onWasm && "the model worker is wasm's second thread; other backends use their own threads" }, async () => {
    const config = smoke("cover");
    const alone = tempDir("worker-off");
    const whole = tempDir("worker-whole");
    const parts = tempDir("worker-parts");
    await run(config, alone);
    process.env.COVER_MODEL_WORKER = "on";
    try {
      const shown: string[] = [];
      const log = console.error;
      console.error = (line: string) => shown.push(line);
      try { await run(config, whole, { quiet: false }); } finally { console.error = log; }
      assert.ok(shown.some((l) => l.startsWith("model worker: ")), "the run says it uses one");
      assert.equal(await run(config, parts, { stopAfterSteps: 4 }), null);
      await run(config, parts, { resume: true });
    } finally {
      delete process.env.COVER_MODEL_WORKER;
    }
    for (const [name, t] of weights(whole)) assert.equal(maxAbsDiff(t.data, weights(parts).get(name)!.data), 0, name);
    const [a, b] = [metrics(alone), metrics(whole)];
    assert.equal(a.length, b.length);
    a.forEach((r, i) => assert.ok(Math.abs(r.loss - b[i].loss) < 1e-4, `step ${r.step}: ${r.loss} vs ${b[i].loss}`));
  });

  test("killed with SIGKILL mid-run, cover train --resume finishes with the uninterrupted result", async () => {
    const whole = tempDir("cli-whole");
    const killed = tempDir("cli-killed");
    const args = (out: string) => [join(ROOT, "bin", "cover.js"), "train", "standard-appearance", "--scale", "smoke", "--epochs", "12", "--out", out, "--backend", "wasm", "--quiet"];
    const finish = (out: string, extra: string[] = []) => new Promise<number>((resolve) => {
      spawn(process.execPath, [...args(out), ...extra], { stdio: "ignore" }).on("exit", (code) => resolve(code ?? -1));
    });
    assert.equal(await finish(whole), 0);
    const child = spawn(process.execPath, args(killed), { stdio: "ignore" });
    const checkpoint = join(killed, "checkpoint.safetensors");
    const started = Date.now();
    while (!existsSync(checkpoint) && Date.now() - started < 120_000) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    assert.ok(statSync(checkpoint).size > 0);
    assert.ok(!existsSync(join(killed, "results.json")), "killed before the end");
    assert.equal(await finish(killed, ["--resume"]), 0);
    const a = JSON.parse(readFileSync(join(whole, "results.json"), "utf8")) as RunResults;
    const b = JSON.parse(readFileSync(join(killed, "results.json"), "utf8")) as RunResults;
    assert.deepEqual(b.datasets, a.datasets);
    const wa = weights(whole);
    const wb = weights(killed);
    for (const [name, t] of wa) assert.equal(maxAbsDiff(t.data, wb.get(name)!.data), 0, name);
  });

  test("cover train --pretrain starts from the scale's image pre-training, trained into the run cache the experiments share", async () => {
    const out = tempDir("cli-pretrain");
    const runs = tempDir("cli-pretrain-cache");
    const argv = [join(ROOT, "bin", "cover.js"), "train", "cover", "--scale", "smoke", "--epochs", "1", "--pretrain", "--out", out, "--backend", "wasm", "--quiet"];
    const code = await new Promise<number>((resolve) => {
      spawn(process.execPath, argv, { stdio: "ignore", env: { ...process.env, COVER_RUNS: runs } }).on("exit", (c) => resolve(c ?? -1));
    });
    assert.equal(code, 0);
    const expected = new RunCache(runs, openRunData).dirOf(imagePretrainFor(resolveRunConfig("cover", "smoke", 0), "smoke"));
    const stored = JSON.parse(readFileSync(join(out, "config.json"), "utf8")) as RunConfig;
    assert.deepEqual(stored.init, { from: "run", dir: expected });
    const pretrain = JSON.parse(readFileSync(join(expected, "config.json"), "utf8")) as RunConfig;
    assert.equal(pretrain.model.attention, "space_only");
    assert.ok(existsSync(join(expected, "results.json")) && existsSync(join(out, "results.json")));
  });

  test("a diverging run stops with a clear message and keeps its last good checkpoint", async () => {
    const dir = tempDir("diverge");
    const base = smoke("standard-motion");
    // SGD at lr 3 diverges at step 3 (loss 64 > 20, measured), after checkpoints of steps 1 and 2.
    const config = { ...base, checkpointEvery: 1, optim: { ...base.optim, optimizer: "sgd" as const, schedule: { ...base.optim.schedule, baseLr: 3 }, maxLoss: 20 } };
    await assert.rejects(run(config, dir), (err: Error) => err instanceof DivergenceError && /diverged at step \d+/.test(err.message) && err.message.includes(dir));
    assert.ok(existsSync(join(dir, "checkpoint.safetensors")), "the last good checkpoint is kept");
    const state = JSON.parse(readSafetensors(join(dir, "checkpoint.safetensors")).metadata["cover.trainer"]) as { step: number };
    const rows = metrics(dir);
    assert.ok(rows.length >= 2 && rows.every((r) => Number.isFinite(r.loss) && r.loss <= 20), "only good steps are logged");
    // The checkpoint after the last logged step holds the weights whose loss diverged: it is set aside, and the one
    // before it (whose weights gave the last good loss) is the checkpoint to resume from.
    assert.equal(state.step, rows.length - 1, "the checkpoint is the last step whose weights gave a good loss");
    assert.ok(existsSync(join(dir, "checkpoint-diverged.safetensors")), "the diverged weights are kept aside");
  });

  test("a run folder is never overwritten by a new run", async () => {
    const dir = tempDir("exists");
    const config = smoke("standard-motion", { optim: { ...smoke("standard-motion").optim, epochs: 1 } });
    await run(config, dir);
    await assert.rejects(run(config, dir), /holds a run already; pass --resume/);
  });
});

describe("policies", () => {
  test("frozen backbone: only the new head changes", async () => {
    const source = tempDir("probe-src");
    const probe = tempDir("probe");
    const base = smoke("standard-appearance", { optim: { ...smoke("standard-appearance").optim, epochs: 1 } });
    await run(base, source);
    const config: RunConfig = { ...smoke("standard-motion"), init: { from: "run", dir: source }, freezeBackbone: true };
    await run(config, probe);
    const before = weights(source);
    const after = weights(probe);
    for (const [name, t] of after) {
      if (name.startsWith("model.heads.")) continue;
      assert.equal(maxAbsDiff(t.data, before.get(name)!.data), 0, `${name} moved under a frozen backbone`);
    }
    const head = [...after.keys()].find((k) => k.startsWith("model.heads.builtin-digits-motion."));
    assert.ok(head, "a head for the new dataset");
  });

  test("the image loss weight changes what is learned; weight 0 leaves the image head untouched", async () => {
    const zero = tempDir("w0");
    const one = tempDir("w1");
    const base = smoke("cover", { optim: { ...smoke("cover").optim, epochs: 1 } });
    const images = "builtin-digits-images";
    const init = tempDir("w-init");
    await run({ ...base, optim: { ...base.optim, epochs: 1 }, train: { [images]: 1, "builtin-digits-motion": 1 } }, init);
    const withWeight = (w: number): RunConfig => ({ ...base, init: { from: "run", dir: init }, train: { [images]: w, "builtin-digits-motion": 1 } });
    await run(withWeight(0), zero);
    await run(withWeight(1), one);
    const start = weights(init);
    const w0 = weights(zero);
    const w1 = weights(one);
    const head = `model.heads.${images}.weight`;
    assert.ok(maxAbsDiff(w0.get(head)!.data, start.get(head)!.data) < 1e-6, "w_image = 0: the image head gets no gradient (weight decay off)");
    assert.ok(maxAbsDiff(w1.get(head)!.data, start.get(head)!.data) > 1e-4, "w_image = 1: the image head learns");
    assert.ok(maxAbsDiff(w0.get("model.blocks.0.attn.qkv.weight")!.data, w1.get("model.blocks.0.attn.qkv.weight")!.data) > 1e-5, "the backbone differs");
  });
});
