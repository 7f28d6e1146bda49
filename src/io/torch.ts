/**
 * PyTorch checkpoints (torch.save's zip format, PyTorch >= 1.6) read natively: the zip archive holds
 * `<name>/data.pkl`, a pickle that builds the saved object and refers to tensor storages by persistent id, and
 * `<name>/data/<key>`, each storage's raw little-endian bytes. Tensors are rebuilt from (storage, offset, size,
 * stride); strided views are materialised. Only the storages of the state dict are read.
 */
import { extname } from "node:path";
import { decodeTensor, NamedTensor } from "./safetensors";
import { PickleError, PyObject, unpickle } from "./pickle";
import { ZipReader } from "./zip";

/** torch storage classes -> safetensors dtype names and bytes per element. */
const STORAGE_DTYPES: Record<string, { dtype: string; size: number }> = {
  FloatStorage: { dtype: "F32", size: 4 }, HalfStorage: { dtype: "F16", size: 2 }, BFloat16Storage: { dtype: "BF16", size: 2 },
  DoubleStorage: { dtype: "F64", size: 8 }, LongStorage: { dtype: "I64", size: 8 }, IntStorage: { dtype: "I32", size: 4 },
};

/** Where the state dict is looked for in a checkpoint dict, in this order; else the top-level dict itself. */
const STATE_DICT_KEYS = ["model_state", "state_dict", "model"];

export const TORCH_EXTENSIONS = [".pyth", ".pt", ".pth", ".ckpt", ".bin"];

export function isTorchPath(path: string): boolean { return TORCH_EXTENSIONS.includes(extname(path).toLowerCase()); }

class StorageType { constructor(readonly name: string) {} }
class StorageRef { constructor(readonly key: string, readonly dtype: string, readonly itemSize: number, readonly numel: number) {} }
class TensorRef { constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {} }

export interface TorchCheckpoint {
  tensors: Map<string, NamedTensor>;
  /** Where the state dict was found: "model_state", "state_dict", "model", or "" for the top level. */
  stateDictKey: string;
}

export function readTorchCheckpoint(path: string): TorchCheckpoint {
  const zip = new ZipReader(path);
  try {
    const pkl = zip.names().find((n) => n === "data.pkl" || n.endsWith("/data.pkl"));
    if (!pkl) throw new Error(`${path}: a zip archive but not a PyTorch checkpoint (no data.pkl)`);
    const prefix = pkl.slice(0, -"data.pkl".length);
    const order = zip.entries.has(`${prefix}byteorder`) ? zip.read(`${prefix}byteorder`).toString("utf8").trim() : "little";
    if (order !== "little") throw new Error(`${path}: tensors are stored ${order}-endian; only little-endian checkpoints are supported`);
    const root = unpickle(zip.read(pkl), torchHooks(), `${path}: ${pkl}`);
    const { dict, key } = findStateDict(root, path);
    const tensors = new Map<string, NamedTensor>();
    for (const [name, value] of dict) {
      if (typeof name !== "string") throw new Error(`${path}: state dict key ${String(name)} is not a string`);
      if (!(value instanceof TensorRef)) throw new Error(`${path}: state dict entry '${name}' is not a tensor (${describe(value)})`);
      tensors.set(name, materialise(value, zip, prefix, name, path));
    }
    return { tensors, stateDictKey: key };
  } catch (err) {
    if (err instanceof PickleError) throw new Error(err.message);
    throw err;
  } finally {
    zip.close();
  }
}

function torchHooks() {
  return {
    resolveGlobal(module: string, name: string): unknown {
      const qualified = `${module}.${name}`;
      if (qualified === "collections.OrderedDict") return () => new Map();
      if (qualified === "torch._utils._rebuild_tensor_v2") return rebuildTensor;
      if (qualified === "torch._utils._rebuild_tensor") return rebuildTensor;
      if (qualified === "torch._utils._rebuild_parameter") return (args: unknown[]) => args[0];
      if (module === "torch" && name.endsWith("Storage")) return new StorageType(name);
      // Anything else (numpy scalars, argparse.Namespace, ...) is kept as an inert record: fine outside the state dict.
      return Object.assign((args: unknown[]): PyObject => ({ pyClass: qualified, args }), { pyClass: qualified });
    },
    persistentLoad(pid: unknown): unknown {
      if (!Array.isArray(pid) || pid[0] !== "storage" || pid.length < 5) throw new Error(`unexpected persistent id ${describe(pid)}`);
      const [, type, key, , numel] = pid as [string, unknown, unknown, unknown, unknown];
      if (!(type instanceof StorageType)) throw new Error(`persistent id with storage type ${describe(type)}`);
      const known = STORAGE_DTYPES[type.name];
      // An unsupported dtype (e.g. bool) only matters if a state-dict tensor uses it.
      return new StorageRef(String(key), known?.dtype ?? type.name, known?.size ?? 0, Number(numel));
    },
  };
}

/** _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]). */
function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  const ints = (xs: unknown) => Array.isArray(xs) && xs.every((x) => Number.isInteger(x));
  if (!(storage instanceof StorageRef) || !Number.isInteger(offset) || !ints(size) || !ints(stride)) {
    throw new Error(`_rebuild_tensor_v2 called with unexpected arguments (${args.map(describe).join(", ")})`);
  }
  return new TensorRef(storage, offset as number, size as number[], stride as number[]);
}

function findStateDict(root: unknown, path: string): { dict: Map<unknown, unknown>; key: string } {
  if (!(root instanceof Map)) throw new Error(`${path}: the checkpoint holds ${describe(root)}, not a dict`);
  for (const key of STATE_DICT_KEYS) {
    const value = root.get(key);
    if (value instanceof Map && [...value.values()].some((v) => v instanceof TensorRef)) return { dict: value, key };
  }
  if ([...root.values()].some((v) => v instanceof TensorRef)) return { dict: root, key: "" };
  const keys = [...root.keys()].map(String).slice(0, 12).join(", ");
  throw new Error(`${path}: no state dict found (looked for ${STATE_DICT_KEYS.join(", ")} or tensors at the top level; keys: ${keys})`);
}

/** The tensor's elements in row-major order, whatever its strides and storage offset. */
function materialise(t: TensorRef, zip: ZipReader, prefix: string, name: string, path: string): NamedTensor {
  const { storage, shape, stride, offset } = t;
  if (!storage.itemSize) throw new Error(`${path}: tensor '${name}' has dtype ${storage.dtype}; supported: float32, float16, bfloat16, float64, int64, int32`);
  if (shape.length !== stride.length) throw new Error(`${path}: tensor '${name}' has ${shape.length} sizes but ${stride.length} strides`);
  const bytes = zip.read(`${prefix}data/${storage.key}`);
  const item = storage.itemSize;
  const count = shape.reduce((a, b) => a * b, 1);
  let last = offset;
  for (let d = 0; d < shape.length; d++) if (shape[d] > 0) last += (shape[d] - 1) * stride[d];
  if (count > 0 && (offset < 0 || (last + 1) * item > bytes.length)) {
    throw new Error(`${path}: tensor '${name}' [${shape}] (offset ${offset}, strides [${stride}]) reaches past its storage of ${bytes.length / item} elements`);
  }
  const contiguous = isContiguous(shape, stride);
  const raw = contiguous ? bytes.subarray(offset * item, (offset + count) * item) : gather(bytes, item, shape, stride, offset, count);
  const data = decodeTensor(raw, storage.dtype, count, name, path);
  if (storage.dtype === "I64") checkInt32(raw, count, name, path);
  return { shape: [...shape], data };
}

function isContiguous(shape: number[], stride: number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** Copies the strided elements into a contiguous buffer, row-major. */
function gather(bytes: Buffer, item: number, shape: number[], stride: number[], offset: number, count: number): Buffer {
  const out = Buffer.allocUnsafe(count * item);
  const index = new Array<number>(shape.length).fill(0);
  let src = offset;
  for (let i = 0; i < count; i++) {
    bytes.copy(out, i * item, src * item, (src + 1) * item);
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]++;
      src += stride[d];
      if (index[d] < shape[d]) break;
      src -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}

/** int64 tensors become int32 (what the kit's weights hold); a value that does not fit is an error, not a wrap. */
function checkInt32(raw: Buffer, count: number, name: string, path: string): void {
  for (let i = 0; i < count; i++) {
    const v = raw.readBigInt64LE(i * 8);
    if (v > 2147483647n || v < -2147483648n) throw new Error(`${path}: int64 tensor '${name}' holds ${v}, which does not fit in int32`);
  }
}

function describe(value: unknown): string {
  if (value === null) return "None";
  if (value instanceof Map) return "a dict";
  if (Array.isArray(value)) return "a tuple/list";
  if (typeof value === "function" && "pyClass" in value) return String(value.pyClass);
  if (typeof value === "object" && "pyClass" in value) return `a ${(value as PyObject).pyClass} object`;
  return typeof value === "string" ? `'${value}'` : String(value);
}
