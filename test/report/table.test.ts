import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FRAME_REVERSAL, LOSS_WEIGHT_SWEEP } from "../../src/experiments/paper";
import { compareRows, exportTable, resultTable, ResultRow, sideBySide, Table } from "../../src/report/table";
import { tempDir } from "../helpers/tf";

// The paper's Table 2 beside made-up kit numbers.
function reversalRows(): ResultRow[] {
  const kit = { normal: { appearance: 91.25, motion: 64.5 }, reversed: { appearance: 90.2, motion: null } };
  return (["normal", "reversed"] as const).flatMap((order) => compareRows("frame-reversal", "top1", kit[order],
    { appearance: FRAME_REVERSAL.appearance[order], motion: FRAME_REVERSAL.motion[order] }, { order }));
}

test("resultTable orders columns, computes delta and holds a DataFrame of the rows", () => {
  const t = resultTable("frame-reversal", reversalRows(), { delta: true });
  assert.deepEqual(t.columns, ["experiment", "dataset", "metric", "order", "paper", "kit", "delta"]);
  assert.deepEqual(t.frame.shape, [4, 7]);
  const rows = t.rows;
  assert.equal(rows[0].delta, 13.15);
  assert.equal(rows[3].kit, null);
  assert.equal(rows[3].delta, null);
  assert.deepEqual(Table.fromFrame("again", t.frame).rows, rows);
});

test("CSV keeps full precision, quotes commas and leaves missing values empty", () => {
  const t = new Table("t", [{ name: "a, b", v: 1.23456 }, { name: 'say "x"', v: null }]);
  assert.equal(t.toCsv(), 'name,v\n"a, b",1.23456\n"say ""x""",\n');
});

test("Markdown and LaTeX round result columns, keep settings exact, escape special characters", () => {
  const rows = LOSS_WEIGHT_SWEEP.map((r) => ({ experiment: "sweep", dataset: "motion", metric: "top1 %", w_image: r.imageWeight, kit: 50.04, paper: r.motion }));
  const t = resultTable("sweep", rows, { title: "Table 6 | w_image & SSv2" });
  const md = t.toMarkdown();
  assert.match(md, /\| sweep \| motion \| top1 % \| 0\.75 \| 70\.6 \| 50\.0 \|/);
  assert.match(md, /Table 6 \\\| w_image/);
  assert.match(md, /\|---\|---\|---\|---:\|---:\|---:\|/);
  const tex = t.toLatex();
  assert.match(tex, /\\begin\{tabular\}\{lllrrr\}/);
  assert.match(tex, /\\toprule/);
  assert.match(tex, /\\caption\{Table 6 \| w\\_image \\& SSv2\}/);
  assert.match(tex, /sweep & motion & top1 \\% & 0\.75 & 70\.6 & 50\.0 \\\\/);
});

test("sideBySide lays out paper and kit per dataset, one row per setting", () => {
  const wide = sideBySide("wide", reversalRows(), { rowKeys: ["order"], delta: true });
  assert.deepEqual(wide.columns, ["order", "appearance paper", "appearance kit", "appearance Δ", "motion paper", "motion kit", "motion Δ"]);
  assert.deepEqual(wide.rows[1], { order: "reversed", "appearance paper": 78.0, "appearance kit": 90.2, "appearance Δ": 12.2, "motion paper": 22.6, "motion kit": null, "motion Δ": null });
  assert.match(wide.toLatex(), /appearance \$\\Delta\$/);
});

test("sideBySide refuses two results for the same cell", () => {
  assert.throws(() => sideBySide("wide", reversalRows(), { rowKeys: ["experiment"] }), /two results for dataset=appearance/);
});

test("bad rows and names are reported with the table and row", () => {
  const good = reversalRows()[0];
  assert.throws(() => resultTable("t", [good, { ...good, kit: NaN }]), /table "t" row 1: "kit" must be a finite number or null/);
  assert.throws(() => resultTable("t", [{ ...good, dataset: "" }]), /row 0: "dataset" must be a non-empty string/);
  assert.throws(() => new Table("../escape", [{ a: 1 }]), /plain file name/);
  assert.throws(() => new Table("t", [{ a: 1 }, { b: 2 }], { columns: ["a"] }), /row 1: column "b" is not one of a/);
});

test("exportTable writes the four formats atomically and they parse back", () => {
  const dir = tempDir("table");
  const t = resultTable("frame-reversal", reversalRows(), { delta: true });
  const written = exportTable(t, dir);
  assert.deepEqual(written.map((p) => p.slice(dir.length + 1)), ["frame-reversal.csv", "frame-reversal.md", "frame-reversal.tex", "frame-reversal.json"]);
  const json = JSON.parse(readFileSync(join(dir, "frame-reversal.json"), "utf8")) as { columns: string[]; rows: Record<string, unknown>[] };
  assert.deepEqual(json.rows, t.rows);
  assert.equal(readFileSync(join(dir, "frame-reversal.csv"), "utf8").split("\n").length, 6);
  assert.throws(() => exportTable(t, dir, ["xlsx" as "csv"]), /unknown table format "xlsx"/);
});

test("an empty table still has its header", () => {
  const t = new Table("empty", [], { columns: ["a", "b"] });
  assert.equal(t.length, 0);
  assert.deepEqual(t.frame.shape, [0, 2]);
  assert.equal(t.toCsv(), "a,b\n");
});
