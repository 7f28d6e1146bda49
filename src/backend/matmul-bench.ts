/** A quick speed figure per backend: GFLOP/s of an n x n x n float32 matmul (median over about a second). */
import * as tf from "@tensorflow/tfjs";
import { BackendName, useBackend } from "./index";
import { median } from "../util/stats";

export interface MatmulBench {
  backend: BackendName;
  n: number;
  msPerMatmul: number;
  gflopsPerSec: number;
  runs: number;
}


/** Times matMul (including reading the result back) on one backend; at least 3 runs, at most 30 or about 1 s. */
export async function benchMatmul(backend: BackendName, n = 512): Promise<MatmulBench> {
  await useBackend(backend);
  const a = tf.randomNormal([n, n], 0, 1, "float32", 1);
  const b = tf.randomNormal([n, n], 0, 1, "float32", 2);
  const once = async () => { const c = tf.matMul(a, b); await c.data(); c.dispose(); };
  await once(); // warm-up: kernels, weights upload
  const ms: number[] = [];
  const start = performance.now();
  while (ms.length < 3 || (ms.length < 30 && performance.now() - start < 1000)) {
    const t0 = performance.now();
    await once();
    ms.push(performance.now() - t0);
  }
  tf.dispose([a, b]);
  const msPerMatmul = median(ms);
  return { backend, n, msPerMatmul, gflopsPerSec: (2 * n ** 3) / (msPerMatmul * 1e6), runs: ms.length };
}
