#!/usr/bin/env node
// The project's tslab kernel entry (registered by scripts/notebooks-setup.sh; started with `node --import tsx`).
//
// tslab drives TypeScript's watch program with a fake timer that allows one pending rebuild at a time. A file
// created or removed in a folder that TypeScript watches for module resolution (src/ when a notebook imports a
// folder such as "./src/report") schedules a second kind of rebuild, and the next cell then dies with
// "Unexpected pending rebuildTimer". Folder watching is turned off here: edits to files the notebook already
// imports are still seen (file watching stays on); a new module is found by the cell that imports it.
"use strict";
const ts = require("@tslab/typescript-for-tslab");
ts.sys.watchDirectory = undefined;
require("tslab/dist/main").main();
