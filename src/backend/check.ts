/** A quick correctness check of the active backend: a matmul compared with plain JavaScript. */
import * as tf from "@tensorflow/tfjs";

export interface BackendCheck {
  tfBackend: string;
  /** libtensorflow's own version (TF_Version()) on the native backend. */
  tensorflowVersion?: string;
  shape: [number, number, number];
  maxAbsDiff: number;
  ok: boolean;
}

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(seed + i * 0.37) * 0.5;
  return out;
}

/** Multiplies [m,k] x [k,n] on the active backend and in float64 JavaScript; ok when they agree to 1e-4. */
export async function checkActiveBackend(m = 96, k = 80, n = 64): Promise<BackendCheck> {
  const a = values(m * k, 1);
  const b = values(k * n, 2);
  const product = tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])));
  const got = await product.data();
  product.dispose();
  let maxAbsDiff = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(s - got[i * n + j]));
    }
  }
  const binding = (tf.backend() as { binding?: { TF_Version?: string } }).binding;
  return { tfBackend: tf.getBackend(), tensorflowVersion: binding?.TF_Version, shape: [m, k, n], maxAbsDiff, ok: maxAbsDiff < 1e-4 };
}
