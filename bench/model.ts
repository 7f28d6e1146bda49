/**
 * `npm run bench:model`: the kit's training step and inference against a PyTorch reference of the same architecture
 * (bench/reference/timesformer_ref.py), config x mode x implementation, each run in its own process with one
 * thread, the implementations of a cell alternating so that load from other jobs falls on all of them alike.
 * Reports ms/step (median), CPU-ms/step (median; the steadier number on a shared machine), clips/s, peak RSS and the
 * ratios to PyTorch. Writes bench/results/model.json.
 *
 * The kit's training step is its real one: lossAndGradients (COVER loss, one group) + AdamW accumulate/step; its
 * inference is evaluation's (clipScores: logits, softmax, one view).
 * PyTorch: COVER_BENCH_PYTHON names a python with torch; else a venv is made in .cache/bench-venv and torch is
 * pip-installed there from the configured package index. Without python3 the PyTorch column is left out, saying why.
 *
 * Options: --configs a,b (default all), --backends a,b (default: every available one but the plain-JS cpu),
 * the native backend is measured eagerly ("tensorflow") and with the recorded step the kit trains with ("tensorflow:graph");
 * --modes train,inference (default both), --out FILE (default bench/results/model.json),
 * --threads N (default 1: N compute threads per process for every implementation; wasm's second thread is the kit's
 * model worker; compare wall time then, default out bench/results/model-<N>threads.json),
 * --repeats N (alternating rounds, default 1; medians over the rounds), --steps-scale X (multiplies the timed steps),
 * --no-pytorch, --profile (instead: the kernels of one step of each config x mode x backend, counted by name, with
 * their summed kernel time; written to bench/results/model-profile.json), --soak N (instead: N training steps of
 * tiny-b8, or of --configs, per backend, with RSS and live tensors sampled along the way; written to
 * bench/results/model-soak.json).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { availableBackends, BackendName, useBackend } from "../src/backend";
import { modelConfig, TimeSformerConfig } from "../src/model/config";
import { allSpecs, countParams } from "../src/model/params";
import { TimeSformer } from "../src/model/timesformer";
import { ModelWorker } from "../src/train/model-worker";
import { AdamW } from "../src/train/optimizer";
import { CompileMode, graphSupport } from "../src/backend/graph";
import { clipScores, compiledScores } from "../src/train/evaluate";
import { compiledSteps, lossAndGradients, trainableParams } from "../src/train/step";
import { writeFileAtomic } from "../src/util/atomic";
import { median } from "../src/util/stats";

type Mode = "train" | "inference";

interface BenchConfig {
  name: string;
  preset: string;
  overrides: Partial<TimeSformerConfig>;
  batch: number;
  modes: Mode[];
  /** Timed steps (after `warmup` untimed ones: at least 2, since a recorded step is recorded at its first call and checked against the eager one at its second). */
  steps: number;
  warmup: number;
}

const CLASSES = 10;
const DROP_PATH = 0.1;
const CONFIGS: BenchConfig[] = [
  { name: "tiny-b8", preset: "tiny", overrides: {}, batch: 8, modes: ["train", "inference"], steps: 20, warmup: 3 },
  { name: "tiny-b32", preset: "tiny", overrides: {}, batch: 32, modes: ["train", "inference"], steps: 8, warmup: 2 },
  { name: "small-b32", preset: "small", overrides: {}, batch: 32, modes: ["train", "inference"], steps: 4, warmup: 2 },
  // compute-bound: wide enough that matmuls dominate (dim 384, 6 blocks, 6 heads of 64)
  { name: "d384x6-b8", preset: "small", overrides: { dim: 384, depth: 6, numHeads: 6 }, batch: 8, modes: ["train", "inference"], steps: 4, warmup: 2 },
  { name: "base-8x224-b1", preset: "base", overrides: {}, batch: 1, modes: ["inference"], steps: 2, warmup: 2 },
];

/** What one child process measured. */
interface Measurement {
  implementation: string;
  params: number;
  msPerStep: number;
  cpuMsPerStep: number;
  peakRssMb: number;
  steps: number;
  /** Kit only: tensors alive after the timed steps minus before (0 = nothing leaks). */
  tensorGrowth?: number;
  /** Kit only: RSS after the timed steps minus after the warm-up, MB. */
  rssGrowthMb?: number;
}

interface Failure { implementation: string; error: string }

interface ChildSpec { config: string; mode: Mode; backend: BackendName; compile?: CompileMode; stepsScale: number; threads: number; profile?: boolean; soak?: number }

/** An implementation of the kit: a backend, with ":graph" or ":xla" for the recorded step and evaluation (backend/graph). */
function childSpec(implementation: string, rest: Omit<ChildSpec, "backend" | "compile">): ChildSpec {
  const [backend, compile] = implementation.split(":") as [BackendName, CompileMode | undefined];
  return { ...rest, backend, ...(compile && { compile }) };
}

function implementationOf(spec: ChildSpec): string { return spec.compile ? `${spec.backend}:${spec.compile}` : spec.backend; }

/** A long run of one config: RSS and live tensors sampled every tenth of the steps, to see whether memory grows. */
interface Soak {
  implementation: string;
  steps: number;
  /** [step, RSS MB, live tensors] after that many steps. */
  samples: [number, number, number][];
  /** RSS at the end minus RSS after the first tenth of the steps (allocator warm-up excluded), MB. */
  rssGrowthMb: number;
  tensorGrowth: number;
  cpuMsPerStep: number;
}

/** The kernels one step ran: how many, their summed time, and the ten costliest kernel names. */
interface StepProfile { implementation: string; kernels: number; kernelMs: number; byName: Record<string, { count: number; ms: number }> }

function benchConfig(name: string): BenchConfig {
  const c = CONFIGS.find((x) => x.name === name);
  if (!c) throw new Error(`unknown bench config '${name}' (known: ${CONFIGS.map((x) => x.name).join(", ")})`);
  return c;
}

function modelFor(c: BenchConfig): TimeSformerConfig {
  return modelConfig(c.preset, { ...c.overrides, classifiers: { bench: CLASSES }, dropPath: DROP_PATH });
}

function timedSteps(c: BenchConfig, scale: number): number { return Math.max(1, Math.round(c.steps * scale)); }

const peakRssMb = () => process.resourceUsage().maxRSS / 1024; // KiB on Linux
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const round = (x: number) => Math.round(x * 100) / 100;

/** Runs in a child process: one config, one mode, one backend. */
async function measureKit(spec: ChildSpec): Promise<Measurement | StepProfile | Soak> {
  await useBackend(spec.backend);
  const c = benchConfig(spec.config);
  const config = modelFor(c);
  const model = TimeSformer.create(config, 0);
  const shape: [number, number, number, number, number] = [c.batch, config.frames, config.imageSize, config.imageSize, 3];
  const x = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 12.9898) * 1.5);
  const labels = Int32Array.from({ length: c.batch }, (_, i) => i % CLASSES);
  const trainable = trainableParams(model, { freezeBackbone: false, heads: ["bench"] });
  const mode = spec.compile ?? "off";
  const compiled = compiledSteps(mode, () => {});
  if (mode !== "off" && !compiled) throw new Error(`compile '${mode}' is not available: ${JSON.stringify(graphSupport())}`);
  const optimizer = new AdamW({ beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.05 }, model.params);
  // wasm computes on one thread; its second thread is the kit's model worker (half of every batch's clips)
  const worker = spec.threads >= 2 && spec.backend === "wasm" ? await ModelWorker.start(config, "wasm") : undefined;
  let seed = 0;
  const trainStep = () => {
    const { grads } = lossAndGradients(model, { groups: [{ dataset: "bench", x, shape, labels }] }, { bench: 1 },
      { labelSmoothing: 0, seed: ++seed, trainable, compiled, worker });
    optimizer.accumulate(grads);
    optimizer.step(1e-4);
  };
  const scorer = compiledScores(mode, () => {});
  const inferStep = () => { clipScores(model, "bench", { x, shape, views: 1, labels }, false, scorer, worker); };
  const step = spec.mode === "train" ? trainStep : inferStep;
  for (let i = 0; i < c.warmup; i++) step();
  if (spec.profile) return profileStep(implementationOf(spec), step);
  if (spec.soak) return soak(implementationOf(spec), step, spec.soak);
  const tensorsBefore = tf.memory().numTensors;
  const rssBefore = process.memoryUsage().rss;
  const wall: number[] = [];
  const cpu: number[] = [];
  const n = timedSteps(c, spec.stepsScale);
  for (let i = 0; i < n; i++) {
    const w0 = performance.now();
    const c0 = cpuMs();
    step();
    wall.push(performance.now() - w0);
    cpu.push(cpuMs() - c0);
  }
  await worker?.stop();
  return {
    implementation: implementationOf(spec), params: countParams(allSpecs(config)), msPerStep: round(median(wall)), cpuMsPerStep: round(median(cpu)),
    peakRssMb: round(peakRssMb()), steps: n, tensorGrowth: tf.memory().numTensors - tensorsBefore,
    rssGrowthMb: round((process.memoryUsage().rss - rssBefore) / 2 ** 20),
  };
}

function soak(implementation: string, step: () => void, steps: number): Soak {
  const every = Math.max(1, Math.round(steps / 10));
  const rssMb = () => round(process.memoryUsage().rss / 2 ** 20);
  const samples: [number, number, number][] = [[0, rssMb(), tf.memory().numTensors]];
  const c0 = cpuMs();
  for (let i = 1; i <= steps; i++) {
    step();
    if (i % every === 0 || i === steps) samples.push([i, rssMb(), tf.memory().numTensors]);
  }
  const afterWarmup = samples[1];
  const end = samples[samples.length - 1];
  return { implementation, steps, samples, rssGrowthMb: round(end[1] - afterWarmup[1]), tensorGrowth: end[2] - afterWarmup[2], cpuMsPerStep: round((cpuMs() - c0) / steps) };
}

async function profileStep(implementation: string, step: () => void): Promise<StepProfile> {
  const info = await tf.profile(step);
  const byName: Record<string, { count: number; ms: number }> = {};
  let kernelMs = 0;
  // Scopes are listed too: a tf.customGrad op ("forward") and a tf.tidy ("unnamed scope"), each timed with the
  // kernels it runs, which are listed as well. Only registered kernels count.
  const kernels = info.kernels.filter((k) => tf.getKernel(k.name, tf.getBackend()) !== undefined);
  for (const k of kernels) {
    const ms = await k.kernelTimeMs;
    const t = typeof ms === "number" ? ms : 0;
    const entry = (byName[k.name] ??= { count: 0, ms: 0 });
    entry.count++;
    entry.ms += t;
    kernelMs += t;
  }
  const top = Object.entries(byName).sort((a, b) => b[1].ms - a[1].ms).slice(0, 10).map(([name, e]) => [name, { count: e.count, ms: round(e.ms) }]);
  return { implementation, kernels: kernels.length, kernelMs: round(kernelMs), byName: Object.fromEntries(top) };
}

/** The backends, and after the native one its recorded step ("tensorflow:graph"), which the kit trains with by default. */
function withGraphStep(backends: BackendName[]): string[] {
  return backends.flatMap((b) => (b === "tensorflow" ? [b, `${b}:graph`] : [b]));
}

/** `threads` compute threads per process, for every implementation alike. */
const threadEnv = (threads: number) => ({ OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), TF_NUM_INTRAOP_THREADS: String(threads), TF_NUM_INTEROP_THREADS: "1" });

function lastLines(text: string, n = 3): string { return text.trim().split("\n").slice(-n).join(" | "); }

function runChild<R = Measurement>(command: string, args: string[], implementation: string, threads = 1): R | Failure {
  const run = spawnSync(command, args, { encoding: "utf8", env: { ...process.env, ...threadEnv(threads) }, maxBuffer: 64 * 2 ** 20 });
  const line = run.stdout?.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as R;
  } catch {
    const why = run.error ? run.error.message : `exit ${run.status ?? run.signal}: ${lastLines(run.stderr || run.stdout || "")}`;
    return { implementation, error: why };
  }
}

/** A python with torch: COVER_BENCH_PYTHON, else a venv under .cache made on first use. Returns it or why not. */
function pythonWithTorch(): { python?: string; why: string } {
  const hasTorch = (python: string) => spawnSync(python, ["-c", "import torch"], { encoding: "utf8" }).status === 0;
  const given = process.env.COVER_BENCH_PYTHON;
  if (given) return hasTorch(given) ? { python: given, why: "COVER_BENCH_PYTHON" } : { why: `COVER_BENCH_PYTHON=${given} cannot import torch` };
  const venv = resolve(__dirname, "..", ".cache", "bench-venv");
  const python = join(venv, "bin", "python");
  if (existsSync(python) && hasTorch(python)) return { python, why: venv };
  if (spawnSync("python3", ["--version"]).status !== 0) return { why: "python3 not found" };
  console.error(`bench:model: installing torch into ${venv} (once) ...`);
  const make = spawnSync("python3", ["-m", "venv", venv], { encoding: "utf8" });
  if (make.status !== 0) return { why: `python3 -m venv ${venv} failed: ${lastLines(make.stderr)}` };
  const pip = spawnSync(python, ["-m", "pip", "install", "--quiet", "torch"], { encoding: "utf8", stdio: ["ignore", "inherit", "pipe"] });
  if (pip.status !== 0) return { why: `pip install torch into ${venv} failed: ${lastLines(pip.stderr ?? "")}` };
  return { python, why: venv };
}

/** The reference's parameter count, logits and gradients against the official fixtures (must pass to be quoted). */
function checkReference(python: string): unknown {
  const script = join(__dirname, "reference", "timesformer_ref.py");
  const run = spawnSync(python, ["-W", "ignore", script, "check", join(__dirname, "..", "test", "fixtures", "official")], { encoding: "utf8" });
  try { return JSON.parse(run.stdout.trim().split("\n").pop() ?? ""); } catch { return { ok: false, error: lastLines(run.stderr || run.stdout) }; }
}

function pytorchArgs(python: string, c: BenchConfig, mode: Mode, scale: number, threads: number): [string, string[]] {
  const m = modelFor(c);
  const spec = {
    imageSize: m.imageSize, patchSize: m.patchSize, frames: m.frames, dim: m.dim, depth: m.depth, numHeads: m.numHeads,
    mlpRatio: m.mlpRatio, classes: CLASSES, batch: c.batch, mode, steps: timedSteps(c, scale), warmup: c.warmup,
    dropPath: DROP_PATH, lr: 1e-4, weightDecay: 0.05, threads,
  };
  return [python, ["-W", "ignore", join(__dirname, "reference", "timesformer_ref.py"), "bench", JSON.stringify(spec)]];
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const isFailure = (r: Measurement | Failure): r is Failure => "error" in r;

/** Medians over the rounds of one implementation in one cell, with the ratios to PyTorch's. */
function summarise(runs: (Measurement | Failure)[], batch: number, reference?: Measurement) {
  const ok = runs.filter((r): r is Measurement => !isFailure(r));
  if (ok.length === 0) return { error: (runs[0] as Failure).error };
  const ms = median(ok.map((r) => r.msPerStep));
  const cpu = median(ok.map((r) => r.cpuMsPerStep));
  const out: Record<string, unknown> = {
    msPerStep: round(ms), cpuMsPerStep: round(cpu), clipsPerSec: round((batch * 1000) / ms),
    peakRssMb: round(Math.max(...ok.map((r) => r.peakRssMb))), params: ok[0].params, steps: ok[0].steps, rounds: ok.length,
  };
  if (ok[0].tensorGrowth !== undefined) out.tensorGrowth = Math.max(...ok.map((r) => r.tensorGrowth ?? 0));
  if (ok[0].rssGrowthMb !== undefined) out.rssGrowthMb = Math.max(...ok.map((r) => r.rssGrowthMb ?? 0));
  if (reference) {
    out.ratioMs = round(ms / reference.msPerStep);
    out.ratioCpuMs = round(cpu / reference.cpuMsPerStep);
    out.ratioPeakRss = round((out.peakRssMb as number) / reference.peakRssMb);
  }
  return out;
}

async function main(): Promise<void> {
  const child = option("child");
  if (child) {
    console.log(JSON.stringify(await measureKit(JSON.parse(child) as ChildSpec)));
    return;
  }
  const configs = option("configs")?.split(",").map(benchConfig) ?? CONFIGS;
  const backends = option("backends")?.split(",") ?? withGraphStep((await availableBackends()).filter((b) => b !== "cpu"));
  const repeats = Number(option("repeats") ?? 1);
  const modes = (option("modes")?.split(",") ?? ["train", "inference"]) as Mode[];
  const scale = Number(option("steps-scale") ?? 1);
  const threads = Number(option("threads") ?? 1);
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads takes a positive integer, got '${option("threads")}'`);
  if (process.argv.includes("--profile")) return profileAll(configs, backends);
  const soakSteps = option("soak");
  if (soakSteps) return soakAll(option("configs") ? configs : [benchConfig("tiny-b8")], backends, Number(soakSteps));
  const torch = process.argv.includes("--no-pytorch") ? { why: "--no-pytorch" } : pythonWithTorch();
  const referenceCheck = torch.python ? checkReference(torch.python) : undefined;

  const cells: Record<string, Record<string, unknown>> = {};
  for (const c of configs) {
    for (const mode of c.modes.filter((m) => modes.includes(m))) {
      const runs = new Map<string, (Measurement | Failure)[]>();
      for (let round = 0; round < repeats; round++) {
        const order: string[] = [...(torch.python ? ["pytorch"] : []), ...backends];
        if (round % 2 === 1) order.reverse();
        for (const impl of order) {
          console.error(`bench:model: ${c.name} ${mode} ${impl} (round ${round + 1}/${repeats}) ...`);
          const [command, args] = impl === "pytorch"
            ? pytorchArgs(torch.python!, c, mode, scale, threads)
            : [process.execPath, ["--import", "tsx", __filename, "--child", JSON.stringify(childSpec(impl, { config: c.name, mode, stepsScale: scale, threads }))]];
          const result = runChild(command, args, impl, threads);
          console.error(`  ${JSON.stringify(result)}`);
          runs.set(impl, [...(runs.get(impl) ?? []), result]);
        }
      }
      const torchRuns = (runs.get("pytorch") ?? []).filter((r): r is Measurement => !isFailure(r));
      const reference = torchRuns.length ? { ...torchRuns[0], msPerStep: median(torchRuns.map((r) => r.msPerStep)), cpuMsPerStep: median(torchRuns.map((r) => r.cpuMsPerStep)), peakRssMb: Math.max(...torchRuns.map((r) => r.peakRssMb)) } : undefined;
      const cell: Record<string, unknown> = {};
      for (const [impl, list] of runs) cell[impl] = summarise(list, c.batch, impl === "pytorch" ? undefined : reference);
      cells[`${c.name} ${mode}`] = cell;
    }
  }
  const report = {
    benchmark: "bench:model",
    date: new Date().toISOString(),
    method: threads === 1
      ? "each implementation in its own process, 1 thread (OMP/MKL/TF thread counts 1, torch.set_num_threads(1)), "
      : `each implementation in its own process, ${threads} threads (OMP/MKL/TF thread counts ${threads}, torch.set_num_threads(${threads}); ` +
        "wasm, which computes on one thread, with the kit's model worker thread: half of every batch's clips; compare wall ms/step), " +
      "implementations of a cell alternating; medians of per-step wall and CPU time after warm-up steps; ratios = kit / PyTorch; " +
      "train = COVER loss + backward + AdamW step; inference = forward without gradients",
    configs: Object.fromEntries(configs.map((c) => [c.name, { ...pick(modelFor(c)), batch: c.batch, classes: CLASSES, dropPath: DROP_PATH }])),
    pytorch: torch.python ? { python: torch.why, referenceCheck } : { skipped: torch.why },
    cells,
  };
  const out = resolve(option("out") ?? join(__dirname, "results", threads === 1 ? "model.json" : `model-${threads}threads.json`));
  writeFileAtomic(out, JSON.stringify(report, null, 2) + "\n");
  printTable(cells);
  console.error(`bench:model: wrote ${out}`);
}

function profileAll(configs: BenchConfig[], backends: string[]): void {
  const profiles: Record<string, unknown> = {};
  for (const c of configs) {
    for (const mode of c.modes) {
      for (const backend of backends) {
        console.error(`bench:model: profiling ${c.name} ${mode} ${backend} ...`);
        const spec = childSpec(backend, { config: c.name, mode, stepsScale: 1, threads: 1, profile: true });
        profiles[`${c.name} ${mode} ${backend}`] = runChild(process.execPath, ["--import", "tsx", __filename, "--child", JSON.stringify(spec)], backend);
      }
    }
  }
  const out = join(__dirname, "results", "model-profile.json");
  writeFileAtomic(out, JSON.stringify({ benchmark: "bench:model --profile", date: new Date().toISOString(), profiles }, null, 2) + "\n");
  console.log(JSON.stringify(profiles, null, 2));
  console.error(`bench:model: wrote ${out}`);
}

/** --soak N: N training steps per config and backend, each in its own process; writes bench/results/model-soak.json. */
function soakAll(configs: BenchConfig[], backends: string[], steps: number): void {
  if (!Number.isInteger(steps) || steps < 10) throw new Error(`--soak needs a whole number of steps >= 10, got '${steps}'`);
  const soaks: Record<string, unknown> = {};
  for (const c of configs) {
    for (const backend of backends) {
      console.error(`bench:model: soak ${c.name} train ${backend}, ${steps} steps ...`);
      const spec = childSpec(backend, { config: c.name, mode: "train", stepsScale: 1, threads: 1, soak: steps });
      const result = runChild<Soak>(process.execPath, ["--import", "tsx", __filename, "--child", JSON.stringify(spec)], backend);
      console.error(`  ${JSON.stringify(result)}`);
      soaks[`${c.name} train ${backend}`] = result;
    }
  }
  const out = join(__dirname, "results", "model-soak.json");
  writeFileAtomic(out, JSON.stringify({
    benchmark: `bench:model --soak ${steps}`, date: new Date().toISOString(),
    method: "one process per config x backend, 1 thread; RSS (MB) and live tensors sampled every tenth of the steps; growth = end minus the first sample after warm-up",
    soaks,
  }, null, 2) + "\n");
  console.error(`bench:model: wrote ${out}`);
}

/** One line per config x mode x implementation: the numbers the README quotes. */
function printTable(cells: Record<string, Record<string, unknown>>): void {
  console.log("| config mode | impl | ms/step | CPU-ms/step | clips/s | peak RSS MB | CPU-ms vs PyTorch | RSS vs PyTorch |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const [cell, impls] of Object.entries(cells)) {
    for (const [impl, r] of Object.entries(impls) as [string, Record<string, number | string>][]) {
      if (r.error) { console.log(`| ${cell} | ${impl} | failed: ${r.error} |||||| `); continue; }
      console.log(`| ${cell} | ${impl} | ${r.msPerStep} | ${r.cpuMsPerStep} | ${r.clipsPerSec} | ${r.peakRssMb} | ${r.ratioCpuMs ?? "-"} | ${r.ratioPeakRss ?? "-"} |`);
    }
  }
}

function pick(c: TimeSformerConfig) {
  return { frames: c.frames, imageSize: c.imageSize, patchSize: c.patchSize, dim: c.dim, depth: c.depth, numHeads: c.numHeads, mlpRatio: c.mlpRatio };
}

main().catch((err) => { console.error(err instanceof Error ? err.message : err); process.exit(1); });
