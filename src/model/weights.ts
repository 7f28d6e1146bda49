/**
 * Saving and loading TimeSformer weights as safetensors with the official checkpoint names and PyTorch layouts.
 * - Our files carry the config in the metadata (`cover.config`), so they load without options.
 * - An official TimeSformer checkpoint (keys `model.*`, one `model.head`) loads with its architecture inferred
 *   from the tensor shapes; `model.head` goes into a named head.
 * - An image ViT checkpoint (timm names, no `model.` prefix, no temporal keys) loads into a divided model with the
 *   official TimeSformer recipe: temporal attention and its norm copied from the spatial ones, pos_embed resized.
 * - Our weights of another resolution load with pos_embed resized to the model's patch grid.
 * - Each of these may also be a PyTorch checkpoint (.pyth/.pt/.pth, torch.save's zip format), read natively; a
 *   `module.` prefix (DistributedDataParallel) is dropped.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { NamedTensor, readSafetensors, SafetensorsFile, writeSafetensors } from "../io/safetensors";
import { isTorchPath, readTorchCheckpoint } from "../io/torch";
import { ZipReader } from "../io/zip";
import { ATTENTION, attentionWith, patchesPerFrame, TIMESFORMER_CONFIG, TimeSformerConfig, validateConfig } from "./config";
import { checkSchema } from "../util/schema";
import { HeadInfo, headMetadata, readHeadInfo } from "./head-info";
import { allSpecs, headParamName, ParamSpec, PREFIX, toInternal, toOfficial } from "./params";
import { posEmbedRows, sequenceRows, TimeSformer } from "./timesformer";

/** The safetensors metadata key holding the model's TimeSformerConfig (weights files and checkpoints). */
export const CONFIG_KEY = "cover.config";
/** Official-layout tensors of every parameter, by name. */
export function exportTensors(model: TimeSformer): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const spec of allSpecs(model.config)) {
    const official = toOfficial(spec, model.params.get(spec.name)!);
    out.set(spec.name, { shape: spec.shape, data: official.dataSync() as Float32Array });
    official.dispose();
  }
  return out;
}

/** Writes the weights with the config and, for the heads given, their class names and input normalisation. */
export function saveWeights(model: TimeSformer, path: string, metadata: Record<string, string> = {}, heads: Record<string, HeadInfo> = {}): void {
  writeSafetensors(path, exportTensors(model), { ...metadata, ...headMetadata(model.config.classifiers, heads), [CONFIG_KEY]: JSON.stringify(model.config) });
}

export interface LoadOptions {
  /** Attention heads per layer: cannot be read off the tensor shapes of a checkpoint without our metadata. */
  numHeads?: number;
  /** Name of the head that an official checkpoint's single `model.head` becomes (default "default"). */
  headName?: string;
  /** Overrides for the inferred config (e.g. dropPath for fine-tuning). */
  overrides?: Partial<TimeSformerConfig>;
}

/** Loads a model from a safetensors file: ours, an official TimeSformer checkpoint, or (with `config`) an image ViT. */
export function loadModel(path: string, options: LoadOptions = {}): TimeSformer {
  return loadModelWithHeads(path, options).model;
}

/** A model and what its file says about each head (class names, input normalisation; empty for other files). */
export function loadModelWithHeads(path: string, options: LoadOptions = {}): { model: TimeSformer; heads: Record<string, HeadInfo> } {
  return modelFromFile(readWeightsFile(path), path, options);
}

/** The model (and head information) of weights already read; `path` names them in errors. */
export function modelFromFile(file: SafetensorsFile, path: string, options: LoadOptions = {}): { model: TimeSformer; heads: Record<string, HeadInfo> } {
  const heads = readHeadInfo(file.metadata, path);
  const tensors = normaliseNames(file.tensors, options.headName ?? "default");
  const config = { ...configFromFile(file, tensors, options, path), ...options.overrides };
  checkSchema(TIMESFORMER_CONFIG, config, `${path}: the architecture`);
  validateConfig(config);
  checkShapesBeforeAllocating(config, tensors, path);
  const model = TimeSformer.create(config);
  try {
    assignTensors(model, tensors, path, { strict: true });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, heads };
}

/**
 * Loads the weights of a file into an existing model. strict: every parameter must be present with the right
 * shape and nothing left over; otherwise the report lists what was skipped. Errors name the missing, unexpected
 * and mis-shaped keys.
 */
export function loadInto(model: TimeSformer, path: string, options: { strict?: boolean; headName?: string } = {}): LoadReport {
  const file = readWeightsFile(path);
  let tensors = normaliseNames(file.tensors, options.headName ?? model.headNames[0]);
  const resized = CONFIG_KEY in file.metadata ? resizePositions(tensors, model.config) : { tensors, names: [] };
  tensors = resized.tensors;
  if (isImageCheckpoint(tensors) && ATTENTION[model.config.attention].temporalBranch) {
    tensors = inflateImageCheckpoint(tensors, model.config);
  }
  const report = assignTensors(model, tensors, path, { strict: options.strict ?? true });
  return { ...report, resized: resized.names };
}

/**
 * The kit's own weights trained at another resolution (a square grid of other size) start a model at this one:
 * pos_embed is resized to the model's grid as the forward pass would resize it for such an input (2-D nearest
 * neighbour), so the loaded model computes on the new input exactly what the old one did. Foreign image ViTs keep the
 * official loader's resize (see `inflateImageCheckpoint`) so that they load as the official code loads them.
 */
function resizePositions(tensors: Map<string, NamedTensor>, config: TimeSformerConfig): { tensors: Map<string, NamedTensor>; names: string[] } {
  const key = `${PREFIX}pos_embed`;
  const pos = tensors.get(key);
  const n = patchesPerFrame(config);
  if (!pos || pos.shape.length !== 3 || pos.shape[1] === n + 1 || pos.shape[2] !== config.dim) return { tensors, names: [] };
  const n0 = pos.shape[1] - 1;
  if (!Number.isInteger(Math.sqrt(n0)) || n0 < 1) return { tensors, names: [] };
  const out = new Map(tensors);
  out.set(key, takeRows(pos, posEmbedRows(n0, n)));
  return { tensors: out, names: [`${key}: [${pos.shape}] -> [1,${n + 1},${pos.shape[2]}]`] };
}

/** [1, m, d] -> [1, rows.length, d]: row i is the input's row rows[i]. */
function takeRows(t: NamedTensor, rows: number[]): NamedTensor {
  const D = t.shape[2];
  const data = new Float32Array(rows.length * D);
  rows.forEach((src, i) => data.set(toFloat32(t.data.subarray(src * D, (src + 1) * D)), i * D));
  return { shape: [1, rows.length, D], data };
}

/** Tensors and metadata of a weights file: safetensors, or a PyTorch zip checkpoint (no metadata), told apart by content. */
export function readWeightsFile(path: string): SafetensorsFile {
  if (ZipReader.isZip(fileHead(path))) return { tensors: readTorchCheckpoint(path).tensors, metadata: {} };
  if (isTorchPath(path)) {
    throw new Error(`${path}: not a zip-format PyTorch checkpoint (a legacy pre-1.6 file?); re-save it with torch.save(torch.load(path), path) in PyTorch >= 1.6, or convert it to safetensors`);
  }
  return readSafetensors(path);
}

function fileHead(path: string): Uint8Array {
  let fd: number;
  try { fd = openSync(path, "r"); } catch (err) { throw new Error(`${path}: cannot read weights (${(err as Error).message})`); }
  try {
    const head = new Uint8Array(4);
    return head.subarray(0, readSync(fd, head, 0, 4, 0));
  } finally {
    closeSync(fd);
  }
}

export interface LoadReport {
  loaded: string[]; missing: string[]; unexpected: string[]; misshaped: string[];
  /** Tensors fitted to the model's shape before loading (pos_embed of another resolution). */
  resized?: string[];
}

/** Which parameters the file's tensors fill (shapes only; nothing is allocated). */
function matchTensors(specs: ParamSpec[], tensors: Map<string, NamedTensor>): { report: LoadReport; assignments: [ParamSpec, NamedTensor][] } {
  const report: LoadReport = { loaded: [], missing: [], unexpected: [], misshaped: [] };
  const expected = new Set(specs.map((s) => s.name));
  for (const name of tensors.keys()) if (!expected.has(name)) report.unexpected.push(name);
  const assignments: [ParamSpec, NamedTensor][] = [];
  for (const spec of specs) {
    const t = tensors.get(spec.name);
    if (!t) { report.missing.push(spec.name); continue; }
    if (!sameShape(t.shape, spec.shape)) { report.misshaped.push(`${spec.name}: file [${t.shape}] vs model [${spec.shape}]`); continue; }
    assignments.push([spec, t]);
  }
  return { report, assignments };
}

function mismatchCount(r: LoadReport): number { return r.missing.length + r.unexpected.length + r.misshaped.length; }

function assignTensors(model: TimeSformer, tensors: Map<string, NamedTensor>, path: string, opts: { strict: boolean }): LoadReport {
  const { report, assignments } = matchTensors(allSpecs(model.config), tensors);
  if (opts.strict && mismatchCount(report) > 0) throw new Error(describeMismatch(path, report));
  for (const [spec, t] of assignments) {
    const value = toInternal(spec, toFloat32(t.data));
    model.params.get(spec.name)!.assign(value);
    value.dispose();
    report.loaded.push(spec.name);
  }
  return report;
}

function describeMismatch(path: string, r: LoadReport): string {
  const list = (label: string, xs: string[]) => xs.length ? `\n  ${label} (${xs.length}): ${xs.slice(0, 12).join(", ")}${xs.length > 12 ? ", ..." : ""}` : "";
  return `${path}: weights do not match the model${list("missing", r.missing)}${list("unexpected", r.unexpected)}${list("mis-shaped", r.misshaped)}`;
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function toFloat32(data: Float32Array | Int32Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/**
 * Drops a `module.` prefix, adds the `model.` prefix to timm-style names and maps a single official `model.head` to
 * a named head.
 */
export function normaliseNames(tensors: Map<string, NamedTensor>, headName: string): Map<string, NamedTensor> {
  const out = new Map<string, NamedTensor>();
  for (const [original, t] of tensors) {
    const name = original.startsWith("module.") ? original.slice("module.".length) : original;
    let key = name.startsWith(PREFIX) ? name : PREFIX + name;
    if (key === `${PREFIX}head.weight`) key = headParamName(headName, "weight");
    if (key === `${PREFIX}head.bias`) key = headParamName(headName, "bias");
    out.set(key, t);
  }
  return out;
}

export function isImageCheckpoint(tensors: Map<string, NamedTensor>): boolean {
  return ![...tensors.keys()].some((k) => k.includes("temporal_attn") || k.endsWith("time_embed"));
}

/**
 * The official recipe for starting a divided TimeSformer from an image ViT: temporal_attn and temporal_norm1 copied
 * from each block's attn and norm1; pos_embed resized when the patch count differs, as the official loader does it
 * (nearest over the flattened patch sequence, not the 2-D grid); a head whose class count differs is dropped.
 * time_embed and temporal_fc keep their initial values.
 */
export function inflateImageCheckpoint(tensors: Map<string, NamedTensor>, config: TimeSformerConfig): Map<string, NamedTensor> {
  const out = new Map(tensors);
  for (const [key, t] of tensors) {
    if (!key.includes(".blocks.")) continue;
    if (key.includes(".attn.")) out.set(key.replace(".attn.", ".temporal_attn."), t);
    if (key.includes(".norm1.")) out.set(key.replace(".norm1.", ".temporal_norm1."), t);
  }
  const pos = tensors.get(`${PREFIX}pos_embed`);
  const n = patchesPerFrame(config);
  if (pos && pos.shape[1] !== n + 1) out.set(`${PREFIX}pos_embed`, takeRows(pos, sequenceRows(pos.shape[1] - 1, n)));
  for (const head of Object.keys(config.classifiers)) {
    const w = out.get(headParamName(head, "weight"));
    if (w && w.shape[0] !== config.classifiers[head]) {
      out.delete(headParamName(head, "weight"));
      out.delete(headParamName(head, "bias"));
    }
  }
  return out;
}

/** Our metadata's config, else the architecture read off the tensor shapes. */
function configFromFile(file: SafetensorsFile, tensors: Map<string, NamedTensor>, options: LoadOptions, path: string): TimeSformerConfig {
  const stored = file.metadata[CONFIG_KEY];
  if (stored) {
    const config = parseStoredConfig(stored, `${path}: metadata '${CONFIG_KEY}'`);
    return options.numHeads ? { ...config, numHeads: options.numHeads } : config;
  }
  return inferConfig(tensors, options, path);
}

/** A TimeSformer config stored as JSON text (weights and checkpoint metadata); `where` names the file and key. */
export function parseStoredConfig(text: string, where: string): TimeSformerConfig {
  let json: unknown;
  try { json = JSON.parse(text); } catch { throw new Error(`${where} is not JSON`); }
  return checkSchema(TIMESFORMER_CONFIG, json, where);
}

/**
 * The model the file describes must be the model the file holds: every parameter present with its exact shape,
 * checked on shapes alone before a byte is allocated (a config claiming 1e7 frames or 1e8 blocks fails here, in
 * milliseconds). A file holds at least one tensor per block, which bounds the specs listed.
 */
export function checkShapesBeforeAllocating(config: TimeSformerConfig, tensors: Map<string, NamedTensor>, path: string): void {
  if (config.depth > tensors.size) throw new Error(`${path}: the architecture claims ${config.depth} blocks, but the file holds only ${tensors.size} tensors`);
  const { report } = matchTensors(allSpecs(config), tensors);
  if (mismatchCount(report) > 0) throw new Error(describeMismatch(path, report));
}

export function inferConfig(tensors: Map<string, NamedTensor>, options: LoadOptions, path: string): TimeSformerConfig {
  const need = (name: string): NamedTensor => {
    const t = tensors.get(PREFIX + name);
    if (!t) throw new Error(`${path}: cannot infer the architecture: no '${PREFIX}${name}' tensor`);
    return t;
  };
  const dim = dimOf(need("cls_token"), 2, 3, `${PREFIX}cls_token`, path);
  const patchSize = dimOf(need("patch_embed.proj.weight"), 2, 4, `${PREFIX}patch_embed.proj.weight`, path);
  const patches = dimOf(need("pos_embed"), 1, 3, `${PREFIX}pos_embed`, path) - 1;
  const depth = blockCount(tensors, path);
  const traits = { temporalBranch: tensors.has(`${PREFIX}blocks.0.temporal_attn.qkv.weight`), timeEmbed: tensors.has(`${PREFIX}time_embed`) };
  const attention = attentionWith(traits);
  if (!attention) {
    throw new Error(`${path}: cannot infer the architecture: no attention scheme has ${traits.temporalBranch ? "a" : "no"} temporal branch and ${traits.timeEmbed ? "a" : "no"} '${PREFIX}time_embed'`);
  }
  const classifiers: Record<string, number> = {};
  for (const [k, t] of tensors) {
    const m = /^model\.heads\.([^.]+)\.weight$/.exec(k);
    if (m) classifiers[m[1]] = t.shape[0];
  }
  if (!options.numHeads) throw new Error(`${path}: the number of attention heads cannot be read from the weights; pass it (--heads N)`);
  return {
    attention,
    frames: ATTENTION[attention].timeEmbed ? dimOf(need("time_embed"), 1, 3, `${PREFIX}time_embed`, path) : 8,
    imageSize: Math.round(Math.sqrt(patches)) * patchSize,
    patchSize,
    dim,
    depth,
    numHeads: options.numHeads,
    mlpRatio: dimOf(need("blocks.0.mlp.fc1.weight"), 0, 2, `${PREFIX}blocks.0.mlp.fc1.weight`, path) / dim,
    classifiers,
    dropPath: 0,
  };
}


/** Dimension `axis` of a tensor of the given rank, read as an architecture size. */
function dimOf(t: NamedTensor, axis: number, rank: number, key: string, path: string): number {
  if (t.shape.length !== rank) throw new Error(`${path}: tensor '${key}' has shape [${t.shape}], expected ${rank} dimensions`);
  return t.shape[axis];
}

/**
 * Blocks are numbered 0..depth-1 without gaps; a stray number (e.g. `model.blocks.99999999.norm1.bias`) is an
 * error naming the key rather than a model of a hundred million blocks.
 */
function blockCount(tensors: Map<string, NamedTensor>, path: string): number {
  const keysById = new Map<number, string>();
  for (const k of tensors.keys()) {
    const id = /\.blocks\.(\d+)\./.exec(k)?.[1];
    if (id !== undefined && !keysById.has(Number(id))) keysById.set(Number(id), k);
  }
  if (keysById.size === 0) throw new Error(`${path}: cannot infer the architecture: no '${PREFIX}blocks.N.*' tensors`);
  const ids = [...keysById.keys()].sort((a, b) => a - b);
  ids.forEach((id, i) => {
    if (id !== i) throw new Error(`${path}: tensor '${keysById.get(id)}' is block ${id}, but block ${i} has no tensors (blocks must be numbered 0 to ${ids.length - 1})`);
  });
  return ids.length;
}
