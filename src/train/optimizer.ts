/**
 * SGD with momentum and weight decay, PyTorch semantics (buf = mu * buf + (g + wd * p); p -= lr * buf), over named
 * parameters, with gradients accumulated over micro-batches so that a large effective batch (the paper's 128) fits.
 * The momentum buffers are keyed by parameter name so that checkpoints can save and restore them exactly.
 */
import * as tf from "@tensorflow/tfjs";

export interface SgdConfig { momentum: number; weightDecay: number }

export class MomentumSgd {
  private readonly buffers = new Map<string, tf.Tensor>();
  private readonly accumulated = new Map<string, tf.Tensor>();
  private micro = 0;

  constructor(readonly config: SgdConfig, private readonly params: Map<string, tf.Variable>) {}

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
    const { momentum, weightDecay } = this.config;
    const scale = 1 / this.micro;
    for (const [name, g] of this.accumulated) {
      const param = this.params.get(name);
      if (!param) throw new Error(`optimizer: no parameter '${name}'`);
      tf.tidy(() => {
        let d = tf.mul(g, scale);
        if (weightDecay > 0 && !isNoDecay(name)) d = tf.add(d, tf.mul(param, weightDecay));
        const prev = this.buffers.get(name);
        const buf = prev ? tf.add(tf.mul(prev, momentum), d) : d;
        param.assign(tf.sub(param, tf.mul(buf, lr)));
        prev?.dispose();
        this.buffers.set(name, tf.keep(buf));
      });
      g.dispose();
    }
    this.accumulated.clear();
    this.micro = 0;
  }

  /** Momentum buffers, by parameter name (for checkpoints). */
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

/** Norms, biases and embeddings are not decayed (the TimeSformer/timm convention). */
function isNoDecay(name: string): boolean {
  return name.endsWith(".bias") || /norm/.test(name) || /(cls_token|pos_embed|time_embed)$/.test(name);
}
