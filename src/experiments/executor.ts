/**
 * Where an experiment's runs are trained. `local`: one after another in this process (the run cache trains what is
 * missing). `slurm`: the experiment is planned first (planning.ts), every missing run becomes a Slurm job (slurm.ts),
 * the jobs are waited for, and the experiment then runs here and finds every run finished. Runs the experiment can
 * only ask for once others are done (a plan that stopped early) are planned and submitted in the next round.
 */
import { planExperiment } from "./planning";
import { Scale } from "../runs/scales";
import { SlurmCommands, SlurmOptions, SubmittedRun, submitRuns, waitForRuns } from "./slurm";

export type Executor = { kind: "local" } | SlurmExecutor;

export interface SlurmExecutor extends SlurmOptions {
  kind: "slurm";
  /** Seconds between two looks at the queue while waiting (default 30). */
  pollSeconds?: number;
  /** The Slurm commands to use (default: sbatch, squeue, scancel from PATH). */
  commands?: SlurmCommands;
}

export interface ClusterRunOptions {
  scale: Scale;
  seeds: number[];
  runsRoot: string;
  log(line: string): void;
  signal?: AbortSignal;
}

/** What one submission did: the jobs for the missing runs, and whether more runs follow once these are done. */
export interface Submission { runs: SubmittedRun[]; complete: boolean }

/** Submits a job for every missing run of an experiment (keeping jobs already queued for them) and returns at once. */
export async function submitExperimentRuns(name: string, executor: SlurmExecutor, options: ClusterRunOptions): Promise<Submission> {
  const plan = await planExperiment(name, options);
  if (plan.runs.length === 0) return { runs: [], complete: plan.complete };
  const runs = submitRuns(plan.runs, executor, executor.commands ?? new SlurmCommands());
  for (const r of runs) {
    const after = r.run.after ? `, after ${r.run.after.split("/").pop()}` : "";
    options.log(`${r.reused ? "already queued" : "submitted"}: job ${r.jobId} ${r.run.name} -> ${r.run.dir}${after}`);
  }
  if (!plan.complete) options.log(`${name}: more runs may follow once these are done (${plan.stoppedBy})`);
  return { runs, complete: plan.complete };
}

/**
 * Trains every missing run of an experiment as Slurm jobs and waits for them, round after round, until the experiment
 * needs no run that is not finished. Throws, naming each failed run and why, when a job ends without its run's
 * results; the same call again resubmits only the runs still missing.
 */
export async function trainOnSlurm(name: string, executor: SlurmExecutor, options: ClusterRunOptions): Promise<void> {
  const commands = executor.commands ?? new SlurmCommands();
  const waited = new Set<string>();
  for (;;) {
    const submission = await submitExperimentRuns(name, { ...executor, commands }, options);
    if (submission.runs.length === 0) return;
    const repeated = submission.runs.find((r) => waited.has(r.run.dir));
    if (repeated) throw new Error(`${name}: run ${repeated.run.name} (${repeated.run.dir}) is still missing after its job was waited for`);
    const outcome = await waitForRuns(submission.runs, commands, { pollSeconds: executor.pollSeconds ?? 30, log: options.log, signal: options.signal });
    if (outcome.failed.length) {
      const lines = outcome.failed.map(({ run, why }) => `  ${run.run.name} (job ${run.jobId}): ${why}`);
      throw new Error(`${name}: ${outcome.failed.length} of ${submission.runs.length} runs failed; the same command again resubmits only the missing ones:\n${lines.join("\n")}`);
    }
    for (const r of submission.runs) waited.add(r.run.dir);
  }
}
