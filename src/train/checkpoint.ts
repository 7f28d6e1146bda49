/**
 * Run checkpoints: one safetensors file holding the weights (official names and layouts), the optimiser's momentum
 * buffers (`optimizer.<param>`, internal layout) and, in its metadata, the trainer's state as JSON (step, sampler
 * and RNG positions). Written atomically (temp file + rename), so a run killed at any moment, even by SIGKILL,
 * resumes from the last complete checkpoint.
 */
import * as tf from "@tensorflow/tfjs";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readSafetensors, writeSafetensors } from "../io/safetensors";
import { TimeSformerConfig } from "../model/config";
import { allSpecs, toInternal } from "../model/params";
import { TimeSformer } from "../model/timesformer";
import { exportTensors } from "../model/weights";

const OPTIMIZER_PREFIX = "optimizer.";
const STATE_KEY = "cover.trainer";
const CONFIG_KEY = "cover.config";

export function checkpointPath(runDir: string): string { return join(runDir, "checkpoint.safetensors"); }

export function hasCheckpoint(runDir: string): boolean { return existsSync(checkpointPath(runDir)); }

export function saveCheckpoint<S>(runDir: string, model: TimeSformer, optimizerState: Map<string, tf.Tensor>, state: S): void {
  const tensors = exportTensors(model);
  for (const [name, t] of optimizerState) {
    tensors.set(OPTIMIZER_PREFIX + name, { shape: t.shape, data: t.dataSync() as Float32Array });
  }
  writeSafetensors(checkpointPath(runDir), tensors, {
    [CONFIG_KEY]: JSON.stringify(model.config),
    [STATE_KEY]: JSON.stringify(state),
  });
}

export interface LoadedCheckpoint<S> { model: TimeSformer; optimizerState: Map<string, tf.Tensor>; state: S }

export function loadCheckpoint<S>(runDir: string): LoadedCheckpoint<S> {
  const path = checkpointPath(runDir);
  const file = readSafetensors(path);
  const configText = file.metadata[CONFIG_KEY];
  const stateText = file.metadata[STATE_KEY];
  if (!configText || !stateText) throw new Error(`${path}: not a cover-kit checkpoint (no trainer state in its metadata)`);
  const config = JSON.parse(configText) as TimeSformerConfig;
  const model = TimeSformer.create(config);
  const specs = new Map(allSpecs(config).map((s) => [s.name, s]));
  const optimizerState = new Map<string, tf.Tensor>();
  for (const [name, t] of file.tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX)) {
      optimizerState.set(name.slice(OPTIMIZER_PREFIX.length), tf.tensor(t.data as Float32Array, t.shape));
      continue;
    }
    const spec = specs.get(name);
    if (!spec) throw new Error(`${path}: unexpected tensor '${name}'`);
    assign(model, spec.name, toInternal(spec, t.data as Float32Array));
  }
  return { model, optimizerState, state: JSON.parse(stateText) as S };
}

function assign(model: TimeSformer, name: string, value: tf.Tensor): void {
  model.params.get(name)!.assign(value);
  value.dispose();
}

