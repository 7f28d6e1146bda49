/**
 * `npm run native:build -- [--wheel F] [--tf-version V] [--libtensorflow DIR] [--gpu] [--dir D]`
 *
 * Builds the native `tensorflow` backend (tfjs-node's binding) against a TensorFlow pip wheel's libtensorflow
 * into native/, checks that it loads and computes a correct matmul, and records native/build.json so that the
 * backend chooser picks `tensorflow` from then on. See docs/native-backend.md.
 */
import { spawnSync } from "node:child_process";
import { existsSync, renameSync } from "node:fs";
import { join, relative } from "node:path";
import { buildNative, NativeBuildError } from "./lib/native-build";
import type { BackendCheck } from "../src/backend/check";
import { nvidiaGpuVisible } from "../src/backend/native";
import { nativeDir, PROJECT_ROOT } from "../src/util/paths";
import { writeFileAtomic } from "../src/util/atomic";
import { Flags, parseFlags, UsageError } from "../src/cli/args";

const USAGE = `usage: npm run native:build -- [--wheel FILE.whl] [--tf-version V] [--libtensorflow DIR] [--gpu] [--dir DIR]

  --wheel FILE         a TensorFlow wheel already on disk (any Python version's; tensorflow-cpu or tensorflow)
  --tf-version V       the version pip downloads when no wheel is given (default 2.21.0)
  --libtensorflow DIR  a folder with libtensorflow(_cc).so.2 + libtensorflow_framework.so.2 (in DIR or DIR/lib) and include/
  --gpu                build against the CUDA wheel (tensorflow + its NVIDIA CUDA 12 libraries)
  --dir DIR            output folder (default: native/ in the project, or COVER_NATIVE_DIR)`;

const FALLBACK = "Nothing else changed: the kit keeps working on the wasm backend (npx cover backend shows the choice).";

const started = performance.now();

function log(line: string): void {
  console.log(`[native:build ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`);
}

/**
 * Loads the fresh build in a child process (a crash there cannot take this one down) and runs a matmul.
 * Returns libtensorflow's own version string.
 */
function verify(dir: string, gpu: boolean): string | undefined {
  const gpuVisible = nvidiaGpuVisible();
  if (gpu && !gpuVisible.visible) log(`GPU build, but ${gpuVisible.why}: verifying that it loads and runs on the CPU only`);
  const backend = gpu && gpuVisible.visible ? "tensorflow-gpu" : "tensorflow";
  log(`verifying: cover backend --backend ${backend} --check`);
  const result = spawnSync(process.execPath, [join(PROJECT_ROOT, "bin", "cover.js"), "backend", "--backend", backend, "--check", "--json"], {
    encoding: "utf8", env: { ...process.env, COVER_NATIVE_DIR: dir },
  });
  let report: { detail?: string; check?: BackendCheck } = {};
  try { report = JSON.parse(result.stdout) as typeof report; } catch { /* reported below */ }
  if (result.status !== 0 || !report.check?.ok) {
    const hint = gpu
      ? "a GPU build needs an NVIDIA driver; its CUDA libraries come from the wheel's and-cuda packages (native/libtensorflow/lib)"
      : "a dlopen error names the missing library or symbol: the library and the headers must come from the same TensorFlow";
    throw new NativeBuildError("verify", `the built binding does not work:\n${`${result.stdout}${result.stderr}`.trim()}`, hint);
  }
  const c = report.check;
  log(`  loaded ${report.detail}; TF_Version() = ${c.tensorflowVersion}; ${c.shape.join("x")} matmul max |diff| ${c.maxAbsDiff.toExponential(2)} vs JavaScript`);
  return c.tensorflowVersion;
}

function main(): number {
  let flags: Flags;
  let options;
  try {
    flags = parseFlags(process.argv.slice(2), { wheel: "string", "tf-version": "string", libtensorflow: "string", gpu: "boolean", dir: "string" });
    if (flags.bool("help")) { console.log(USAGE); return 0; }
    options = {
      wheel: flags.string("wheel"),
      tfVersion: flags.string("tf-version") ?? "2.21.0",
      libtensorflow: flags.string("libtensorflow"),
      gpu: flags.bool("gpu"),
      dir: flags.string("dir") ?? nativeDir(),
      log,
    };
    flags.rejectUnknown();
    if (options.wheel && options.libtensorflow) throw new UsageError("give --wheel or --libtensorflow, not both");
  } catch (err) {
    if (err instanceof UsageError) { console.error(`native:build: ${err.message}\n\n${USAGE}`); return 2; }
    throw err;
  }
  const buildJson = join(options.dir, "build.json");
  const t0 = performance.now();
  const hadBuild = existsSync(buildJson);
  try {
    const info = buildNative(options);
    writeFileAtomic(buildJson, JSON.stringify(info, null, 2) + "\n");
    const runtimeVersion = verify(options.dir, options.gpu);
    if (runtimeVersion && runtimeVersion !== info.tensorflowVersion) {
      info.tensorflowVersion = runtimeVersion;
      writeFileAtomic(buildJson, JSON.stringify(info, null, 2) + "\n");
    }
    const seconds = ((performance.now() - t0) / 1000).toFixed(1);
    log(`done in ${seconds} s: TensorFlow ${info.tensorflowVersion} (${info.gpu ? "GPU" : "CPU"}) in ${relative(process.cwd(), options.dir) || "."}; ` +
      `the chooser now picks '${info.gpu && nvidiaGpuVisible().visible ? "tensorflow-gpu" : "tensorflow"}'`);
    return 0;
  } catch (err) {
    try { renameSync(buildJson, join(options.dir, "build.failed.json")); } catch { /* none written */ }
    const fallback = hadBuild && !existsSync(buildJson)
      ? `The previous native build in ${options.dir} is disabled; the kit runs on wasm until a build succeeds (npx cover backend shows the choice).`
      : FALLBACK;
    if (err instanceof NativeBuildError) {
      console.error(`[native:build] FAILED at ${err.message}\n[native:build] what to try: ${err.hint}\n[native:build] ${fallback}`);
    } else {
      console.error(`[native:build] FAILED: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n[native:build] ${fallback}`);
    }
    return 1;
  }
}

process.exitCode = main();
