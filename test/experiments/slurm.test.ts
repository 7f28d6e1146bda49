/**
 * The slurm executor without a cluster: planning (which runs, in which order, which depends on which), the sbatch
 * options and job scripts it writes, resubmitting only what is missing, and `cover runs status`. sbatch and squeue
 * are small fake scripts on PATH here; .ci/slurm.sh runs the same code against a real Slurm.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseFlags, UsageError } from "../../src/cli/args";
import { parseExecutor } from "../../src/cli/commands/experiment";
import { planExperiment } from "../../src/experiments/planning";
import { formatRunsStatus, runsStatus } from "../../src/experiments/run-status";
import { SlurmCommands, submitRuns, waitForRuns } from "../../src/experiments/slurm";
import { tempDir } from "../helpers/tf";

/** Fake sbatch (appends its arguments as a JSON line to calls.jsonl, answers ids 101, 102, ...) and squeue (prints queue.txt). */
function fakeSlurm(): { commands: SlurmCommands; calls(): string[][]; setQueue(lines: string[]): void } {
  const bin = tempDir("fake-slurm");
  const calls = join(bin, "calls.jsonl");
  const queue = join(bin, "queue.txt");
  writeFileSync(queue, "");
  writeFileSync(join(bin, "sbatch"), `#!/usr/bin/env node
const fs = require("fs");
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify(process.argv.slice(2)) + "\\n");
console.log(String(100 + fs.readFileSync(${JSON.stringify(calls)}, "utf8").trim().split("\\n").length));
`);
  writeFileSync(join(bin, "squeue"), `#!/bin/sh\ncat ${JSON.stringify(queue)}\n`);
  writeFileSync(join(bin, "scancel"), `#!/bin/sh\necho "$@" >> ${JSON.stringify(join(bin, "cancelled.txt"))}\n`);
  for (const f of ["sbatch", "squeue", "scancel"]) chmodSync(join(bin, f), 0o755);
  return {
    commands: new SlurmCommands({ ...process.env, PATH: `${bin}:${process.env.PATH}` }),
    calls: () => (existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]) : []),
    setQueue: (lines) => writeFileSync(queue, lines.join("\n") + "\n"),
  };
}

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

  test("every planned run becomes a job: afterok on the run it starts from, requeue, signal, partition, GPUs, logs", async () => {
    const root = tempDir("submit");
    const slurm = fakeSlurm();
    const plan = await planExperiment("standard-vs-cover", { scale: "smoke", seeds: [0], runsRoot: root });
    const submitted = submitRuns(plan.runs, { partition: "gpu", gpusPerRun: 2, time: "04:00:00" }, slurm.commands);
    const calls = slurm.calls();
    assert.equal(calls.length, plan.runs.length);
    assert.deepEqual(submitted.map((s) => s.jobId), plan.runs.map((_, i) => String(101 + i)));
    const jobOf = new Map(submitted.map((s) => [s.run.dir, s.jobId]));
    for (const [i, run] of plan.runs.entries()) {
      const args = calls[i];
      assert.equal(args[0], "--parsable");
      for (const a of ["--requeue", "--signal=B:TERM@60", "--partition=gpu", "--gres=gpu:2", "--time=04:00:00", `--output=${join(run.dir, "slurm-%j.out")}`]) assert.ok(args.includes(a), `${run.name}: ${a} in ${args.join(" ")}`);
      const dependency = args.find((a) => a.startsWith("--dependency="));
      assert.equal(dependency, run.after ? `--dependency=afterok:${jobOf.get(run.after)}` : undefined, run.name);
      assert.ok(!run.after || Number(jobOf.get(run.after)) < Number(jobOf.get(run.dir)), "a dependency is submitted first");
      assert.deepEqual(JSON.parse(readFileSync(join(run.dir, "config.json"), "utf8")), run.config);
      const script = readFileSync(args[args.length - 1], "utf8");
      assert.match(script, new RegExp(`train '${join(run.dir, "config.json")}' --out '${run.dir}' --resume`));
      assert.match(script, /^exec /m);
      assert.equal(JSON.parse(readFileSync(join(run.dir, "slurm-job.json"), "utf8")).jobId, jobOf.get(run.dir));
    }
    assert.deepEqual(plan.runs.map((r) => r.name).sort(), ["cover", "image-pretrain", "standard-appearance", "standard-motion"]);
    assert.equal(plan.runs.filter((r) => r.after).length, 3, "COVER and the two standard runs of Table 1 start from image pre-training");
  });

  test("resubmitting keeps queued jobs, resubmits the failed run behind its dependency's running job, and cancels a stuck job", async () => {
    const root = tempDir("resubmit");
    const slurm = fakeSlurm();
    const plan = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: root });
    const first = submitRuns(plan.runs, {}, slurm.commands);
    assert.deepEqual(first.map((s) => s.jobId), ["101", "102"]);
    slurm.setQueue(["101|RUNNING|None", "102|PENDING|Dependency"]);
    const again = submitRuns(plan.runs, {}, slurm.commands);
    assert.deepEqual(again.map((s) => [s.jobId, s.reused]), [["101", true], ["102", true]]);
    assert.equal(slurm.calls().length, 2, "two jobs never train the same run");

    slurm.setQueue(["101|RUNNING|None"]); // COVER's job is gone without results: failed
    writeFileSync(join(plan.runs[1].dir, "slurm-102.out"), "job 102 starts\nslurmstepd: error: *** JOB 102 ON n1 CANCELLED AT 2026-12-01T17:00:00 ***\n");
    const statuses = runsStatus(root, new Map([["101", { jobId: "101", state: "RUNNING", reason: "None" }]]));
    assert.deepEqual(statuses.map((s) => [s.run.split("-")[0], s.state]), [["cover", "failed"], ["image", "running"]]);
    const failed = statuses.find((s) => s.state === "failed");
    assert.match(failed?.detail ?? "", /CANCELLED AT/);
    const third = submitRuns(plan.runs, {}, slurm.commands);
    assert.deepEqual(third.map((s) => [s.jobId, s.reused]), [["101", true], ["103", false]]);
    assert.ok(slurm.calls()[2].includes("--dependency=afterok:101"));

    slurm.setQueue(["103|PENDING|DependencyNeverSatisfied"]); // image pre-training failed too: COVER's job can never start
    finish(plan.runs[0].dir);
    const outcome = await waitForRuns(third, slurm.commands, { pollSeconds: 0.01, log: () => undefined });
    assert.deepEqual(outcome.done.map((r) => r.run.name), ["image-pretrain"]);
    assert.deepEqual(outcome.failed.map((f) => f.run.run.name), ["cover"]);
    assert.match(outcome.failed[0].why, /can never start/);
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
