/**
 * Run checkpoints: one safetensors file holding the weights (official names and layouts), the optimiser's state
 * tensors (`optimizer.<slot>`, internal layout) and, in its metadata, the trainer's state as JSON (its step, the
 * seconds trained and any learning-rate scale: the batch order and the dropout seeds follow from the step), the run's
 * config, the list of optimiser slots and a sha256 of every tensor's bytes. Written
 * atomically (temp file + rename), so a run killed at any moment, even by SIGKILL, resumes from the last complete
 * checkpoint; loading verifies all of it, so a damaged or foreign file is refused instead of trained on.
 * The checkpoint before the latest is kept (checkpoint-previous.safetensors): after a divergence the latest may hold
 * the very weights that diverged, and is set aside so that a resume starts from weights known to be good.
 */
import * as tf from "@tensorflow/tfjs";
import { createHash } from "node:crypto";
import { existsSync, renameSync } from "node:fs";
import { NamedTensor, readSafetensors, writeSafetensors } from "../io/safetensors";
import { TimeSformerConfig } from "../model/config";
import { allSpecs, internalShape, toInternal } from "../model/params";
import { TimeSformer } from "../model/timesformer";
import { checkShapesBeforeAllocating, CONFIG_KEY, exportTensors, parseStoredConfig } from "../model/weights";
import { runFiles } from "./folder";

const OPTIMIZER_PREFIX = "optimizer.";
const STATE_KEY = "cover.trainer";
const RUN_KEY = "cover.run";
const SLOTS_KEY = "cover.optimizer-slots";
const CHECKSUM_KEY = "cover.sha256";

export function checkpointPath(runDir: string): string { return runFiles(runDir).checkpoint; }

function previousCheckpointPath(runDir: string): string { return runFiles(runDir).previousCheckpoint; }

/** A checkpoint to resume from: the latest, or the previous one when a kill came between rotating and writing. */
export function hasCheckpoint(runDir: string): boolean { return existsSync(checkpointPath(runDir)) || existsSync(previousCheckpointPath(runDir)); }

/** The file a resume loads, or undefined when the run has no checkpoint. */
export function resumeCheckpointPath(runDir: string): string | undefined {
  return [checkpointPath(runDir), previousCheckpointPath(runDir)].find((p) => existsSync(p));
}

/**
 * Sets the latest checkpoint aside (as checkpoint-diverged.safetensors) and makes the previous one the latest;
 * returns the checkpoint a resume now starts from, or undefined when there is none.
 */
export function setAsideLatestCheckpoint(runDir: string): string | undefined {
  if (existsSync(checkpointPath(runDir))) renameSync(checkpointPath(runDir), runFiles(runDir).divergedCheckpoint);
  if (existsSync(previousCheckpointPath(runDir))) renameSync(previousCheckpointPath(runDir), checkpointPath(runDir));
  return resumeCheckpointPath(runDir);
}

/** `runConfig`: the run's config, stored so that a resume can check it is continuing the same run. */
export function saveCheckpoint<S>(runDir: string, model: TimeSformer, optimizerState: Map<string, tf.Tensor>, state: S, runConfig?: unknown): void {
  const tensors = exportTensors(model);
  for (const [name, t] of optimizerState) {
    tensors.set(OPTIMIZER_PREFIX + name, { shape: t.shape, data: t.dataSync() as Float32Array });
  }
  if (existsSync(checkpointPath(runDir))) renameSync(checkpointPath(runDir), previousCheckpointPath(runDir));
  writeSafetensors(checkpointPath(runDir), tensors, {
    [CONFIG_KEY]: JSON.stringify(model.config),
    [STATE_KEY]: JSON.stringify(state),
    [SLOTS_KEY]: JSON.stringify([...optimizerState.keys()]),
    [CHECKSUM_KEY]: tensorChecksum(tensors),
    ...(runConfig !== undefined && { [RUN_KEY]: JSON.stringify(runConfig) }),
  });
}

export interface LoadedCheckpoint<S> {
  model: TimeSformer;
  optimizerState: Map<string, tf.Tensor>;
  state: S;
  /** The run config stored with the checkpoint (absent in checkpoints written before it was stored). */
  runConfig?: unknown;
  path: string;
}

/** Loads and verifies a checkpoint: checksum, metadata, every parameter and optimiser slot with its shape. */
export function loadCheckpoint<S>(runDir: string): LoadedCheckpoint<S> {
  const path = resumeCheckpointPath(runDir);
  if (!path) throw new Error(`${runDir}: no checkpoint to resume from`);
  const file = readSafetensors(path);
  const verified = verifyCheckpoint(path, file.tensors, file.metadata);
  const model = TimeSformer.create(verified.config);
  const specs = new Map(allSpecs(verified.config).map((s) => [s.name, s]));
  const optimizerState = new Map<string, tf.Tensor>();
  for (const [name, t] of file.tensors) {
    if (name.startsWith(OPTIMIZER_PREFIX)) optimizerState.set(name.slice(OPTIMIZER_PREFIX.length), tf.tensor(t.data as Float32Array, t.shape));
    else assign(model, name, toInternal(specs.get(name)!, t.data as Float32Array));
  }
  return { model, optimizerState, state: verified.state as S, runConfig: verified.runConfig, path };
}

interface VerifiedCheckpoint { config: TimeSformerConfig; state: unknown; runConfig?: unknown }

/** Everything a resume relies on, checked before a tensor is created; errors name the file and what is wrong. */
export function verifyCheckpoint(path: string, tensors: Map<string, NamedTensor>, metadata: Record<string, string>): VerifiedCheckpoint {
  const stateText = metadata[STATE_KEY];
  const configText = metadata[CONFIG_KEY];
  if (!configText || !stateText) throw new Error(`${path}: not a cover-kit checkpoint (no trainer state in its metadata)`);
  const stored = metadata[CHECKSUM_KEY];
  if (stored !== undefined && stored !== tensorChecksum(tensors)) {
    throw new Error(`${path}: the checkpoint is damaged: its tensor bytes do not match the sha256 stored when it was written; ` +
      "restore it from a copy, or delete it to resume from the checkpoint before it (if the run folder has one) or restart the run");
  }
  const config = parseStoredConfig(configText, `${path}: metadata '${CONFIG_KEY}'`);
  const state = parseJson(stateText, `${path}: metadata '${STATE_KEY}'`);
  const runConfig = metadata[RUN_KEY] === undefined ? undefined : parseJson(metadata[RUN_KEY], `${path}: metadata '${RUN_KEY}'`);
  const weights = new Map([...tensors].filter(([name]) => !name.startsWith(OPTIMIZER_PREFIX)));
  checkShapesBeforeAllocating(config, weights, path);
  const slots = metadata[SLOTS_KEY] === undefined ? undefined : parseJson(metadata[SLOTS_KEY], `${path}: metadata '${SLOTS_KEY}'`);
  checkOptimizerSlots(path, config, tensors, slots);
  return { config, state, runConfig };
}

/**
 * Every listed slot present, nothing unlisted, each the shape of its parameter (internal layout): `<param>` for
 * SGD momentum, `<param>.m` / `<param>.v` for AdamW, and AdamW's 1-element step count.
 */
function checkOptimizerSlots(path: string, config: TimeSformerConfig, tensors: Map<string, NamedTensor>, listed: unknown): void {
  const present = [...tensors.keys()].filter((k) => k.startsWith(OPTIMIZER_PREFIX)).map((k) => k.slice(OPTIMIZER_PREFIX.length));
  if (listed !== undefined) {
    if (!Array.isArray(listed) || !listed.every((s) => typeof s === "string")) throw new Error(`${path}: metadata '${SLOTS_KEY}' is not a list of names`);
    const missing = listed.filter((s) => !tensors.has(OPTIMIZER_PREFIX + s));
    const unlisted = present.filter((s) => !listed.includes(s));
    if (missing.length || unlisted.length) {
      throw new Error(`${path}: optimiser state does not match its slot list${missing.length ? `; missing ${missing.slice(0, 8).join(", ")}` : ""}` +
        `${unlisted.length ? `; unexpected ${unlisted.slice(0, 8).join(", ")}` : ""}`);
    }
  }
  const shapes = new Map(allSpecs(config).map((s) => [s.name, internalShape(s)]));
  for (const slot of present) {
    const expected = slot === "adamw.step" ? [1] : shapes.get(slot) ?? shapes.get(slot.replace(/\.(m|v)$/, ""));
    const actual = tensors.get(OPTIMIZER_PREFIX + slot)!.shape;
    if (!expected) throw new Error(`${path}: optimiser slot '${slot}' belongs to no parameter of the model`);
    if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
      throw new Error(`${path}: optimiser slot '${slot}' has shape [${actual}], its parameter needs [${expected}]`);
    }
  }
}

/** sha256 over every tensor's name, shape and bytes, in name order. */
export function tensorChecksum(tensors: Map<string, NamedTensor>): string {
  const hash = createHash("sha256");
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    hash.update(`${name}\0${JSON.stringify(t.shape)}\0`);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return hash.digest("hex");
}

function parseJson(text: string, where: string): unknown {
  try { return JSON.parse(text); } catch { throw new Error(`${where} is not JSON`); }
}

function assign(model: TimeSformer, name: string, value: tf.Tensor): void {
  model.params.get(name)!.assign(value);
  value.dispose();
}
