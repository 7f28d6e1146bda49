/**
 * Finding and loading a native TensorFlow binding (tfjs-node's `tfjs_binding.node` on libtensorflow).
 *
 * Two places can hold one:
 *  - node_modules/@tensorflow/tfjs-node-gpu: the official optional dependency (its install script downloads
 *    libtensorflow 2.9.1 / CUDA 11.2, so it is usually absent; npm then drops it).
 *  - <project>/native/node_modules/@tensorflow/tfjs-node: built by `npm run native:build` against a current
 *    TensorFlow pip wheel (CPU, or GPU with --gpu). It cannot live in the project's node_modules because the
 *    danfojs override maps @tensorflow/tfjs-node to plain tfjs (docs/dependencies.md).
 * Both register the tfjs backend `tensorflow`, and only one binding can be loaded per process.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { nativeDir, PROJECT_ROOT } from "../util/paths";

/** What native:build wrote to native/build.json. */
export interface NativeBuildInfo {
  tensorflowVersion: string;
  tfjsNodeVersion: string;
  gpu: boolean;
  wheel: string;
  builtAt: string;
  buildSeconds: number;
}

export interface NativeCandidate {
  /** Human-readable origin, e.g. "native/ (TensorFlow 2.21.0 wheel)". */
  label: string;
  packageDir: string;
  gpuCapable: boolean;
}

export interface LoadedBinding extends NativeCandidate {
  tfjsNodeVersion: string;
}

let loaded: LoadedBinding | undefined;

/** The binding loaded in this process, if any. */
export function loadedBinding(): LoadedBinding | undefined {
  return loaded;
}

export function readBuildInfo(dir = nativeDir()): NativeBuildInfo | undefined {
  const file = join(dir, "build.json");
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as NativeBuildInfo;
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); rerun npm run native:build`);
  }
}

function officialGpuPackageDir(): string | undefined {
  try {
    return dirname(require.resolve("@tensorflow/tfjs-node-gpu/package.json", { paths: [PROJECT_ROOT] }));
  } catch {
    return undefined;
  }
}

export function nativePackageDir(dir = nativeDir()): string {
  return join(dir, "node_modules", "@tensorflow", "tfjs-node");
}

/** The official tfjs-node-gpu package, when npm managed to install it. */
export function officialGpuCandidate(): NativeCandidate | undefined {
  const packageDir = officialGpuPackageDir();
  return packageDir ? { label: `node_modules/@tensorflow/tfjs-node-gpu`, packageDir, gpuCapable: true } : undefined;
}

/** The binding built by native:build, when native/build.json says one was built. */
export function builtCandidate(): NativeCandidate | undefined {
  const info = readBuildInfo();
  if (!info) return undefined;
  const kind = info.gpu ? "GPU" : "CPU";
  return { label: `${nativeDir()} (tfjs-node ${info.tfjsNodeVersion} on TensorFlow ${info.tensorflowVersion}, ${kind})`, packageDir: nativePackageDir(), gpuCapable: info.gpu };
}

/** Whether an NVIDIA GPU is visible to this process (driver loaded, device nodes present). */
export function nvidiaGpuVisible(): { visible: boolean; why: string } {
  if (process.env.CUDA_VISIBLE_DEVICES === "" || process.env.CUDA_VISIBLE_DEVICES === "-1") {
    return { visible: false, why: `CUDA_VISIBLE_DEVICES='${process.env.CUDA_VISIBLE_DEVICES}' hides every GPU` };
  }
  if (!existsSync("/proc/driver/nvidia/version") && !existsSync("/dev/nvidiactl")) {
    return { visible: false, why: "no NVIDIA GPU visible (no /proc/driver/nvidia/version, no /dev/nvidiactl)" };
  }
  return { visible: true, why: "" };
}

function sameFile(a: string, b: string): boolean {
  return resolve(a) === resolve(b);
}

/** The binding must register `tensorflow` on the project's tfjs-core: a backend registered on a second copy is one the kit's tfjs never sees. */
function checkSharedTfjsCore(packageDir: string): void {
  const ours = require.resolve("@tensorflow/tfjs-core", { paths: [PROJECT_ROOT] });
  const theirs = require.resolve("@tensorflow/tfjs-core", { paths: [packageDir] });
  if (!sameFile(ours, theirs)) {
    throw new Error(`${packageDir} resolves a second copy of @tensorflow/tfjs-core (${theirs}); its backend would be invisible ` +
      `to the kit. Remove that copy (npm run native:build does) so that it resolves ${ours}`);
  }
}

function packageVersion(packageDir: string): string {
  return (JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as { version: string }).version;
}

/** Short, one-line form of a load error (dlopen errors carry the missing library's name). */
export function shortError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = (e?.message ?? String(err)).split("\n")[0];
  return e?.code && !text.includes(e.code) ? `${e.code}: ${text}` : text;
}

/**
 * Loads a binding (once per process) and checks that the backend `tensorflow` is now registered on the
 * project's tfjs. Throws with a one-line reason otherwise.
 */
export function loadBinding(candidate: NativeCandidate): LoadedBinding {
  if (loaded) {
    if (sameFile(loaded.packageDir, candidate.packageDir)) return loaded;
    throw new Error(`another native binding is already loaded in this process (${loaded.label})`);
  }
  if (!existsSync(join(candidate.packageDir, "package.json"))) throw new Error(`${candidate.packageDir} is missing`);
  checkSharedTfjsCore(candidate.packageDir);
  process.env.TF_CPP_MIN_LOG_LEVEL ??= "2"; // TensorFlow's start-up chatter on stderr
  try {
    require(candidate.packageDir);
  } catch (err) {
    throw new Error(`loading ${candidate.label} failed: ${shortError(err)}`);
  }
  if (!tf.findBackendFactory("tensorflow")) {
    throw new Error(`${candidate.label} loaded but registered no 'tensorflow' backend on the project's tfjs`);
  }
  loaded = { ...candidate, tfjsNodeVersion: packageVersion(candidate.packageDir) };
  return loaded;
}
