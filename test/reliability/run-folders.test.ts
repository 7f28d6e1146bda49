/**
 * Run folders and checkpoints that cannot lie: one process per run folder (a lock naming its holder, stale locks
 * taken over), resume verifies what it loads (checksum, slots, shapes, step, config), divergence advice that can
 * be followed (--lr-scale, recorded), leftover temp files removed, run-cache keys free of absolute paths.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { openRunData } from "../../src/runs/pipeline";
import { resolveRunConfig } from "../../src/runs/named";
import { RunCache } from "../../src/runs/cache";
import { readSafetensors, writeSafetensors } from "../../src/io/safetensors";
import { checkpointPath, tensorChecksum } from "../../src/runs/checkpoint";
import { RunConfig } from "../../src/runs/config";
import { RunData } from "../../src/runs/data";
import { acquireRunLock, lockPath, RunLockedError } from "../../src/runs/lock";
import { DivergenceError, TrainOptions, trainRun } from "../../src/runs/train";
import { RunResults } from "../../src/runs/folder";
import { tempDir, withBackend } from "../helpers/tf";

before(() => withBackend());

const ROOT = join(__dirname, "..", "..");

/** A pid that is certainly not running: a child that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
  return Number(child.stdout);
}

const smoke = (): RunConfig => resolveRunConfig("standard-motion", "smoke", 0);

async function train(config: RunConfig, dir: string, options: TrainOptions = {}): Promise<RunResults | null> {
  const data = await openRunData(config, { quiet: true });
  try { return await trainRun(config, data, dir, { quiet: true, ...options }); } finally { await data.close(); }
}

describe("run folder lock", () => {
  test("a second holder fails at once, naming the holder's pid and host; release frees it", () => {
    const dir = tempDir("lock");
    const lock = acquireRunLock(dir);
    assert.throws(() => acquireRunLock(dir), (err: Error) => err instanceof RunLockedError &&
      err.message.includes(`process ${process.pid} on ${hostname()}`) && err.message.startsWith(lockPath(dir)));
    lock.release();
    assert.ok(!existsSync(lockPath(dir)));
    acquireRunLock(dir).release();
  });

  test("a stale lock (same host, process gone) is taken over", () => {
    const dir = tempDir("stale");
    const pid = deadPid();
    writeFileSync(lockPath(dir), JSON.stringify({ pid, hostname: hostname(), started: "2020-01-01T00:00:00.000Z" }));
    const lock = acquireRunLock(dir);
    assert.equal(JSON.parse(readFileSync(lockPath(dir), "utf8")).pid, process.pid);
    lock.release();
  });

  test("a stale takeover guard left by a dead process does not block the takeover", () => {
    const dir = tempDir("stale-guard");
    const stale = { pid: deadPid(), hostname: hostname(), started: "2020-01-01T00:00:00.000Z" };
    writeFileSync(lockPath(dir), JSON.stringify(stale));
    writeFileSync(`${lockPath(dir)}.takeover`, JSON.stringify(stale));
    acquireRunLock(dir).release();
    assert.deepEqual(readdirSync(dir), []);
  });

  test("a lock from another host, or an unreadable one, is never taken over", () => {
    const dir = tempDir("other-host");
    writeFileSync(lockPath(dir), JSON.stringify({ pid: deadPid(), hostname: "elsewhere.example", started: "x" }));
    assert.throws(() => acquireRunLock(dir), /in use by process \d+ on elsewhere\.example/);
    writeFileSync(lockPath(dir), "{garbled");
    assert.throws(() => acquireRunLock(dir), /locked by another process \(unreadable lock file\)/);
  });

  test("cover train on a folder another process holds exits at once with the holder named", async () => {
    const dir = tempDir("cli-lock");
    const lock = acquireRunLock(dir);
    try {
      const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [join(ROOT, "bin", "cover.js"), "train", "standard-motion", "--scale", "smoke", "--out", dir, "--backend", "wasm", "--quiet"]);
        let stderr = "";
        child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
        child.on("exit", (code) => resolve({ code: code ?? -1, stderr }));
      });
      assert.equal(result.code, 1);
      assert.match(result.stderr, new RegExp(`in use by process ${process.pid} on `));
      assert.doesNotMatch(result.stderr, /\n\s+at /, "no stack trace");
      assert.ok(!existsSync(join(dir, "config.json")), "nothing written into the held folder");
    } finally {
      lock.release();
    }
  });

  test("two experiments needing the same run-cache entry: the second refuses at once", async () => {
    const root = tempDir("cache-lock");
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const opened: string[] = [];
    const openData = async (config: RunConfig): Promise<RunData> => {
      opened.push(config.name);
      await gate;
      throw new Error("stop here: the test needs only the lock");
    };
    const first = new RunCache(root, openData).get(smoke());
    const second = new RunCache(root, openData).get(smoke());
    await assert.rejects(second, (err: Error) => err instanceof RunLockedError && err.message.includes(`process ${process.pid}`));
    assert.equal(opened.length, 1, "the second never opened its data");
    release();
    await assert.rejects(first, /stop here/);
    assert.ok(!existsSync(lockPath(new RunCache(root, openData).dirOf(smoke()))), "released after a failure");
  });
});

describe("run-cache keys", () => {
  test("a runs folder copied elsewhere is reused (init runs named by their folder, not their path)", async () => {
    const a = tempDir("cache-a");
    const b = join(tempDir("cache-b"), "moved");
    const withInit = (root: string): RunConfig => ({ ...smoke(), init: { from: "run", dir: join(root, "runs", "standard-appearance-0123456789") } });
    const cacheA = new RunCache(a, async () => { throw new Error("unused"); });
    const dirA = cacheA.dirOf(withInit(a));
    mkdirSync(dirA, { recursive: true });
    const results: RunResults = { run: "standard-motion", steps: 1, epochs: 1, seconds: 0, backend: "wasm", datasets: {} };
    writeFileSync(join(dirA, "results.json"), JSON.stringify(results));
    cpSync(a, b, { recursive: true });
    let opened = false;
    const cacheB = new RunCache(b, async () => { opened = true; throw new Error("should have been reused"); });
    const got = await cacheB.get(withInit(b));
    assert.equal(opened, false);
    assert.deepEqual(got.results, results);
    assert.equal(cacheB.dirOf(withInit(b)), join(b, "runs", dirA.split("/").pop()!));
  });
});

describe("a finished run is never lost", () => {
  test("without its checkpoint, a finished run folder is refused, not retrained over; garbled results name the file", async () => {
    const dir = tempDir("finished");
    const config = smoke();
    assert.ok(await train(config, dir));
    const before = readFileSync(join(dir, "results.json"), "utf8");
    rmSync(checkpointPath(dir));
    rmSync(join(dir, "checkpoint-previous.safetensors"), { force: true });
    for (const resume of [false, true]) await assert.rejects(train(config, dir, { resume }), /holds a finished run \(results\.json\)/);
    assert.equal(readFileSync(join(dir, "results.json"), "utf8"), before);
    const root = tempDir("garbled-results");
    const cache = new RunCache(root, async () => { throw new Error("unused"); });
    mkdirSync(cache.dirOf(config), { recursive: true });
    writeFileSync(join(cache.dirOf(config), "results.json"), "{\"run\": ");
    await assert.rejects(cache.get(config), (err: Error) => err.message.startsWith(join(cache.dirOf(config), "results.json")) && /not valid JSON/.test(err.message));
  });
});

describe("resume verifies what it loads", () => {
  /** A run stopped after 2 steps: a checkpoint to damage. */
  async function stopped(label: string): Promise<{ dir: string; config: RunConfig }> {
    const dir = tempDir(label);
    const config = smoke();
    assert.equal(await train(config, dir, { stopAfterSteps: 2 }), null);
    return { dir, config };
  }
  /** Rewrites the checkpoint with edited tensors/metadata, its checksum recomputed (a consistent but wrong file). */
  function rewrite(dir: string, edit: (file: ReturnType<typeof readSafetensors>) => void): void {
    const file = readSafetensors(checkpointPath(dir));
    edit(file);
    writeSafetensors(checkpointPath(dir), file.tensors, { ...file.metadata, "cover.sha256": tensorChecksum(file.tensors) });
  }
  const resumeFails = async (dir: string, config: RunConfig, why: RegExp) => {
    await assert.rejects(train(config, dir, { resume: true }), (err: Error) => { assert.match(err.message, why); return true; });
  };

  test("the control: an intact checkpoint resumes to the end", async () => {
    const { dir, config } = await stopped("resume-ok");
    const results = await train(config, dir, { resume: true });
    assert.ok(results && results.steps === 4);
  });

  test("a bit flipped in the tensor bytes is rejected by the checksum", async () => {
    const { dir, config } = await stopped("bitflip");
    const bytes = readFileSync(checkpointPath(dir));
    bytes[bytes.length - 100] ^= 0x10;
    writeFileSync(checkpointPath(dir), bytes);
    await resumeFails(dir, config, /checkpoint\.safetensors: the checkpoint is damaged: its tensor bytes do not match the sha256/);
  });

  const stateCases: [string, Record<string, unknown>, RegExp][] = [
    ["step beyond the run", { step: 1e9, seconds: 1 }, /step 1000000000 is not an integer in \[0, 4\]/],
    ["fractional step", { step: 1.5, seconds: 1 }, /step 1\.5 is not an integer/],
    ["negative step", { step: -1, seconds: 1 }, /step -1 is not an integer/],
    ["no step", { seconds: 1 }, /step undefined is not an integer/],
    ["NaN seconds", { step: 1, seconds: "NaN" }, /seconds "NaN" is not a non-negative number/],
    ["zero lr scale", { step: 1, seconds: 1, lrScale: 0 }, /lrScale 0 is not a positive number/],
  ];
  for (const [name, state, why] of stateCases) {
    test(`trainer state with ${name}`, async () => {
      const { dir, config } = await stopped("state");
      rewrite(dir, (f) => { f.metadata["cover.trainer"] = JSON.stringify(state); });
      await resumeFails(dir, config, why);
    });
  }

  test("garbled trainer state metadata", async () => {
    const { dir, config } = await stopped("state-json");
    rewrite(dir, (f) => { f.metadata["cover.trainer"] = "{step:"; });
    await resumeFails(dir, config, /metadata 'cover\.trainer' is not JSON/);
  });

  test("an optimiser slot missing, or of the wrong shape", async () => {
    const missing = await stopped("slot-missing");
    rewrite(missing.dir, (f) => { f.tensors.delete("optimizer.model.norm.weight.m"); });
    await resumeFails(missing.dir, missing.config, /optimiser state does not match its slot list; missing model\.norm\.weight\.m/);
    const shaped = await stopped("slot-shape");
    rewrite(shaped.dir, (f) => { f.tensors.set("optimizer.model.norm.weight.v", { shape: [3], data: new Float32Array(3) }); });
    await resumeFails(shaped.dir, shaped.config, /optimiser slot 'model\.norm\.weight\.v' has shape \[3\], its parameter needs \[32\]/);
    const foreign = await stopped("slot-foreign");
    rewrite(foreign.dir, (f) => {
      f.tensors.set("optimizer.model.ghost.m", { shape: [1], data: new Float32Array(1) });
      f.metadata["cover.optimizer-slots"] = JSON.stringify([...JSON.parse(f.metadata["cover.optimizer-slots"]), "model.ghost.m"]);
    });
    await resumeFails(foreign.dir, foreign.config, /optimiser slot 'model\.ghost\.m' belongs to no parameter/);
  });

  test("a parameter missing or mis-shaped", async () => {
    const { dir, config } = await stopped("param");
    rewrite(dir, (f) => { f.tensors.delete("model.norm.bias"); f.tensors.set("model.cls_token", { shape: [1, 1, 7], data: new Float32Array(7) }); });
    await resumeFails(dir, config, /missing \(1\): model\.norm\.bias.*mis-shaped \(1\): model\.cls_token/s);
  });

  test("the checkpoint of another run's config, or another model", async () => {
    const { dir, config } = await stopped("other-config");
    rewrite(dir, (f) => { f.metadata["cover.run"] = JSON.stringify({ ...config, seed: 99 }); });
    await resumeFails(dir, config, /belongs to a run of another configuration/);
    const other = await stopped("other-model");
    rewrite(other.dir, (f) => {
      const c = JSON.parse(f.metadata["cover.config"]);
      f.metadata["cover.config"] = JSON.stringify({ ...c, classifiers: { ...c.classifiers, extra: 3 } });
      f.tensors.set("model.heads.extra.weight", { shape: [3, 32], data: new Float32Array(96) });
      f.tensors.set("model.heads.extra.bias", { shape: [3], data: new Float32Array(3) });
    });
    await resumeFails(other.dir, other.config, /the checkpoint's model .* is not the model this run builds/);
  });

  test("config.json missing or garbled is an error, not a fresh default", async () => {
    const { dir, config } = await stopped("config-json");
    rmSync(join(dir, "config.json"));
    await resumeFails(dir, config, /config\.json: missing; the run folder has a checkpoint but no config\.json/);
    writeFileSync(join(dir, "config.json"), "{ \"name\": ");
    await resumeFails(dir, config, /config\.json: not valid JSON/);
  });

  test("a checkpoint that is not a safetensors file at all", async () => {
    const { dir, config } = await stopped("not-st");
    writeFileSync(checkpointPath(dir), "garbage");
    await resumeFails(dir, config, /checkpoint\.safetensors: not a safetensors file/);
  });

  test("leftover temp files of a killed write are removed on the next start", async () => {
    const { dir, config } = await stopped("tmp");
    const leftovers = [".checkpoint.safetensors.4242.1700000000000.0.tmp", ".metrics.jsonl.4242.1700000000000.3.tmp"];
    for (const f of leftovers) writeFileSync(join(dir, f), "partial");
    writeFileSync(join(dir, "notes.tmp"), "a user's file, not ours");
    await train(config, dir, { resume: true });
    for (const f of leftovers) assert.ok(!existsSync(join(dir, f)), f);
    assert.ok(existsSync(join(dir, "notes.tmp")), "files of other shapes are left alone");
  });
});

describe("divergence advice can be followed", () => {
  /** SGD at this rate diverges at step 3 (measured: loss 64 > 20), so checkpoints of steps 1 and 2 exist by then. */
  const BASE_LR = 3;
  const diverging = (checkpointEvery: number, baseLr = BASE_LR): RunConfig => {
    const base = smoke();
    return { ...base, checkpointEvery, optim: { ...base.optim, optimizer: "sgd", epochs: 3, schedule: { ...base.optim.schedule, baseLr, warmup: 0 }, maxLoss: 20 } };
  };

  test("the message names the checkpoint; --lr-scale resumes with a recorded, lowered learning rate", async () => {
    const dir = tempDir("diverge-lr");
    const config = diverging(1);
    let message = "";
    await assert.rejects(train(config, dir), (err: Error) => { message = err.message; return err instanceof DivergenceError; });
    assert.ok(message.includes(`The last good checkpoint is ${checkpointPath(dir)}`), message);
    assert.ok(existsSync(join(dir, "checkpoint-diverged.safetensors")), "the checkpoint holding the diverged weights is set aside");
    const kept = JSON.parse(readSafetensors(checkpointPath(dir)).metadata["cover.trainer"]) as { step: number };
    assert.equal(kept.step, 1, "the latest checkpoint is the last one whose weights gave a good loss");
    assert.match(message, /--resume --lr-scale 0\.5/);
    const scale = 1e-3;
    const results = await train(config, dir, { resume: true, lrScale: scale });
    assert.ok(results, "finished with the lowered learning rate");
    const overrides = readFileSync(join(dir, "lr-overrides.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(overrides.length, 1);
    assert.equal(overrides[0].lrScale, scale);
    assert.deepEqual(results.lrOverrides?.map((o) => o.lrScale), [scale]);
    const rows = readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { step: number; lr: number });
    const after = rows.filter((r) => r.step > overrides[0].step);
    assert.ok(after.length > 0 && after.every((r) => r.lr <= BASE_LR * scale * 1.0001), "every later step used the scaled rate");
  });

  test("when no checkpoint exists yet, the message says so", async () => {
    const dir = tempDir("diverge-none");
    await assert.rejects(train(diverging(1000, 1e4), dir), (err: Error) => err instanceof DivergenceError && /No checkpoint from before the divergence exists/.test(err.message));
  });

  test("--lr-scale must be positive", async () => {
    const dir = tempDir("lr-bad");
    await assert.rejects(train(smoke(), dir, { lrScale: -1 }), /--lr-scale must be a positive number, got -1/);
  });
});

describe("per-clip hits", () => {
  test("a run finished before per-clip hits were kept gains them from its weights; its numbers stay as they were", async () => {
    const root = tempDir("hits");
    const cache = new RunCache(root, (config, options) => openRunData(config, { ...options, quiet: true }), { quiet: true });
    const first = await cache.get(smoke());
    const file = join(first.dir, "results.json");
    for (const r of Object.values(first.results.datasets)) {
      assert.equal(r.hits?.length, r.samples);
      assert.equal([...r.hits!].filter((h) => h === "1").length, Math.round((r.top1 / 100) * r.samples));
      assert.match(r.clipSet ?? "", /^[0-9a-f]{16}$/);
    }
    // As written before hits were kept.
    const old = JSON.parse(readFileSync(file, "utf8")) as RunResults;
    for (const r of Object.values(old.datasets)) { delete r.hits; delete r.clipSet; }
    writeFileSync(file, JSON.stringify(old, null, 2) + "\n");
    const again = await new RunCache(root, (config, options) => openRunData(config, { ...options, quiet: true }), { quiet: true }).get(smoke());
    assert.deepEqual(again.results, first.results);
    assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), first.results);
    // Without weights there is nothing to evaluate: the results are read back as they are, no data opened.
    writeFileSync(file, JSON.stringify(old, null, 2) + "\n");
    rmSync(join(first.dir, "weights.safetensors"));
    const bare = await new RunCache(root, async () => { throw new Error("no data should be opened"); }).get(smoke());
    assert.deepEqual(bare.results, old);
  });
});
