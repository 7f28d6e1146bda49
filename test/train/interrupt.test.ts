/**
 * Stopping a run: a real SIGINT / SIGTERM to `cover train` checkpoints and exits (130 / 143) within seconds, and
 * --resume then finishes exactly as an uninterrupted run; in a library call (a notebook kernel) SIGINT to the
 * process makes trainRun reject with InterruptedError after checkpointing, the process lives on, and resuming
 * finishes exactly; `cover experiment` and an experiment's run cache stop the same way.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openRunData } from "../../src/runs/pipeline";
import { RunCache } from "../../src/runs/cache";
import { resolveRunConfig } from "../../src/runs/named";
import { readSafetensors } from "../../src/io/safetensors";
import { RunConfig } from "../../src/runs/config";
import { trainRun } from "../../src/runs/train";
import { RunResults } from "../../src/runs/folder";
import { InterruptedError } from "../../src/util/interrupt";
import { maxAbsDiff, tempDir, withBackend } from "../helpers/tf";

before(() => withBackend());

const ROOT = join(__dirname, "..", "..");

const metricRows = (dir: string): number => {
  const path = join(dir, "metrics.jsonl");
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter((l) => l.trim()).length : 0;
};
const checkpointStep = (dir: string): number =>
  (JSON.parse(readSafetensors(join(dir, "checkpoint.safetensors")).metadata["cover.trainer"]) as { step: number }).step;
const weights = (dir: string) => readSafetensors(join(dir, "weights.safetensors")).tensors;
const results = (dir: string) => JSON.parse(readFileSync(join(dir, "results.json"), "utf8")) as RunResults;

async function until(condition: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function assertSameRun(a: string, b: string): void {
  assert.deepEqual(results(b).datasets, results(a).datasets);
  const wa = weights(a);
  const wb = weights(b);
  for (const [name, t] of wa) assert.equal(maxAbsDiff(t.data, wb.get(name)!.data), 0, name);
}

describe("cover train stopped by a signal", () => {
  const args = (out: string) => [join(ROOT, "bin", "cover.js"), "train", "standard-appearance", "--scale", "smoke", "--epochs", "12", "--out", out, "--backend", "wasm", "--quiet"];
  const start = (out: string, extra: string[] = []) => spawn(process.execPath, [...args(out), ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  const exited = (child: ChildProcess) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on("exit", (code) => resolve({ code, stderr }));
  });
  let whole: string;

  before(async () => {
    whole = tempDir("signal-whole");
    assert.equal((await exited(start(whole))).code, 0);
  });

  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(`${signal} after a few steps: checkpoint at the step reached, exit ${code} within seconds, --resume ends as the uninterrupted run`, async () => {
      const dir = tempDir(`signal-${signal}`);
      const child = start(dir);
      const done = exited(child);
      await until(() => metricRows(dir) >= 3, "three steps");
      const sent = performance.now();
      child.kill(signal);
      const { code: exitCode, stderr } = await done;
      const seconds = (performance.now() - sent) / 1000;
      console.log(`# ${signal} -> exit in ${seconds.toFixed(2)} s`);
      assert.equal(exitCode, code, stderr);
      assert.ok(seconds < 15, `exited ${seconds.toFixed(1)} s after ${signal}`);
      assert.match(stderr, new RegExp(`interrupted by ${signal}: the run is checkpointed at step \\d+/48`));
      const step = checkpointStep(dir);
      assert.equal(step, metricRows(dir), "the checkpoint is at the last logged step");
      assert.ok(step >= 3 && step < 48, `stopped at step ${step}`);
      assert.ok(!existsSync(join(dir, "results.json")));
      assert.equal((await exited(start(dir, ["--resume"]))).code, 0);
      assertSameRun(whole, dir);
    });
  }
});

test("cover experiment: SIGINT checkpoints the run in progress and exits 130; the rerun resumes it and finishes", async () => {
  const out = tempDir("exp-out");
  const runs = tempDir("exp-runs");
  const args = [join(ROOT, "bin", "cover.js"), "experiment", "frame-reversal", "--scale", "smoke", "--out", out, "--runs", runs, "--backend", "wasm", "--quiet"];
  const coverRunDir = () => {
    const names = existsSync(join(runs, "runs")) ? readdirSync(join(runs, "runs")).filter((n) => n.startsWith("cover-")) : [];
    return names.length ? join(runs, "runs", names[0]) : undefined;
  };
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
  const exit = new Promise<number | null>((resolve) => child.on("exit", resolve));
  await until(() => { const dir = coverRunDir(); return dir !== undefined && metricRows(dir) >= 2; }, "the COVER run's first steps");
  child.kill("SIGINT");
  assert.equal(await exit, 130, stderr);
  const dir = coverRunDir()!;
  assert.ok(existsSync(join(dir, "checkpoint.safetensors")), "the run in progress is checkpointed");
  assert.ok(!existsSync(join(dir, "results.json")), "and not finished");
  assert.ok(!existsSync(join(out, "findings.json")), "the experiment stopped");
  const rerun = spawnSync(process.execPath, args, { encoding: "utf8" });
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.ok(existsSync(join(dir, "results.json")) && existsSync(join(out, "findings.json")));
  assert.equal(metricRows(dir), results(dir).steps, "the rerun resumed the run: one metrics row per step");
});

/** Sends SIGINT to this very process once `dir` has `steps` metric rows (as a notebook kernel's interrupt does). */
function interruptSelfAfter(dir: string, steps: number): { stop(): void } {
  const timer = setInterval(() => {
    if (metricRows(dir) < steps) return;
    clearInterval(timer);
    process.kill(process.pid, "SIGINT");
  }, 10);
  return { stop: () => clearInterval(timer) };
}

describe("library calls stopped by SIGINT (a notebook kernel's interrupt)", () => {
  const config: RunConfig = resolveRunConfig("standard-motion", "smoke", 0);

  test("trainRun rejects with InterruptedError after checkpointing, the process lives on, and resuming finishes exactly", async () => {
    const whole = tempDir("lib-whole");
    const stopped = tempDir("lib-stopped");
    const data = await openRunData(config, { quiet: true });
    try {
      await trainRun(config, data, whole, { quiet: true });
      const listenersBefore = process.listenerCount("SIGINT");
      const interrupt = interruptSelfAfter(stopped, 2);
      await assert.rejects(trainRun(config, data, stopped, { quiet: true }), (err: Error) => {
        assert.ok(err instanceof InterruptedError, String(err));
        assert.equal(err.signal, "SIGINT");
        assert.match(err.message, /checkpointed at step \d+\//);
        return true;
      });
      interrupt.stop();
      assert.equal(process.listenerCount("SIGINT"), listenersBefore, "trainRun removed its signal listeners");
      const step = checkpointStep(stopped);
      assert.ok(step >= 2 && step === metricRows(stopped), `checkpoint at step ${step}, ${metricRows(stopped)} rows`);
      assert.ok(!existsSync(join(stopped, "results.json")));
      await trainRun(config, data, stopped, { quiet: true, resume: true });
    } finally {
      await data.close();
    }
    assertSameRun(whole, stopped);
  });

  test("an experiment's run cache stops its run in progress the same way, and the next get() resumes it", async () => {
    const cache = new RunCache(tempDir("lib-cache"), openRunData, { quiet: true });
    const dir = cache.dirOf(config);
    const interrupt = interruptSelfAfter(dir, 2);
    await assert.rejects(cache.get(config), InterruptedError);
    interrupt.stop();
    const stoppedAt = checkpointStep(dir);
    assert.ok(stoppedAt >= 2 && !existsSync(join(dir, "results.json")));
    const run = await cache.get(config);
    assert.ok(run.results.steps > stoppedAt, `resumed from ${stoppedAt} to ${run.results.steps}`);
    assert.equal(metricRows(dir), run.results.steps, "one metrics row per step across the stop");
    assert.ok(existsSync(join(dir, "results.json")));
  });
});

test("a script calling trainRun, sent SIGTERM (preemption), checkpoints and then ends by that SIGTERM", async () => {
  const dir = tempDir("lib-sigterm");
  const script = `
    const { useBackend } = require("./src/backend");
    const { openRunData } = require("./src/runs/pipeline");
    const { resolveRunConfig } = require("./src/runs/named");
    const { trainRun } = require("./src/runs/train");
    (async () => {
      await useBackend("wasm");
      const base = resolveRunConfig("standard-appearance", "smoke", 0);
      const config = { ...base, optim: { ...base.optim, epochs: 12 } };
      const data = await openRunData(config, { quiet: true });
      await trainRun(config, data, ${JSON.stringify(dir)}, { quiet: true }).catch((err) => console.error("rejected:", err.name));
      await data.close();
      setTimeout(() => console.error("still alive"), 5000);
    })();`;
  const child = spawn(process.execPath, ["--import", "tsx", "-e", script], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => { stderr += chunk.toString(); });
  const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  await until(() => metricRows(dir) >= 3, "three steps");
  child.kill("SIGTERM");
  assert.equal(await exit, "SIGTERM", stderr);
  assert.doesNotMatch(stderr, /rejected|still alive/, "the process ends at once, after the checkpoint");
  const step = checkpointStep(dir);
  assert.ok(step >= 3 && step === metricRows(dir), `checkpoint at step ${step}`);
});
