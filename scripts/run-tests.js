#!/usr/bin/env node
// Runs every test/**/*.test.ts (or the files/folders given) with node's built-in test runner.
// Node 20's --test takes no glob, so the files are listed here.
const { readdirSync, statSync } = require("node:fs");
const { join } = require("node:path");
const { spawnSync } = require("node:child_process");

function collect(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path).sort().flatMap((name) => {
    const full = join(path, name);
    if (statSync(full).isDirectory()) return collect(full);
    return name.endsWith(".test.ts") ? [full] : [];
  });
}

const roots = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("-"));
const files = (roots.length ? roots : ["test"]).flatMap(collect);
if (files.length === 0) { console.error("no test files found"); process.exit(1); }
const result = spawnSync(process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", ...flags, ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
