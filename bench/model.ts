/**
 * `npm run bench:model`: trains and runs inference on the tiny TimeSformer (8 frames 32x32, patch 8, dim 128,
 * 4 heads, 4 blocks, batch 8, 10 classes, Adam; the configuration of DESIGN.md's PyTorch reference) on every backend
 * available, each in its own process, one after another in one run. Writes bench/results/model.json.
 * Options: --steps N (timed train steps, default 10), --backends a,b (default: all available).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { availableBackends, BackendName, useBackend } from "../src/backend";
import { modelConfig } from "../src/model/config";
import { macsPerView } from "../src/model/flops";
import { TimeSformer } from "../src/model/timesformer";
import { writeFileAtomic } from "../src/util/atomic";
import { median } from "../src/util/stats";

const CONFIG = modelConfig("tiny", { classifiers: { bench: 10 } });
const BATCH = 8;

interface BackendResult {
  backend: string;
  trainMsPerStep: number;
  trainClipsPerSec: number;
  trainGflopsPerSec: number;
  inferMsPerBatch: number;
  inferClipsPerSec: number;
  stepsTimed: number;
}


async function measure(backend: BackendName, steps: number): Promise<BackendResult> {
  await useBackend(backend);
  const model = TimeSformer.create(CONFIG, 0);
  const x = tf.randomNormal([BATCH, CONFIG.frames, CONFIG.imageSize, CONFIG.imageSize, 3], 0, 1, "float32", 1);
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 10), "int32"), 10);
  const optimizer = tf.train.adam(1e-4);
  const vars = [...model.params.values()];
  const trainStep = async () => {
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.logits(x, "bench", { training: true })) as tf.Scalar, true, vars)!;
    await loss.data();
    loss.dispose();
  };
  const inferStep = async () => { const out = tf.tidy(() => model.logits(x, "bench")); await out.data(); out.dispose(); };
  const time = async (f: () => Promise<void>, n: number) => {
    for (let i = 0; i < 2; i++) await f(); // warm-up
    const ms: number[] = [];
    for (let i = 0; i < n; i++) { const t0 = performance.now(); await f(); ms.push(performance.now() - t0); }
    return median(ms);
  };
  const trainMs = await time(trainStep, steps);
  const inferMs = await time(inferStep, steps);
  // a training step = forward + backward ~ 3 forward passes; 2 FLOPs per multiply-accumulate
  const trainFlops = 3 * 2 * macsPerView(CONFIG) * BATCH;
  model.dispose();
  return {
    backend,
    trainMsPerStep: round(trainMs),
    trainClipsPerSec: round((BATCH * 1000) / trainMs),
    trainGflopsPerSec: round(trainFlops / (trainMs / 1000) / 1e9),
    inferMsPerBatch: round(inferMs),
    inferClipsPerSec: round((BATCH * 1000) / inferMs),
    stepsTimed: steps,
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const steps = Number(option("steps") ?? 10);
  const child = option("child");
  if (child) {
    console.log(JSON.stringify(await measure(child as BackendName, steps)));
    return;
  }
  const backends = option("backends")?.split(",") ?? (await availableBackends());
  const results: (BackendResult | { backend: string; error: string })[] = [];
  for (const backend of backends) {
    console.error(`bench:model: ${backend} ...`);
    // The pure-JS cpu backend is ~25x slower than wasm: time fewer steps there.
    const n = backend === "cpu" ? Math.min(steps, 2) : steps;
    const run = spawnSync(process.execPath, ["--import", "tsx", __filename, "--child", backend, "--steps", String(n)], { encoding: "utf8" });
    const line = run.stdout.trim().split("\n").pop() ?? "";
    try { results.push(JSON.parse(line)); } catch { results.push({ backend, error: (run.stderr || run.stdout).trim().split("\n").slice(-3).join(" ") }); }
  }
  const referencePath = join(__dirname, "..", "test", "fixtures", "official", "pytorch-reference.json");
  const report = {
    benchmark: "bench:model",
    date: new Date().toISOString(),
    config: { frames: CONFIG.frames, imageSize: CONFIG.imageSize, patchSize: CONFIG.patchSize, dim: CONFIG.dim, depth: CONFIG.depth, numHeads: CONFIG.numHeads, batch: BATCH, classes: 10, optimizer: "adam" },
    gmacsPerClip: macsPerView(CONFIG) / 1e9,
    results,
    // Recorded separately (PyTorch is not a dependency of the kit); same configuration, same machine kind.
    pytorchReference: existsSync(referencePath) ? JSON.parse(readFileSync(referencePath, "utf8")) : null,
  };
  const out = join(__dirname, "results", "model.json");
  writeFileAtomic(out, JSON.stringify(report, null, 2) + "\n");
  console.log(JSON.stringify(report, null, 2));
  console.error(`bench:model: wrote ${out}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
