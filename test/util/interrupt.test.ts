import { test } from "node:test";
import assert from "node:assert/strict";
import { InterruptedError, throwIfStopped, watchInterrupts, withStopSignal, yieldToEventLoop } from "../../src/util/interrupt";

/**
 * Delivers `signal` to this process and returns once its listeners have run: listeners are called in the order they
 * were added, so the one added here runs last. (A fixed wait was too short on a loaded machine.) The timer keeps the
 * event loop alive until the signal arrives, and fails the test if it never does.
 */
async function deliver(signal: NodeJS.Signals): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const delivered = new Promise<void>((resolve, reject) => {
    process.once(signal, () => resolve());
    timer = setTimeout(() => reject(new Error(`${signal} not delivered within 10 s`)), 10_000);
  });
  process.kill(process.pid, signal);
  try { await delivered; } finally { clearTimeout(timer); }
}

test("the first SIGINT/SIGTERM aborts the watch's signal with the signal's name; dispose removes the listeners", async () => {
  const before = { int: process.listenerCount("SIGINT"), term: process.listenerCount("SIGTERM") };
  const seen: string[] = [];
  const watch = watchInterrupts({ onFirst: (s) => seen.push(s) });
  assert.equal(process.listenerCount("SIGTERM"), before.term + 1);
  await deliver("SIGTERM");
  assert.equal(watch.signal.aborted, true);
  assert.equal(watch.signal.reason, "SIGTERM");
  await deliver("SIGINT"); // a repeat is ignored while the watch listens
  assert.deepEqual(seen, ["SIGTERM"]);
  const err = (() => { try { throwIfStopped(watch.signal, "step 3 checkpointed"); } catch (e) { return e; } })();
  assert.ok(err instanceof InterruptedError);
  assert.equal(err.signal, "SIGTERM");
  assert.equal(err.exitCode, 143);
  assert.equal(err.message, "interrupted by SIGTERM: step 3 checkpointed");
  watch.dispose();
  assert.deepEqual({ int: process.listenerCount("SIGINT"), term: process.listenerCount("SIGTERM") }, before);
});

test("releaseAfterFirst stops listening at the first signal, so that a second one gets the default action", async () => {
  const keepAlive = () => undefined; // this test process must survive the first delivery
  process.on("SIGINT", keepAlive);
  try {
    const before = process.listenerCount("SIGINT");
    const watch = watchInterrupts({ releaseAfterFirst: true });
    assert.equal(process.listenerCount("SIGINT"), before + 1);
    await deliver("SIGINT");
    assert.equal(watch.signal.reason, "SIGINT");
    assert.equal(process.listenerCount("SIGINT"), before, "released");
    assert.equal(new InterruptedError("SIGINT", "x").exitCode, 130);
  } finally {
    process.off("SIGINT", keepAlive);
  }
});

test("withStopSignal: a caller's signal is used as is; without one, listeners exist only while the work runs", async () => {
  const controller = new AbortController();
  const before = process.listenerCount("SIGINT");
  assert.equal(await withStopSignal(controller.signal, async (s) => { assert.equal(s, controller.signal); return process.listenerCount("SIGINT"); }), before);
  const during = await withStopSignal(undefined, async (s) => { await yieldToEventLoop(); assert.equal(s.aborted, false); return process.listenerCount("SIGINT"); });
  assert.equal(during, before + 1);
  assert.equal(process.listenerCount("SIGINT"), before);
});
