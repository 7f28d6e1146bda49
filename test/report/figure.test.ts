import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COTRAIN_ABLATION, LOSS_WEIGHT_SWEEP } from "../../src/experiments/paper";
import { decodeDataUrl, findChromium } from "../../src/report/browser";
import { barChart, exportFigure, figureHtml, lossCurves, paperVsKitBars, sweepChart } from "../../src/report/figure";
import { readStepRecords as readMetrics } from "../../src/runs/folder";
import { compareRows } from "../../src/report/table";
import { tempDir } from "../helpers/tf";

const independent = COTRAIN_ABLATION[0];

test("paperVsKitBars: one category per dataset, paper and kit series, gaps for missing numbers", () => {
  const rows = compareRows("cotrain-ablation", "top1", { appearance: 40, motion: 30, images: 90 },
    { appearance: independent.appearance, motion: independent.motion, moments: independent.moments });
  const spec = paperVsKitBars(rows, { title: "Table 5a" });
  assert.deepEqual(spec.data.map((t) => t.name), ["paper", "kit"]);
  assert.deepEqual(spec.data[0].x, ["appearance", "motion", "moments", "images"]);
  assert.deepEqual(spec.data[0].y, [85.0, 67.2, 44.9, null]);
  assert.deepEqual(spec.data[1].y, [40, 30, null, 90]);
  assert.equal(spec.layout.barmode, "group");
  assert.deepEqual(spec.layout.yaxis?.title, { text: "top1" });
});

test("barChart rejects a series of the wrong length", () => {
  assert.throws(() => barChart({ title: "t", categories: ["a", "b"], series: [{ name: "kit", values: [1] }] }), /"kit" has 1 values for 2 categories/);
});

test("sweepChart: kit lines sorted by the setting, paper lines dashed where the paper has numbers", () => {
  const rows = LOSS_WEIGHT_SWEEP.slice().reverse().flatMap((r) => compareRows("sweep", "top1",
    { motion: 10 + r.imageWeight, images: 20 + r.imageWeight }, { motion: r.motion, images: r.images }, { w_image: r.imageWeight }));
  const spec = sweepChart(rows, { title: "Table 6", x: "w_image" });
  assert.deepEqual(spec.data.map((t) => t.name), ["motion kit", "motion paper", "images kit", "images paper"]);
  assert.deepEqual(spec.data[0].x, [0, 0.5, 0.75]);
  assert.deepEqual(spec.data[1].y, [70.6, 70.8, 70.6]);
  assert.deepEqual(spec.data[3].y, [null, 86.1, 86.6]);
  assert.deepEqual(spec.data[1].line, { dash: "dash", color: "#1f77b4" });
  assert.deepEqual(spec.data[0].line, { dash: "solid", color: "#1f77b4" }, "a dataset's kit and paper lines share a colour");
  assert.deepEqual(spec.data[2].line, { dash: "solid", color: "#ff7f0e" });
  assert.throws(() => sweepChart([{ ...rows[0], w_image: "high" }], { title: "t", x: "w_image" }), /"w_image" must be a number/);
});

test("readMetrics and lossCurves read a trainer's metrics.jsonl, per run or per dataset head", () => {
  const dir = tempDir("metrics");
  const lines = [1, 2, 3].map((step) => JSON.stringify({ step, epoch: step / 3, lr: 0.1, loss: 3 - step, losses: { appearance: 2 - step / 2, motion: 1 }, seconds: step }));
  writeFileSync(join(dir, "metrics.jsonl"), lines.join("\n") + "\n");
  assert.equal(readMetrics(dir).length, 3);
  const total = lossCurves({ cover: dir });
  assert.deepEqual(total.data[0].x, [1, 2, 3]);
  assert.deepEqual(total.data[0].y, [2, 1, 0]);
  const heads = lossCurves({ cover: join(dir, "metrics.jsonl") }, { perDataset: true });
  assert.deepEqual(heads.data.map((t) => t.name), ["cover: appearance", "cover: motion"]);
  assert.deepEqual(heads.data[0].y, [1.5, 1, 0.5]);
});

test("readMetrics names the file and line of a bad record", () => {
  const dir = tempDir("metrics-bad");
  const file = join(dir, "metrics.jsonl");
  writeFileSync(file, '{"step": 1, "loss": 2}\n{"step": 2, "loss": \n');
  assert.throws(() => readMetrics(file), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:2: not JSON`));
  writeFileSync(file, '{"step": 1}\n');
  assert.throws(() => readMetrics(file), /metrics\.jsonl:1: expected an object with numeric "step" and "loss"/);
  assert.throws(() => readMetrics(join(dir, "nope")), /no such metrics file/);
});

test("figureHtml is self-contained: plotly.js inline, the spec escaped inside its script", () => {
  const spec = barChart({ title: "</script><b>x</b>", categories: ["a"], series: [{ name: "kit", values: [1] }] });
  const html = figureHtml(spec);
  assert.ok(html.length > 1_000_000, "plotly.js is inlined");
  assert.ok(!/<script\s+src=/i.test(html));
  assert.equal(html.match(/<\/script>/g)?.length, 2, "only the two script elements close");
  assert.match(html, /Plotly\.newPlot\("figure"/);
  assert.match(html, /<title>&lt;\/script&gt;&lt;b&gt;x&lt;\/b&gt;<\/title>/);
  const linked = figureHtml(spec, { plotly: "../plotly.js" });
  assert.ok(linked.length < 10_000);
  assert.match(linked, /<script src="\.\.\/plotly\.js"><\/script>/);
});

test("decodeDataUrl handles base64 PNG and percent-encoded SVG", () => {
  assert.deepEqual([...decodeDataUrl("data:image/png;base64,iVBORw==")], [0x89, 0x50, 0x4e, 0x47]);
  assert.equal(Buffer.from(decodeDataUrl("data:image/svg+xml,%3Csvg%3E%3C%2Fsvg%3E")).toString(), "<svg></svg>");
  assert.throws(() => decodeDataUrl("nope"), /not a data URL/);
});

test("without a browser, exportFigure writes HTML and says in one line why there is no PNG", async () => {
  const dir = tempDir("fig-nobrowser");
  const saved = process.env.COVER_CHROMIUM;
  process.env.COVER_CHROMIUM = "/nonexistent/chromium";
  const notes: string[] = [];
  try {
    const result = await exportFigure(barChart({ title: "t", categories: ["a"], series: [{ name: "kit", values: [1] }] }), dir, "bars", { log: (l) => notes.push(l) });
    assert.deepEqual(result.written, [join(dir, "bars.html")]);
    assert.equal(notes.length, 1);
    assert.match(notes[0], /COVER_CHROMIUM=\/nonexistent\/chromium does not exist; wrote HTML only, no PNG/);
    assert.equal(result.note, notes[0]);
    assert.ok(!existsSync(join(dir, "bars.png")));
  } finally {
    if (saved === undefined) delete process.env.COVER_CHROMIUM; else process.env.COVER_CHROMIUM = saved;
  }
});

const browser = findChromium();
test("with Chromium, exportFigure renders PNG and SVG through Plotly.toImage", { skip: "reason" in browser ? browser.reason : false }, async () => {
  const dir = tempDir("fig-png");
  const spec = barChart({ title: "Paper vs kit", categories: ["appearance", "motion"], series: [{ name: "paper", values: [85, 67.2] }, { name: "kit", values: [40, 30] }] });
  const result = await exportFigure(spec, dir, "bars", { formats: ["png", "svg"], width: 320, height: 200 });
  assert.deepEqual(result.written, [join(dir, "bars.png"), join(dir, "bars.svg")]);
  const png = readFileSync(join(dir, "bars.png"));
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
  assert.equal(png.readUInt32BE(16), 320, "PNG width");
  assert.equal(png.readUInt32BE(20), 200, "PNG height");
  const svg = readFileSync(join(dir, "bars.svg"), "utf8");
  assert.match(svg, /^<svg/);
  assert.match(svg, /Paper vs kit/);
});

test("accuracyPanels: a panel per dataset on its own axes, intervals as error bars, a chance line per panel", () => {
  const { accuracyPanels } = require("../../src/report/figure") as typeof import("../../src/report/figure");
  const spec = accuracyPanels([
    { title: "motion", categories: ["4", "8"], values: [20, 30], low: [15, 22], high: [25, 38], chance: 12.5 },
    { title: "images", categories: ["4", "8"], values: [50, null], low: [40, null], high: [60, null], chance: 10 },
  ], { title: "t" });
  assert.deepEqual(spec.data.map((t) => [t.xaxis, t.yaxis]), [["x", "y"], ["x2", "y2"]]);
  assert.deepEqual((spec.data[0].error_y as { array: number[]; arrayminus: number[] }).array, [5, 8]);
  assert.deepEqual((spec.data[0].error_y as { array: number[]; arrayminus: number[] }).arrayminus, [5, 8]);
  assert.deepEqual((spec.data[1].error_y as { array: number[] }).array, [10, 0], "a missing value has no bar");
  const shapes = spec.layout.shapes as { xref: string; y0: number }[];
  assert.deepEqual(shapes.map((s) => [s.xref, s.y0]), [["x domain", 12.5], ["x2 domain", 10]]);
  const domains = [spec.layout.xaxis?.domain, (spec.layout as Record<string, { domain: number[] }>).xaxis2.domain] as number[][];
  assert.ok(domains[0][1] < domains[1][0], "the panels do not overlap");
  assert.throws(() => accuracyPanels([], { title: "empty" }), /no panels/);
});

test("withVerdicts puts the claims' verdicts under the title; paperVsKitBars draws chance where rows carry it", () => {
  const { withVerdicts } = require("../../src/report/figure") as typeof import("../../src/report/figure");
  const rows = compareRows("x", "top1", { motion: 30, appearance: 20 }, { motion: 60, appearance: 80 }).map((r) => ({ ...r, chance: r.dataset === "motion" ? 12.5 : 10 }));
  const bars = paperVsKitBars(rows, { title: "Bars" });
  const chance = bars.data.find((t) => t.name === "chance");
  assert.deepEqual(chance?.y, [12.5, 10]);
  assert.equal(paperVsKitBars(compareRows("x", "top1", { motion: 30 }, { motion: 60 }), { title: "b" }).data.length, 2, "no chance column, no chance trace");
  const overSeeds = paperVsKitBars(rows.map((r) => ({ ...r, "kit ±": r.dataset === "motion" ? 4.5 : 0 })), { title: "s" });
  assert.deepEqual(overSeeds.data.map((t) => t.name), ["paper", "kit (95% interval over seeds)", "chance"]);
  assert.deepEqual((overSeeds.data[1].error_y as { array: number[] }).array, [4.5, 0]);
  const marked = withVerdicts(bars, ["COVER helps: holds (3 seeds)", "a <b> claim: inconclusive (1 seed)"]);
  assert.equal(marked.layout.title?.text, "Bars<br><sub>COVER helps: holds (3 seeds)</sub><br><sub>a &lt;b> claim: inconclusive (1 seed)</sub>");
  assert.equal(withVerdicts(bars, []), bars);
});
