import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRunResults, RunResults, writeRunResults } from "../../src/runs/folder";

const results: RunResults = {
  run: "cover", steps: 12, epochs: 1, seconds: 3.5, backend: "wasm",
  datasets: { digits: { samples: 4, top1: 50, top5: 100, confusion: [[1, 1], [1, 1]], views: "1x3", reverseFrames: false, classes: ["a", "b"] } },
  badFiles: [{ dataset: "digits", split: "train", path: "/x.mp4", source: "train.jsonl:3", kind: "missing", reason: "not there" }],
};

test("results.json: written results read back; none -> null", () => {
  const dir = mkdtempSync(join(tmpdir(), "cover-results-"));
  assert.equal(readRunResults(dir), null);
  writeRunResults(dir, results);
  assert.deepEqual(readRunResults(dir), results);
});

test("results.json errors name the file and the field", () => {
  const cases: [unknown, RegExp][] = [
    [{ ...results, steps: "12" }, /: steps: expected a non-negative integer, got "12"/],
    [{ ...results, datasets: { digits: { ...results.datasets.digits, top1: null } } }, /datasets\.digits\.top1: expected a non-negative number, got null/],
    [{ ...results, datasets: { digits: { ...results.datasets.digits, top: 1 } } }, /datasets\.digits\.top: unknown key 'top' \(did you mean top1\?\)/],
    [{ ...results, badFiles: [{ ...results.badFiles![0], kind: "lost" }] }, /badFiles\[0\]\.kind: expected one of "missing", "undecodable", "unusable", got "lost"/],
    [(({ backend: _, ...rest }) => rest)(results), /backend: missing/],
  ];
  for (const [value, pattern] of cases) {
    const dir = mkdtempSync(join(tmpdir(), "cover-results-"));
    const file = join(dir, "results.json");
    writeFileSync(file, JSON.stringify(value));
    assert.throws(() => readRunResults(dir), (err: Error) => err.message.startsWith(`${file}: `) && pattern.test(err.message) && /move it away/.test(err.message), String(pattern));
  }
});
