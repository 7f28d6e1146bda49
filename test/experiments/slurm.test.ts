/**
 * The slurm executor without a cluster: planning experiments and ablations (which runs, in which order, which depends
 * on which), grouping them into job arrays, the sbatch options, run lists and job scripts it writes, resubmitting only
 * what is missing, and `cover runs status`. sbatch and squeue are small fake scripts on PATH here; .ci/slurm.sh runs
 * the same code against a real Slurm.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseFlags, UsageError } from "../../src/cli/args";
import { parseExecutor } from "../../src/cli/commands/experiment";
import { planAblation } from "../../src/experiments/ablate";
import { PlannedRun, planExperiment } from "../../src/experiments/planning";
import { formatRunsStatus, runsStatus } from "../../src/experiments/run-status";
import { arrayGroups, MAX_ARRAY_TASKS, SlurmCommands, submitRuns, waitForRuns } from "../../src/experiments/slurm";
import type { RunConfig } from "../../src/runs/config";
import { tempDir } from "../helpers/tf";

/**
 * Fake sbatch (appends its arguments as a JSON line to calls.jsonl, answers ids 101, 102, ...), squeue (prints
 * queue.txt, records its arguments) and scancel.
 */
function fakeSlurm(): { commands: SlurmCommands; calls(): string[][]; setQueue(lines: string[]): void; squeueArgs(): string; cancelled(): string[] } {
  const bin = tempDir("fake-slurm");
  const calls = join(bin, "calls.jsonl");
  const queue = join(bin, "queue.txt");
  writeFileSync(queue, "");
  writeFileSync(join(bin, "sbatch"), `#!/usr/bin/env node
const fs = require("fs");
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify(process.argv.slice(2)) + "\\n");
console.log(String(100 + fs.readFileSync(${JSON.stringify(calls)}, "utf8").trim().split("\\n").length));
`);
  writeFileSync(join(bin, "squeue"), `#!/bin/sh\necho "$@" > ${JSON.stringify(join(bin, "squeue-args.txt"))}\ncat ${JSON.stringify(queue)}\n`);
  writeFileSync(join(bin, "scancel"), `#!/bin/sh\necho "$@" >> ${JSON.stringify(join(bin, "cancelled.txt"))}\n`);
  for (const f of ["sbatch", "squeue", "scancel"]) chmodSync(join(bin, f), 0o755);
  return {
    commands: new SlurmCommands({ ...process.env, PATH: `${bin}:${process.env.PATH}` }),
    calls: () => (existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]) : []),
    setQueue: (lines) => writeFileSync(queue, lines.join("\n") + "\n"),
    squeueArgs: () => readFileSync(join(bin, "squeue-args.txt"), "utf8").trim(),
    cancelled: () => (existsSync(join(bin, "cancelled.txt")) ? readFileSync(join(bin, "cancelled.txt"), "utf8").trim().split("\n") : []),
  };
}

/** The option `--name=value` of one sbatch call. */
const option = (args: string[], name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

/** The run folders an array's tasks train, from its run list (the script reads it by SLURM_ARRAY_TASK_ID). */
const arrayRuns = (args: string[]) => readFileSync(join(dirname(args[args.length - 1]), "runs.txt"), "utf8").trim().split("\n");

const finish = (dir: string) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "results.json"), JSON.stringify({ run: basename(dir), steps: 1, epochs: 1, seconds: 1, backend: "wasm", datasets: {} }));
};

describe("slurm executor", () => {
  test("planning frame-reversal: image pre-training, then COVER which starts from it; nothing trained", async () => {
    const root = tempDir("plan");
    const plan = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: root });
    assert.deepEqual(plan.runs.map((r) => r.name), ["image-pretrain", "cover"]);
    const [pre, cover] = plan.runs;
    assert.equal(pre.after, undefined);
    assert.equal(cover.after, pre.dir);
    assert.deepEqual(cover.config.init, { from: "run", dir: pre.dir });
    assert.equal(plan.complete, false, "the reversed-frame evaluation needs COVER's weights");
    assert.ok(!existsSync(join(root, "runs")), "planning writes nothing");

    finish(pre.dir);
    const after = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0, 1], runsRoot: root });
    assert.deepEqual(after.runs.map((r) => `${r.name}@${r.config.seed}`), ["cover@0", "image-pretrain@1", "cover@1"]);
    assert.equal(after.runs[0].after, undefined, "a finished init run is no dependency");
    assert.equal(after.runs[2].after, after.runs[1].dir);
  });

  test("runs with the same dependency share one array: afterok on the task they start from, requeue, signal, partition, GPUs, logs", async () => {
    const root = tempDir("submit");
    const slurm = fakeSlurm();
    const plan = await planExperiment("standard-vs-cover", { scale: "smoke", seeds: [0], runsRoot: root });
    assert.deepEqual(plan.runs.map((r) => r.name).sort(), ["cover", "image-pretrain", "standard-appearance", "standard-motion"]);
    const [pre, ...fineTunings] = plan.runs;
    assert.ok(fineTunings.every((r) => r.after === pre.dir), "COVER and the two standard runs of Table 1 start from image pre-training");
    const submitted = submitRuns(plan.runs, { partition: "gpu", gpusPerRun: 2, time: "04:00:00" }, slurm.commands, join(root, "jobs"));
    const calls = slurm.calls();
    assert.equal(calls.length, 2, "two arrays: image pre-training, then the three runs that start from it");
    assert.deepEqual(submitted.map((s) => s.jobId), ["101_0", "102_0", "102_1", "102_2"]);
    assert.deepEqual(calls.map((args) => option(args, "array")), ["0-0", "0-2"]);
    assert.deepEqual(calls.map((args) => option(args, "dependency")), [undefined, "afterok:101_0"]);
    assert.ok(calls[1].includes("--kill-on-invalid-dep=yes"));
    assert.deepEqual(calls.map(arrayRuns), [[pre.dir], fineTunings.map((r) => r.dir)], "task i trains line i + 1 of the run list");
    for (const args of calls) {
      assert.equal(args[0], "--parsable");
      for (const a of ["--requeue", "--signal=B:TERM@60", "--partition=gpu", "--gres=gpu:2", "--time=04:00:00", "--open-mode=append"]) assert.ok(args.includes(a), `${a} in ${args.join(" ")}`);
      const arrayDir = dirname(args[args.length - 1]);
      assert.equal(dirname(arrayDir), join(root, "jobs"), "an array's files lie in the runs root, beside runs/");
      assert.equal(option(args, "output"), join(arrayDir, "%a", "slurm-%A_%a.out"));
      // Slurm fills in %a: the task's link leads its log into the run folder, named after the task's job id.
      arrayRuns(args).forEach((dir, i) => assert.equal(realpathSync(join(arrayDir, String(i))), realpathSync(dir)));
      const script = readFileSync(args[args.length - 1], "utf8");
      assert.match(script, /sed -n "\$\(\(SLURM_ARRAY_TASK_ID \+ 1\)\)p" '[^']+\/runs\.txt'/);
      assert.match(script, /^exec .* train "\$dir\/config\.json" --out "\$dir" --resume$/m);
    }
    for (const s of submitted) {
      assert.deepEqual(JSON.parse(readFileSync(join(s.run.dir, "config.json"), "utf8")), s.run.config);
      const record = JSON.parse(readFileSync(join(s.run.dir, "slurm-job.json"), "utf8"));
      assert.equal(record.jobId, s.jobId);
      assert.deepEqual(record.dependsOn, s.run.after ? ["101_0"] : []);
    }
  });

  test("arrays over seeds: one array of every seed's pre-training, each fine-tuning after its own seed's task; split at the array size limit", async () => {
    const root = tempDir("seeds");
    const slurm = fakeSlurm();
    const plan = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0, 1, 2], runsRoot: root });
    assert.deepEqual(plan.runs.map((r) => `${r.name}@${r.config.seed}`), ["image-pretrain@0", "cover@0", "image-pretrain@1", "cover@1", "image-pretrain@2", "cover@2"]);
    assert.deepEqual(arrayGroups(plan.runs).map((g) => g.map((r) => `${r.name}@${r.config.seed}`)),
      [["image-pretrain@0", "image-pretrain@1", "image-pretrain@2"], ["cover@0"], ["cover@1"], ["cover@2"]]);
    const submitted = submitRuns(plan.runs, {}, slurm.commands, join(root, "jobs"));
    assert.deepEqual(submitted.map((s) => `${s.run.name}@${s.run.config.seed}:${s.jobId}`),
      ["image-pretrain@0:101_0", "cover@0:102_0", "image-pretrain@1:101_1", "cover@1:103_0", "image-pretrain@2:101_2", "cover@2:104_0"]);
    assert.deepEqual(slurm.calls().map((args) => option(args, "dependency")), [undefined, "afterok:101_0", "afterok:101_1", "afterok:101_2"]);

    const run = (i: number, after?: string): PlannedRun => ({ name: `r${i}`, dir: `/runs/r${i}`, config: {} as RunConfig, ...(after && { after }) });
    const many = [...Array.from({ length: MAX_ARRAY_TASKS + 1 }, (_, i) => run(i)), run(-1, "/runs/r0")];
    assert.deepEqual(arrayGroups(many).map((g) => [g.length, g[0].name]), [[MAX_ARRAY_TASKS, "r0"], [1, `r${MAX_ARRAY_TASKS}`], [1, "r-1"]]);
  });

  test("an ablation with --pretrain: one array of the seeds' pre-trainings, then per seed one array of its settings", async () => {
    const root = tempDir("ablation");
    const slurm = fakeSlurm();
    const options = { base: "standard-motion", vary: { "optim.epochs": [1, 2] }, seeds: [0, 1], scale: "smoke" as const, init: "image-pretrain" as const, runsRoot: root };
    const plan = await planAblation(options);
    assert.equal(plan.complete, true);
    assert.deepEqual(plan.runs.map((r) => `${r.name}@${r.config.seed}`), [
      "image-pretrain@0", "standard-motion-epochs=1@0", "standard-motion-epochs=2@0", "image-pretrain@1", "standard-motion-epochs=1@1", "standard-motion-epochs=2@1",
    ]);
    for (const r of plan.runs.filter((r) => r.name !== "image-pretrain")) {
      const pre = plan.runs.find((p) => p.name === "image-pretrain" && p.config.seed === r.config.seed) as PlannedRun;
      assert.equal(r.after, pre.dir);
      assert.deepEqual(r.config.init, { from: "run", dir: pre.dir });
    }
    assert.ok(!existsSync(join(root, "runs")), "planning writes nothing");
    const submitted = submitRuns(plan.runs, {}, slurm.commands, join(root, "jobs"));
    assert.deepEqual(slurm.calls().map((args) => [option(args, "array"), option(args, "dependency")]), [["0-1", undefined], ["0-1", "afterok:101_0"], ["0-1", "afterok:101_1"]]);
    assert.deepEqual(submitted.map((s) => s.jobId), ["101_0", "102_0", "102_1", "101_1", "103_0", "103_1"]);

    finish(plan.runs[0].dir);
    const after = await planAblation(options);
    assert.deepEqual(after.runs.map((r) => `${r.name}@${r.config.seed}`), plan.runs.slice(1).map((r) => `${r.name}@${r.config.seed}`));
    assert.equal(after.runs[0].after, undefined, "a finished pre-training is no dependency");
  });

  test("resubmitting keeps queued tasks, resubmits the failed run behind its dependency's running task, and cancels a stuck task", async () => {
    const root = tempDir("resubmit");
    const slurm = fakeSlurm();
    const jobs = join(root, "jobs");
    const plan = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: root });
    const first = submitRuns(plan.runs, {}, slurm.commands, jobs);
    assert.deepEqual(first.map((s) => s.jobId), ["101_0", "102_0"]);
    assert.match(slurm.squeueArgs(), /(^| )-r( |$)/, "squeue lists one line per array task");
    slurm.setQueue(["101_0|RUNNING|None", "102_0|PENDING|Dependency"]);
    const again = submitRuns(plan.runs, {}, slurm.commands, jobs);
    assert.deepEqual(again.map((s) => [s.jobId, s.reused]), [["101_0", true], ["102_0", true]]);
    assert.equal(slurm.calls().length, 2, "two jobs never train the same run");

    slurm.setQueue(["101_0|RUNNING|None"]); // COVER's task is gone without results: failed
    writeFileSync(join(plan.runs[1].dir, "slurm-102_0.out"), "job 102_0 starts\nslurmstepd: error: *** JOB 103 ON n1 CANCELLED AT 2026-12-01T17:00:00 ***\n");
    const statuses = runsStatus(root, new Map([["101_0", { jobId: "101_0", state: "RUNNING", reason: "None" }]]));
    assert.deepEqual(statuses.map((s) => [s.run.split("-")[0], s.state, s.by]), [["cover", "failed", "job 102_0"], ["image", "running", "job 101_0"]]);
    const failed = statuses.find((s) => s.state === "failed");
    assert.match(failed?.detail ?? "", /CANCELLED AT/);
    const third = submitRuns(plan.runs, {}, slurm.commands, jobs);
    assert.deepEqual(third.map((s) => [s.jobId, s.reused]), [["101_0", true], ["103_0", false]]);
    assert.equal(slurm.calls().length, 3, "only the failed run is submitted again");
    assert.deepEqual(arrayRuns(slurm.calls()[2]), [plan.runs[1].dir]);
    assert.ok(slurm.calls()[2].includes("--dependency=afterok:101_0"));

    slurm.setQueue(["103_0|PENDING|DependencyNeverSatisfied"]); // image pre-training failed too: COVER's task can never start
    finish(plan.runs[0].dir);
    const outcome = await waitForRuns(third, slurm.commands, { pollSeconds: 0.01, log: () => undefined });
    assert.deepEqual(outcome.done.map((r) => r.run.name), ["image-pretrain"]);
    assert.deepEqual(outcome.failed.map((f) => f.run.run.name), ["cover"]);
    assert.match(outcome.failed[0].why, /can never start/);
    assert.deepEqual(slurm.cancelled(), ["103_0"], "the stuck task is cancelled, nothing else");
  });

  test("runs status: done, running with its step, missing runs of a plan; one line each", async () => {
    const root = tempDir("status");
    const plan = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: root });
    finish(plan.runs[0].dir);
    mkdirSync(plan.runs[1].dir, { recursive: true });
    writeFileSync(join(plan.runs[1].dir, "slurm-job.json"), JSON.stringify({ jobId: "7", submitted: "now", dependsOn: [] }));
    writeFileSync(join(plan.runs[1].dir, "metrics.jsonl"), `${JSON.stringify({ step: 1 })}\n${JSON.stringify({ step: 2 })}\n`);
    const planned = (await planExperiment("frame-reversal", { scale: "smoke", seeds: [0, 1], runsRoot: root })).runs;
    const statuses = runsStatus(root, new Map([["7", { jobId: "7", state: "RUNNING", reason: "None" }]]), planned);
    assert.deepEqual(statuses.map((s) => [s.run.split("-").slice(0, -1).join("-"), s.state]), [
      ["cover", "running"], ["image-pretrain", "done"], ["image-pretrain", "missing"], ["cover", "missing"],
    ]);
    assert.equal(statuses[0].step, 2);
    const text = formatRunsStatus(statuses);
    assert.match(text, /^running\s+cover-\w+\s+job 7, step 2$/m);
    assert.match(text, /4 runs: 1 running, 1 done, 2 missing$/);
    assert.equal(runsStatus(root, null)[0].state, "submitted", "without squeue a job's state is unknown");
  });

  test("a garbled job record names its file", () => {
    const root = tempDir("garbled");
    const dir = join(root, "runs", "cover-0123456789");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "slurm-job.json"), "{ not json");
    assert.throws(() => runsStatus(root, new Map()), new RegExp(`${join(dir, "slurm-job.json")}: not a job record`));
  });

  test("executor flags: slurm options need --executor slurm; bad values are usage errors", () => {
    const parse = (argv: string[]) => parseExecutor(parseFlags(argv, { executor: "string", partition: "string", "gpus-per-run": "string", time: "string", poll: "string" }));
    assert.deepEqual(parse([]), { kind: "local" });
    assert.deepEqual(parse(["--executor", "slurm", "--partition", "a100", "--gpus-per-run", "1", "--time", "12:00:00"]),
      { kind: "slurm", partition: "a100", gpusPerRun: 1, time: "12:00:00" });
    assert.throws(() => parse(["--partition", "a100"]), (e: Error) => e instanceof UsageError && /--partition applies to --executor slurm/.test(e.message));
    assert.throws(() => parse(["--executor", "slurn"]), (e: Error) => e instanceof UsageError && /did you mean slurm\?/.test(e.message));
    assert.throws(() => parse(["--executor", "slurm", "--gpus-per-run", "two"]), UsageError);
    assert.throws(() => parse(["--executor", "slurm", "--time", "soon"]), UsageError);
  });

  test("without Slurm's commands: an error saying where to run", () => {
    const slurm = new SlurmCommands({ ...process.env, PATH: tempDir("empty-path") });
    assert.throws(() => slurm.queue(), /squeue not found on PATH: the slurm executor needs Slurm's commands/);
  });
});
