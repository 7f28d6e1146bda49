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

/**
 * How the kit runs its training steps and evaluation batches on the native backend. "graph" (default): each is
 * recorded once per input shape as a TensorFlow graph function and run as one op (about twice as fast as eager at
 * the laptop presets); "xla": the same, compiled by XLA; "off": op by op. Other backends always run op by op.
 */
export type CompileMode = "off" | "graph" | "xla";

export const COMPILE_MODES: readonly CompileMode[] = ["off", "graph", "xla"];

/** $COVER_COMPILE, else "graph". */
export function compileModeFromEnv(): CompileMode {
  const value = process.env.COVER_COMPILE;
  if (value === undefined || value === "") return "graph";
  if (!(COMPILE_MODES as readonly string[]).includes(value)) throw new Error(`COVER_COMPILE must be one of ${COMPILE_MODES.join(", ")}, got '${value}'`);
  return value as CompileMode;
}

/**
 * Whether `mode` can compile here: not "off", and graph functions available. Says through `log` why not, once per
 * process, when the native backend runs but its build lacks the recorder (elsewhere eager is simply how the backend
 * runs).
 */
export function compileAvailable(mode: CompileMode, what: string, log: (line: string) => void): boolean {
  if (mode === "off") return false;
  const support = graphSupport();
  if (!support.available && nativeKernelsActive()) {
    const line = `${what}: runs eagerly (${support.why})`;
    if (!saidUnavailable.has(line)) { saidUnavailable.add(line); log(line); }
  }
  return support.available;
}

/** What compileAvailable said already in this process (an experiment evaluates many runs; once is enough). */
const saidUnavailable = new Set<string>();

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

/** Largest relative difference a recorded function may have from the eager computation (float reassociation: ~5e-6). */
export const CHECK_TOLERANCE = 1e-3;

/** What a recording gives back: its outputs, and what the caller needs to call it again (e.g. noise it drew). */
export interface Recorded<Meta> { outputs: tf.Tensor[]; meta: Meta }

/**
 * Graph functions by key, each recorded at its first use. The second run of a key (on other inputs than it was
 * recorded on) is checked against the eager computation: a value captured when it should have been an input shows
 * there, not as silently wrong numbers; a key that fails to record or to agree runs eagerly from then on, and the
 * reason is said once.
 */
export class GraphCache<Meta> {
  private readonly functions = new Map<string, { fn: GraphFunction; meta: Meta; runs: number }>();
  private readonly failed = new Set<string>();
  readonly notes: string[] = [];
  recordSeconds = 0;
  /** Keys whose second run agreed with the eager computation. */
  checked = 0;

  constructor(readonly xla: boolean, private readonly what: string, private readonly onNote: (line: string) => void = () => {}) {}

  /**
   * The outputs of the function for `key` on `inputs` (then `extraInputs(meta)`, the inputs it added while
   * recording, drawn afresh for this call), or undefined where the caller must compute eagerly. `record(addInput)`
   * computes the outputs while recording; `eager(meta)` computes the same outputs, in the same order, eagerly.
   */
  run(key: string, inputs: tf.Tensor[], record: (addInput: (t: tf.Tensor) => void) => Recorded<Meta>,
    extraInputs: (meta: Meta) => tf.Tensor[], eager: (meta: Meta) => tf.Tensor[]): Recorded<Meta> | undefined {
    if (this.failed.has(key)) return undefined;
    let entry = this.functions.get(key);
    if (!entry) {
      let meta: Meta | undefined;
      try {
        const fn = GraphFunction.record(inputs, (addInput) => {
          const recorded = record(addInput);
          meta = recorded.meta;
          return recorded.outputs;
        }, { xla: this.xla });
        entry = { fn, meta: meta as Meta, runs: 0 };
      } catch (err) {
        return this.fail(key, (err as Error).message);
      }
      this.recordSeconds += entry.fn.info.recordSeconds;
      this.functions.set(key, entry);
    }
    const extra = extraInputs(entry.meta);
    let outputs: tf.Tensor[];
    try { outputs = entry.fn.run([...inputs, ...extra]); } finally { tf.dispose(extra); }
    if (++entry.runs === 2) {
      const reference = eager(entry.meta);
      const differs = largestDifference(outputs, reference);
      if (differs > CHECK_TOLERANCE) {
        tf.dispose(outputs);
        entry.fn.dispose();
        this.functions.delete(key);
        this.fail(key, `the recorded ${this.what} differs from the eager one by ${differs.toExponential(1)} (relative), more than ${CHECK_TOLERANCE}`);
        return { outputs: reference, meta: entry.meta };
      }
      tf.dispose(reference);
      this.checked++;
    }
    return { outputs, meta: entry.meta };
  }

  /** One line: how many functions, recorded in how long, how many checked, how many keys run eagerly. */
  summary(unit: string): string {
    return `${this.what}: ${this.xla ? "xla" : "graph"} functions for ${this.functions.size} ${unit} (recorded in ` +
      `${this.recordSeconds.toFixed(1)} s; ${this.checked} checked against the eager ${this.what}), ${this.failed.size} eager`;
  }

  dispose(): void {
    for (const { fn } of this.functions.values()) fn.dispose();
    this.functions.clear();
  }

  private fail(key: string, why: string): undefined {
    this.failed.add(key);
    if (!this.notes.includes(why)) { this.notes.push(why); this.onNote(`${this.what}: runs eagerly where ${why}`); }
    return undefined;
  }
}

/** The largest difference between paired tensors, each relative to the largest magnitude of the second. */
function largestDifference(a: tf.Tensor[], b: tf.Tensor[]): number {
  if (a.length !== b.length) return Infinity;
  return Math.max(0, ...a.map((x, i) => tf.tidy(() => {
    if (!tf.util.arraysEqual(x.shape, b[i].shape)) return Infinity;
    const scale = tf.max(tf.abs(b[i])).dataSync()[0];
    return tf.max(tf.abs(tf.sub(x, b[i]))).dataSync()[0] / Math.max(scale, 1e-12);
  })));
}
