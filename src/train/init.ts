/** The model a run starts from: fresh, from a weights file (ours, official, or an image ViT), or from an earlier run. */
import { join } from "node:path";
import { TimeSformer } from "../model/timesformer";
import { loadInto } from "../model/weights";
import { RunConfig, runModelConfig } from "./run-config";

/** Parameters a checkpoint may lack: new heads, and what the image->video recipe leaves at its initial value. */
const MAY_BE_MISSING = [/^model\.heads\./, /^model\.time_embed$/, /\.temporal_fc\./];

export function initModel(config: RunConfig, classCounts: Record<string, number>, log: (line: string) => void = console.error): TimeSformer {
  const model = TimeSformer.create(runModelConfig(config.model, classCounts), config.seed);
  const init = config.init;
  if (init.from === "scratch") return model;
  const path = init.from === "weights" ? init.path : join(init.dir, "weights.safetensors");
  const report = loadInto(model, path, { strict: init.from === "weights" && init.strict === true });
  const missing = report.missing.filter((k) => !MAY_BE_MISSING.some((re) => re.test(k)));
  if (missing.length) {
    model.dispose();
    throw new Error(`${path}: the backbone is incomplete for this model; missing ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", ..." : ""}`);
  }
  log(`init: ${report.loaded.length} tensors from ${path}; new: ${report.missing.length}, skipped: ${report.unexpected.length + report.misshaped.length}`);
  return model;
}
