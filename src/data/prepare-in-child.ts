/**
 * Filling the frame cache in a small child process. Each decode spawns ffmpeg, and spawning from a large process
 * (a training process holding TensorFlow and a model, about 1 GB) forks that process's memory: measured on 2 cores,
 * 40 ms of wall time and 20 ms of the parent's CPU a spawn against 10 and 3 from a small process; the main job decoded
 * 31 clips/s in the training process against 48-50 in a small one. Two uses:
 * - in the background, at a lower priority, while the parent trains: the evaluation clips of a run are needed only at
 *   its end (from a worker thread of the training process, training fell from 0.87 to 0.47 step/s; from a small child
 *   it stayed at 0.89);
 * - in the foreground, awaited, with its progress shown by the parent: the training clips before the first step.
 * Clips it decodes are written atomically, so the parent may read or decode the same clip meanwhile; a file it cannot
 * decode leaves the cache's `.bad` marker, which the parent then skips and counts as at any other load.
 */
import { spawn, ChildProcess } from "node:child_process";
import { setPriority } from "node:os";
import { createInterface } from "node:readline";
import { openSplit } from "./builtin";
import { FrameCache, prepareCache } from "./frame-cache";

export interface PrepareTask {
  /** A data-manifests/ name or a manifest path, and the split to decode. */
  dataset: string;
  split: string;
  frames: number;
  cacheSize: number;
  cacheDir: string;
}

export interface ChildOutcome { ok: boolean; reason?: string }

export interface PrepareInChildOptions {
  /** Parallel decoders in the child (default: prepareCache's, from the files' sizes). */
  jobs?: number;
  /** Below the parent's priority (Unix nice 10): for work beside training, which keeps the default 0. */
  lowPriority?: boolean;
  /** Each task's progress as the child reports it: clips done (cached, built or bad) and bad so far, cumulative. */
  onProgress?: (task: number, done: number, bad: number) => void;
}

const LOW_PRIORITY_NICE = 10;

export class PrepareInChild {
  private readonly child: ChildProcess;
  private readonly outcome: Promise<ChildOutcome>;
  private finished = false;
  private readonly killOnExit = () => this.child.kill("SIGKILL");

  constructor(tasks: PrepareTask[], options: PrepareInChildOptions = {}) {
    this.child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), __filename, JSON.stringify({ tasks, jobs: options.jobs })], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (options.lowPriority) {
      try { if (this.child.pid !== undefined) setPriority(this.child.pid, LOW_PRIORITY_NICE); } catch { /* a lower priority is a courtesy */ }
    }
    let stderr = "";
    this.child.stderr!.on("data", (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
    const onProgress = options.onProgress;
    createInterface({ input: this.child.stdout! }).on("line", (line) => {
      const [task, done, bad] = line.split(" ").map(Number);
      if (onProgress && [task, done, bad].every(Number.isInteger)) onProgress(task, done, bad);
    });
    process.once("exit", this.killOnExit);
    this.outcome = new Promise((resolve) => {
      this.child.once("error", (err) => resolve({ ok: false, reason: err.message }));
      this.child.once("exit", (code, signal) => {
        this.finished = true;
        process.removeListener("exit", this.killOnExit);
        resolve(code === 0 ? { ok: true } : { ok: false, reason: `${signal ? `killed by ${signal}` : `exit code ${code}`}${stderr.trim() ? `: ${stderr.trim().split("\n").pop()}` : ""}` });
      });
    });
  }

  get isDone(): boolean { return this.finished; }

  /** Resolves when the child has exited: ok when every task finished (bad files included: they are markers). */
  done(): Promise<ChildOutcome> { return this.outcome; }

  /** Stops the child (what it decoded stays cached) and waits for it to exit. */
  async stop(): Promise<void> {
    if (!this.finished) this.child.kill("SIGTERM");
    await this.outcome;
  }
}

/** The child's side: each task's split decoded into its cache, progress written to stdout as "task done bad" lines. */
async function runTasks(tasks: PrepareTask[], jobs: number | undefined, signal: AbortSignal): Promise<void> {
  for (const [index, t] of tasks.entries()) {
    const split = await openSplit(t.dataset, t.split, { silent: true, checkMedia: true, signal });
    const cache = new FrameCache({ frames: t.frames, cacheSize: t.cacheSize, dir: t.cacheDir });
    let done = 0;
    let bad = 0;
    const report = (): void => { process.stdout.write(`${index} ${done} ${bad}\n`); };
    await prepareCache(cache, split.samples, {
      jobs, signal,
      progress: { tick: (n = 1, metrics) => { done += n; bad = metrics?.bad ?? bad; report(); }, done: report },
    });
  }
}

if (require.main === module) {
  const { tasks, jobs } = JSON.parse(process.argv[2]) as { tasks: PrepareTask[]; jobs?: number };
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  // Without a parent to read it (the parent died), writing progress fails: stop rather than decode for nobody.
  process.stdout.on("error", () => stop.abort());
  runTasks(tasks, jobs, stop.signal).then(
    () => process.exit(stop.signal.aborted ? 143 : 0),
    (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`); process.exit(stop.signal.aborted ? 143 : 1); },
  );
}
