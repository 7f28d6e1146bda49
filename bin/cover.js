#!/usr/bin/env node
// Entry point of the `cover` CLI: runs the TypeScript sources directly (no build step).
require("tsx/cjs/api").register();
require("../src/cli/main").main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code ?? 0; },
  (err) => { console.error(`cover: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
