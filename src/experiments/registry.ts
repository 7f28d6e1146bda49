/** Every experiment by name (`cover experiment <name>`, the notebooks). */
import { baseVsLarge } from "./base-vs-large";
import { cotrainAblation } from "./cotrain-ablation";
import { Experiment } from "./experiment";
import { frameReversal } from "./frame-reversal";
import { frozenTransfer } from "./frozen-transfer";
import { inputSetting } from "./input-setting";
import { lossWeightSweep } from "./loss-weight-sweep";
import { standardVsCover } from "./standard-vs-cover";

export const EXPERIMENTS: Record<string, Experiment> = Object.fromEntries(
  [frameReversal, frozenTransfer, lossWeightSweep, baseVsLarge, cotrainAblation, standardVsCover, inputSetting].map((e) => [e.name, e]),
);

export function experiment(name: string): Experiment {
  const e = EXPERIMENTS[name];
  if (!e) throw new Error(`unknown experiment '${name}' (known: ${Object.keys(EXPERIMENTS).join(", ")})`);
  return e;
}
