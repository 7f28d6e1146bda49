/** What the active tfjs backend is, for the few places that pick a faster formulation per backend. */
import * as tf from "@tensorflow/tfjs";

/** TensorFlow's native kernels run the ops (backends tensorflow and tensorflow-gpu both register "tensorflow"). */
export function nativeKernelsActive(): boolean {
  return tf.getBackend() === "tensorflow";
}
