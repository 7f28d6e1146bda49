/**
 * Where the runs of an experiment or an ablation are trained. `local`: one after another in this process (the run
 * cache trains what is missing), or with `jobs` > 1 that many at once, each in its own process (processes.ts). `slurm`: the runs are planned first (planning.ts), every missing run becomes a task
 * of a Slurm job array (slurm.ts), the jobs are waited for, and the experiment or ablation then runs here and finds
 * every run finished. Runs that can only be asked for once others are done (a plan that stopped early) are planned
 * and submitted in the next round.
 */
import { join } from "node:path";
import type { ExperimentPlan } from "./planning";
import { activeBackendName } from "../backend";
import { trainInProcesses } from "./processes";
import { SlurmCommands, SlurmOptions, SubmittedRun, submitRuns, waitForRuns } from "./slurm";

export type Executor = LocalExecutor | SlurmExecutor;

export interface LocalExecutor {
  kind: "local";
  /** Runs trained at once, each in its own `cover train` process (default 1: one after another in this process). */
  jobs?: number;
  /** The compute backend those processes must use (`cover train --backend`); by default each chooses. */
  backend?: string;
}

export interface SlurmExecutor extends SlurmOptions {
  kind: "slurm";
  /** Seconds between two looks at the queue while waiting (default 30). */
  pollSeconds?: number;
  /** The Slurm commands to use (default: sbatch, squeue, scancel from PATH). */
  commands?: SlurmCommands;
}

/**
 * Trains the missing runs of a plan before an experiment or ablation builds its tables here: as Slurm jobs, or as
 * local processes with `jobs` > 1; with one local job there is nothing to do first (the run cache trains each run
 * when it is asked for).
 */
export async function trainMissingRuns(what: string, plan: Planner, executor: Executor | undefined, options: ClusterRunOptions): Promise<void> {
  if (executor?.kind === "slurm") return trainOnSlurm(what, plan, executor, options);
  const jobs = executor?.jobs ?? 1;
  if (jobs === 1) return;
  // The processes compute on this process's backend unless told otherwise: the same numbers as training here.
  const backend = executor?.backend ?? activeBackendName() ?? undefined;
  await trainInProcesses(what, plan, { jobs, backend, log: options.log, signal: options.signal });
}

/** Plans the unfinished runs (of an experiment, of an ablation) against the run cache, training nothing. */
export type Planner = () => Promise<ExperimentPlan>;

export interface ClusterRunOptions {
  /** The run cache's root: runs in <runsRoot>/runs, each job array's script and run list in <runsRoot>/jobs. */
  runsRoot: string;
  log(line: string): void;
  signal?: AbortSignal;
}

/** What one submission did: the jobs for the missing runs, and whether more runs follow once these are done. */
export interface Submission { runs: SubmittedRun[]; complete: boolean }

/**
 * Submits a job for every missing run of a plan (keeping jobs already queued for them) and returns at once; `what`
 * (the experiment's or the ablation's name) is for the log lines.
 */
export async function submitPlannedRuns(what: string, plan: Planner, executor: SlurmExecutor, options: ClusterRunOptions): Promise<Submission> {
  const planned = await plan();
  if (planned.runs.length === 0) return { runs: [], complete: planned.complete };
  const runs = submitRuns(planned.runs, executor, executor.commands ?? new SlurmCommands(), join(options.runsRoot, "jobs"));
  for (const r of runs) {
    const after = r.run.after ? `, after ${r.run.after.split("/").pop()}` : "";
    options.log(`${r.reused ? "already queued" : "submitted"}: job ${r.jobId} ${r.run.name} -> ${r.run.dir}${after}`);
  }
  const arrays = describeArrays(runs.filter((r) => !r.reused));
  if (arrays.length) options.log(`${what}: ${arrays.length} job array${arrays.length > 1 ? "s" : ""}: ${arrays.join("; ")}`);
  if (!planned.complete) options.log(`${what}: more runs may follow once these are done (${planned.stoppedBy})`);
  return { runs, complete: planned.complete };
}

/** One phrase per array submitted: its job id, its task count, and what it waits for. */
function describeArrays(submitted: SubmittedRun[]): string[] {
  const arrays = new Map<string, { tasks: number; dependsOn: string[] }>();
  for (const r of submitted) {
    const id = r.jobId.split("_")[0];
    arrays.set(id, { tasks: (arrays.get(id)?.tasks ?? 0) + 1, dependsOn: r.dependsOn });
  }
  return [...arrays.entries()].map(([id, a]) => `${id} (${a.tasks} task${a.tasks > 1 ? "s" : ""}${a.dependsOn.length ? `, afterok:${a.dependsOn.join(":")}` : ""})`);
}

/**
 * Trains every missing run of a plan as Slurm jobs and waits for them, round after round, until the plan holds no run
 * that is not finished. Throws, naming each failed run and why, when a job ends without its run's results; the same
 * call again resubmits only the runs still missing.
 */
export async function trainOnSlurm(what: string, plan: Planner, executor: SlurmExecutor, options: ClusterRunOptions): Promise<void> {
  const commands = executor.commands ?? new SlurmCommands();
  const waited = new Set<string>();
  for (;;) {
    const submission = await submitPlannedRuns(what, plan, { ...executor, commands }, options);
    if (submission.runs.length === 0) return;
    const repeated = submission.runs.find((r) => waited.has(r.run.dir));
    if (repeated) throw new Error(`${what}: run ${repeated.run.name} (${repeated.run.dir}) is still missing after its job was waited for`);
    const outcome = await waitForRuns(submission.runs, commands, { pollSeconds: executor.pollSeconds ?? 30, log: options.log, signal: options.signal });
    if (outcome.failed.length) {
      const lines = outcome.failed.map(({ run, why }) => `  ${run.run.name} (job ${run.jobId}): ${why}`);
      throw new Error(`${what}: ${outcome.failed.length} of ${submission.runs.length} runs failed; the same command again resubmits only the missing ones:\n${lines.join("\n")}`);
    }
    for (const r of submission.runs) waited.add(r.run.dir);
  }
}
