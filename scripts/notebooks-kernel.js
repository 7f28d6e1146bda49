#!/usr/bin/env node
// The project's tslab kernel entry (registered by scripts/notebooks-setup.sh; started with `node --import tsx`).
//
// tslab drives TypeScript's watch program with a fake timer that allows one pending rebuild at a time. A file
// created or removed in a folder that TypeScript watches for module resolution (src/ when a notebook imports a
// folder such as "./src/report") schedules a second kind of rebuild, and the next cell then dies with
// "Unexpected pending rebuildTimer". Folder watching is turned off here: edits to files the notebook already
// imports are still seen (file watching stays on); a new module is found by the cell that imports it.
//
// A kernel interrupt is SIGINT. tslab's own handler ends the running cell at once ("Interrupted asynchronously")
// while training goes on in the background until it has checkpointed: its InterruptedError, which says where the
// checkpoint is, is lost, and the run's folder stays locked for a moment. So while cover-kit's work listens for the
// signal itself (it checkpoints, then its cell fails with that InterruptedError), the first interrupt is left to it;
// a second interrupt of the same work, or one while nothing of cover-kit listens, goes to tslab as before.
//
// tslab handles shell requests concurrently and publishes "busy" when one arrives and "idle" when it is done, so
// JupyterLab, which shows the last status, reads "idle" while a cell still trains as soon as any other request ends
// (the cells queued before it by "run all", a kernel_info from a second tab). After such an "idle", the kernel
// says "busy" again for the request still running, as a kernel that handles one request at a time would show it.
//
// tslab runs each cell with vm's breakOnSigint. When that script returns, Node puts back its own SIGINT handler, which
// ends the process, in place of the one behind process.on("SIGINT"): the next interrupt would kill the kernel. The
// listeners are therefore added again after each cell's script, which installs the handler that calls them.
//
// tslab compiles with its own options, without strictNullChecks. The kit is written for `strict` (tsconfig.json), and
// its zod schemas infer every field as optional without strictNullChecks, so src/ would not type-check in a notebook:
// the option is added to tslab's compiler options here.
"use strict";
const vm = require("node:vm");
const runInThisContext = vm.runInThisContext;
vm.runInThisContext = function (code, options) {
  try {
    return runInThisContext.call(this, code, options);
  } finally {
    if (options && options.breakOnSigint) {
      const listeners = process.listeners("SIGINT");
      process.removeAllListeners("SIGINT");
      for (const listener of listeners) process.on("SIGINT", listener);
    }
  }
};

const ts = require("@tslab/typescript-for-tslab");
ts.sys.watchDirectory = undefined;
// TypeScript's exports are getters that cannot be replaced, so tslab is given a copy of the module's exports in which
// only createWatchCompilerHost differs (tslab requires the module after this file does).
const tsModule = require.cache[require.resolve("@tslab/typescript-for-tslab")];
const tsWithStrictNulls = {};
for (const key of Object.keys(ts)) {
  if (key !== "createWatchCompilerHost") Object.defineProperty(tsWithStrictNulls, key, { enumerable: true, get: () => ts[key] });
}
tsWithStrictNulls.createWatchCompilerHost = (rootFiles, options, ...rest) =>
  ts.createWatchCompilerHost(rootFiles, { ...options, strictNullChecks: true }, ...rest);
tsModule.exports = tsWithStrictNulls;

const { ZmqServer } = require("tslab/dist/jupyter");
const publishStatus = ZmqServer.prototype.publishStatus;
const inFlight = new Set();
ZmqServer.prototype.publishStatus = function (status, parent) {
  if (status === "busy") inFlight.add(parent);
  else inFlight.delete(parent);
  publishStatus.call(this, status, parent);
  if (status === "idle" && inFlight.size > 0) publishStatus.call(this, "busy", inFlight.values().next().value);
};

const atStart = new Set(process.listeners("SIGINT"));
require("tslab/dist/main").main();
const tslabListeners = process.listeners("SIGINT").filter((listener) => !atStart.has(listener));
const leftToWork = new WeakSet();
function onInterrupt() {
  const work = process.listeners("SIGINT").filter((listener) => listener !== onInterrupt && !atStart.has(listener));
  if (work.length > 0 && !work.some((listener) => leftToWork.has(listener))) {
    for (const listener of work) leftToWork.add(listener);
    return;
  }
  for (const listener of tslabListeners) listener("SIGINT");
}
if (tslabListeners.length > 0) {
  for (const listener of tslabListeners) process.off("SIGINT", listener);
  process.on("SIGINT", onInterrupt);
}
