/**
 * The optimisers (SGD with momentum, the paper's; AdamW), over named parameters, with gradients accumulated over
 * micro-batches so that a large effective batch (the paper's 128) fits. Their state is keyed by parameter name so
 * that checkpoints save and restore it exactly.
 */
import * as tf from "@tensorflow/tfjs";
import { nativeKernelsActive } from "../backend/active";

export interface SgdConfig { momentum: number; weightDecay: number }

/** Which parameters, in which order, one flat buffer packs (1-D concatenation of each one's values). */
interface Layout { names: string[]; shapes: number[][]; sizes: number[]; key: string }

/** Per-parameter optimiser state packed into one flat buffer per kind of slot (e.g. AdamW's m and v). */
interface Packed { layout: Layout; slots: Map<string, tf.Tensor> }

/**
 * Sums micro-batch gradients by parameter name until an optimiser step takes their mean. A step updates every
 * parameter that has a gradient at once: gradients, parameters and state are concatenated into one flat buffer
 * each, so the update is a dozen kernels instead of a dozen per parameter. Every update is elementwise, so the
 * results are the same numbers as a per-parameter update; between steps the state stays packed while the same
 * parameters keep getting gradients.
 */
abstract class AccumulatingOptimizer {
  protected readonly accumulated = new Map<string, tf.Tensor>();
  protected micro = 0;
  /** State slots by name (`slotName`) that are not packed, and scalars such as AdamW's step count. */
  protected readonly buffers = new Map<string, tf.Tensor>();
  private packed: Packed | undefined;
  /** 1 where a parameter of the layout is weight-decayed, 0 where not; cached per layout. */
  private decayMask: { key: string; mask: tf.Tensor } | undefined;

  constructor(protected readonly params: Map<string, tf.Variable>) {}

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
    const layout = this.layoutOf([...this.params.keys()].filter((n) => this.accumulated.has(n)));
    const scale = 1 / this.micro;
    this.beginStep();
    this.pack(layout);
    const packed = this.packed!;
    const mask = this.decayMaskFor(layout);
    const result = tf.tidy(() => {
      const grad = tf.mul(flatten(layout.names.map((n) => this.accumulated.get(n)!)), scale);
      const param = flatten(layout.names.map((n) => this.params.get(n)!));
      const { next, slots } = this.update(param, grad, packed.slots, mask, lr);
      return { pieces: unflatten(next, layout), slots: Object.fromEntries(slots) };
    }) as { pieces: tf.Tensor[]; slots: Record<string, tf.Tensor> };
    layout.names.forEach((n, i) => { this.params.get(n)!.assign(result.pieces[i]); result.pieces[i].dispose(); });
    for (const [kind, t] of Object.entries(result.slots)) { packed.slots.get(kind)?.dispose(); packed.slots.set(kind, t); }
    for (const g of this.accumulated.values()) g.dispose();
    this.accumulated.clear();
    this.micro = 0;
  }

  protected beginStep(): void {}

  /** Weight decay applies to this parameter (norms, biases and embeddings are not decayed). */
  protected decays(name: string): boolean { return !isNoDecay(name); }

  /**
   * The flat update: `param`, `grad` (the mean gradient) and the state slots are 1-D over the layout (a slot is
   * absent before the first step); `decay` is 1 where a parameter is weight-decayed, else 0. Runs inside a tidy.
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
    this.decayMask?.mask.dispose();
    this.decayMask = undefined;
    for (const t of [...this.buffers.values(), ...this.accumulated.values()]) t.dispose();
    this.buffers.clear();
    this.accumulated.clear();
  }

  private layoutOf(names: string[]): Layout {
    const shapes = names.map((n) => this.params.get(n)!.shape);
    return { names, shapes, sizes: shapes.map((s) => s.reduce((a, b) => a * b, 1)), key: names.join("\n") };
  }

  /** Packs the state of `layout`'s parameters into flat slots; a parameter without state yet starts at zeros. */
  private pack(layout: Layout): void {
    if (this.packed?.layout.key === layout.key) return;
    this.unpack();
    const slots = new Map<string, tf.Tensor>();
    const present = (kind: string) => layout.names.some((n) => this.buffers.has(this.slotName(n, kind)));
    for (const kind of this.slotKinds.filter(present)) {
      const keys = layout.names.map((n) => this.slotName(n, kind));
      slots.set(kind, tf.tidy(() => flatten(keys.map((k, i) => this.buffers.get(k) ?? tf.zeros(layout.shapes[i])))));
      for (const k of keys) { this.buffers.get(k)?.dispose(); this.buffers.delete(k); }
    }
    this.packed = { layout, slots };
  }

  /** Splits the packed slots back into one tensor per parameter and slot kind. */
  private unpack(): void {
    if (!this.packed) return;
    const { layout, slots } = this.packed;
    for (const [kind, flat] of slots) {
      const pieces = unflatten(flat, layout);
      layout.names.forEach((n, i) => this.buffers.set(this.slotName(n, kind), pieces[i]));
      flat.dispose();
    }
    this.packed = undefined;
  }

  private decayMaskFor(layout: Layout): tf.Tensor {
    if (this.decayMask?.key === layout.key) return this.decayMask.mask;
    this.decayMask?.mask.dispose();
    const values = new Float32Array(layout.sizes.reduce((a, b) => a + b, 0));
    let offset = 0;
    layout.names.forEach((n, i) => { if (this.decays(n)) values.fill(1, offset, offset + layout.sizes[i]); offset += layout.sizes[i]; });
    this.decayMask = { key: layout.key, mask: tf.tensor1d(values) };
    return this.decayMask.mask;
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

  constructor(readonly config: SgdConfig, params: Map<string, tf.Variable>) { super(params); }

  protected slotName(param: string): string { return param; }

  protected update(param: tf.Tensor, grad: tf.Tensor, slots: Map<string, tf.Tensor>, decay: tf.Tensor, lr: number) {
    const { momentum, weightDecay } = this.config;
    const d = weightDecay > 0 ? tf.add(grad, tf.mul(param, tf.mul(decay, weightDecay))) : grad;
    const prev = slots.get("momentum");
    const buf = prev ? tf.add(tf.mul(prev, momentum), d) : d;
    return { next: tf.sub(param, tf.mul(buf, lr)), slots: new Map([["momentum", buf]]) };
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

  constructor(readonly config: AdamWConfig, params: Map<string, tf.Variable>) { super(params); }

  protected slotName(param: string, kind: string): string { return `${param}.${kind}`; }

  protected override beginStep(): void {
    this.t = (this.buffers.get(STEP_KEY)?.dataSync()[0] ?? 0) + 1;
    this.setBuffer(STEP_KEY, tf.tensor1d([this.t]));
  }

  protected update(param: tf.Tensor, grad: tf.Tensor, slots: Map<string, tf.Tensor>, decay: tf.Tensor, lr: number) {
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const m = tf.add(tf.mul(slots.get("m") ?? tf.zerosLike(grad), beta1), tf.mul(grad, 1 - beta1));
    const v = tf.add(tf.mul(slots.get("v") ?? tf.zerosLike(grad), beta2), tf.mul(tf.square(grad), 1 - beta2));
    const mHat = tf.div(m, 1 - beta1 ** this.t);
    const vHat = tf.div(v, 1 - beta2 ** this.t);
    let next = tf.sub(param, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), lr));
    if (weightDecay > 0) next = tf.sub(next, tf.mul(param, tf.mul(decay, lr * weightDecay)));
    return { next, slots: new Map([["m", m], ["v", v]]) };
  }
}

const STEP_KEY = "adamw.step";

export type Optimizer = MomentumSgd | AdamW;

/** Norms, biases and embeddings are not decayed (the TimeSformer/timm convention). */
function isNoDecay(name: string): boolean {
  return name.endsWith(".bias") || /norm/.test(name) || /(cls_token|pos_embed|time_embed)$/.test(name);
}
