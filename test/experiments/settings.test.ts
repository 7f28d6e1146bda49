/**
 * An experiment with another recipe (`cover experiment NAME --set optim.epochs=12`): the scale's settings changed
 * by dotted path reach the runs the experiment asks for, and only them; a path that is not a setting, or a value of
 * another type, is an error naming what there is.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { UsageError } from "../../src/cli/args";
import { parseSettings } from "../../src/cli/commands/experiment";
import { planExperiment } from "../../src/experiments/planning";
import { scaleSettings, withSettings } from "../../src/runs/scales";
import { tempDir } from "../helpers/tf";

describe("experiment settings by dotted path", () => {
  test("--set optim.epochs reaches the runs trained with the scale's optimiser, not image pre-training (its own epochs)", async () => {
    const root = tempDir("set");
    const plain = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: root });
    const longer = await planExperiment("frame-reversal", { scale: "smoke", seeds: [0], runsRoot: root, set: { "optim.epochs": 3 } });
    const [prePlain, coverPlain] = plain.runs;
    const [preLonger, coverLonger] = longer.runs;
    assert.equal(coverPlain.config.optim.epochs, 1);
    assert.equal(coverLonger.config.optim.epochs, 3);
    assert.equal(preLonger.dir, prePlain.dir, "image pre-training is the same run, shared");
    assert.notEqual(coverLonger.dir, coverPlain.dir, "a run with other settings is another run in the cache");
    assert.equal(scaleSettings("smoke").optim.epochs, 1, "the scale's own settings are not changed");
  });

  test("--set lossWeights.motion weights the motion loss of every COVER run, and a sweep's own weight still wins", async () => {
    const root = tempDir("set-weights");
    const trainOf = async (name: string, set: Record<string, number>) =>
      (await planExperiment(name, { scale: "smoke", seeds: [0], runsRoot: root, set })).runs.map((r) => r.config.train);
    const motion = scaleSettings("smoke").datasets.motion, images = scaleSettings("smoke").datasets.images;
    const plain = await trainOf("standard-vs-cover", {});
    const weighted = await trainOf("standard-vs-cover", { "lossWeights.motion": 2 });
    const coverPlain = plain.find((t) => Object.keys(t).length === 4)!;
    const coverWeighted = weighted.find((t) => Object.keys(t).length === 4)!;
    assert.equal(coverPlain[motion], 1);
    assert.deepEqual(coverWeighted, { ...coverPlain, [motion]: 2 });
    assert.deepEqual(Object.keys(coverWeighted), Object.keys(coverPlain), "the same mixture in the same order");
    assert.deepEqual(weighted.filter((t) => Object.keys(t).length === 1), plain.filter((t) => Object.keys(t).length === 1), "standard runs are unweighted");
    const sweep = await trainOf("loss-weight-sweep", { "lossWeights.motion": 2, "lossWeights.images": 3 });
    const imageWeights = sweep.filter((t) => Object.keys(t).length > 1).map((t) => [t[motion], t[images]]);
    assert.deepEqual(imageWeights, [[2, undefined], [2, 0.5], [2, 1], [2, 4]], "w_image from the sweep, w_motion from the scale");
  });

  test("the larger model of base-vs-large trains at its own peak rate in every run of it; the rest of its recipe follows --set", async () => {
    const root = tempDir("set-large");
    const cpu = scaleSettings("cpu");
    const plan = async (set: Record<string, number>) =>
      (await planExperiment("base-vs-large", { scale: "cpu", seeds: [0], runsRoot: root, set })).runs;
    const runs = await plan({});
    const large = runs.filter((r) => r.name.endsWith("-large"));
    const base = runs.filter((r) => !r.name.endsWith("-large"));
    assert.deepEqual(large.map((r) => r.name), ["image-pretrain-large", "cover-large"]);
    assert.deepEqual(large.map((r) => r.config.model.preset), [cpu.largeModel.preset, cpu.largeModel.preset]);
    assert.equal(large[0].config.model.attention, "space_only", "its image pre-training stays space-only");
    for (const r of large) {
      assert.equal(r.config.optim.schedule.baseLr, cpu.largeBaseLr);
      assert.deepEqual({ ...r.config.optim, schedule: { ...r.config.optim.schedule, baseLr: 0 } },
        { ...base.find((b) => `${b.name}-large` === r.name)!.config.optim, schedule: { ...r.config.optim.schedule, baseLr: 0 } },
        "everything but the rate is the smaller model's");
    }
    assert.ok(base.every((r) => r.config.optim.schedule.baseLr === cpu.optim.schedule.baseLr));
    const screened = await plan({ largeBaseLr: 2.5e-4, "optim.epochs": 3 });
    const coverLarge = screened.find((r) => r.name === "cover-large")!;
    assert.equal(coverLarge.config.optim.schedule.baseLr, 2.5e-4);
    assert.equal(coverLarge.config.optim.epochs, 3, "--set optim.* reaches the larger model too");
    assert.equal(screened.find((r) => r.name === "cover")!.config.optim.schedule.baseLr, cpu.optim.schedule.baseLr);
  });

  test("input-setting's higher input starts from the scale's image pre-training, not one at its own resolution", async () => {
    const runs = (await planExperiment("input-setting", { scale: "smoke", seeds: [0], runsRoot: tempDir("set-input") })).runs;
    assert.deepEqual(runs.map((r) => r.name), ["image-pretrain", "cover", "cover-input-8x24"]);
    const [pre, , high] = runs;
    assert.deepEqual(high.config.init, { from: "run", dir: pre.dir });
    assert.deepEqual([high.config.model.frames, high.config.model.imageSize], [8, 24]);
  });

  test("unknown paths, wrong types and malformed flags are errors that say what there is", () => {
    const smoke = scaleSettings("smoke");
    assert.throws(() => withSettings(smoke, { "optim.epoch": 3 }), /experiment: 'optim.epoch' is not a field of the scale's settings \(optim has: .*epochs/);
    assert.throws(() => withSettings(smoke, { "optim.epochs": "many" }), /'optim.epochs' is a number in the scale's settings \(1\), got "many"/);
    assert.throws(() => withSettings(smoke, { recipe: 1 }), /'recipe' is not a field of the scale's settings \(the settings has: datasets, model/);
    assert.deepEqual(parseSettings(["optim.epochs=12", "optim.schedule.decay=cosine"]), { "optim.epochs": 12, "optim.schedule.decay": "cosine" });
    assert.throws(() => parseSettings(["optim.epochs"]), (err: unknown) => err instanceof UsageError && /--set takes PATH=VALUE, got 'optim.epochs'/.test(err.message));
    assert.throws(() => parseSettings(["optim.epochs=1", "optim.epochs=2"]), /--set optim.epochs is given twice/);
  });
});
