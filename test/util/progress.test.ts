import { test } from "node:test";
import assert from "node:assert/strict";
import { createProgress, duration } from "../../src/util/progress";

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = { isTTY, write(chunk: string) { text += chunk; return true; } } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

test("plain lines (logs, notebooks) show count, percent, rate, ETA and metrics", () => {
  const { stream, text } = fakeStream(false);
  const p = createProgress({ label: "train", total: 10, unit: "step", stream, everySeconds: 0 });
  for (let i = 0; i < 4; i++) p.tick(1, { loss: 2.5 - i * 0.5 });
  p.done();
  const lines = text().trim().split("\n");
  assert.ok(lines.length >= 2, text());
  assert.ok(!text().includes("\r"));
  const last = lines[lines.length - 1];
  assert.match(last, /^train: 4\/10 steps \(40%\)/);
  assert.match(last, /step\/s/);
  assert.match(last, /eta /);
  assert.match(last, /loss 1\b/);
});

test("a terminal gets one redrawn line, ended by done()", () => {
  const { stream, text } = fakeStream(true);
  const p = createProgress({ label: "decode", total: 3, unit: "clip", stream, everySeconds: 0 });
  p.tick(); p.tick(); p.tick();
  p.done();
  p.done(); // idempotent
  assert.ok(text().startsWith("\r\x1b[2K"));
  assert.equal(text().split("\n").length - 1, 1);
  assert.match(text(), /decode: 3\/3 clips \(100%\)/);
});

test("silent prints nothing", () => {
  const { stream, text } = fakeStream(false);
  const p = createProgress({ label: "x", total: 2, stream, silent: true, everySeconds: 0 });
  p.tick(2, { acc: 1 });
  p.done();
  assert.equal(text(), "");
});

test("durations are short and readable", () => {
  assert.equal(duration(5.4), "5s");
  assert.equal(duration(75), "1m15s");
  assert.equal(duration(3 * 3600 + 120), "3h02m");
});

test("env COVER_PROGRESS=off silences, a number sets the seconds between plain lines", () => {
  const saved = process.env.COVER_PROGRESS;
  try {
    process.env.COVER_PROGRESS = "off";
    const quiet = fakeStream(false);
    const p = createProgress({ label: "x", total: 2, stream: quiet.stream, everySeconds: 0 });
    p.tick(); p.tick(); p.done();
    assert.equal(quiet.text(), "");
    process.env.COVER_PROGRESS = "0";
    const often = fakeStream(false);
    const q = createProgress({ label: "y", total: 3, stream: often.stream });
    q.tick(); q.tick(); q.tick();
    assert.equal(often.text().trim().split("\n").length, 2);
  } finally {
    if (saved === undefined) delete process.env.COVER_PROGRESS; else process.env.COVER_PROGRESS = saved;
  }
});

test("after a resume the rate and ETA count only the steps since the resume; detail shows e.g. the epoch", () => {
  const { stream, text } = fakeStream(false);
  const realNow = Date.now;
  let now = 1_000_000;
  Date.now = () => now;
  try {
    const p = createProgress({ label: "train", total: 1000, unit: "step", stream, everySeconds: 0, detail: (step) => `epoch ${Math.floor(step / 100) + 1}/10` });
    p.tick(900); // resumed at step 900
    now += 10_000;
    p.tick(10); // 10 steps in 10 s since the resume: 1 step/s, 90 steps left
    p.done();
  } finally {
    Date.now = realNow;
  }
  const last = text().trim().split("\n").pop()!;
  assert.match(last, /^train: 910\/1000 steps \(91%\)  epoch 10\/10  1\.00 step\/s  elapsed 10s  eta 1m30s/);
});

test("a progress display (a notebook status line) gets every line, with the context in front; null restores the stream", () => {
  const { setProgressContext, setProgressDisplay, progressNote } = require("../../src/util/progress") as typeof import("../../src/util/progress");
  const shown: string[] = [];
  setProgressDisplay((line) => shown.push(line));
  setProgressContext("ablation 2/4");
  try {
    const p = createProgress({ label: "train x", total: 3, unit: "step", everySeconds: 0 });
    p.tick(); p.tick(1, { loss: 1.5 }); p.tick();
    p.done();
    progressNote("next run");
  } finally {
    setProgressDisplay(null);
    setProgressContext("");
  }
  assert.ok(shown.length >= 2, shown.join("\n"));
  assert.match(shown[shown.length - 2], /^\[ablation 2\/4\] train x: 3\/3 steps \(100%\).*eta 0s\s+loss 1\.5/);
  assert.equal(shown[shown.length - 1], "next run");
  const { stream, text } = fakeStream(false);
  const after = createProgress({ label: "plain", total: 1, stream, everySeconds: 0 });
  after.tick(); after.done();
  assert.match(text(), /^plain: 1\/1/);
});
