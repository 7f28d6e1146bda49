/**
 * The optimisers (SGD with momentum, the paper's; AdamW), over named parameters, with gradients accumulated over
 * micro-batches so that a large effective batch (the paper's 128) fits. Their state is keyed by parameter name so
 * that checkpoints save and restore it exactly.
 */
import * as tf from "@tensorflow/tfjs";
import { nativeKernelsActive } from "../backend/active";

export interface SgdConfig { momentum: number; weightDecay: number }

/** Which parameters, in which order, one flat buffer packs (1-D concatenation of each one's values). */
interface Layout { names: string[]; shapes: number[][]; sizes: number[] }

/**
 * Per-parameter optimiser state packed into flat buffers, one per kind of slot (e.g. AdamW's m and v) and block: a
 * block is a run of consecutive parameters of at most BLOCK_ELEMENTS values (or one larger parameter), so that an
 * update's intermediates are a block's size, not the model's. `mask` is 1 where a parameter is weight-decayed.
 */
interface Block { layout: Layout; slots: Map<string, tf.Tensor>; mask: tf.Tensor }
interface Packed { key: string; blocks: Block[] }

/** 2M values (8 MB of float32): the tiny and small presets update in one block, base in about 40. */
const BLOCK_ELEMENTS = 2 ** 21;

/**
 * Sums micro-batch gradients by parameter name until an optimiser step takes their mean. A step updates the
 * parameters that have a gradient a block at a time: gradients, parameters and state are concatenated into one flat
 * buffer each per block, so the update is a dozen kernels per block instead of a dozen per parameter, and each
 * intermediate is freed as soon as it is used (one update over a whole model held some twenty model-sized buffers
 * at once: measured 26x the parameters' bytes at dim 384, more than the forward and backward passes). Every update
 * is elementwise, so the results are the same numbers as a per-parameter update; between steps the state stays
 * packed while the same parameters keep getting gradients.
 */
abstract class AccumulatingOptimizer {
  protected readonly accumulated = new Map<string, tf.Tensor>();
  protected micro = 0;
  /** State slots by name (`slotName`) that are not packed, and scalars such as AdamW's step count. */
  protected readonly buffers = new Map<string, tf.Tensor>();
  private packed: Packed | undefined;

  /** `blockElements`: the most values one flat update covers (BLOCK_ELEMENTS unless a test wants many blocks). */
  constructor(protected readonly params: Map<string, tf.Variable>, private readonly blockElements = BLOCK_ELEMENTS) {}

  /** The kinds of per-parameter state this optimiser keeps (e.g. ["m", "v"]). */
  protected abstract readonly slotKinds: string[];

  /** The checkpoint name of one parameter's slot of one kind. */
  protected abstract slotName(param: string, kind: string): string;

  /** Adds one micro-batch's gradients (by parameter name); takes ownership of the tensors. */
  accumulate(grads: Map<string, tf.Tensor>): void {
    for (const [name, g] of grads) {
      const prev = this.accumulated.get(name);
      if (prev) { this.accumulated.set(name, tf.add(prev, g)); prev.dispose(); g.dispose(); }
      else this.accumulated.set(name, g);
    }
    this.micro++;
  }

  /** Applies the mean of the accumulated gradients with learning rate `lr`, then clears them. */
  step(lr: number): void {
    if (this.micro === 0) return;
    for (const name of this.accumulated.keys()) if (!this.params.has(name)) throw new Error(`optimizer: no parameter '${name}'`);
    const scale = 1 / this.micro;
    this.beginStep();
    for (const block of this.pack([...this.params.keys()].filter((n) => this.accumulated.has(n))).blocks) {
      const { names } = block.layout;
      const grad = tf.tidy(() => tf.mul(flatten(names.map((n) => this.accumulated.get(n)!)), scale));
      for (const n of names) { this.accumulated.get(n)!.dispose(); this.accumulated.delete(n); }
      const param = tf.tidy(() => flatten(names.map((n) => this.params.get(n)!)));
      const { next, slots } = this.update(param, grad, block.slots, block.mask, lr);
      tf.dispose([param, grad]);
      for (const [kind, t] of slots) block.slots.set(kind, t); // update() disposed the old ones
      const pieces = unflatten(next, block.layout);
      next.dispose();
      names.forEach((n, i) => { this.params.get(n)!.assign(pieces[i]); pieces[i].dispose(); });
    }
    this.micro = 0;
  }

  protected beginStep(): void {}

  /** Weight decay applies to this parameter (norms, biases and embeddings are not decayed). */
  protected decays(name: string): boolean { return !isNoDecay(name); }

  /**
   * The flat update: `param`, `grad` (the mean gradient) and the state slots are 1-D over the layout (a slot is
   * absent before the first step); `decay` is 1 where a parameter is weight-decayed, else 0. Returns new tensors
   * only, and leaves no intermediate behind: each stage is a tidy of its own, so that few model-sized buffers are
   * alive at once. An old slot is disposed as soon as its successor exists.
   */
  protected abstract update(param: tf.Tensor, grad: tf.Tensor, slots: Map<string, tf.Tensor>, decay: tf.Tensor, lr: number):
    { next: tf.Tensor; slots: Map<string, tf.Tensor> };

  /** Replaces a named state tensor, keeping it out of the surrounding tidy. */
  protected setBuffer(key: string, value: tf.Tensor): void {
    this.buffers.get(key)?.dispose();
    this.buffers.set(key, tf.keep(value));
  }

  /** Optimiser state tensors, by slot name (for checkpoints). */
  state(): Map<string, tf.Tensor> {
    this.unpack();
    return this.buffers;
  }

  restore(buffers: Map<string, tf.Tensor>): void {
    this.unpack();
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    for (const [name, t] of buffers) this.buffers.set(name, t);
  }

  dispose(): void {
    this.unpack();
    for (const t of [...this.buffers.values(), ...this.accumulated.values()]) t.dispose();
    this.buffers.clear();
    this.accumulated.clear();
  }

  /** `names` in blocks of consecutive parameters of at most `blockElements` values (a larger one on its own). */
  private blocksOf(names: string[]): Layout[] {
    const blocks: Layout[] = [];
    let current: Layout = { names: [], shapes: [], sizes: [] };
    let elements = 0;
    for (const n of names) {
      const shape = this.params.get(n)!.shape;
      const size = shape.reduce((a, b) => a * b, 1);
      if (current.names.length > 0 && elements + size > this.blockElements) { blocks.push(current); current = { names: [], shapes: [], sizes: [] }; elements = 0; }
      current.names.push(n); current.shapes.push(shape); current.sizes.push(size);
      elements += size;
    }
    if (current.names.length > 0) blocks.push(current);
    return blocks;
  }

  /** Packs the state of `names` into flat slots per block; a parameter without state yet starts at zeros. */
  private pack(names: string[]): Packed {
    const key = names.join("\n");
    if (this.packed?.key === key) return this.packed;
    this.unpack();
    const present = (kind: string) => names.some((n) => this.buffers.has(this.slotName(n, kind)));
    const kinds = this.slotKinds.filter(present);
    const blocks = this.blocksOf(names).map((layout): Block => {
      const slots = new Map<string, tf.Tensor>();
      for (const kind of kinds) {
        const keys = layout.names.map((n) => this.slotName(n, kind));
        slots.set(kind, tf.tidy(() => flatten(keys.map((k, i) => this.buffers.get(k) ?? tf.zeros(layout.shapes[i])))));
        for (const k of keys) { this.buffers.get(k)?.dispose(); this.buffers.delete(k); }
      }
      return { layout, slots, mask: this.decayMaskOf(layout) };
    });
    return (this.packed = { key, blocks });
  }

  /** Splits the packed slots back into one tensor per parameter and slot kind. */
  private unpack(): void {
    if (!this.packed) return;
    for (const { layout, slots, mask } of this.packed.blocks) {
      for (const [kind, flat] of slots) {
        const pieces = unflatten(flat, layout);
        layout.names.forEach((n, i) => this.buffers.set(this.slotName(n, kind), pieces[i]));
        flat.dispose();
      }
      mask.dispose();
    }
    this.packed = undefined;
  }

  private decayMaskOf(layout: Layout): tf.Tensor {
    const values = new Float32Array(layout.sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    layout.names.forEach((n, i) => { if (this.decays(n)) values.fill(1, offset, offset + layout.sizes[i]); offset += layout.sizes[i]; });
    return tf.tensor1d(values);
  }
}

/** The 1-D concatenation of the tensors' values. */
function flatten(tensors: tf.Tensor[]): tf.Tensor1D {
  const flat = tensors.map((t) => tf.reshape(t, [-1]));
  return (flat.length === 1 ? flat[0] : tf.concat(flat)) as tf.Tensor1D;
}

/**
 * The inverse of flatten for `layout`'s shapes. On wasm the split kernel copies its whole input out of the heap once
 * per piece (a parameter count times the model size per step: measured +30% on a tiny batch-8 step), so there the
 * values are read once and each piece is made from its range.
 */
function unflatten(flat: tf.Tensor, layout: Layout): tf.Tensor[] {
  if (layout.names.length === 1) return [tf.reshape(flat, layout.shapes[0])];
  if (!nativeKernelsActive()) {
    const values = flat.dataSync() as Float32Array;
    let offset = 0;
    return layout.sizes.map((size, i) => tf.tensor(values.subarray(offset, (offset += size)), layout.shapes[i], "float32"));
  }
  return tf.split(flat, layout.sizes).map((p, i) => { const r = tf.reshape(p, layout.shapes[i]); if (r !== p) p.dispose(); return r; });
}

/** PyTorch's SGD: buf = momentum * buf + (g + wd * p); p -= lr * buf. The paper's optimiser (Sec. 4.1). */
export class MomentumSgd extends AccumulatingOptimizer {
  protected readonly slotKinds = ["momentum"];

  constructor(readonly config: SgdConfig, params: Map<string, tf.Variable>, blockElements?: number) { super(params, blockElements); }

  protected slotName(param: string): string { return param; }

  protected update(param: tf.Tensor, grad: tf.Tensor, slots: Map<string, tf.Tensor>, decay: tf.Tensor, lr: number) {
    const { momentum, weightDecay } = this.config;
    const prev = slots.get("momentum");
    const buf = tf.tidy(() => {
      const d = weightDecay > 0 ? tf.add(grad, tf.mul(param, tf.mul(decay, weightDecay))) : grad;
      return prev ? tf.add(tf.mul(prev, momentum), d) : tf.clone(d);
    });
    prev?.dispose();
    return { next: tf.tidy(() => tf.sub(param, tf.mul(buf, lr))), slots: new Map([["momentum", buf]]) };
  }
}

export interface AdamWConfig { beta1: number; beta2: number; epsilon: number; weightDecay: number }

/**
 * AdamW (decoupled weight decay, PyTorch semantics). Not the paper's optimiser: the laptop scales train from
 * scratch on little data, where SGD does not get off the ground in a few hundred steps (measured; see README).
 * The step count lives in the state as a 1-element tensor so checkpoints carry it.
 */
export class AdamW extends AccumulatingOptimizer {
  private t = 0;

  protected readonly slotKinds = ["m", "v"];

  constructor(readonly config: AdamWConfig, params: Map<string, tf.Variable>, blockElements?: number) { super(params, blockElements); }

  protected slotName(param: string, kind: string): string { return `${param}.${kind}`; }

  protected override beginStep(): void {
    this.t = (this.buffers.get(STEP_KEY)?.dataSync()[0] ?? 0) + 1;
    this.setBuffer(STEP_KEY, tf.tensor1d([this.t]));
  }

  protected update(param: tf.Tensor, grad: tf.Tensor, slots: Map<string, tf.Tensor>, decay: tf.Tensor, lr: number) {
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const [prevM, prevV] = [slots.get("m"), slots.get("v")];
    const m = tf.tidy(() => tf.add(tf.mul(prevM ?? tf.zerosLike(grad), beta1), tf.mul(grad, 1 - beta1)));
    prevM?.dispose();
    const v = tf.tidy(() => tf.add(tf.mul(prevV ?? tf.zerosLike(grad), beta2), tf.mul(tf.square(grad), 1 - beta2)));
    prevV?.dispose();
    const denominator = tf.tidy(() => tf.add(tf.sqrt(tf.div(v, 1 - beta2 ** this.t)), epsilon));
    const update = tf.tidy(() => tf.mul(tf.div(tf.div(m, 1 - beta1 ** this.t), denominator), lr));
    denominator.dispose();
    let next = tf.sub(param, update);
    update.dispose();
    if (weightDecay > 0) next = tf.tidy(() => { const decayed = tf.sub(next, tf.mul(param, tf.mul(decay, lr * weightDecay))); next.dispose(); return decayed; });
    return { next, slots: new Map([["m", m], ["v", v]]) };
  }
}

const STEP_KEY = "adamw.step";

export type Optimizer = MomentumSgd | AdamW;

/** Norms, biases and embeddings are not decayed (the TimeSformer/timm convention). */
function isNoDecay(name: string): boolean {
  return name.endsWith(".bias") || /norm/.test(name) || /(cls_token|pos_embed|time_embed)$/.test(name);
}
