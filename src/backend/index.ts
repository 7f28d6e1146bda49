/**
 * The compute backend chooser: tensorflow-gpu -> tensorflow -> wasm -> cpu.
 *
 * `useBackend()` takes the request from its argument, else the environment variable COVER_BACKEND, else "auto".
 * "auto" tries the backends best first, catching every failure (package missing, dlopen errors, no GPU), and
 * says why each better one was not chosen. A named request that cannot be met throws.
 */
import * as tf from "@tensorflow/tfjs";
import {
  builtCandidate, loadBinding, loadedBinding, NativeCandidate, nvidiaGpuVisible, officialGpuCandidate, shortError,
} from "./native";

import { BACKEND_NAMES, BackendName, isBackendName, parseBackendRequest } from "./names";
import { shareIdentityDataOnWasm } from "./wasm-identity";

export { BACKEND_NAMES, isBackendName, parseBackendRequest } from "./names";
export type { BackendName } from "./names";

export interface BackendChoice {
  name: BackendName;
  /** The tfjs backend now active (`tf.getBackend()`): "tensorflow", "wasm" or "cpu". */
  tfBackend: string;
  /** Where it came from, e.g. the native binding's folder. */
  detail: string;
  /** Why each better backend was not chosen (empty for a named request). */
  reasons: { name: BackendName; why: string }[];
}

export class BackendUnavailableError extends Error {
  constructor(readonly backend: BackendName, readonly why: string) {
    super(`backend '${backend}' is not available: ${why}`);
  }
}

function requestFromEnv(): BackendName | "auto" | undefined {
  const value = process.env.COVER_BACKEND;
  return value ? parseBackendRequest(value, "COVER_BACKEND") : undefined;
}

/** Activates a tfjs backend already registered; throws when its initialisation fails. */
async function activate(tfBackend: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(tfBackend);
  } catch (err) {
    throw new Error(`tf.setBackend('${tfBackend}') failed: ${shortError(err)}`);
  }
  if (!ok) throw new Error(`tf.setBackend('${tfBackend}') returned false (its initialisation failed)`);
  await tf.ready();
}

/** Whether the active native backend placed its ops on a GPU (tfjs-node's binding knows). */
function nativeUsesGpu(): boolean {
  const binding = (tf.backend() as { binding?: { isUsingGpuDevice?: () => boolean } }).binding;
  return binding?.isUsingGpuDevice?.() ?? false;
}

/** Tries native candidates in order; the first that loads wins. Throws with every candidate's reason. */
async function activateNative(candidates: NativeCandidate[], none: string): Promise<string> {
  if (candidates.length === 0) throw new Error(none);
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      const binding = loadBinding(candidate);
      await activate("tensorflow");
      return binding.label;
    } catch (err) {
      failures.push(shortError(err));
    }
  }
  throw new Error(failures.join("; "));
}

/** Tries one backend; returns where it came from, throws with a one-line reason. */
async function activateBackend(name: BackendName): Promise<string> {
  switch (name) {
    case "tensorflow-gpu": {
      const gpu = nvidiaGpuVisible();
      if (!gpu.visible) throw new Error(gpu.why);
      const loaded = loadedBinding();
      if (loaded && !loaded.gpuCapable) throw new Error(`a CPU-only native binding is already loaded in this process (${loaded.label})`);
      // native/ first: a --gpu build there targets current CUDA, tfjs-node-gpu's official binary CUDA 11.2
      const candidates = [builtCandidate(), officialGpuCandidate()].filter((c): c is NativeCandidate => !!c && c.gpuCapable);
      const detail = await activateNative(candidates, "no GPU binding: @tensorflow/tfjs-node-gpu is not installed and native/ holds no --gpu build (npm run native:build -- --gpu)");
      if (!nativeUsesGpu()) {
        throw new Error(`${detail} loaded, but TensorFlow found no usable GPU device (CUDA/cuDNN libraries missing or not matching the driver); it runs on the CPU`);
      }
      return detail;
    }
    case "tensorflow": {
      const loaded = loadedBinding();
      const candidates = loaded ? [loaded] : [builtCandidate(), officialGpuCandidate()].filter((c): c is NativeCandidate => !!c);
      return activateNative(candidates, "no native binding built (run npm run native:build) and @tensorflow/tfjs-node-gpu is not installed");
    }
    case "wasm":
      require("@tensorflow/tfjs-backend-wasm");
      shareIdentityDataOnWasm();
      await activate("wasm");
      return "@tensorflow/tfjs-backend-wasm";
    case "cpu":
      await activate("cpu");
      return "@tensorflow/tfjs-backend-cpu (plain JavaScript)";
  }
}

/**
 * The kit's name of the tfjs backend active in this process: what a child process must request to compute the same
 * numbers. Null for tfjs's plain-JavaScript default when no backend was selected (a child then chooses by itself).
 */
export function activeBackendName(): BackendName | null {
  switch (tf.getBackend()) {
    case "tensorflow": return nativeUsesGpu() ? "tensorflow-gpu" : "tensorflow";
    case "wasm": return "wasm";
    default: return null;
  }
}

function choice(name: BackendName, detail: string, reasons: BackendChoice["reasons"]): BackendChoice {
  return { name, tfBackend: tf.getBackend(), detail, reasons };
}

/**
 * Selects the compute backend for this process. `request` (else COVER_BACKEND, else "auto"): a backend name,
 * which must work or this throws BackendUnavailableError, or "auto", the best that works.
 */
export async function useBackend(request?: BackendName | "auto"): Promise<BackendChoice> {
  const wanted = request ?? requestFromEnv() ?? "auto";
  if (wanted !== "auto") {
    if (!isBackendName(wanted)) throw new Error(`unknown backend '${String(wanted)}'; expected auto, ${BACKEND_NAMES.join(", ")}`);
    try {
      return choice(wanted, await activateBackend(wanted), []);
    } catch (err) {
      throw new BackendUnavailableError(wanted, shortError(err));
    }
  }
  const reasons: BackendChoice["reasons"] = [];
  for (const name of BACKEND_NAMES) {
    try {
      return choice(name, await activateBackend(name), reasons);
    } catch (err) {
      reasons.push({ name, why: shortError(err) });
    }
  }
  throw new Error(`no backend works: ${reasons.map((r) => `${r.name}: ${r.why}`).join("; ")}`);
}

/**
 * The backends that work in this process, best first (for benchmarks). Probing activates each in turn and
 * loads a native binding if one exists; the best one is left active.
 */
export async function availableBackends(): Promise<BackendName[]> {
  return (await probeBackends()).filter((p) => p.available).map((p) => p.name);
}

export interface BackendProbe {
  name: BackendName;
  available: boolean;
  /** Where it comes from when available, why not otherwise. */
  detail: string;
}

/** Tries every backend, best first (a GPU binding, once loaded, also serves `tensorflow`); leaves the best active. */
export async function probeBackends(): Promise<BackendProbe[]> {
  const probes: BackendProbe[] = [];
  for (const name of BACKEND_NAMES) {
    try {
      probes.push({ name, available: true, detail: await activateBackend(name) });
    } catch (err) {
      probes.push({ name, available: false, detail: shortError(err) });
    }
  }
  const best = probes.find((p) => p.available);
  if (best) await activateBackend(best.name);
  return probes;
}
