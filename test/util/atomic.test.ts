import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/util/atomic";

test("atomic writes create folders, replace the file and leave no temp files", () => {
  const dir = mkdtempSync(join(tmpdir(), "cover-atomic-"));
  const file = join(dir, "a", "b", "x.bin");
  writeFileAtomic(file, new Uint8Array([1, 2, 3]));
  assert.deepEqual([...readFileSync(file)], [1, 2, 3]);
  writeFileAtomic(file, "text");
  assert.equal(readFileSync(file, "utf8"), "text");
  assert.deepEqual(readdirSync(join(dir, "a", "b")), ["x.bin"]);
});

test("a failed write leaves the old file untouched", () => {
  const dir = mkdtempSync(join(tmpdir(), "cover-atomic-"));
  const file = join(dir, "x.txt");
  writeFileAtomic(file, "old");
  assert.throws(() => writeFileAtomic(join(file, "child"), "new")); // parent is a file
  assert.equal(readFileSync(file, "utf8"), "old");
});
