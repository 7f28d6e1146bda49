/**
 * The backend chooser: requests (argument, COVER_BACKEND, auto), clear errors for unavailable backends, and
 * fallbacks past missing or broken native bindings. Native bindings are faked in temporary folders
 * (COVER_NATIVE_DIR) so that these tests never load the real one.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { BACKEND_NAMES, BackendUnavailableError, availableBackends, useBackend } from "../../src/backend";
import { loadedBinding, officialGpuCandidate } from "../../src/backend/native";
import { PROJECT_ROOT } from "../../src/util/paths";
import { tempDir } from "../helpers/tf";

/** Runs `body` with environment variables set (undefined = unset), restoring them afterwards. */
async function withEnv<T>(vars: Record<string, string | undefined>, body: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(values)) { if (v === undefined) delete process.env[k]; else process.env[k] = v; }
  };
  apply(vars);
  try { return await body(); } finally { apply(saved); }
}

/** A native/ folder whose tfjs-node package runs `indexJs` (resolving the project's tfjs-core). */
function fakeNativeDir(indexJs: string): string {
  const dir = tempDir("native");
  const pkg = join(dir, "node_modules", "@tensorflow", "tfjs-node");
  mkdirSync(pkg, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@tensorflow/tfjs-node", version: "0.0.0-fake", main: "index.js" }));
  writeFileSync(join(pkg, "index.js"), indexJs);
  const core = dirname(require.resolve("@tensorflow/tfjs-core/package.json", { paths: [PROJECT_ROOT] }));
  symlinkSync(core, join(dir, "node_modules", "@tensorflow", "tfjs-core"));
  writeFileSync(join(dir, "build.json"), JSON.stringify({ tensorflowVersion: "0.0.0", tfjsNodeVersion: "0.0.0-fake", gpu: false, wheel: "none", builtAt: "", buildSeconds: 0 }));
  return dir;
}

// A real dlopen failure: a .node file that is not a shared object.
const BROKEN_BINDING = `require("fs").writeFileSync(__dirname + "/tfjs_binding.node", "not an ELF file");
require("./tfjs_binding.node");`;

const NO_GPU = { CUDA_VISIBLE_DEVICES: "-1", COVER_BACKEND: undefined };
/** Fake bindings can be tried only while no real one is installed or loaded in this process. */
const fakeBindingsSkip = officialGpuCandidate() !== undefined ? "@tensorflow/tfjs-node-gpu is installed here, so a native binding exists"
  : loadedBinding() !== undefined ? `a native binding is already loaded in this process (${loadedBinding()?.label})` : false;

test("a named backend is used and reported, with no reasons", async () => {
  await withEnv({ COVER_BACKEND: undefined }, async () => {
    const choice = await useBackend("cpu");
    assert.equal(choice.name, "cpu");
    assert.equal(choice.tfBackend, "cpu");
    assert.equal(tf.getBackend(), "cpu");
    assert.deepEqual(choice.reasons, []);
  });
});

test("COVER_BACKEND is honoured when no argument is given, and the argument wins over it", async () => {
  await withEnv({ COVER_BACKEND: "cpu" }, async () => {
    assert.equal((await useBackend()).name, "cpu");
    assert.equal((await useBackend("wasm")).name, "wasm");
    assert.equal(tf.getBackend(), "wasm");
  });
});

test("an unknown COVER_BACKEND is a clear error naming the variable", async () => {
  await withEnv({ COVER_BACKEND: "tpu" }, async () => {
    await assert.rejects(useBackend(), /COVER_BACKEND: unknown backend 'tpu'; expected auto, tensorflow-gpu/);
  });
});

test("a forced unavailable backend throws a clear error saying why", async () => {
  await withEnv(NO_GPU, async () => {
    await assert.rejects(useBackend("tensorflow-gpu"), (err: unknown) => {
      assert.ok(err instanceof BackendUnavailableError);
      assert.equal(err.backend, "tensorflow-gpu");
      assert.match(err.message, /^backend 'tensorflow-gpu' is not available: CUDA_VISIBLE_DEVICES='-1' hides every GPU/);
      return true;
    });
  });
});

test("without a native build, tensorflow is unavailable and auto falls back to wasm, saying why", { skip: fakeBindingsSkip }, async () => {
  await withEnv({ ...NO_GPU, COVER_NATIVE_DIR: tempDir("empty-native") }, async () => {
    await assert.rejects(useBackend("tensorflow"), /backend 'tensorflow' is not available: no native binding built \(run npm run native:build\)/);
    const choice = await useBackend("auto");
    assert.equal(choice.name, "wasm");
    assert.equal(choice.tfBackend, "wasm");
    assert.deepEqual(choice.reasons.map((r) => r.name), ["tensorflow-gpu", "tensorflow"]);
    assert.match(choice.reasons[1].why, /no native binding built/);
  });
});

test("an installed but broken binding (dlopen error) is caught: auto falls back, a named request throws it", { skip: fakeBindingsSkip }, async () => {
  await withEnv({ ...NO_GPU, COVER_NATIVE_DIR: fakeNativeDir(BROKEN_BINDING) }, async () => {
    const choice = await useBackend();
    assert.equal(choice.name, "wasm");
    const why = choice.reasons.find((r) => r.name === "tensorflow")?.why ?? "";
    assert.match(why, /loading .* failed: .*(invalid ELF header|file too short)/);
    await assert.rejects(useBackend("tensorflow"), /backend 'tensorflow' is not available: loading .* failed/);
    assert.equal(loadedBinding(), undefined);
  });
});

test("a binding that loads but registers no 'tensorflow' backend is rejected", { skip: fakeBindingsSkip }, async () => {
  await withEnv({ ...NO_GPU, COVER_NATIVE_DIR: fakeNativeDir("module.exports = {};") }, async () => {
    await assert.rejects(useBackend("tensorflow"), /registered no 'tensorflow' backend on the project's tfjs/);
  });
});

test("a native folder with its own copy of tfjs-core is rejected (its backend would be invisible)", { skip: fakeBindingsSkip }, async () => {
  const dir = tempDir("native-copy");
  const pkg = join(dir, "node_modules", "@tensorflow", "tfjs-node");
  const core = join(dir, "node_modules", "@tensorflow", "tfjs-core");
  mkdirSync(pkg, { recursive: true });
  mkdirSync(core, { recursive: true });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@tensorflow/tfjs-node", version: "0.0.0" }));
  writeFileSync(join(core, "package.json"), JSON.stringify({ name: "@tensorflow/tfjs-core", version: "0.0.0", main: "index.js" }));
  writeFileSync(join(core, "index.js"), "");
  writeFileSync(join(dir, "build.json"), JSON.stringify({ tensorflowVersion: "0", tfjsNodeVersion: "0", gpu: false, wheel: "", builtAt: "", buildSeconds: 0 }));
  await withEnv({ ...NO_GPU, COVER_NATIVE_DIR: dir }, async () => {
    await assert.rejects(useBackend("tensorflow"), /resolves a second copy of @tensorflow\/tfjs-core/);
  });
});

test("availableBackends lists the working backends best first and leaves the best active", async () => {
  await withEnv({ ...NO_GPU, COVER_NATIVE_DIR: tempDir("empty-native") }, async () => {
    const names = await availableBackends();
    assert.ok(names.includes("wasm") && names.includes("cpu"), `got ${names.join(",")}`);
    assert.ok(!names.includes("tensorflow-gpu"));
    const order = names.map((n) => BACKEND_NAMES.indexOf(n));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    assert.equal(tf.getBackend(), names[0] === "tensorflow" ? "tensorflow" : names[0]);
  });
});
