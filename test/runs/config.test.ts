import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { RunCache } from "../../src/runs/cache";
import { validateRunConfig } from "../../src/runs/config";
import { resolveRunConfig } from "../../src/runs/named";

const noData = async (): Promise<never> => { throw new Error("no data in this test"); };

test("cache keys stay as they were: runs already trained are found by their config's hash", () => {
  // Folder names the run cache gave these named runs before the runs/ module existed (runs trained with them exist).
  const cache = new RunCache("/nowhere", noData);
  assert.equal(basename(cache.dirOf(resolveRunConfig("image-pretrain", "cpu", 0))), "image-pretrain-3200a28579");
  assert.equal(basename(cache.dirOf(resolveRunConfig("image-pretrain", "cpu", 1))), "image-pretrain-491a11a5cd");
  // The cpu recipe of 2026-12-03 (12 epochs, w_motion 2) is a new config, so a new key; image pre-training kept its own.
  assert.equal(basename(cache.dirOf(resolveRunConfig("cover", "cpu", 0))), "cover-24ec96f283");
});

test("validateRunConfig returns the config itself (key order kept for the hash)", () => {
  const config = resolveRunConfig("cover", "smoke", 0);
  assert.equal(validateRunConfig(config), config);
});

function configFile(edit: (c: Record<string, unknown>) => unknown): string {
  const path = join(mkdtempSync(join(tmpdir(), "cover-config-")), "config.json");
  const config = JSON.parse(JSON.stringify(resolveRunConfig("cover", "smoke", 0))) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify(edit(config)));
  return path;
}

test("a config file's errors name the file, the field and what was found", () => {
  const cases: [string, (c: Record<string, any>) => unknown, RegExp][] = [
    ["epochs as a string", (c) => ({ ...c, optim: { ...c.optim, epochs: "8" } }), /: optim\.epochs: expected a positive number, got "8"/],
    ["batch size fractional", (c) => ({ ...c, optim: { ...c.optim, batchSize: 2.5 } }), /optim\.batchSize: expected a positive integer, got 2\.5/],
    ["unknown key, close to a known one", (c) => ({ ...c, optim: { ...c.optim, epoch: 3 } }), /optim\.epoch: unknown key 'epoch' \(did you mean epochs\?\)/],
    ["unknown top-level key", (c) => ({ ...c, colour: 1 }), /colour: unknown key 'colour'/],
    ["missing field", (c) => { const { evalViews: _, ...rest } = c; return rest; }, /evalViews: missing \(expected one of "1x1", "1x3"\)/],
    ["bad attention", (c) => ({ ...c, model: { ...c.model, attention: "full" } }), /model\.attention: expected one of "divided_space_time"/],
    ["negative loss weight", (c) => ({ ...c, train: { ...c.train, "builtin-digits-images": -1 } }), /train\.builtin-digits-images: expected a non-negative number, got -1/],
    ["bad init", (c) => ({ ...c, init: { from: "somewhere" } }), /init\.from: expected "from"/],
    ["sampling of a dataset not trained on", (c) => ({ ...c, sampling: { other: 1 } }), /sampling names 'other', which is not a training dataset/],
  ];
  for (const [what, edit, pattern] of cases) {
    const file = configFile(edit);
    assert.throws(() => resolveRunConfig(file, "smoke", 0), (err: Error) => err.message.startsWith(`${file}: `) && pattern.test(err.message), `${what}: ${pattern}`);
  }
  const good = configFile((c) => c);
  assert.deepEqual(resolveRunConfig(good, "smoke", 0), resolveRunConfig("cover", "smoke", 0));
});
