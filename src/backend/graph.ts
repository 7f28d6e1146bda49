/**
 * Graph functions on the native backend: a tfjs computation recorded once as a TensorFlow graph and then run as one
 * op, optionally compiled with XLA (which fuses the elementwise passes that dominate a small model's step).
 *
 * The kit's own native build adds a recorder to tfjs-node's binding (graphBegin ... graphDelete). While it records,
 * each op tfjs executes becomes a graph node whose output shapes come from TensorFlow's shape inference, so the
 * JavaScript side runs unchanged. The function's inputs are the tensors named as such (by position); any other
 * tensor the computation reads is captured by value, as a constant of the graph. So a value that changes between
 * calls (a parameter, a batch, a learning rate) must be an input: a caller checks the function against the eager
 * computation on inputs other than those it was recorded on. Reading a value while recording (dataSync) fails the
 * recording, never silently.
 */
import * as tf from "@tensorflow/tfjs";
import { nativeKernelsActive } from "./active";

interface TensorMetadata { id: number; shape: number[]; dtype: number }

interface GraphBinding {
  graphBegin(inputIds: number[]): void;
  graphInput(id: number): void;
  graphAbort(): void;
  graphEnd(outputIds: number[], xla: boolean): { id: number; capturedShapes: number[][]; capturedElements: number };
  graphRun(id: number, inputIds: number[]): TensorMetadata[];
  graphDelete(id: number): void;
}

/** The parts of tfjs-node's kernel backend (4.22.0) a graph function needs. */
interface NodeBackend {
  binding: Partial<GraphBinding>;
  tensorMap: { get(dataId: object): { id: number | null } | undefined };
  getInputTensorIds(tensors: tf.Tensor[]): number[];
  createOutputTensor(metadata: TensorMetadata): tf.Tensor;
}

export class GraphUnavailableError extends Error {}

function nodeBackend(): NodeBackend & { binding: GraphBinding } {
  if (!nativeKernelsActive()) throw new GraphUnavailableError(`graph functions need the native backend (active: ${tf.getBackend()})`);
  const backend = tf.backend() as unknown as NodeBackend;
  if (typeof backend.binding?.graphBegin !== "function") {
    throw new GraphUnavailableError("the native binding has no graph recorder (built before it existed: npm run native:build)");
  }
  return backend as NodeBackend & { binding: GraphBinding };
}

/** Whether graph functions can be made in this process, and if not, why. */
export function graphSupport(): { available: true } | { available: false; why: string } {
  try {
    nodeBackend();
    return { available: true };
  } catch (err) {
    return { available: false, why: (err as Error).message };
  }
}

export interface GraphFunctionInfo {
  /** Shapes of the tensors captured by value when recorded (constants, axes, cached scalars). */
  capturedShapes: number[][];
  capturedElements: number;
  /** Seconds spent recording (compilation, with XLA, happens at the first call). */
  recordSeconds: number;
}

/** A recorded computation: `run` takes tensors of the recorded shapes and dtypes, in the recorded order. */
export class GraphFunction {
  private deleted = false;

  private constructor(private readonly id: number, readonly outputs: number, readonly info: GraphFunctionInfo) {}

  /**
   * Records `compute` on `inputs` (the tensors that change between calls; `compute` reads them through its
   * closure, e.g. a model's variables) and returns it as a function of them. `compute` may add inputs while it
   * runs (`addInput`, e.g. for random noise it draws); they follow `inputs`, in the order added. Throws if anything
   * in `compute` cannot be recorded; nothing of it is left behind then.
   */
  static record(inputs: tf.Tensor[], compute: (addInput: (t: tf.Tensor) => void) => tf.Tensor[], options: { xla: boolean }): GraphFunction {
    const backend = nodeBackend();
    const t0 = performance.now();
    backend.binding.graphBegin(backend.getInputTensorIds(inputs));
    let outputs: tf.Tensor[] = [];
    try {
      const addInput = (t: tf.Tensor) => backend.binding.graphInput(backend.getInputTensorIds([t])[0]);
      outputs = tf.tidy(() => compute(addInput));
      const outputIds = outputs.map((t) => backend.tensorMap.get(t.dataId)?.id ?? NaN);
      if (outputIds.some((id) => !Number.isInteger(id))) throw new Error("an output of the recorded computation holds no tensor");
      const made = backend.binding.graphEnd(outputIds, options.xla);
      const fn = new GraphFunction(made.id, outputs.length,
        { capturedShapes: made.capturedShapes, capturedElements: made.capturedElements, recordSeconds: (performance.now() - t0) / 1000 });
      return fn;
    } catch (err) {
      backend.binding.graphAbort();
      throw new GraphUnavailableError(`recording failed: ${(err as Error).message}`);
    } finally {
      for (const t of outputs) t.dispose();
    }
  }

  /** Runs the function; the caller owns the returned tensors. */
  run(inputs: tf.Tensor[]): tf.Tensor[] {
    if (this.deleted) throw new Error("graph function used after dispose()");
    const backend = nodeBackend();
    const metadata = backend.binding.graphRun(this.id, backend.getInputTensorIds(inputs));
    return metadata.map((m) => backend.createOutputTensor(m));
  }

  dispose(): void {
    if (this.deleted) return;
    this.deleted = true;
    nodeBackend().binding.graphDelete(this.id);
  }
}
