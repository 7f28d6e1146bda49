/**
 * Multiply-accumulate count of one forward view: the matmuls of the patch embedding, attention (qkv, q.k, attn.v,
 * proj, temporal_fc), MLP and heads, as fvcore counts them for the paper's GFLOPs (norms and softmax excluded).
 */
import { AttentionType, patchesPerFrame, TimeSformerConfig } from "./config";

export function macsPerView(c: TimeSformerConfig, frames = c.frames): number {
  const D = c.dim;
  const N = patchesPerFrame(c);
  const T = frames;
  const hidden = D * c.mlpRatio;
  const attention = (groups: number, length: number) => groups * (length * D * 3 * D + 2 * length * length * D + length * D * D);
  const mlp = (rows: number) => rows * 2 * D * hidden;
  const perBlock: Record<AttentionType, () => number> = {
    divided_space_time: () => attention(N, T) + T * N * D * D /* temporal_fc */ + attention(T, N + 1) + mlp(1 + T * N),
    joint_space_time: () => attention(1, 1 + T * N) + mlp(1 + T * N),
    space_only: () => attention(T, N + 1) + mlp(T * (N + 1)),
  };
  const embed = T * N * 3 * c.patchSize ** 2 * D;
  const heads = Object.values(c.classifiers).reduce((n, k) => n + D * k, 0);
  return embed + c.depth * perBlock[c.attention]() + heads;
}
