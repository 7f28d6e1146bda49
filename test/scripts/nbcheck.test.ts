import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkExports, declaredExports, describeFailure } from "../../scripts/lib/nbcheck";
import { tempDir } from "../helpers/tf";

function notebook(dir: string, name: string, metadata: unknown, cells: unknown[] = []): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ cells, metadata, nbformat: 4, nbformat_minor: 5 }));
  return path;
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]);

test("declaredExports reads metadata.cover and names the notebook when it is missing or wrong", () => {
  const dir = tempDir("nbcheck");
  assert.deepEqual(declaredExports(notebook(dir, "a.ipynb", { cover: { tables: ["t"], figures: ["f"] } })), { tables: ["t"], figures: ["f"] });
  assert.deepEqual(declaredExports(notebook(dir, "b.ipynb", { cover: { tables: ["t"] } })), { tables: ["t"], figures: [] });
  assert.throws(() => declaredExports(notebook(dir, "c.ipynb", {})), /c\.ipynb: metadata\.cover is missing/);
  assert.throws(() => declaredExports(notebook(dir, "d.ipynb", { cover: { figures: "f" } })), /d\.ipynb: metadata\.cover\.figures must be a list/);
  writeFileSync(join(dir, "e.ipynb"), "{");
  assert.throws(() => declaredExports(join(dir, "e.ipynb")), /e\.ipynb: not a notebook/);
});

test("checkExports lists every missing, empty or wrong export, and passes a complete folder", () => {
  const out = tempDir("nbcheck-out");
  const declared = { tables: ["t"], figures: ["f"] };
  assert.deepEqual(checkExports(declared, out, "png").map((p) => p.replace(out, "OUT")), [
    "missing OUT/tables/t.csv", "missing OUT/tables/t.md", "missing OUT/tables/t.tex", "missing OUT/tables/t.json",
    "missing OUT/figures/f.html", "missing OUT/figures/f.png",
  ]);
  mkdirSync(join(out, "tables"));
  mkdirSync(join(out, "figures"));
  for (const ext of ["csv", "md", "tex"]) writeFileSync(join(out, "tables", `t.${ext}`), "x");
  writeFileSync(join(out, "tables", "t.json"), JSON.stringify({ rows: [] }));
  writeFileSync(join(out, "figures", "f.html"), "");
  writeFileSync(join(out, "figures", "f.png"), "not a png");
  assert.deepEqual(checkExports(declared, out, "png").map((p) => p.replace(out, "OUT")), [
    "OUT/tables/t.json has no rows", "empty OUT/figures/f.html", "f.png is not a PNG",
  ]);
  writeFileSync(join(out, "tables", "t.json"), JSON.stringify({ rows: [{ a: 1 }] }));
  writeFileSync(join(out, "figures", "f.html"), "<script>Plotly.newPlot('figure', [], {})</script>");
  writeFileSync(join(out, "figures", "f.png"), PNG);
  assert.deepEqual(checkExports(declared, out, "png"), []);
  assert.deepEqual(checkExports(declared, out), [], "HTML only without a browser");
});

test("describeFailure shows the failed cell's source and its output", () => {
  const dir = tempDir("nbcheck-fail");
  const path = notebook(dir, "x.ipynb", {}, [
    { cell_type: "markdown", source: "# title" },
    { cell_type: "code", source: "const a = 1;", outputs: [] },
    { cell_type: "code", source: ["import { x } from \"./src/nope\";\n", "x();"], outputs: [
      { output_type: "stream", name: "stdout", text: ["1:19 - Cannot find module './src/nope'\n"] },
      { output_type: "error", ename: "Error", evalue: "", traceback: ["\u001b[31mError\u001b[0m"] },
    ] },
  ]);
  const text = describeFailure(path, 2);
  assert.ok(text);
  assert.match(text, /^code cell 2 failed:/);
  assert.match(text, /> import \{ x \} from "\.\/src\/nope";/);
  assert.match(text, /Cannot find module '\.\/src\/nope'/);
  assert.ok(!text.includes("\u001b"), "colour codes removed");
  assert.equal(describeFailure(path), text, "found from the error output alone");
  assert.equal(describeFailure(notebook(dir, "ok.ipynb", {}, [{ cell_type: "code", source: "1", outputs: [] }])), null);
});
