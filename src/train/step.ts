/**
 * One micro-batch of COVER's objective: L = sum_i w_i * CE_i over the datasets present in the batch (Sec. 3.3), each
 * CE_i the mean cross-entropy of dataset i's clips under its own head; images are 1-frame clips of the same model.
 */
import type { Batch, BatchGroup } from "../data/batches";
import * as tf from "@tensorflow/tfjs";
import { TimeSformer } from "../model/timesformer";
import { nativeKernelsActive } from "../backend/active";
import { GraphFunction, graphSupport } from "../backend/graph";
import { dropPathSeed, randomUniform, UniformDraw } from "../model/layers";

/** The clips of one dataset within a batch: x is float32 [n, T, S, S, 3]. */

export interface StepLosses { total: number; perDataset: Record<string, number> }

export interface GradientResult { grads: Map<string, tf.Tensor>; losses: StepLosses }

export interface StepOptions {
  labelSmoothing: number;
  seed: number;
  trainable: Map<string, tf.Variable>;
  /** Runs the step as a recorded graph function where it can (native backend); eagerly otherwise. */
  compiled?: CompiledSteps;
}

/**
 * Loss and gradients (by parameter name) of one micro-batch. The groups whose clips have the same shape (the video
 * datasets, sharing T; the image datasets, T = 1) go through the backbone as one pass, and their features are split
 * for the heads: fewer, larger kernels than a pass per dataset, the same function of the inputs (nothing in the
 * model mixes the clips of a batch). Drop path draws its masks per pass.
 */
export function lossAndGradients(model: TimeSformer, batch: Batch, lossWeights: Record<string, number>, options: StepOptions): GradientResult {
  for (const g of batch.groups) {
    if (lossWeights[g.dataset] === undefined) throw new Error(`batch holds dataset '${g.dataset}', which has no loss weight`);
  }
  const inputs = batchTensors(batch, options.compiled?.datasetsByShape(batch, Object.keys(lossWeights)) ?? datasetsOfBatch(batch));
  try {
    const step = options.compiled?.run(model, inputs, lossWeights, options)
      ?? lossTensors(model, inputs, lossWeights, options);
    return readStep(step, inputs, batch);
  } finally {
    tf.dispose(inputs.flatMap((p) => [p.clips, p.labels, ...p.weights]));
  }
}

/**
 * One backbone pass of a micro-batch: the clips of one shape, their labels, and per dataset of that shape a weight
 * per clip, 1 / (that dataset's clips in the batch) for its clips and 0 for the others, so that the weighted sum of
 * a head's per-clip losses is the dataset's mean loss CE_i. A dataset without clips in the batch has all-zero
 * weights: its head adds nothing, and its gradients are dropped (readStep).
 */
export interface PassTensors { shape: string; datasets: string[]; clips: tf.Tensor5D; labels: tf.Tensor1D; weights: tf.Tensor1D[] }

/** The clip shape a pass is keyed by ([T, H, W, C]). */
function shapeKey(g: BatchGroup): string { return g.shape.slice(1).join("x"); }

/** The datasets of the batch by clip shape, in order of first appearance. */
function datasetsOfBatch(batch: Batch): Map<string, string[]> {
  const byShape = new Map<string, string[]>();
  for (const g of batch.groups) byShape.set(shapeKey(g), [...(byShape.get(shapeKey(g)) ?? []), g.dataset]);
  return byShape;
}

/** The batch's passes; each pass has the heads of `datasetsByShape` for its shape (a superset of the batch's). */
function batchTensors(batch: Batch, datasetsByShape: Map<string, string[]>): PassTensors[] {
  const passes = new Map<string, BatchGroup[]>();
  for (const g of batch.groups) passes.set(shapeKey(g), [...(passes.get(shapeKey(g)) ?? []), g]);
  return [...passes].map(([shape, groups]) => {
    const n = groups.reduce((sum, g) => sum + g.labels.length, 0);
    const datasets = datasetsByShape.get(shape)!;
    const labels = new Int32Array(n);
    const weights = datasets.map(() => new Float32Array(n));
    let offset = 0;
    for (const g of groups) {
      labels.set(g.labels, offset);
      weights[datasets.indexOf(g.dataset)].fill(1 / g.labels.length, offset, offset + g.labels.length);
      offset += g.labels.length;
    }
    return { shape, datasets, clips: stackClips(groups), labels: tf.tensor1d(labels, "int32"), weights: weights.map((w) => tf.tensor1d(w)) };
  });
}

/**
 * The tensors of one step: the total loss, each pass's per-dataset losses (pass order, then the pass's datasets),
 * the gradients by parameter name (in trainable order).
 */
export interface StepTensors { total: tf.Scalar; perDataset: tf.Scalar[]; grads: Map<string, tf.Tensor> }

/** The seed of a micro-batch's pass (drop path draws its masks from it). */
function passSeed(stepSeed: number, pass: number): number { return stepSeed * 7919 + pass; }

/**
 * L = sum_i w_i * CE_i and its gradients with respect to the trainable parameters, as tensors. `uniformOf(pass)`
 * replaces the pass's drop path noise (a recorded step makes it an input).
 */
export function lossTensors(
  model: TimeSformer, passes: PassTensors[], lossWeights: Record<string, number>, options: StepOptions,
  uniformOf?: (pass: number) => UniformDraw,
): StepTensors {
  const perDataset: tf.Scalar[] = [];
  const { value, grads } = tf.variableGrads(() => {
    let total: tf.Scalar = tf.scalar(0);
    passes.forEach((p, pass) => {
      const features = model.features(p.clips, { training: true, seed: passSeed(options.seed, pass), uniform: uniformOf?.(pass) });
      p.datasets.forEach((dataset, d) => {
        const logits = model.classify(features, dataset);
        const targets = tf.oneHot(p.labels, model.config.classifiers[dataset]);
        const ce = tf.losses.softmaxCrossEntropy(targets, logits, p.weights[d], options.labelSmoothing, tf.Reduction.SUM) as tf.Scalar;
        perDataset.push(tf.keep(ce));
        total = tf.add(total, tf.mul(ce, lossWeights[dataset]));
      });
    });
    return total;
  }, [...options.trainable.values()]);
  const byName = new Map<string, tf.Tensor>();
  for (const [name, v] of options.trainable) if (grads[v.name]) byName.set(name, grads[v.name]);
  return { total: value, perDataset, grads: byName };
}

/**
 * Reads the losses (the only values a step reads back) of the batch's datasets, drops the gradients of heads whose
 * dataset has no clips in the batch (the optimiser leaves such heads alone), disposes the rest.
 */
function readStep(step: StepTensors, passes: PassTensors[], batch: Batch): GradientResult {
  const present = new Set(batch.groups.map((g) => g.dataset));
  const perDataset: Record<string, number> = {};
  passes.flatMap((p) => p.datasets).forEach((dataset, i) => {
    if (present.has(dataset)) perDataset[dataset] = step.perDataset[i].dataSync()[0];
  });
  const total = step.total.dataSync()[0];
  tf.dispose([step.total, ...step.perDataset]);
  for (const [name, g] of step.grads) {
    const head = /^model\.heads\.([^.]+)\./.exec(name)?.[1];
    if (head !== undefined && !present.has(head)) { g.dispose(); step.grads.delete(name); }
  }
  return { grads: step.grads, losses: { total, perDataset } };
}

/**
 * How a training step runs. "graph": recorded once per batch layout as a TensorFlow graph function and run as one op
 * (native backend only; about twice as fast as eager at the laptop presets); "xla": the same, compiled by XLA;
 * "eager": op by op. Where "graph" or "xla" is not available (wasm, cpu, a native build without the recorder) the
 * step runs eagerly.
 */
export type StepMode = "eager" | "graph" | "xla";

export const STEP_MODES: readonly StepMode[] = ["eager", "graph", "xla"];

/** $COVER_STEP, else "graph". */
export function stepModeFromEnv(): StepMode {
  const value = process.env.COVER_STEP;
  if (value === undefined || value === "") return "graph";
  if (!(STEP_MODES as readonly string[]).includes(value)) throw new Error(`COVER_STEP must be one of ${STEP_MODES.join(", ")}, got '${value}'`);
  return value as StepMode;
}

/**
 * The compiled steps for `mode`, or undefined where steps run eagerly: mode "eager", or a backend without graph
 * functions (said once through `log` when the native backend runs but its build lacks the recorder).
 */
export function compiledSteps(mode: StepMode, log: (line: string) => void): CompiledSteps | undefined {
  if (mode === "eager") return undefined;
  const support = graphSupport();
  if (!support.available) {
    if (nativeKernelsActive()) log(`step: runs eagerly (${support.why})`);
    return undefined;
  }
  return new CompiledSteps(mode === "xla", log);
}

/** A drop path draw of a recorded step: which pass, its place in the pass, its shape. */
interface NoiseDraw { pass: number; index: number; shape: [number, number] }

/**
 * The step as graph functions, one per batch layout (how many clips of each shape; which datasets share a shape
 * comes from what was seen, so it settles after the first batches), recorded at its first use and then run as one op; with `xla`, compiled by XLA. Drop path's noise is drawn eagerly, from the
 * same seeds as an eager step, and passed in. Where a step cannot be recorded (an op the recorder does not handle)
 * it runs eagerly, and `notes` says why, once.
 */
export class CompiledSteps {
  private readonly functions = new Map<string, { fn: GraphFunction; draws: NoiseDraw[]; gradNames: string[]; runs: number }>();
  private readonly failed = new Set<string>();
  readonly notes: string[] = [];
  recordSeconds = 0;

  /** Every dataset seen so far, by clip shape: a pass computes all of its shape's heads, so that its function depends on the number of clips only. */
  private readonly seenByShape = new Map<string, string[]>();

  constructor(readonly xla: boolean, private readonly onNote: (line: string) => void = () => {}) {}

  /**
   * The heads each pass of `batch` computes: every dataset of that clip shape seen so far, in the order of `order`
   * (the run's datasets), so that a resumed run records the same functions whatever it sees first.
   */
  datasetsByShape(batch: Batch, order: string[]): Map<string, string[]> {
    for (const g of batch.groups) {
      const seen = this.seenByShape.get(shapeKey(g)) ?? [];
      if (!seen.includes(g.dataset)) this.seenByShape.set(shapeKey(g), [...seen, g.dataset].sort((a, b) => order.indexOf(a) - order.indexOf(b)));
    }
    return this.seenByShape;
  }

  /** The step's tensors from the layout's function, or undefined where this step must run eagerly. */
  run(model: TimeSformer, inputs: PassTensors[], lossWeights: Record<string, number>, options: StepOptions): StepTensors | undefined {
    const key = layoutKey(inputs, [...options.trainable.keys()], lossWeights, options.labelSmoothing);
    if (this.failed.has(key)) return undefined;
    const params = [...model.params.values()];
    const runtime = [...params, ...inputs.flatMap((p) => [p.clips, p.labels, ...p.weights])];
    let recorded = this.functions.get(key);
    if (!recorded) {
      const draws: NoiseDraw[] = [];
      let gradNames: string[] = [];
      try {
        const fn = GraphFunction.record(runtime, (addInput) => {
          const uniformOf = (pass: number): UniformDraw => (shape, seed, index) => {
            const noise = randomUniform(shape, seed, index);
            addInput(noise);
            draws.push({ pass, index, shape });
            return noise;
          };
          const step = lossTensors(model, inputs, lossWeights, options, uniformOf);
          gradNames = [...step.grads.keys()];
          return [step.total, ...step.perDataset, ...step.grads.values()];
        }, { xla: this.xla });
        recorded = { fn, draws, gradNames, runs: 0 };
      } catch (err) {
        this.failed.add(key);
        return this.eager((err as Error).message);
      }
      this.recordSeconds += recorded.fn.info.recordSeconds;
      this.functions.set(key, recorded);
    }
    const noise = recorded.draws.map((d) => randomUniform(d.shape, dropPathSeed(passSeed(options.seed, d.pass), d.index), d.index));
    let outputs: tf.Tensor[];
    try { outputs = recorded.fn.run([...runtime, ...noise]); } finally { tf.dispose(noise); }
    const [total, ...rest] = outputs;
    const losses = inputs.reduce((n, p) => n + p.datasets.length, 0);
    const grads = new Map(recorded.gradNames.map((name, i) => [name, rest[losses + i]]));
    const step: StepTensors = { total: total as tf.Scalar, perDataset: rest.slice(0, losses) as tf.Scalar[], grads };
    // The second run of a layout (other clips and noise than it was recorded on) is checked against the eager step:
    // a value captured when it should have been an input shows here, not as a silently wrong training.
    if (++recorded.runs === 2) {
      const eager = lossTensors(model, inputs, lossWeights, options);
      const differs = stepDifference(step, eager);
      const wrong = differs > CHECK_TOLERANCE ? step : eager;
      tf.dispose([wrong.total, ...wrong.perDataset, ...wrong.grads.values()]);
      if (differs > CHECK_TOLERANCE) {
        recorded.fn.dispose();
        this.functions.delete(key);
        this.failed.add(key);
        this.eager(`the recorded step differs from the eager one by ${differs.toExponential(1)} (relative), more than ${CHECK_TOLERANCE}`);
        return eager;
      }
      this.checked++;
    }
    return step;
  }

  /** How many batch layouts were checked against the eager step (and agreed). */
  checked = 0;

  /** One line: how many layouts were recorded, in how long, how many checked, and which ran eagerly. */
  summary(): string {
    return `step: ${this.xla ? "xla" : "graph"} functions for ${this.functions.size} batch layouts (recorded in ` +
      `${this.recordSeconds.toFixed(1)} s; ${this.checked} checked against the eager step), ${this.failed.size} eager`;
  }

  dispose(): void {
    for (const { fn } of this.functions.values()) fn.dispose();
    this.functions.clear();
  }

  private eager(why: string): undefined {
    if (!this.notes.includes(why)) { this.notes.push(why); this.onNote(`step: a batch layout runs eagerly (${why})`); }
    return undefined;
  }
}

/** Largest relative difference a recorded step may have from the eager one (float reassociation gives ~5e-6). */
const CHECK_TOLERANCE = 1e-3;

/** The largest difference between two steps' tensors, each relative to the largest magnitude of the eager tensor. */
function stepDifference(a: StepTensors, b: StepTensors): number {
  const pairs: [tf.Tensor, tf.Tensor][] = [[a.total, b.total], ...a.perDataset.map((t, i): [tf.Tensor, tf.Tensor] => [t, b.perDataset[i]]),
    ...[...a.grads].map(([name, t]): [tf.Tensor, tf.Tensor] => [t, b.grads.get(name)!])];
  return Math.max(...pairs.map(([x, y]) => tf.tidy(() => {
    const scale = tf.max(tf.abs(y)).dataSync()[0];
    return tf.max(tf.abs(tf.sub(x, y))).dataSync()[0] / Math.max(scale, 1e-12);
  })));
}

/** What a recorded step depends on besides its inputs' values. */
function layoutKey(inputs: PassTensors[], trainable: string[], lossWeights: Record<string, number>, labelSmoothing: number): string {
  const passes = inputs.map((p) => `${p.clips.shape[0]}x${p.shape}:${p.datasets.join("+")}`).join("|");
  return JSON.stringify([passes, trainable, lossWeights, labelSmoothing]);
}

/** One float32 tensor [sum of n, T, S, S, 3] of the groups' clips, in group order. */
function stackClips(groups: BatchGroup[]): tf.Tensor5D {
  if (groups.length === 1) return tf.tensor(groups[0].x, groups[0].shape) as tf.Tensor5D;
  const x = new Float32Array(groups.reduce((n, g) => n + g.x.length, 0));
  let offset = 0;
  for (const g of groups) { x.set(g.x, offset); offset += g.x.length; }
  const [, T, H, W, C] = groups[0].shape;
  return tf.tensor5d(x, [groups.reduce((n, g) => n + g.shape[0], 0), T, H, W, C]);
}

/** Variables of the model that a step may change: the backbone unless frozen, and the heads of `heads`. */
export function trainableParams(model: TimeSformer, options: { freezeBackbone: boolean; heads: string[] }): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, v] of model.params) {
    const head = /^model\.heads\.([^.]+)\./.exec(name)?.[1];
    if (head !== undefined ? options.heads.includes(head) : !options.freezeBackbone) out.set(name, v);
  }
  return out;
}
