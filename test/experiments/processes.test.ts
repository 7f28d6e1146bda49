/**
 * The local executor with --jobs: planned runs trained side by side in `cover train` processes, a run after the one
 * it starts from, the same numbers as training them one after another here, failures named with their log, and a
 * stop that checkpoints every process so that the same call resumes.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseFlags, UsageError } from "../../src/cli/args";
import { EXECUTOR_OPTIONS, EXPERIMENT_NAMES, parseExecutor, parseExperimentNames } from "../../src/cli/commands/experiment";
import { planExperiment, planExperiments } from "../../src/experiments/planning";
import { localJobLogPath, nextRun, trainPool } from "../../src/experiments/processes";
import { runExperiment, runExperiments } from "../../src/experiments/run-experiment";
import { InterruptedError } from "../../src/util/interrupt";
import { readRunResults, runFiles, writeRunConfig } from "../../src/runs/folder";
import { lastStep } from "../../src/experiments/slurm";
import { tempDir, withBackend } from "../helpers/tf";

before(async () => {
  await withBackend();
  process.env.COVER_CHROMIUM = "none";
});

describe("local executor with --jobs", () => {
  test("--jobs 2 trains frame-reversal's runs in processes, after their image pre-training, to the same numbers as one after another here", async () => {
    const lines: string[] = [];
    const parallelRoot = tempDir("jobs-2");
    const plan = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0, 1], runsRoot: parallelRoot });
    const { trainInProcesses } = await import("../../src/experiments/processes");
    await trainInProcesses("frame-reversal", () => planExperiment("frame-reversal", { scale: "smoke", seeds: [0, 1], runsRoot: parallelRoot }),
      { jobs: 2, backend: process.env.COVER_TEST_BACKEND ?? "wasm", log: (l) => lines.push(l), reportSeconds: 600 });
    for (const run of plan.runs) {
      assert.ok(readRunResults(run.dir), `${run.name}@${run.config.seed} finished`);
      assert.ok(existsSync(localJobLogPath(run.dir)), "each process's output is kept in its run folder");
    }
    const started = lines.filter((l) => / training \(/.test(l)).map((l) => l.replace(/^\[\d+ s\] /, "").split(":")[0]);
    assert.equal(started.length, 4);
    assert.deepEqual(started.slice(0, 2).sort(), ["image-pretrain seed 0", "image-pretrain seed 1"], "both seeds' pre-trainings first: the COVER runs start from them");
    const parallel = await runExperiment("frame-reversal", { scale: "smoke", seeds: [0, 1], out: tempDir("jobs-2-out"), runsRoot: parallelRoot, quiet: true });
    const serial = await runExperiment("frame-reversal", { scale: "smoke", seeds: [0, 1], out: tempDir("jobs-1-out"), runsRoot: tempDir("jobs-1"), quiet: true });
    assert.deepEqual(parallel.rows, serial.rows);
  });

  test("a failed run is named with its log's last line, and a run starting from it is not started", async () => {
    const root = tempDir("jobs-fail");
    const [pretrain, cover] = (await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: root })).runs;
    writeRunConfig(pretrain.dir, { ...pretrain.config, model: { ...pretrain.config.model, preset: "no-such-preset" } } as never);
    const failed = await trainPool([pretrain, cover], { jobs: 2, log: () => undefined });
    assert.equal(failed.length, 2);
    assert.match(failed[0].why, /^exit 1 after \d+ s: .*no-such-preset.*local-job\.log\)$/);
    assert.equal(failed[1].run.dir, cover.dir);
    assert.match(failed[1].why, /the run it starts from \(.*\) failed/);
    assert.ok(!existsSync(localJobLogPath(cover.dir)), "never started");
  });

  test("stopping checkpoints every training process; the same call then finishes the runs", async () => {
    const root = tempDir("jobs-stop");
    const [pretrain] = (await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: root })).runs;
    const controller = new AbortController();
    const watch = setInterval(() => { if ((lastStep(pretrain.dir) ?? 0) >= 1) controller.abort("SIGINT"); }, 50);
    const stopped = await trainPool([pretrain], { jobs: 2, log: () => undefined, signal: controller.signal }).catch((err: unknown) => err);
    clearInterval(watch);
    assert.ok(stopped instanceof InterruptedError, String(stopped));
    assert.match(stopped.message, /1 run checkpointed \(image-pretrain seed 0\); the same command again resumes them/);
    assert.ok(existsSync(runFiles(pretrain.dir).checkpoint), "checkpointed on SIGTERM");
    assert.equal(readRunResults(pretrain.dir), null);
    assert.deepEqual(await trainPool([pretrain], { jobs: 2, log: () => undefined }), []);
    assert.ok(readRunResults(pretrain.dir));
    const lines: string[] = [];
    const logBefore = readFileSync(localJobLogPath(pretrain.dir), "utf8");
    assert.deepEqual(await trainPool([pretrain], { jobs: 2, log: (l) => lines.push(l) }), [], "a run finished since it was planned");
    assert.match(lines.join("\n"), /image-pretrain seed 0: finished elsewhere since it was planned/);
    assert.equal(readFileSync(localJobLogPath(pretrain.dir), "utf8"), logBefore, "is not started again");
  });

  test("the next run is the ready one most waiting runs start from, ties in plan order", () => {
    const run = (dir: string, after?: string) => ({ name: dir, dir, config: {} as never, ...(after && { after }) });
    // base-vs-large resumed with seed 2's pre-training left: the two resumes have nothing after them.
    const resumeA = run("cover-large-0"), resumeB = run("cover-large-1");
    const pretrain = run("image-pretrain-large-2"), cover = run("cover-large-2", "image-pretrain-large-2");
    const waiting = [resumeA, resumeB, pretrain, cover];
    const ready = (r: { after?: string }) => !r.after;
    assert.equal(nextRun(waiting, ready), pretrain, "a pre-training with a run after it goes first");
    assert.equal(nextRun([resumeA, resumeB, cover], ready), resumeA, "plan order among equals");
    // a chain of two counts both: the run two others wait for beats one that one waits for
    const chainRoot = run("a"), chainMid = run("b", "a"), chainEnd = run("c", "b"), other = run("d"), afterOther = run("e", "d");
    assert.equal(nextRun([other, afterOther, chainRoot, chainMid, chainEnd], ready), chainRoot);
    assert.equal(nextRun([cover], ready), undefined, "nothing ready");
  });

  test("several experiments: their runs trained as one set, each once, then each experiment's exports in its own folder", async () => {
    const root = tempDir("jobs-several");
    const names = ["frame-reversal", "standard-vs-cover"];
    const separate = await Promise.all(names.map((name) => planExperiment(name, { scale: "smoke", seeds: [0], runsRoot: root })));
    const together = await planExperiments(names, { scale: "smoke", seeds: [0], runsRoot: root });
    const dirs = together.runs.map((r) => r.dir);
    assert.deepEqual([...new Set(separate.flatMap((p) => p.runs.map((r) => r.dir)))].sort(), [...dirs].sort(), "the union of the two plans");
    assert.ok(dirs.length < separate[0].runs.length + separate[1].runs.length, "the shared pre-training and COVER run planned once");
    const out = tempDir("jobs-several-out");
    const outputs = await runExperiments(names, { scale: "smoke", seeds: [0], out, runsRoot: root, quiet: true,
      executor: { kind: "local", jobs: 2, backend: process.env.COVER_TEST_BACKEND ?? "wasm" } });
    assert.deepEqual(outputs.map((o) => o.name), names);
    for (const name of names) assert.ok(existsSync(join(out, name, "findings.json")), `${name}'s exports in ${name}/`);
    for (const dir of dirs) assert.ok(existsSync(localJobLogPath(dir)), "every run trained in the pool, none left to train here");
    assert.equal((await planExperiments(names, { scale: "smoke", seeds: [0], runsRoot: root })).runs.length, 0);
    await assert.rejects(runExperiments(["frame-reversal", "no-such-experiment"], { out, runsRoot: root, quiet: true }), /no-such-experiment/);
  });

  test("experiment names: one, several separated by commas, or all; unknown or repeated names refused", () => {
    assert.deepEqual(parseExperimentNames("frame-reversal"), ["frame-reversal"]);
    assert.deepEqual(parseExperimentNames("base-vs-large,input-setting"), ["base-vs-large", "input-setting"]);
    assert.deepEqual(parseExperimentNames("all"), EXPERIMENT_NAMES);
    assert.equal(EXPERIMENT_NAMES.length, 7);
    assert.throws(() => parseExperimentNames("frame-reversal,input-seting"), (e: unknown) => e instanceof UsageError && /unknown experiment 'input-seting' \(did you mean input-setting\?\)/.test(e.message));
    assert.throws(() => parseExperimentNames("frame-reversal,frame-reversal"), (e: unknown) => e instanceof UsageError && /named twice/.test(e.message));
  });

  test("--jobs takes a positive integer, for the local executor only", () => {
    const flags = (args: string[]) => parseFlags(args, { ...EXECUTOR_OPTIONS });
    assert.deepEqual(parseExecutor(flags(["--jobs", "2"])), { kind: "local", jobs: 2 });
    assert.deepEqual(parseExecutor(flags([])), { kind: "local" });
    assert.throws(() => parseExecutor(flags(["--jobs", "0"])), (e: unknown) => e instanceof UsageError && /positive integer/.test(e.message));
    assert.throws(() => parseExecutor(flags(["--jobs", "2", "--executor", "slurm"])), (e: unknown) => e instanceof UsageError && /local executor/.test(e.message));
  });
});
