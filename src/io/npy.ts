/** Read and write NumPy .npy files (format 1.0/2.0/3.0, C order, little-endian) for uint8, int32 and float32 arrays. */
import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../util/atomic";

export type NpyDtype = "uint8" | "int32" | "float32";
export type NpyData = Uint8Array | Int32Array | Float32Array;

export interface NpyArray<D extends NpyData = NpyData> {
  dtype: NpyDtype;
  shape: number[];
  data: D;
}

const DESCR: Record<NpyDtype, string> = { uint8: "|u1", int32: "<i4", float32: "<f4" };
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function dtypeOfDescr(descr: string, file: string): NpyDtype {
  for (const [dtype, d] of Object.entries(DESCR)) if (d === descr || d.slice(1) === descr.slice(1) && descr[0] === "=") return dtype as NpyDtype;
  if (descr === "u1" || descr === "<u1") return "uint8";
  throw new Error(`${file}: unsupported .npy dtype '${descr}' (supported: float32 <f4, int32 <i4, uint8 |u1)`);
}

export function encodeNpy(array: NpyArray): Buffer {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new Error(`npy: shape [${array.shape}] holds ${count} values but the data has ${array.data.length}`);
  }
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(", ")})`;
  let header = `{'descr': '${DESCR[array.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const prefix = Buffer.alloc(MAGIC.length + 4);
  MAGIC.copy(prefix, 0);
  prefix[6] = 1; prefix[7] = 0;
  prefix.writeUInt16LE(header.length, 8);
  const body = Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  return Buffer.concat([prefix, Buffer.from(header, "latin1"), body]);
}

/** Longest part of a header quoted in an error message. */
const QUOTE_LIMIT = 120;

function quoteHeader(header: string): string {
  const text = header.trim();
  return text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}... (${text.length} characters)` : text;
}

/** Dimensions of a header's shape tuple, e.g. "2, 3" or "5,"; each a non-negative integer. */
function parseShape(shapeText: string, header: string, file: string): number[] {
  const parts = shapeText.split(",").map((s) => s.trim());
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop(); // "(5,)"
  if (parts.length === 1 && parts[0] === "") return []; // "()": a scalar
  const shape = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (!shape.every((d) => Number.isSafeInteger(d))) throw new Error(`${file}: malformed .npy header: shape (${quoteHeader(shapeText)}) is not a tuple of non-negative integers: ${quoteHeader(header)}`);
  return shape;
}

export function decodeNpy(bytes: Buffer, file = "<buffer>"): NpyArray {
  if (bytes.length < 10 || !bytes.subarray(0, 6).equals(MAGIC)) throw new Error(`${file}: not a .npy file (bad magic)`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new Error(`${file}: unsupported .npy format version ${major} (supported: 1, 2, 3)`);
  if (major > 1 && bytes.length < 12) throw new Error(`${file}: not a .npy file (cut short inside its header)`);
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) throw new Error(`${file}: not a .npy file (header length ${headerLen} exceeds the file's ${bytes.length} bytes)`);
  const header = bytes.subarray(start, start + headerLen).toString("latin1");
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new Error(`${file}: malformed .npy header (needs 'descr', 'fortran_order' and 'shape'): ${quoteHeader(header)}`);
  if (fortran === "True") throw new Error(`${file}: Fortran-order .npy arrays are not supported; save with np.ascontiguousarray`);
  const dtype = dtypeOfDescr(descr.slice(0, QUOTE_LIMIT), file);
  const shape = parseShape(shapeText, header, file);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  const raw = bytes.subarray(offset);
  const itemSize = dtype === "uint8" ? 1 : 4;
  if (raw.length !== count * itemSize) {
    throw new Error(`${file}: .npy shape [${shape}] needs ${count * itemSize} bytes of data, found ${raw.length}`);
  }
  const copy = new Uint8Array(raw); // aligned copy
  const data = dtype === "uint8" ? copy : dtype === "int32" ? new Int32Array(copy.buffer) : new Float32Array(copy.buffer);
  return { dtype, shape, data };
}

export function readNpy(path: string): NpyArray {
  let bytes: Buffer;
  try { bytes = readFileSync(path); } catch (err) { throw new Error(`${path}: cannot read .npy file (${(err as Error).message})`); }
  return decodeNpy(bytes, path);
}

export function writeNpy(path: string, array: NpyArray): void {
  writeFileAtomic(path, encodeNpy(array));
}
