/** Papermill-style parameters: the tagged cell's names, an injected cell after it, clear errors naming the notebook. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { declaredParameters, injectParameters, parseParameter } from "../../scripts/lib/nbparams";
import { notebookParameters } from "../../src/report/notebook-params";
import { PROJECT_ROOT } from "../../src/util/paths";
import { tempDir } from "../helpers/tf";

const cell = (source: string, tags?: string[]) => ({ cell_type: "code", metadata: tags ? { tags } : {}, outputs: [], execution_count: null, source });

function notebook(cells: unknown[]): string {
  const path = join(tempDir("nbparams"), "nb.ipynb");
  writeFileSync(path, JSON.stringify({ cells, metadata: {}, nbformat: 4, nbformat_minor: 5 }));
  return path;
}

test("parseParameter: JSON values, else text; a malformed flag is named", () => {
  assert.deepEqual(parseParameter("seeds=[0,1]"), ["seeds", [0, 1]]);
  assert.deepEqual(parseParameter("scale=smoke"), ["scale", "smoke"]);
  assert.deepEqual(parseParameter('base="cover"'), ["base", "cover"]);
  assert.deepEqual(parseParameter("pretrain=false"), ["pretrain", false]);
  assert.throws(() => parseParameter("seeds"), /-p seeds: expected NAME=VALUE/);
  assert.throws(() => parseParameter("1x=2"), /expected NAME=VALUE/);
});

test("declaredParameters reads const/let names, with or without a type", () => {
  assert.deepEqual(declaredParameters('const scale = "cpu";  // comment\nconst seeds: number[] = [0, 1];\nlet out = null;\nconsole.log(scale);'), ["scale", "seeds", "out"]);
});

test("injectParameters adds one tagged cell after the parameters cell, replacing an earlier injected one", () => {
  const path = notebook([cell("// intro"), cell('const scale = "cpu";\nconst seeds = [0, 1, 2];', ["parameters"]), cell("run(scale, seeds);")]);
  const once = injectParameters(path, { scale: "smoke", seeds: [0] }) as { cells: { source: string[] | string; metadata: { tags?: string[] } }[] };
  assert.equal(once.cells.length, 4);
  assert.deepEqual(once.cells[2].metadata.tags, ["injected-parameters"]);
  assert.match((once.cells[2].source as string[]).join(""), /const scale = "smoke";\nconst seeds = \[0\];$/);
  writeFileSync(path, JSON.stringify(once));
  const twice = injectParameters(path, { seeds: [3] }) as { cells: { source: string[] | string }[] };
  assert.equal(twice.cells.length, 4, "the old injected cell is replaced, not stacked");
  assert.match((twice.cells[2].source as string[]).join(""), /const seeds = \[3\];$/);
  assert.equal((injectParameters(path, {}) as { cells: unknown[] }).cells.length, 3, "no overrides, no injected cell");
});

test("injectParameters: no parameters cell, or an unknown name, is an error naming the notebook", () => {
  const plain = notebook([cell("const scale = 1;")]);
  assert.throws(() => injectParameters(plain, { scale: "smoke" }), new RegExp(`${plain}: no parameters cell`));
  const tagged = notebook([cell('const scale = "cpu";', ["parameters"])]);
  assert.throws(() => injectParameters(tagged, { sedes: [0] }), new RegExp(`${tagged}: the parameters cell declares scale, not sedes`));
});

test("every notebook opens with a parameters cell that declares scale and seeds", () => {
  const dir = join(PROJECT_ROOT, "notebooks");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ipynb"))) {
    const injected = injectParameters(join(dir, file), { scale: "smoke", seeds: [0] }) as { cells: { cell_type: string; metadata: { tags?: string[] } }[] };
    const firstCode = injected.cells.findIndex((c) => c.cell_type === "code");
    assert.deepEqual(injected.cells[firstCode].metadata.tags, ["parameters"], file);
  }
});

test("notebookParameters: the cell's values, the environment where the cell says null, else the defaults", () => {
  const env = { COVER_SCALE: "paper", COVER_SEEDS: "4,5", COVER_OUT: "/tmp/env-out" };
  assert.deepEqual(notebookParameters("fr", { scale: "smoke", seeds: [1, 2], out: "/tmp/o" }, env), { name: "fr", scale: "smoke", seed: 1, seeds: [1, 2], out: "/tmp/o" });
  assert.deepEqual(notebookParameters("fr", { scale: null, seeds: null, out: null }, env), { name: "fr", scale: "paper", seed: 4, seeds: [4, 5], out: "/tmp/env-out" });
  assert.equal(notebookParameters("fr", { scale: "smoke" }, {}).out, join(PROJECT_ROOT, "runs", "notebooks", "fr", "smoke"));
  assert.throws(() => notebookParameters("fr", { scale: "huge" }, {}), /scale="huge": expected one of smoke, cpu, paper/);
  assert.throws(() => notebookParameters("fr", { seeds: [1, 1] }, {}), /seeds=\[1,1\]: expected distinct non-negative integers in a list/);
  assert.throws(() => notebookParameters("fr", { seeds: [] }, {}), /seeds=\[\]/);
});

test("setParameterValue edits one value in place, keeping the line's comment; withParameterValues edits the cell", () => {
  const { setParameterValue, withParameterValues } = require("../../scripts/lib/nbparams") as typeof import("../../scripts/lib/nbparams");
  const source = 'const scale = "cpu";      // smoke | cpu\nconst seeds = [0, 1, 2];  // seeds\nconst out = null;';
  assert.equal(setParameterValue(source, "seeds", [0, 1]), 'const scale = "cpu";      // smoke | cpu\nconst seeds = [0,1];  // seeds\nconst out = null;');
  assert.equal(setParameterValue(source, "out", "x"), 'const scale = "cpu";      // smoke | cpu\nconst seeds = [0, 1, 2];  // seeds\nconst out = "x";');
  assert.throws(() => setParameterValue(source, "sede", 1), /does not declare 'sede' \(it declares scale, seeds, out\)/);
  const path = notebook([cell(source, ["parameters"]), cell("run();")]);
  const edited = withParameterValues(path, { scale: "smoke" }) as { cells: { source: string }[] };
  assert.equal(edited.cells.length, 2);
  assert.match(edited.cells[0].source, /^const scale = "smoke";      \/\/ smoke \| cpu/);
  assert.throws(() => withParameterValues(path, { nope: 1 }), new RegExp(`${path}: the parameters cell does not declare 'nope'`));
});
