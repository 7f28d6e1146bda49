/**
 * The optimisers, over named parameters, with gradients accumulated over micro-batches so that a large effective
 * batch (the paper's 128) fits. Their state is keyed by parameter name so checkpoints save and restore it exactly.
 *
 * SGD with momentum and weight decay, PyTorch semantics (buf = mu * buf + (g + wd * p); p -= lr * buf), over named
 * parameters, with gradients accumulated over micro-batches so that a large effective batch (the paper's 128) fits.
 * The momentum buffers are keyed by parameter name so that checkpoints can save and restore them exactly.
 */
import * as tf from "@tensorflow/tfjs";

export interface SgdConfig { momentum: number; weightDecay: number }

/** Sums micro-batch gradients by parameter name until an optimiser step takes their mean. */
abstract class AccumulatingOptimizer {
  protected readonly accumulated = new Map<string, tf.Tensor>();
  protected micro = 0;
  protected readonly buffers = new Map<string, tf.Tensor>();

  constructor(protected readonly params: Map<string, tf.Variable>) {}

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
    const scale = 1 / this.micro;
    this.beginStep();
    for (const [name, g] of this.accumulated) {
      const param = this.params.get(name);
      if (!param) throw new Error(`optimizer: no parameter '${name}'`);
      tf.tidy(() => this.update(name, param, tf.mul(g, scale), lr));
      g.dispose();
    }
    this.accumulated.clear();
    this.micro = 0;
  }

  protected beginStep(): void {}

  /** One parameter's update from its mean gradient (inside a tidy). */
  protected abstract update(name: string, param: tf.Variable, grad: tf.Tensor, lr: number): void;

  /** Replaces a named state tensor, keeping it out of the surrounding tidy. */
  protected setBuffer(key: string, value: tf.Tensor): void {
    this.buffers.get(key)?.dispose();
    this.buffers.set(key, tf.keep(value));
  }

  /** Optimiser state tensors, by name (for checkpoints). */
  state(): Map<string, tf.Tensor> { return this.buffers; }

  restore(buffers: Map<string, tf.Tensor>): void {
    for (const b of this.buffers.values()) b.dispose();
    this.buffers.clear();
    for (const [name, t] of buffers) this.buffers.set(name, t);
  }

  dispose(): void {
    for (const t of [...this.buffers.values(), ...this.accumulated.values()]) t.dispose();
    this.buffers.clear();
    this.accumulated.clear();
  }
}

/** PyTorch's SGD: buf = momentum * buf + (g + wd * p); p -= lr * buf. The paper's optimiser (Sec. 4.1). */
export class MomentumSgd extends AccumulatingOptimizer {
  constructor(readonly config: SgdConfig, params: Map<string, tf.Variable>) { super(params); }

  protected update(name: string, param: tf.Variable, grad: tf.Tensor, lr: number): void {
    const { momentum, weightDecay } = this.config;
    const d = weightDecay > 0 && !isNoDecay(name) ? tf.add(grad, tf.mul(param, weightDecay)) : grad;
    const prev = this.buffers.get(name);
    const buf = prev ? tf.add(tf.mul(prev, momentum), d) : d;
    param.assign(tf.sub(param, tf.mul(buf, lr)));
    this.setBuffer(name, buf);
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

  constructor(readonly config: AdamWConfig, params: Map<string, tf.Variable>) { super(params); }

  protected override beginStep(): void {
    this.t = (this.buffers.get(STEP_KEY)?.dataSync()[0] ?? 0) + 1;
    this.setBuffer(STEP_KEY, tf.tensor1d([this.t]));
  }

  protected update(name: string, param: tf.Variable, grad: tf.Tensor, lr: number): void {
    const { beta1, beta2, epsilon, weightDecay } = this.config;
    const m = tf.add(tf.mul(this.buffers.get(`${name}.m`) ?? tf.zerosLike(grad), beta1), tf.mul(grad, 1 - beta1));
    const v = tf.add(tf.mul(this.buffers.get(`${name}.v`) ?? tf.zerosLike(grad), beta2), tf.mul(tf.square(grad), 1 - beta2));
    const mHat = tf.div(m, 1 - beta1 ** this.t);
    const vHat = tf.div(v, 1 - beta2 ** this.t);
    let next = tf.sub(param, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), lr));
    if (weightDecay > 0 && !isNoDecay(name)) next = tf.sub(next, tf.mul(param, lr * weightDecay));
    param.assign(next);
    this.setBuffer(`${name}.m`, m);
    this.setBuffer(`${name}.v`, v);
  }
}

const STEP_KEY = "adamw.step";

export type Optimizer = MomentumSgd | AdamW;

/** Norms, biases and embeddings are not decayed (the TimeSformer/timm convention). */
function isNoDecay(name: string): boolean {
  return name.endsWith(".bias") || /norm/.test(name) || /(cls_token|pos_embed|time_embed)$/.test(name);
}
