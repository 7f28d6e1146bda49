/**
 * A reader for the zip archives torch.save writes: entries stored without compression (torch aligns them for
 * memory mapping), zip64 records when the archive or an entry passes 4 GiB. Entries are read on demand from the
 * file (never the whole archive at once), so a checkpoint larger than memory allows can still give up a few tensors.
 * Compressed or encrypted entries are refused with an error naming the entry.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const ZIP64_EXTRA = 0x0001;
const MAX_COMMENT = 0xffff;

export interface ZipEntry { name: string; method: number; flags: number; size: number; compressedSize: number; localOffset: number }

export class ZipError extends Error {}

export class ZipReader {
  readonly entries = new Map<string, ZipEntry>();
  private readonly fd: number;
  private readonly fileSize: number;

  constructor(readonly path: string) {
    try { this.fd = openSync(path, "r"); } catch (err) { throw new ZipError(`${path}: cannot read (${(err as Error).message})`); }
    try {
      this.fileSize = fstatSync(this.fd).size;
      this.readCentralDirectory();
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  /** True when the file starts like a zip archive (a local file header). */
  static isZip(head: Uint8Array): boolean {
    return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
  }

  names(): string[] { return [...this.entries.keys()]; }

  /** The bytes of a stored entry. */
  read(name: string): Buffer {
    const entry = this.entries.get(name);
    if (!entry) throw new ZipError(`${this.path}: the archive has no entry '${name}'`);
    if (entry.flags & 0x1) throw new ZipError(`${this.path}: entry '${name}' is encrypted`);
    if (entry.method !== 0) throw new ZipError(`${this.path}: entry '${name}' is compressed (method ${entry.method}); only stored entries are supported, as torch.save writes them`);
    const local = this.bytes(entry.localOffset, 30, `the local header of '${name}'`);
    if (local.readUInt32LE(0) !== LOCAL) throw new ZipError(`${this.path}: entry '${name}' has no local header at offset ${entry.localOffset}`);
    const start = entry.localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
    return this.bytes(start, entry.size, `entry '${name}'`);
  }

  close(): void { closeSync(this.fd); }

  private bytes(offset: number, length: number, what: string): Buffer {
    if (offset < 0 || offset + length > this.fileSize) throw new ZipError(`${this.path}: ${what} lies past the end of the file (truncated?)`);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (n === 0) throw new ZipError(`${this.path}: ${what} is cut short`);
      done += n;
    }
    return out;
  }

  private readCentralDirectory(): void {
    const tailLength = Math.min(this.fileSize, 22 + MAX_COMMENT + 20);
    const tail = this.bytes(this.fileSize - tailLength, tailLength, "the end of the archive");
    let at = -1;
    for (let i = tailLength - 22; i >= 0; i--) if (tail.readUInt32LE(i) === EOCD) { at = i; break; }
    if (at < 0) throw new ZipError(`${this.path}: not a zip archive (no end-of-central-directory record)`);
    let count = tail.readUInt16LE(at + 10);
    let size = tail.readUInt32LE(at + 12);
    let offset = tail.readUInt32LE(at + 16);
    if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
      if (at < 20 || tail.readUInt32LE(at - 20) !== ZIP64_LOCATOR) throw new ZipError(`${this.path}: zip64 archive without a zip64 locator`);
      const record = this.bytes(Number(tail.readBigUInt64LE(at - 20 + 8)), 56, "the zip64 end-of-central-directory record");
      if (record.readUInt32LE(0) !== ZIP64_EOCD) throw new ZipError(`${this.path}: bad zip64 end-of-central-directory record`);
      count = Number(record.readBigUInt64LE(32));
      size = Number(record.readBigUInt64LE(40));
      offset = Number(record.readBigUInt64LE(48));
    }
    const dir = this.bytes(offset, size, "the central directory");
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > dir.length || dir.readUInt32LE(p) !== CENTRAL) throw new ZipError(`${this.path}: central directory entry ${i} is damaged`);
      const nameLength = dir.readUInt16LE(p + 28), extraLength = dir.readUInt16LE(p + 30), commentLength = dir.readUInt16LE(p + 32);
      const name = dir.toString("utf8", p + 46, p + 46 + nameLength);
      const entry: ZipEntry = {
        name, flags: dir.readUInt16LE(p + 8), method: dir.readUInt16LE(p + 10),
        compressedSize: dir.readUInt32LE(p + 20), size: dir.readUInt32LE(p + 24), localOffset: dir.readUInt32LE(p + 42),
      };
      applyZip64Extra(entry, dir.subarray(p + 46 + nameLength, p + 46 + nameLength + extraLength));
      this.entries.set(name, entry);
      p += 46 + nameLength + extraLength + commentLength;
    }
  }
}

/** The zip64 extra field holds, in this order, whichever of size, compressed size and offset overflowed 32 bits. */
function applyZip64Extra(entry: ZipEntry, extra: Buffer): void {
  for (let q = 0; q + 4 <= extra.length;) {
    const id = extra.readUInt16LE(q), length = extra.readUInt16LE(q + 2);
    if (id === ZIP64_EXTRA) {
      let r = q + 4;
      const next = () => { const v = Number(extra.readBigUInt64LE(r)); r += 8; return v; };
      if (entry.size === 0xffffffff) entry.size = next();
      if (entry.compressedSize === 0xffffffff) entry.compressedSize = next();
      if (entry.localOffset === 0xffffffff) entry.localOffset = next();
    }
    q += 4 + length;
  }
}
