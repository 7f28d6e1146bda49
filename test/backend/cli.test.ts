/** `cover backend`: what it prints and its exit codes (run as a user would, in a child process). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../src/util/paths";

function cover(args: string[], env: Record<string, string> = {}) {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!("COVER_BACKEND" in env)) delete childEnv.COVER_BACKEND;
  const r = spawnSync(process.execPath, [join(PROJECT_ROOT, "bin", "cover.js"), "backend", ...args], { encoding: "utf8", env: childEnv });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("cover backend --backend cpu --check --json reports the choice and a correct matmul", () => {
  const r = cover(["--backend", "cpu", "--check", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { chosen: string; tfBackend: string; requestedBy: string; check: { ok: boolean; maxAbsDiff: number } };
  assert.equal(out.chosen, "cpu");
  assert.equal(out.tfBackend, "cpu");
  assert.equal(out.requestedBy, "--backend");
  assert.ok(out.check.ok && out.check.maxAbsDiff < 1e-4);
});

test("cover backend names why better backends were not chosen", () => {
  const r = cover([], { CUDA_VISIBLE_DEVICES: "-1" });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^backend: (tensorflow|wasm) /);
  assert.match(r.stdout, /not tensorflow-gpu: CUDA_VISIBLE_DEVICES='-1' hides every GPU/);
});

test("an unavailable COVER_BACKEND makes cover fail with the reason", () => {
  const r = cover([], { COVER_BACKEND: "tensorflow-gpu", CUDA_VISIBLE_DEVICES: "-1" });
  assert.equal(r.code, 1);
  assert.match(r.stderr, /backend 'tensorflow-gpu' is not available: CUDA_VISIBLE_DEVICES='-1' hides every GPU/);
});

test("a bad --backend value is a usage error (exit 2)", () => {
  const r = cover(["--backend", "gpu"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--backend: unknown backend 'gpu'/);
});
