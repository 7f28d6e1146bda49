/** Pieces of native:build that run without compiling anything. The full build runs in .ci/native.sh. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { lstatSync, mkdirSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { cudaRequirements, shareProjectTfjs, wheelPackageName, wheelVersion } from "../../scripts/lib/native-build";
import { PROJECT_ROOT } from "../../src/util/paths";
import { tempDir } from "../helpers/tf";

test("TensorFlow's version is read from wheel file names; other names are refused", () => {
  assert.equal(wheelVersion("/x/tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl"), "2.21.0");
  assert.equal(wheelVersion("tensorflow-2.20.0rc1-cp312-cp312-manylinux_2_17_x86_64.whl"), "2.20.0rc1");
  assert.throws(() => wheelVersion("torch-2.5.0-cp311-none-linux_x86_64.whl"), /torch-2\.5\.0.*not a TensorFlow wheel name/);
  assert.equal(wheelPackageName(false), "tensorflow-cpu");
  assert.equal(wheelPackageName(true), "tensorflow");
});

test("the and-cuda requirements are taken from a wheel's METADATA, and nothing else", () => {
  // Lines as in tensorflow_cpu-2.21.0's METADATA (the GPU wheel lists the same extras).
  const metadata = [
    "Requires-Dist: numpy>=1.26.0",
    'Requires-Dist: nvidia-cublas-cu12<13.0,>=12.5.3.2; extra == "and-cuda"',
    'Requires-Dist: nvidia-cudnn-cu12<10.0,>=9.3.0.75; extra == "and-cuda"',
    'Requires-Dist: tensorflow-io-gcs-filesystem>=0.23.1; (sys_platform != "win32" and python_version < "3.13") and extra == "gcs-filesystem"',
  ].join("\n");
  assert.deepEqual(cudaRequirements(metadata), ["nvidia-cublas-cu12<13.0,>=12.5.3.2", "nvidia-cudnn-cu12<10.0,>=9.3.0.75"]);
  assert.deepEqual(cudaRequirements("Requires-Dist: numpy"), []);
});

test("the native folder's tfjs copies are replaced by links to the project's, tfjs-node is kept", () => {
  const dir = tempDir("share");
  const scope = join(dir, "node_modules", "@tensorflow");
  for (const name of ["tfjs-node", "tfjs-core", "tfjs", "tfjs-not-in-project"]) {
    mkdirSync(join(scope, name), { recursive: true });
    writeFileSync(join(scope, name, "package.json"), JSON.stringify({ name: `@tensorflow/${name}`, version: "0.0.0" }));
  }
  const linked = shareProjectTfjs(dir);
  assert.deepEqual(linked.sort(), ["tfjs", "tfjs-core"]);
  const projectCore = dirname(require.resolve("@tensorflow/tfjs-core/package.json", { paths: [PROJECT_ROOT] }));
  assert.equal(readlinkSync(join(scope, "tfjs-core")), projectCore);
  assert.equal(realpathSync(require.resolve("@tensorflow/tfjs-core", { paths: [join(scope, "tfjs-node")] })),
    realpathSync(require.resolve("@tensorflow/tfjs-core", { paths: [PROJECT_ROOT] })));
  assert.ok(!lstatSync(join(scope, "tfjs-node")).isSymbolicLink());
  assert.ok(!lstatSync(join(scope, "tfjs-not-in-project")).isSymbolicLink());
});
