/**
 * The safetensors format: u64 little-endian header length, a JSON header
 * {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then the raw tensor bytes.
 * Reads F32/F16/BF16/F64/I32/I64 (floats are converted to float32); writes F32 and I32.
 */
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic";

export interface NamedTensor { shape: number[]; data: Float32Array | Int32Array }
export interface SafetensorsFile { tensors: Map<string, NamedTensor>; metadata: Record<string, string> }

interface HeaderEntry { dtype: string; shape: number[]; data_offsets: [number, number] }

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

export function decodeSafetensors(bytes: Uint8Array, file = "<buffer>"): SafetensorsFile {
  if (bytes.length < 8) throw new Error(`${file}: not a safetensors file (too short)`);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (headerLen > bytes.length - 8) throw new Error(`${file}: not a safetensors file (header length ${headerLen} exceeds file size)`);
  let header: Record<string, unknown>;
  try { header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString("utf8")); }
  catch { throw new Error(`${file}: not a safetensors file (header is not JSON)`); }
  const body = bytes.subarray(8 + headerLen);
  const tensors = new Map<string, NamedTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header)) {
    if (name === "__metadata__") { metadata = value as Record<string, string>; continue; }
    const entry = value as HeaderEntry;
    const size = ITEM_SIZE[entry.dtype];
    if (size === undefined) throw new Error(`${file}: tensor '${name}' has unsupported dtype ${entry.dtype}`);
    const count = entry.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = entry.data_offsets;
    if (end - begin !== count * size || end > body.length) {
      throw new Error(`${file}: tensor '${name}' of shape [${entry.shape}] has inconsistent data offsets [${begin}, ${end}]`);
    }
    tensors.set(name, { shape: entry.shape, data: decodeTensor(body.subarray(begin, end), entry.dtype, count, name, file) });
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
