import * as tf from "@tensorflow/tfjs";
import { readNpy, writeNpy } from "../../io/npy";
import { loadModel } from "../../model/weights";
import { Flags, UsageError } from "../args";
import { backendFromFlags } from "../backend-flag";
import type { Command } from "../main";

/** Logits for a batch in the official input layout [B, 3, T, H, W] (float32, already normalised). */
export function predictOfficialLayout(weights: string, input: string, options: { numHeads?: number; head?: string }): Float32Array[] {
  const model = loadModel(weights, { numHeads: options.numHeads, headName: options.head });
  try {
    const array = readNpy(input);
    if (array.dtype !== "float32" || array.shape.length !== 5 || array.shape[1] !== 3) {
      throw new Error(`${input}: expected float32 [B, 3, T, H, W], got ${array.dtype} [${array.shape.join(", ")}]`);
    }
    const [B, , T, H, W] = array.shape;
    const patch = model.config.patchSize;
    if (B < 1 || T < 1 || H < patch || W < patch) {
      throw new Error(`${input}: expected [B >= 1, 3, T >= 1, H >= ${patch}, W >= ${patch}], got [${array.shape.join(", ")}]`);
    }
    const head = options.head ?? model.headNames[0];
    if (!model.headNames.includes(head)) throw new Error(`${weights}: no head '${head}' (heads: ${model.headNames.join(", ")})`);
    let logits: tf.Tensor2D;
    try {
      logits = tf.tidy(() => {
        const video = tf.transpose(tf.tensor(array.data, array.shape), [0, 2, 3, 4, 1]); // -> [B, T, H, W, 3]
        return model.logits(video, head);
      });
    } catch (err) {
      throw new Error(`${input}: the model of ${weights} cannot take this input: ${(err as Error).message}`);
    }
    const rows = logits.arraySync().map((r) => Float32Array.from(r));
    logits.dispose();
    return rows;
  } finally {
    model.dispose();
  }
}

export const command: Command = {
  summary: "logits for clips in the official layout, from TimeSformer weights",
  usage: `usage: cover predict --weights W.safetensors --input clip.npy --out logits.npy [--heads N] [--head NAME] [--backend B]
  --input   float32 .npy [B, 3, T, H, W], normalised (T may differ from the trained frame count; T=1 is an image)
  --heads   attention heads per layer (needed for checkpoints without cover-kit metadata)
  --head    which classification head (default: the first; an official checkpoint's head is 'default')`,
  async run(flags: Flags): Promise<number> {
    if (flags.positionals.length) throw new UsageError(`unexpected argument '${flags.positionals[0]}'`);
    const weights = flags.requiredString("weights");
    const input = flags.requiredString("input");
    const out = flags.requiredString("out");
    const numHeads = flags.int("heads");
    const head = flags.string("head");
    await backendFromFlags(flags);
    flags.rejectUnknown();
    const rows = predictOfficialLayout(weights, input, { numHeads, head });
    const classes = rows[0]?.length ?? 0;
    const data = new Float32Array(rows.length * classes);
    rows.forEach((r, i) => data.set(r, i * classes));
    writeNpy(out, { dtype: "float32", shape: [rows.length, classes], data });
    console.error(`wrote ${out}: float32 [${rows.length}, ${classes}]`);
    return 0;
  },
};
