/**
 * A minimal pickle interpreter for what torch.save writes for checkpoints (protocol 2, some protocol 4 opcodes):
 * dicts, lists, tuples, numbers, strings, memo, GLOBAL + REDUCE / NEWOBJ / BUILD, and persistent ids (how torch
 * refers to tensor storages). It never runs code: GLOBAL asks `resolveGlobal` for a JS stand-in, and an opcode
 * outside this set is an error naming it and its position.
 */

/** A Python callable or class as a JS function of its positional arguments. */
export type PyCallable = (args: unknown[]) => unknown;

export interface PickleHooks {
  /** The stand-in for `module.name` (GLOBAL / STACK_GLOBAL): a callable, or any value. */
  resolveGlobal(module: string, name: string): unknown;
  /** The object a persistent id (BINPERSID) stands for. */
  persistentLoad(pid: unknown): unknown;
}

/** An object BUILD gave state to (e.g. an instance of a class the hooks do not know). */
export interface PyObject { pyClass: string; args: unknown[]; state?: unknown }

export class PickleError extends Error {}

const MARK = Symbol("mark");

/** Opcode names, for error messages. */
const NAMES: Record<number, string> = {
  0x80: "PROTO", 0x95: "FRAME", 0x2e: "STOP", 0x28: "MARK", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP",
  0x7d: "EMPTY_DICT", 0x5d: "EMPTY_LIST", 0x29: "EMPTY_TUPLE", 0x74: "TUPLE", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3",
  0x6c: "LIST", 0x64: "DICT", 0x61: "APPEND", 0x65: "APPENDS", 0x73: "SETITEM", 0x75: "SETITEMS",
  0x4a: "BININT", 0x4b: "BININT1", 0x4d: "BININT2", 0x8a: "LONG1", 0x47: "BINFLOAT", 0x4e: "NONE", 0x88: "NEWTRUE", 0x89: "NEWFALSE",
  0x58: "BINUNICODE", 0x8c: "SHORT_BINUNICODE", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING", 0x42: "BINBYTES", 0x43: "SHORT_BINBYTES",
  0x71: "BINPUT", 0x72: "LONG_BINPUT", 0x68: "BINGET", 0x6a: "LONG_BINGET", 0x94: "MEMOIZE",
  0x63: "GLOBAL", 0x93: "STACK_GLOBAL", 0x52: "REDUCE", 0x81: "NEWOBJ", 0x62: "BUILD", 0x51: "BINPERSID",
};

/** Runs the pickle in `bytes` and returns the object it builds. `source` names the pickle in errors. */
export function unpickle(bytes: Uint8Array, hooks: PickleHooks, source: string): unknown {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let p = 0;
  const fail = (message: string, at = p): never => { throw new PickleError(`${source}: ${message} (byte ${at})`); };
  const need = (n: number) => { if (p + n > buf.length) fail("the pickle ends early"); };
  const u8 = () => { need(1); return buf[p++]; };
  const u16 = () => { need(2); const v = buf.readUInt16LE(p); p += 2; return v; };
  const u32 = () => { need(4); const v = buf.readUInt32LE(p); p += 4; return v; };
  const i32 = () => { need(4); const v = buf.readInt32LE(p); p += 4; return v; };
  const take = (n: number) => { need(n); const v = buf.subarray(p, p + n); p += n; return v; };
  const line = () => { const end = buf.indexOf(0x0a, p); if (end < 0) fail("a GLOBAL without its newline"); const v = buf.toString("utf8", p, end); p = end + 1; return v; };
  const pop = () => { if (stack.length === 0) fail("stack underflow"); return stack.pop(); };
  const top = () => { if (stack.length === 0) fail("stack underflow"); return stack[stack.length - 1]; };
  const popMark = (): unknown[] => {
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stack[i] === MARK) { const items = stack.slice(i + 1); stack.length = i; return items; }
    }
    return fail("no MARK on the stack");
  };
  const call = (fn: unknown, args: unknown, what: string): unknown => {
    if (typeof fn !== "function") return fail(`${what} of something that is not callable`);
    if (!Array.isArray(args)) return fail(`${what} with arguments that are not a tuple`);
    return (fn as PyCallable)(args);
  };
  const setItems = (dict: unknown, items: unknown[]) => {
    if (!(dict instanceof Map)) fail("SETITEM(S) on something that is not a dict");
    for (let i = 0; i + 1 < items.length; i += 2) (dict as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]) => {
    if (!Array.isArray(list)) fail("APPEND(S) on something that is not a list");
    (list as unknown[]).push(...items);
  };

  for (;;) {
    const at = p;
    const op = u8();
    switch (op) {
      case 0x80: u8(); break; // PROTO n
      case 0x95: take(8); break; // FRAME size (framing is only a hint to readers)
      case 0x2e: return pop(); // STOP
      case 0x28: stack.push(MARK); break;
      case 0x30: pop(); break;
      case 0x31: popMark(); break;
      case 0x32: stack.push(top()); break;
      case 0x7d: stack.push(new Map()); break;
      case 0x5d: stack.push([]); break;
      case 0x29: stack.push([]); break;
      case 0x74: stack.push(popMark()); break;
      case 0x85: stack.push([pop()]); break;
      case 0x86: { const b = pop(), a = pop(); stack.push([a, b]); break; }
      case 0x87: { const c = pop(), b = pop(), a = pop(); stack.push([a, b, c]); break; }
      case 0x6c: stack.push(popMark()); break;
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; }
      case 0x61: { const v = pop(); appendItems(top(), [v]); break; }
      case 0x65: { const items = popMark(); appendItems(top(), items); break; }
      case 0x73: { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }
      case 0x75: { const items = popMark(); setItems(top(), items); break; }
      case 0x4a: stack.push(i32()); break;
      case 0x4b: stack.push(u8()); break;
      case 0x4d: stack.push(u16()); break;
      case 0x8a: stack.push(long1(take(u8()))); break;
      case 0x47: { need(8); stack.push(buf.readDoubleBE(p)); p += 8; break; }
      case 0x4e: stack.push(null); break;
      case 0x88: stack.push(true); break;
      case 0x89: stack.push(false); break;
      case 0x58: case 0x54: case 0x42: { const n = u32(); const b = take(n); stack.push(op === 0x42 ? Uint8Array.from(b) : b.toString(op === 0x58 ? "utf8" : "latin1")); break; }
      case 0x8c: case 0x55: case 0x43: { const n = u8(); const b = take(n); stack.push(op === 0x43 ? Uint8Array.from(b) : b.toString(op === 0x8c ? "utf8" : "latin1")); break; }
      case 0x71: memo.set(u8(), top()); break;
      case 0x72: memo.set(u32(), top()); break;
      case 0x94: memo.set(memo.size, top()); break;
      case 0x68: case 0x6a: {
        const key = op === 0x68 ? u8() : u32();
        if (!memo.has(key)) fail(`memo key ${key} was never stored`, at);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(hooks.resolveGlobal(module, name)); break; }
      case 0x93: {
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("STACK_GLOBAL without module and name strings", at);
        stack.push(hooks.resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: { const args = pop(); const fn = pop(); stack.push(call(fn, args, "REDUCE")); break; }
      case 0x81: { const args = pop(); const cls = pop(); stack.push(call(cls, args, "NEWOBJ")); break; }
      case 0x62: { const state = pop(); build(top(), state); break; }
      case 0x51: stack.push(hooks.persistentLoad(pop())); break;
      default: fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")}${NAMES[op] ? ` (${NAMES[op]})` : printable(op)}; only what torch.save writes for state dicts is read`, at);
    }
  }
}

/** BUILD: state for an object. Dicts (e.g. an OrderedDict's) take the items; other objects keep it. */
function build(target: unknown, state: unknown): void {
  if (target instanceof Map && state instanceof Map) { for (const [k, v] of state) target.set(k, v); return; }
  if (typeof target === "object" && target !== null && "pyClass" in target) (target as PyObject).state = state;
}

/** LONG1: little-endian two's complement; as a number when exact, else a bigint. */
function long1(bytes: Buffer): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  if (bytes[bytes.length - 1] & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function printable(op: number): string {
  return op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : "";
}
