/**
 * Stopping long work on SIGINT (Ctrl-C, a Jupyter kernel interrupt) or SIGTERM (cluster preemption).
 * Training computes synchronously, so a signal handler only runs when the loop yields to the event loop between
 * micro-batches; the handler aborts an AbortSignal, the loop sees it, checkpoints and throws InterruptedError.
 * The CLI turns that error into exit code 130 / 143; a library call (a notebook cell) rejects with it after a SIGINT,
 * so the kernel survives and the next call resumes.
 */
export type StopSignal = "SIGINT" | "SIGTERM";

export const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM"];

/** The shell's convention for a process ended by a signal: 128 + the signal's number. */
export const SIGNAL_EXIT_CODES: Readonly<Record<StopSignal, number>> = { SIGINT: 130, SIGTERM: 143 };

export class InterruptedError extends Error {
  constructor(readonly signal: StopSignal, message: string) {
    super(message);
    this.name = "InterruptedError";
  }

  get exitCode(): number { return SIGNAL_EXIT_CODES[this.signal]; }
}

/** Which stop signal aborted `signal` (its abort reason); SIGINT when it was aborted some other way. */
export function stopSignalOf(signal: AbortSignal): StopSignal {
  return signal.reason === "SIGTERM" ? "SIGTERM" : "SIGINT";
}

/** The InterruptedError for an aborted `signal`; `what` says what was stopped and how to continue. */
export function interruptedBy(signal: AbortSignal, what: string): InterruptedError {
  const name = stopSignalOf(signal);
  return new InterruptedError(name, `interrupted by ${name}: ${what}`);
}

/** Throws interruptedBy(signal, what) when `signal` has been aborted. */
export function throwIfStopped(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw interruptedBy(signal, what);
}

/** Lets pending signal handlers and I/O callbacks run; synchronous compute otherwise starves the event loop. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface InterruptWatch {
  /** Aborted, with the signal's name as reason, by the first SIGINT or SIGTERM after the watch started. */
  readonly signal: AbortSignal;
  /** Removes the listeners (the process's previous behaviour on these signals comes back). */
  dispose(): void;
}

export interface WatchOptions {
  /** Called on the first signal, after the watch's signal is aborted. */
  onFirst?(signal: StopSignal): void;
  /**
   * Stop listening after the first signal, so that a second one ends the process at once, by the signal's default
   * action: unlike a listener, that works even in the middle of a synchronous computation (the CLI's second Ctrl-C).
   */
  releaseAfterFirst?: boolean;
}

/** Listens for SIGINT and SIGTERM until disposed. While it listens, these signals no longer end the process. */
export function watchInterrupts(options: WatchOptions = {}): InterruptWatch {
  const controller = new AbortController();
  const listeners = STOP_SIGNALS.map((name) => {
    const listener = () => {
      if (controller.signal.aborted) return; // a repeat while the stop is under way
      controller.abort(name);
      if (options.releaseAfterFirst) dispose();
      options.onFirst?.(name);
    };
    process.on(name, listener);
    return { name, listener };
  });
  const dispose = () => { for (const { name, listener } of listeners) process.off(name, listener); };
  return { signal: controller.signal, dispose };
}

/**
 * Runs `work` with the caller's stop signal, or, when there is none (a library call, e.g. from a notebook), with one
 * that SIGINT and SIGTERM abort while `work` runs. After a SIGINT the process lives on (a kernel's interrupt); a
 * SIGTERM was only held back for the checkpoint, so it is raised again once `work` has stopped.
 */
export async function withStopSignal<T>(given: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (given) return work(given);
  const watch = watchInterrupts();
  try {
    return await work(watch.signal);
  } finally {
    watch.dispose();
    if (watch.signal.reason === "SIGTERM") process.kill(process.pid, "SIGTERM");
  }
}
