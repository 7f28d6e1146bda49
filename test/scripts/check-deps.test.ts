import { test } from "node:test";
import assert from "node:assert/strict";
import { join, resolve } from "node:path";
import { checkFile, checkSources, importsOf, LAYERS } from "../../scripts/check-deps";

const SRC = resolve(__dirname, "../../src");

test("the sources keep the layers", () => {
  assert.deepEqual(checkSources(), []);
});

test("an upward import is found in every import form", () => {
  const file = join(SRC, "data", "example.ts");
  const forms = [
    `import { RunConfig } from "../runs/config";`,
    `import type { RunConfig } from "../runs/config";`,
    `export { RunConfig } from "../runs/config";`,
    `const m = require("../runs/config") as typeof import("../runs/config");`,
    `async function f() { return import("../runs/config"); }`,
  ];
  for (const text of forms) {
    const found = checkFile(file, text);
    assert.ok(found.length >= 1, text);
    assert.match(found[0].why, /upward import: data \(layer 4\) imports runs \(layer 6\)/);
  }
});

test("downward, same-folder and package imports pass; src/ importing test/ or scripts/ does not", () => {
  const file = join(SRC, "runs", "example.ts");
  assert.deepEqual(checkFile(file, `import { Rng } from "../util/rng";\nimport { x } from "./config";\nimport * as tf from "@tensorflow/tfjs";`), []);
  assert.match(checkFile(file, `import { x } from "../../test/helpers/tf";`)[0].why, /not part of the library/);
  assert.match(checkFile(file, `import { x } from "../../scripts/lib/nbrun";`)[0].why, /not part of the library/);
});

test("a folder missing from the layer table is an error", () => {
  assert.match(checkFile(join(SRC, "newfolder", "x.ts"), "")[0].why, /not in the layer table/);
  assert.ok(LAYERS.indexOf("util") < LAYERS.indexOf("cli"));
});

test("import lines are reported", () => {
  assert.deepEqual(importsOf("x.ts", `// a comment\nimport { a } from "./a";\n\nconst b = require("./b");`).map((i) => [i.spec, i.line]), [["./a", 2], ["./b", 4]]);
});
