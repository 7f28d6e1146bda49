/**
 * tfjs saves every tensor a gradient needs as a clone (the Identity kernel), and tfjs-backend-wasm's Identity
 * copies the data, where the cpu and webgl backends share it. On wasm every activation kept for the backward pass
 * therefore existed twice, costing heap (the 4 GB cap) and about a tenth of a training step's kernel time (tiny
 * batch 32). tfjs tensors are immutable (a variable's assign swaps its data, never writes into it), so sharing is
 * safe; this registers the sharing Identity for wasm, as the reshape kernel of the same backend already does.
 */
import * as tf from "@tensorflow/tfjs";

interface RefCountingBackend { incRef(dataId: tf.DataId): void }

let registered = false;

export function shareIdentityDataOnWasm(): void {
  if (registered) return;
  tf.unregisterKernel("Identity", "wasm");
  tf.registerKernel({
    kernelName: "Identity",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as unknown as RefCountingBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
  registered = true;
}
