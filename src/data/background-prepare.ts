/**
 * Filling the frame cache in a child process while the parent trains: the evaluation clips of a run are needed only
 * at its end, and training on the default (wasm) backend keeps one core busy, so they can be decoded beside it.
 *
 * A child process rather than a worker thread: each decode spawns ffmpeg, and spawning from a thread of the large
 * training process forks that process's memory (measured on 2 cores: training fell from 0.87 to 0.47 step/s; from
 * a small child process it stayed at 0.89). The child runs at a lower priority, so where training uses every core
 * (native backend) the decoders yield to it. Clips it decodes are written atomically, so the parent may read or
 * decode the same clip meanwhile; a file it cannot decode leaves the cache's `.bad` marker, which the parent then
 * skips and counts as at any other load.
 */
import { spawn, ChildProcess } from "node:child_process";
import { availableParallelism, setPriority } from "node:os";
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

export interface BackgroundOutcome { ok: boolean; reason?: string }

/** Priority of the child (Unix nice value): below the training process, which keeps the default 0. */
const NICE = 10;

export class BackgroundPrepare {
  private readonly child: ChildProcess;
  private readonly outcome: Promise<BackgroundOutcome>;
  private finished = false;
  private readonly killOnExit = () => this.child.kill("SIGKILL");

  constructor(tasks: PrepareTask[], jobs = Math.max(1, availableParallelism() - 1)) {
    this.child = spawn(process.execPath, ["--require", require.resolve("tsx/cjs"), __filename, JSON.stringify({ tasks, jobs })], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    try { if (this.child.pid !== undefined) setPriority(this.child.pid, NICE); } catch { /* a lower priority is a courtesy */ }
    let stderr = "";
    this.child.stderr!.on("data", (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
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
  done(): Promise<BackgroundOutcome> { return this.outcome; }

  /** Stops the child (what it decoded stays cached) and waits for it to exit. */
  async stop(): Promise<void> {
    if (!this.finished) this.child.kill("SIGTERM");
    await this.outcome;
  }
}

async function runTasks(tasks: PrepareTask[], jobs: number, signal: AbortSignal): Promise<void> {
  for (const t of tasks) {
    const split = await openSplit(t.dataset, t.split, { silent: true, checkMedia: true, signal });
    const cache = new FrameCache({ frames: t.frames, cacheSize: t.cacheSize, dir: t.cacheDir });
    await prepareCache(cache, split.samples, { jobs, silent: true, signal });
  }
}

if (require.main === module) {
  const { tasks, jobs } = JSON.parse(process.argv[2]) as { tasks: PrepareTask[]; jobs: number };
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  runTasks(tasks, jobs, stop.signal).then(
    () => process.exit(stop.signal.aborted ? 143 : 0),
    (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`); process.exit(stop.signal.aborted ? 143 : 1); },
  );
}
