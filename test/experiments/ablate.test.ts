/** Your own ablation: dotted paths into a RunConfig, the grid, and an ablation at smoke scale through the run cache. */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ablate, RUN_CONFIG_PATHS, settingGrid, variedConfig } from "../../src/experiments/ablate";
import { setPath } from "../../src/util/dotted-path";
import { resolveRunConfig } from "../../src/runs/named";
import { SlurmCommands } from "../../src/experiments/slurm";
import type { RunConfig } from "../../src/runs/config";
import { tempDir, withBackend } from "../helpers/tf";

before(async () => {
  await withBackend();
  process.env.COVER_CHROMIUM = "none";
});

const base = (): RunConfig => resolveRunConfig("cover", "smoke", 0);

describe("ablation settings", () => {
  test("the grid is every combination, the first path varying slowest", () => {
    assert.deepEqual(settingGrid({ a: [1, 2], b: ["x", "y"] }), [{ a: 1, b: "x" }, { a: 1, b: "y" }, { a: 2, b: "x" }, { a: 2, b: "y" }]);
    assert.throws(() => settingGrid({}), /nothing to vary/);
    assert.throws(() => settingGrid({ a: [] }), /'a' needs a non-empty list/);
    assert.throws(() => settingGrid({ a: [1, 1] }), /'a' lists a value twice/);
  });

  test("a dotted path sets nested fields and dataset keys; the run is renamed after the setting", () => {
    const config = variedConfig(base(), { "train.builtin-digits-images": 0.5, "model.preset": "tiny" });
    assert.equal(config.train["builtin-digits-images"], 0.5);
    assert.equal(config.train["builtin-digits-motion"], 1, "the other datasets keep their weight");
    assert.equal(config.model.preset, "tiny");
    assert.equal(config.name, "cover-builtin-digits-images=0.5-preset=tiny");
    assert.equal(base().model.preset, "micro", "the base is not changed");
  });

  test("a dataset name with dots is one key; a new dataset may join the mixture, nothing else may be invented", () => {
    const target = { train: { "data-manifests/k400.json": 1 } } as Record<string, unknown>;
    setPath(target, "train.data-manifests/k400.json", 0.25, RUN_CONFIG_PATHS);
    assert.deepEqual(target.train, { "data-manifests/k400.json": 0.25 });
    setPath(target, "train.extra.v2", 1, RUN_CONFIG_PATHS);
    assert.deepEqual(target.train, { "data-manifests/k400.json": 0.25, "extra.v2": 1 });
    assert.throws(() => variedConfig(base(), { "model.prest": "tiny" }), /'model.prest' is not a field of the base run \(model has: preset, frames, imageSize\)/);
    assert.throws(() => variedConfig(base(), { optimizer: "sgd" }), /'optimizer' is not a field of the base run \(the run config has: name, seed/);
    assert.throws(() => variedConfig(base(), { "model.preset.size": 3 }), /model.preset is not an object/);
    assert.throws(() => variedConfig(base(), { "optim.epochs": "many" }), /'optim.epochs' is a number in the base run \(1\), got "many"/);
    assert.throws(() => variedConfig(base(), { "train.builtin-digits-images": -1 }), /train\.builtin-digits-images: expected a non-negative number, got -1/);
    assert.throws(() => setPath({ train: {} }, "train.__proto__", 1, RUN_CONFIG_PATHS), /not a field/);
  });
});

describe("ablate at smoke scale", () => {
  test("every setting and seed trains once, image pre-training shared per seed, tables and figure, a rerun reuses everything", async () => {
    const runsRoot = tempDir("abl-runs");
    const out = tempDir("abl-out");
    const options = { base: "standard-motion", vary: { "optim.epochs": [1, 2] }, seeds: [0, 1], scale: "smoke" as const, init: "image-pretrain" as const, runsRoot, out, quiet: true };
    const result = await ablate(options);
    const folders = readdirSync(join(runsRoot, "runs")).filter((d) => !d.startsWith("."));
    assert.equal(folders.filter((d) => d.startsWith("image-pretrain-")).length, 2, folders.join(", "));
    assert.equal(folders.filter((d) => d.startsWith("standard-motion-epochs=")).length, 4, folders.join(", "));
    const initOf = (dir: string) => (JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as RunConfig).init;
    for (const seed of [0, 1]) {
      const inits = result.runs.filter((r) => r.seed === seed).map((r) => JSON.stringify(initOf(r.dir)));
      assert.equal(new Set(inits).size, 1, `seed ${seed}: both settings start from the same pre-training`);
    }
    assert.notEqual(JSON.stringify(initOf(result.runs[0].dir)), JSON.stringify(initOf(result.runs[2].dir)), "each seed has its own pre-training");

    assert.deepEqual(result.settings, ["optim.epochs"]);
    assert.equal(result.perSeed.shape[0], 4);
    assert.deepEqual(result.perSeed.columns, ["optim.epochs", "seed", "dataset", "top1", "top5", "clips", "chance", "run"]);
    const summary = result.tables.summary.rows;
    assert.equal(summary.length, 2);
    for (const row of summary) {
      assert.equal(row.seeds, 2);
      assert.equal(row.chance, 12.5, "the motion dataset has 8 classes");
      const perSeed = result.tables.perSeed.rows.filter((r) => r["optim.epochs"] === row["optim.epochs"]).map((r) => r.top1 as number);
      assert.ok(Math.abs((row.top1 as number) - (perSeed[0] + perSeed[1]) / 2) < 0.01, `${row.top1} is the mean of ${perSeed}`);
      assert.ok((row.low as number) <= (row.top1 as number) && (row.top1 as number) <= (row.high as number) && (row.high as number) > (row.low as number));
    }
    assert.ok(existsSync(join(out, "tables", "ablation-standard-motion-summary.csv")));
    assert.ok(existsSync(join(out, "tables", "ablation-standard-motion-per-seed.md")));
    assert.ok(existsSync(join(out, "figures", "ablation-standard-motion.html")));
    const shapes = result.figure.layout.shapes as { y0: number }[];
    assert.deepEqual(shapes.map((s) => s.y0), [12.5], "the panel draws its chance level");

    const again = await ablate({ ...options, out: tempDir("abl-out2") });
    assert.deepEqual(again.runs.map((r) => r.dir), result.runs.map((r) => r.dir));
    assert.equal(readdirSync(join(runsRoot, "runs")).filter((d) => !d.startsWith(".")).length, folders.length, "nothing trained twice");
    // The slurm executor submits only the missing runs: none here, so it never calls Slurm (none on this PATH).
    const noSlurm = new SlurmCommands({ ...process.env, PATH: tempDir("no-slurm") });
    const viaSlurm = await ablate({ ...options, out: tempDir("abl-out3"), executor: { kind: "slurm", commands: noSlurm } });
    assert.deepEqual(viaSlurm.tables.summary.rows, result.tables.summary.rows);

    // A RunConfig whose init is an image pre-training run: each seed gets its own pre-training, as above (all reused).
    const config = { ...resolveRunConfig("standard-motion", "smoke", 0), init: initOf(result.runs[0].dir) };
    const fromConfig = await ablate({ base: config, vary: { "optim.epochs": [1] }, seeds: [1], scale: "smoke", runsRoot, quiet: true });
    assert.equal(fromConfig.runs[0].dir, result.runs[2].dir, "seed 1 starts from seed 1's pre-training, so it is the run trained above");
  });

  test("bad seeds are refused before anything trains", async () => {
    await assert.rejects(ablate({ base: "cover", vary: { "optim.epochs": [1] }, seeds: [0, 0], scale: "smoke", runsRoot: tempDir("abl-bad"), quiet: true }), /distinct/);
    await assert.rejects(ablate({ base: "no-such-run", vary: { "optim.epochs": [1] }, scale: "smoke", runsRoot: tempDir("abl-bad"), quiet: true }), /neither a named run/);
  });
});
