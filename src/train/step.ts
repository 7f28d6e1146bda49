/**
 * One micro-batch of COVER's objective: L = sum_i w_i * CE_i over the datasets present in the batch (Sec. 3.3), each
 * CE_i the mean cross-entropy of dataset i's clips under its own head; images are 1-frame clips of the same model.
 */
import type { Batch, BatchGroup } from "../data/batches";
import * as tf from "@tensorflow/tfjs";
import { TimeSformer } from "../model/timesformer";
import { CompileMode, compileAvailable, GraphCache } from "../backend/graph";
import { dropPathSeed, randomUniform, UniformDraw } from "../model/layers";
import { GradientsResult, gradTensors, ModelWorker, PartData } from "./model-worker";

/** The clips of one dataset within a batch: x is float32 [n, T, S, S, 3]. */

export interface StepLosses { total: number; perDataset: Record<string, number> }

export interface GradientResult { grads: Map<string, tf.Tensor>; losses: StepLosses }

export interface StepOptions {
  labelSmoothing: number;
  seed: number;
  trainable: Map<string, tf.Variable>;
  /** Runs the step as a recorded graph function where it can (native backend); eagerly otherwise. */
  compiled?: CompiledSteps;
  /** Computes the second half of every pass's clips in a worker thread (eager steps only; see model-worker.ts). */
  worker?: ModelWorker;
}

/**
 * Loss and gradients (by parameter name) of one micro-batch. The groups whose clips have the same shape (the video
 * datasets, sharing T; the image datasets, T = 1) go through the backbone as one pass, and each head of the pass
 * scores all of its clips, weighted per clip (PassTensors): fewer, larger kernels than a pass per dataset, the same
 * function of the inputs (nothing in the model mixes the clips of a batch). Drop path draws its masks per pass.
 */
export function lossAndGradients(model: TimeSformer, batch: Batch, lossWeights: Record<string, number>, options: StepOptions): GradientResult {
  for (const g of batch.groups) {
    if (lossWeights[g.dataset] === undefined) throw new Error(`batch holds dataset '${g.dataset}', which has no loss weight`);
  }
  const inputs = batchTensors(batch, options.compiled?.datasetsByShape(batch, Object.keys(lossWeights)) ?? datasetsOfBatch(batch));
  try {
    const step = options.compiled?.run(model, inputs, lossWeights, options)
      ?? (options.worker && lossTensorsWithWorker(model, inputs, lossWeights, options, options.worker))
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
export interface PassTensors {
  shape: string; datasets: string[]; clips: tf.Tensor5D; labels: tf.Tensor1D; weights: tf.Tensor1D[];
  /** The pass's place in its micro-batch (seeds its drop path noise); its place in the list by default. */
  index?: number;
  /** These clips are rows [start, start + clips) of a pass of `of` clips: their noise is those rows of the whole pass's draw. */
  rows?: { of: number; start: number };
}

/** The clip shape a pass is keyed by ([T, H, W, C]). */
function shapeKey(g: BatchGroup): string { return g.shape.slice(1).join("x"); }

/** The batch's groups by clip shape, in order of first appearance. */
function groupsByShape(batch: Batch): Map<string, BatchGroup[]> {
  const byShape = new Map<string, BatchGroup[]>();
  for (const g of batch.groups) byShape.set(shapeKey(g), [...(byShape.get(shapeKey(g)) ?? []), g]);
  return byShape;
}

/** The datasets of the batch by clip shape, in order of first appearance. */
function datasetsOfBatch(batch: Batch): Map<string, string[]> {
  return new Map([...groupsByShape(batch)].map(([shape, groups]) => [shape, groups.map((g) => g.dataset)]));
}

/** The batch's passes; each pass has the heads of `datasetsByShape` for its shape (a superset of the batch's). */
function batchTensors(batch: Batch, datasetsByShape: Map<string, string[]>): PassTensors[] {
  return [...groupsByShape(batch)].map(([shape, groups]) => {
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
    passes.forEach((p, i) => {
      const pass = p.index ?? i;
      const uniform = uniformOf?.(pass) ?? (p.rows && partUniform(options.seed, pass, p.rows.of, p.rows.start, p.clips.shape[0]));
      const features = model.features(p.clips, { training: true, seed: passSeed(options.seed, pass), uniform });
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
 * lossTensors with the second half of every pass of two clips or more computed by the worker meanwhile, the halves'
 * sums added here (this half first); undefined when no pass has two clips.
 */
function lossTensorsWithWorker(model: TimeSformer, passes: PassTensors[], lossWeights: Record<string, number>, options: StepOptions, worker: ModelWorker): StepTensors | undefined {
  if (!passes.some((p) => p.clips.shape[0] >= 2)) return undefined;
  const mine: PassTensors[] = [];
  const theirs: PartData[] = [];
  passes.forEach((p, pass) => {
    const n = p.clips.shape[0];
    if (n < 2) { mine.push({ ...p, index: pass }); return; }
    const half = Math.ceil(n / 2);
    mine.push(passRows(p, pass, 0, half));
    const part = passRows(p, pass, half, n - half);
    theirs.push({
      pass, n, start: half, shape: part.clips.shape, datasets: p.datasets,
      clips: part.clips.dataSync() as Float32Array, labels: part.labels.dataSync() as Int32Array, weights: part.weights.map((w) => w.dataSync() as Float32Array),
    });
    tf.dispose([part.clips, part.labels, ...part.weights]);
  });
  worker.begin(model, { kind: "gradients", seed: options.seed, labelSmoothing: options.labelSmoothing, lossWeights, trainable: [...options.trainable.keys()], parts: theirs });
  let step: StepTensors;
  let answer: GradientsResult;
  try {
    step = lossTensors(model, mine, lossWeights, options);
  } finally {
    tf.dispose(mine.filter((p, i) => p.clips !== passes[i].clips).flatMap((p) => [p.clips, p.labels, ...p.weights]));
    answer = worker.finishGradients(); // also after an error here: the answer must not be left for the next step to read
  }
  const offsets = passes.map((_, i) => passes.slice(0, i).reduce((n, p) => n + p.datasets.length, 0));
  const add = <T extends tf.Tensor>(a: T | undefined, b: tf.Tensor): T => { const sum = tf.keep(a ? tf.add(a, b) : b.clone()) as T; a?.dispose(); b.dispose(); return sum; };
  answer.perDataset.forEach((losses, j) => losses.forEach((loss, d) => {
    const at = offsets[theirs[j].pass] + d;
    step.perDataset[at] = add(step.perDataset[at], tf.scalar(loss));
  }));
  step.total = add(step.total, tf.scalar(answer.total));
  for (const [name, g] of gradTensors(model, answer)) step.grads.set(name, add(step.grads.get(name), g));
  return step;
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
    const head = headOf(name);
    if (head !== undefined && !present.has(head)) { g.dispose(); step.grads.delete(name); }
  }
  return { grads: step.grads, losses: { total, perDataset } };
}

/** The compiled steps for `mode`, or undefined where steps run eagerly (see compileAvailable). */
export function compiledSteps(mode: CompileMode, log: (line: string) => void): CompiledSteps | undefined {
  return compileAvailable(mode, "step", log) ? new CompiledSteps(mode === "xla", log) : undefined;
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
  private readonly graphs: GraphCache<{ draws: NoiseDraw[]; gradNames: string[] }>;

  /** Every dataset seen so far, by clip shape: a pass computes all of its shape's heads, so that its function depends on the number of clips only. */
  private readonly seenByShape = new Map<string, string[]>();

  constructor(readonly xla: boolean, onNote: (line: string) => void = () => {}) {
    this.graphs = new GraphCache(xla, "step", onNote);
  }

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
    const runtime = [...model.params.values(), ...inputs.flatMap((p) => [p.clips, p.labels, ...p.weights])];
    const flat = (step: StepTensors) => [step.total, ...step.perDataset, ...step.grads.values()];
    const result = this.graphs.run(key, runtime, (addInput) => {
      const draws: NoiseDraw[] = [];
      const uniformOf = (pass: number): UniformDraw => (shape, seed, index) => {
        const noise = randomUniform(shape, seed, index);
        addInput(noise);
        draws.push({ pass, index, shape });
        return noise;
      };
      const step = lossTensors(model, inputs, lossWeights, options, uniformOf);
      return { outputs: flat(step), meta: { draws, gradNames: [...step.grads.keys()] } };
    },
    ({ draws }) => draws.map((d) => randomUniform(d.shape, dropPathSeed(passSeed(options.seed, d.pass), d.index), d.index)),
    ({ gradNames }) => referenceInChunks(model, inputs, lossWeights, options, gradNames));
    if (!result) return undefined;
    const [total, ...rest] = result.outputs;
    const losses = inputs.reduce((n, p) => n + p.datasets.length, 0);
    const grads = new Map(result.meta.gradNames.map((name, i) => [name, rest[losses + i]]));
    return { total: total as tf.Scalar, perDataset: rest.slice(0, losses) as tf.Scalar[], grads };
  }

  get notes(): readonly string[] { return this.graphs.notes; }

  /** One line: how many layouts were recorded, in how long, how many checked, and which ran eagerly. */
  summary(): string { return this.graphs.summary("batch layouts"); }

  dispose(): void { this.graphs.dispose(); }
}

/**
 * Clips per eager computation when a recorded step is checked. The eager step keeps every activation until its
 * gradients are done (measured: 1.1 GB above the recorded step's peak at tiny batch 32), and the allocator keeps
 * that peak for the rest of the run; in chunks, the check costs what an eager step of this many clips costs.
 */
const CHECK_CLIPS = 4;

/**
 * The outputs of the recorded step (total, per-dataset losses, gradients in `gradNames` order) computed eagerly, a
 * few clips at a time. The loss is a sum over clips (PassTensors' per-clip weights), so the chunks' losses and
 * gradients add up to the batch's; each chunk's drop path noise is its rows of the whole pass's draw.
 */
function referenceInChunks(model: TimeSformer, passes: PassTensors[], lossWeights: Record<string, number>, options: StepOptions, gradNames: string[]): tf.Tensor[] {
  // Outputs in the recorded order: the total, each pass's per-dataset losses, the gradients.
  const lossAt = passes.map((_, i) => 1 + passes.slice(0, i).reduce((n, p) => n + p.datasets.length, 0));
  const gradAt = 1 + passes.reduce((n, p) => n + p.datasets.length, 0);
  const sums: (tf.Tensor | undefined)[] = new Array(gradAt + gradNames.length);
  const add = (at: number, t: tf.Tensor) => { const prev = sums[at]; sums[at] = tf.keep(prev ? tf.add(prev, t) : tf.clone(t)); prev?.dispose(); };
  passes.forEach((p, pass) => {
    const n = p.clips.shape[0];
    for (let start = 0; start < n; start += CHECK_CLIPS) {
      const size = Math.min(CHECK_CLIPS, n - start);
      tf.tidy(() => {
        const step = lossTensors(model, [passRows(p, pass, start, size)], lossWeights, options);
        add(0, step.total);
        step.perDataset.forEach((loss, d) => add(lossAt[pass] + d, loss));
        gradNames.forEach((name, g) => { const grad = step.grads.get(name); if (grad) add(gradAt + g, grad); });
        tf.dispose([step.total, ...step.perDataset]);
      });
    }
  });
  return Array.from(sums, (t, i) => t ?? tf.zeros(i < gradAt ? [] : model.params.get(gradNames[i - gradAt])!.shape));
}

/** Rows [start, start + size) of pass number `pass`, as a pass of its own that draws the same noise for them. */
function passRows(p: PassTensors, pass: number, start: number, size: number): PassTensors {
  return {
    ...p, clips: tf.slice(p.clips, start, size), labels: tf.slice(p.labels, start, size), weights: p.weights.map((w) => tf.slice(w, start, size)),
    index: pass, rows: { of: p.rows?.of ?? p.clips.shape[0], start: (p.rows?.start ?? 0) + start },
  };
}

/** Drop path noise for rows [start, start + size) of a pass of `n` clips: those rows of the whole pass's draw. */
function partUniform(stepSeed: number, pass: number, n: number, start: number, size: number): UniformDraw {
  return (shape, _seed, index) => {
    const rowsPerClip = shape[0] / size;
    const whole = randomUniform([rowsPerClip * n, 1], dropPathSeed(passSeed(stepSeed, pass), index), index);
    return tf.slice(whole, [rowsPerClip * start, 0], shape);
  };
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

/** The head a parameter belongs to (model.heads.<head>.*), undefined for the backbone. */
function headOf(param: string): string | undefined { return /^model\.heads\.([^.]+)\./.exec(param)?.[1]; }

/** Variables of the model that a step may change: the backbone unless frozen, and the heads of `heads`. */
export function trainableParams(model: TimeSformer, options: { freezeBackbone: boolean; heads: string[] }): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  for (const [name, v] of model.params) {
    const head = headOf(name);
    if (head !== undefined ? options.heads.includes(head) : !options.freezeBackbone) out.set(name, v);
  }
  return out;
}
