/** The model a run starts from: fresh, from a weights file (ours, official, or an image ViT), or from an earlier run. */
import { TimeSformer } from "../model/timesformer";
import { LoadReport, loadInto } from "../model/weights";
import { RunConfig, runModelConfig } from "./config";
import { runFiles } from "./folder";

/** Parameters a checkpoint may lack: new heads, and what the image->video recipe leaves at its initial value. */
const MAY_BE_MISSING = [/^model\.heads\./, /^model\.time_embed$/, /\.temporal_fc\./];

export function initModel(config: RunConfig, classCounts: Record<string, number>, log: (line: string) => void = console.error): TimeSformer {
  const model = TimeSformer.create(runModelConfig(config.model, classCounts), config.seed);
  const init = config.init;
  if (init.from === "scratch") return model;
  const path = init.from === "weights" ? init.path : runFiles(init.dir).weights;
  const report = loadInto(model, path, { strict: init.from === "weights" && init.strict === true });
  const partial = init.from === "weights" && init.partial === true;
  const unmatched = unmatchedBackbone(report);
  const backboneLoaded = report.loaded.filter((k) => !mayBeMissing(k)).length;
  if (backboneLoaded === 0 || (unmatched.length && !partial)) {
    model.dispose();
    throw new Error(describeUnmatched(path, backboneLoaded, unmatched));
  }
  const resized = report.resized?.length ? `; resized: ${report.resized.join(", ")}` : "";
  log(`init: ${report.loaded.length} tensors from ${path}; new: ${report.missing.length}, skipped: ${report.unexpected.length + report.misshaped.length}${resized}`);
  return model;
}

function mayBeMissing(name: string): boolean { return MAY_BE_MISSING.some((re) => re.test(name)); }

/** Backbone parameters the file did not fill: absent, of another shape, or file tensors the model has no place for. */
function unmatchedBackbone(report: LoadReport): string[] {
  const allowed = (entry: string) => mayBeMissing(entry.split(":")[0]);
  return [
    ...report.missing.filter((k) => !allowed(k)).map((k) => `missing ${k}`),
    ...report.misshaped.filter((k) => !allowed(k)).map((k) => `mis-shaped ${k}`),
    ...report.unexpected.filter((k) => !allowed(k)).map((k) => `not in the model ${k}`),
  ];
}

function describeUnmatched(path: string, loaded: number, unmatched: string[]): string {
  const shown = unmatched.slice(0, 8).join("; ") + (unmatched.length > 8 ? `; ... (${unmatched.length} in all)` : "");
  if (loaded === 0) return `${path}: no tensor of the file matches this model's backbone${shown ? `: ${shown}` : ""}`;
  return `${path}: the weights fill only part of this model's backbone (${loaded} backbone tensors matched; ${shown}); ` +
    "pass --init-partial to start from them anyway";
}
