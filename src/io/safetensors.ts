/**
 * The safetensors format: u64 little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then the raw tensor bytes.
 * Reads F32/F16/BF16/F64/I32/I64 (floats are converted to float32); writes F32 and I32.
 */
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic";

export interface NamedTensor { shape: number[]; data: Float32Array | Int32Array }
export interface SafetensorsFile { tensors: Map<string, NamedTensor>; metadata: Record<string, string> }

const ITEM_SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 };

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Little-endian elements of a dtype (F32, F16, BF16, F64, I32, I64) as float32, or int32 for the integer types. */
export function decodeTensor(bytes: Uint8Array, dtype: string, count: number, name: string, file: string): Float32Array | Int32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32": return new Float32Array(new Uint8Array(bytes).buffer); // copy: aligned, detached from the file buffer
    case "I32": return new Int32Array(new Uint8Array(bytes).buffer);
    case "F64": return Float32Array.from({ length: count }, (_, i) => view.getFloat64(i * 8, true));
    case "F16": return Float32Array.from({ length: count }, (_, i) => halfToFloat(view.getUint16(i * 2, true)));
    case "BF16": {
      const out = new Float32Array(count);
      const u32 = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u32[i] = view.getUint16(i * 2, true) << 16;
      return out;
    }
    case "I64": return Int32Array.from({ length: count }, (_, i) => Number(view.getBigInt64(i * 8, true)));
    default: throw new Error(`${file}: tensor '${name}' has unsupported dtype ${dtype}`);
  }
}

/** Longest part of a header quoted in an error message. */
const QUOTE_LIMIT = 120;

function quote(text: string): string {
  return text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}... (${text.length} characters)` : text;
}

interface ValidEntry { name: string; dtype: string; shape: number[]; begin: number; end: number }

/**
 * Checks the whole header before anything is allocated: every entry an object with a known dtype, an integer
 * non-negative shape whose byte size is end - begin, and offsets that tile the data block exactly (sorted, no
 * overlap, no gap, nothing after the last tensor). Returns the entries in header order.
 */
function validateHeader(header: unknown, bodyLength: number, file: string): { entries: ValidEntry[]; metadata: Record<string, string> } {
  const fail = (why: string): never => { throw new Error(`${file}: not a valid safetensors file: ${why}`); };
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("the header is not a JSON object");
  let metadata: Record<string, string> = {};
  const entries: ValidEntry[] = [];
  for (const [name, value] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") { metadata = validateMetadata(value, fail); continue; }
    entries.push(validateEntry(name, value, fail));
  }
  let at = 0;
  for (const e of [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end)) {
    if (e.begin < at) fail(`tensor '${e.name}' at bytes [${e.begin}, ${e.end}] overlaps the tensor before it (which ends at ${at})`);
    if (e.begin > at) fail(`bytes [${at}, ${e.begin}] of the data block belong to no tensor (before '${e.name}')`);
    if (e.end > bodyLength) fail(`tensor '${e.name}' ends at byte ${e.end} of the data block, but the data block has ${bodyLength} bytes`);
    at = e.end;
  }
  if (at !== bodyLength) fail(`the data block has ${bodyLength} bytes but its tensors cover ${at}`);
  return { entries, metadata };
}

function validateMetadata(value: unknown, fail: (why: string) => never): Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail("__metadata__ is not an object of strings");
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== "string") fail(`__metadata__ entry '${quote(k)}' is not a string`);
  }
  return value as Record<string, string>;
}

function validateEntry(name: string, value: unknown, fail: (why: string) => never): ValidEntry {
  const label = `tensor '${quote(name)}'`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(`${label} is not an object {dtype, shape, data_offsets}`);
  const entry = value as Record<string, unknown>;
  const dtype = entry.dtype;
  if (typeof dtype !== "string" || ITEM_SIZE[dtype] === undefined) {
    fail(`${label} has unsupported dtype ${quote(JSON.stringify(dtype) ?? "undefined")} (supported: ${Object.keys(ITEM_SIZE).join(", ")})`);
  }
  const shape = entry.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail(`${label} has shape ${quote(JSON.stringify(shape) ?? "undefined")}; a shape is a list of non-negative integers`);
  }
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[1] < offsets[0]) {
    fail(`${label} has data_offsets ${quote(JSON.stringify(offsets) ?? "undefined")}; expected [begin, end] with 0 <= begin <= end`);
  }
  const [begin, end] = offsets as [number, number];
  const bytes = (shape as number[]).reduce((a, b) => a * b, 1) * ITEM_SIZE[dtype as string];
  if (bytes !== end - begin) fail(`${label} of shape [${shape}] and dtype ${dtype} needs ${bytes} bytes, but its data_offsets [${begin}, ${end}] hold ${end - begin}`);
  return { name, dtype: dtype as string, shape: shape as number[], begin, end };
}

export function decodeSafetensors(bytes: Uint8Array, file = "<buffer>"): SafetensorsFile {
  if (bytes.length < 8) throw new Error(`${file}: not a safetensors file (${bytes.length} bytes; even the header length takes 8)`);
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(bytes.length - 8)) throw new Error(`${file}: not a safetensors file (header length ${headerLen} exceeds the file's ${bytes.length} bytes)`);
  const headerEnd = 8 + Number(headerLen);
  let header: unknown;
  try { header = JSON.parse(Buffer.from(bytes.subarray(8, headerEnd)).toString("utf8")); }
  catch { throw new Error(`${file}: not a safetensors file (its ${headerLen}-byte header is not JSON)`); }
  const body = bytes.subarray(headerEnd);
  const { entries, metadata } = validateHeader(header, body.length, file);
  const tensors = new Map<string, NamedTensor>();
  for (const e of entries) {
    const count = e.shape.reduce((a, b) => a * b, 1);
    tensors.set(e.name, { shape: e.shape, data: decodeTensor(body.subarray(e.begin, e.end), e.dtype, count, e.name, file) });
  }
  return { tensors, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (err) { throw new Error(`${path}: cannot read weights (${(err as Error).message})`); }
  return decodeSafetensors(bytes, path);
}

export function encodeSafetensors(tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = [...tensors.keys()].sort();
  for (const name of names) {
    const t = tensors.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`safetensors: tensor '${name}' shape [${t.shape}] does not match ${t.data.length} values`);
    header[name] = { dtype: t.data instanceof Float32Array ? "F32" : "I32", shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // keep the tensor data 8-byte aligned
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  const parts: Buffer[] = [prefix, Buffer.from(json)];
  for (const name of names) {
    const d = tensors.get(name)!.data;
    parts.push(Buffer.from(d.buffer, d.byteOffset, d.byteLength));
  }
  return Buffer.concat(parts);
}

export function writeSafetensors(path: string, tensors: Map<string, NamedTensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
