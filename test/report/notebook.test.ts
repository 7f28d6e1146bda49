import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { STANDARD_VS_COVER } from "../../src/experiments/paper";
import { barChart } from "../../src/report/figure";
import { figureBundle, inNotebook, show, tableBundle } from "../../src/report/notebook";
import { notebookParameters } from "../../src/report/notebook-params";
import { PROJECT_ROOT } from "../../src/util/paths";
import { Report } from "../../src/report/report";
import { compareRows, resultTable } from "../../src/report/table";
import { tempDir } from "../helpers/tf";

const table = resultTable("table1", compareRows("standard-vs-cover", "top1", { k400: 50 }, STANDARD_VS_COVER.cover));
const spec = barChart({ title: "Table 1", categories: ["k400"], series: [{ name: "kit", values: [50] }] });

function captureLog(run: () => void): string[] {
  const lines: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => { lines.push(args.map(String).join(" ")); };
  try { run(); } finally { console.log = original; }
  return lines;
}

test("outside a kernel, show prints plain text", () => {
  assert.equal(inNotebook(), false);
  const lines = captureLog(() => { show(table); show(spec); show("done"); });
  assert.equal(lines.length, 3);
  assert.match(lines[0], /^table1\nexperiment\s+dataset\s+metric\s+paper\s+kit/);
  assert.match(lines[0], /standard-vs-cover\s+k400\s+top1\s+83\.1\s+50\.0/);
  assert.equal(lines[1], "[figure] Table 1: kit (1 points)");
  assert.equal(lines[2], "done");
});

test("a figure bundle carries the plotly spec, an HTML fallback and the PNG when given", () => {
  const bundle = figureBundle(spec, { png: Uint8Array.from([1, 2, 3]) });
  assert.deepEqual(Object.keys(bundle).sort(), ["application/vnd.plotly.v1+json", "image/png", "text/html", "text/plain"]);
  assert.deepEqual(bundle["application/vnd.plotly.v1+json"], { data: spec.data, layout: spec.layout });
  assert.equal(bundle["image/png"], "AQID");
  assert.equal(bundle["text/html"], '<img class="cover-figure" alt="Table 1" src="data:image/png;base64,AQID">');
  assert.match(String(figureBundle(spec)["text/html"]), /<td>k400<\/td><td style="text-align:right">50<\/td>/);
  assert.equal(figureBundle(spec)["image/png"], undefined);
  assert.deepEqual(Object.keys(tableBundle(table)).sort(), ["text/html", "text/markdown", "text/plain"]);
});

test("notebookParameters reads COVER_SCALE, COVER_SEED and COVER_OUT, with defaults under the project", () => {
  assert.ok(existsSync(join(PROJECT_ROOT, "package.json")));
  assert.deepEqual(notebookParameters("fr", {}, {}), { name: "fr", scale: "cpu", seed: 0, seeds: [0], out: join(PROJECT_ROOT, "runs", "notebooks", "fr", "cpu") });
  assert.deepEqual(notebookParameters("fr", {}, { COVER_SCALE: "smoke", COVER_SEED: "3", COVER_OUT: "/tmp/x" }), { name: "fr", scale: "smoke", seed: 3, seeds: [3], out: "/tmp/x" });
  assert.deepEqual(notebookParameters("fr", {}, { COVER_SEEDS: "2,0,1" }).seeds, [2, 0, 1]);
  assert.throws(() => notebookParameters("fr", {}, { COVER_SEEDS: "1,1" }), /COVER_SEEDS=1,1/);
  assert.equal(notebookParameters("fr", {}, { COVER_OUT: "out/a" }).out, resolve(PROJECT_ROOT, "out/a"));
  assert.throws(() => notebookParameters("fr", {}, { COVER_SCALE: "huge" }), /COVER_SCALE="huge": expected one of smoke, cpu, paper/);
  assert.throws(() => notebookParameters("fr", {}, { COVER_SEED: "1.5" }), /COVER_SEED=1.5/);
});

test("a Report writes tables and figures into its folder and lists them in exports.json", async () => {
  const dir = tempDir("report");
  const report = new Report(dir, { figureFormats: ["html"], show: false, html: "link" });
  report.table(table);
  await report.figure("table1-bars", spec);
  await report.close();
  const manifest = JSON.parse(readFileSync(join(dir, "exports.json"), "utf8")) as unknown;
  assert.deepEqual(manifest, {
    tables: { table1: ["tables/table1.csv", "tables/table1.md", "tables/table1.tex", "tables/table1.json"] },
    figures: { "table1-bars": ["figures/table1-bars.html"] },
    notes: [],
  });
  const html = readFileSync(join(dir, "figures", "table1-bars.html"), "utf8");
  const src = /<script src="([^"]+)"/.exec(html)?.[1];
  assert.ok(src && existsSync(resolve(dir, "figures", src)), `linked plotly.js ${src} exists`);
});
