import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { COTRAIN_ABLATION, LOSS_WEIGHT_SWEEP } from "../../src/experiments/paper";
import { decodeDataUrl, findChromium } from "../../src/report/browser";
import { accuracyPanels, barChart, claimsChart, exportFigure, figureHtml, lossCurves, resultPanels, sweepChart, withVerdicts, wrapText } from "../../src/report/figure";
import type { ClaimPoint, FigureSpec, Trace } from "../../src/report/figure";
import type { ResultRow } from "../../src/report/table";
import { readStepRecords as readMetrics } from "../../src/runs/folder";
import { compareRows } from "../../src/report/table";
import { tempDir } from "../helpers/tf";

const independent = COTRAIN_ABLATION[0];

type Axes = Record<string, { domain?: number[]; type?: string } | undefined>;
const axisKeys = (spec: FigureSpec, letter: "x" | "y") => Object.keys(spec.layout).filter((k) => new RegExp(`^${letter}axis\\d*$`).test(k)).sort();
const errorOf = (t: Trace) => t.error_y as { array: number[]; arrayminus: number[] } | undefined;
const chanceShapes = (spec: FigureSpec) => (spec.layout.shapes as { xref: string; yref: string; y0: number; line: { dash: string } }[]).filter((s) => s.line.dash === "dot");

/** Frame reversal as runExperiment hands rows to a figure: mean over seeds, `kit ±`, chance; paper numbers are K400/SSv2's. */
const reversalRows: ResultRow[] = [
  { experiment: "fr", dataset: "appearance", metric: "top1", frames: "in order", kit: 93.3, paper: 78.1, "kit ±": 2.7, chance: 10 },
  { experiment: "fr", dataset: "appearance", metric: "top1", frames: "reversed", kit: 93.5, paper: 78.0, "kit ±": 1.7, chance: 10 },
  { experiment: "fr", dataset: "motion", metric: "top1", frames: "in order", kit: 71.0, paper: 58.8, "kit ±": 7.3, chance: 12.5 },
  { experiment: "fr", dataset: "motion", metric: "top1", frames: "reversed", kit: 31.6, paper: 22.6, "kit ±": 8.1, chance: 12.5 },
];

test("resultPanels: one panel per dataset on its own axes, the kit's bars with their intervals, chance per panel, paper only as a note", () => {
  const spec = resultPanels(reversalRows, { title: "Table 2", by: ["frames"], label: (d) => ({ title: `${d} role`, paper: d === "motion" ? "SSv2" : "K400" }) });
  assert.deepEqual(axisKeys(spec, "x"), ["xaxis", "xaxis2"]);
  assert.deepEqual(axisKeys(spec, "y"), ["yaxis", "yaxis2"]);
  const axes = spec.layout as Axes;
  assert.ok(axes.xaxis!.domain![1] < axes.xaxis2!.domain![0], "the panels do not overlap");
  assert.deepEqual(spec.data.map((t) => [t.type, t.xaxis, t.yaxis, t.y]), [["bar", "x", "y", [93.3, 93.5]], ["bar", "x2", "y2", [71.0, 31.6]]],
    "only the kit's bars: no paper trace on an accuracy axis");
  assert.ok(spec.data.every((t) => !t.y.includes(78.1) && !t.y.includes(58.8)));
  assert.deepEqual(errorOf(spec.data[1])!.array.map((v) => +v.toFixed(2)), [7.3, 8.1]);
  assert.deepEqual(errorOf(spec.data[1])!.arrayminus.map((v) => +v.toFixed(2)), [7.3, 8.1]);
  assert.deepEqual(chanceShapes(spec).map((s) => [s.xref, s.yref, s.y0]), [["x domain", "y", 10], ["x2 domain", "y2", 12.5]]);
  const texts = (spec.layout.annotations as { text: string }[]).map((a) => a.text.replace(/<br>/g, " "));
  assert.ok(texts.includes("<b>motion role</b>") && texts.includes("<b>appearance role</b>"), texts.join(" | "));
  assert.ok(texts.some((t) => /paper, SSv2 .*in order 58\.8 · reversed 22\.6/.test(t)), texts.join(" | "));
  assert.throws(() => resultPanels(reversalRows, { title: "t", by: ["order"] }), /no column "order"/);
});

test("resultPanels: an interval is clipped to 0..100, a missing kit number leaves a gap, no chance column no chance line", () => {
  const rows: ResultRow[] = [
    { experiment: "x", dataset: "images", metric: "top1", setting: "a", kit: 99, paper: null, "kit ±": 4 },
    { experiment: "x", dataset: "images", metric: "top1", setting: "b", kit: null, paper: null, "kit ±": 0 },
  ];
  const spec = resultPanels(rows, { title: "t", by: ["setting"] });
  assert.deepEqual(errorOf(spec.data[0])!.array, [1, 0]);
  assert.deepEqual(errorOf(spec.data[0])!.arrayminus, [4, 0]);
  assert.equal(chanceShapes(spec).length, 0);
  assert.ok(!(spec.layout.annotations as { text: string }[]).some((a) => a.text.startsWith("paper")), "no paper numbers, no note");
});

test("barChart rejects a series of the wrong length", () => {
  assert.throws(() => barChart({ title: "t", categories: ["a", "b"], series: [{ name: "kit", values: [1] }] }), /"kit" has 1 values for 2 categories/);
});

test("sweepChart: one panel per dataset, the kit's line sorted by the setting with intervals, chance, the paper's numbers as a note", () => {
  const rows = LOSS_WEIGHT_SWEEP.slice().reverse().flatMap((r) => compareRows("sweep", "top1",
    { motion: 10 + r.imageWeight, images: 20 + r.imageWeight }, { motion: r.motion, images: r.images }, { w_image: r.imageWeight })
    .map((row) => ({ ...row, "kit ±": 2, chance: row.dataset === "motion" ? 12.5 : 10 })));
  const spec = sweepChart(rows, { title: "Table 6", x: "w_image" });
  assert.deepEqual(spec.data.map((t) => [t.name, t.xaxis, t.yaxis]), [["motion", "x", "y"], ["images", "x2", "y2"]], "no paper lines");
  assert.deepEqual(spec.data[0].x, [0, 0.5, 0.75]);
  assert.deepEqual(spec.data[0].y, [10, 10.5, 10.75]);
  assert.deepEqual(errorOf(spec.data[0])!.array, [2, 2, 2]);
  assert.deepEqual(chanceShapes(spec).map((s) => [s.xref, s.y0]), [["x domain", 12.5], ["x2 domain", 10]]);
  const texts = (spec.layout.annotations as { text: string }[]).map((a) => a.text.replace(/<br>/g, " "));
  assert.ok(texts.some((t) => /w_image 0 70\.6 · w_image 0\.5 70\.8 · w_image 0\.75 70\.6/.test(t)), texts.join(" | "));
  assert.ok(texts.some((t) => /w_image 0\.5 86\.1 · w_image 0\.75 86\.6/.test(t) && !t.includes("w_image 0 ")), "images: no paper number at w_image 0");
  assert.throws(() => sweepChart([{ ...rows[0], w_image: "high" }], { title: "t", x: "w_image" }), /"w_image" must be a number/);
});

const claim = (id: string, roles: string[], paper: ClaimPoint["paper"], effect: number): ClaimPoint => (
  { id, claim: `the claim called ${id}, said at some length so that it has to wrap`, roles, paper, kit: { effect, low: effect - 2, high: effect + 3 }, verdict: "holds" });

test("claimsChart: a panel per role and one between roles, the claim's text and verdict as labels, the paper's range drawn as a segment", () => {
  const spec = claimsChart([
    claim("m", ["motion"], { effect: -36.2 }, -39.4),
    claim("a", ["appearance"], { range: [0.4, 2] }, 1.5),
    claim("m2", ["motion"], { range: [2.1, 5.2] }, 3),
    claim("ma", ["motion", "appearance"], { effect: -36.1 }, -39.7),
  ], { title: "claims", panelTitle: (role) => `${role} (role)` });
  assert.deepEqual(axisKeys(spec, "y"), ["yaxis", "yaxis2", "yaxis3"]);
  const axes = spec.layout as Axes;
  const domains = ["yaxis", "yaxis2", "yaxis3"].map((k) => axes[k]!.domain!);
  assert.ok(domains[1][1] < domains[0][0] && domains[2][1] < domains[1][0], `panels stacked without overlap: ${JSON.stringify(domains)}`);
  const bars = spec.data.filter((t) => t.type === "bar");
  assert.deepEqual(bars.map((t) => [t.yaxis, t.x]), [["y", [-39.4, 3]], ["y2", [1.5]], ["y3", [-39.7]]]);
  const err = bars[0].error_x as { array: number[]; arrayminus: number[] };
  assert.deepEqual([err.array, err.arrayminus], [[3, 3], [2, 2]]);
  const label = bars[0].y[0] as string;
  assert.equal(label, `${wrapText("the claim called m, said at some length so that it has to wrap", 46)}<br><b>holds</b>`);
  assert.ok(label.includes("<br>"), "long claims are wrapped");
  const ranges = spec.data.filter((t) => t.name === "paper's range");
  assert.deepEqual(ranges.map((t) => [t.yaxis, t.x]), [["y", [2.1, 5.2, null]], ["y2", [0.4, 2, null]]], "a range is a segment from its low to its high end");
  const points = spec.data.filter((t) => t.name === "paper's effect");
  assert.deepEqual(points.map((t) => [t.yaxis, t.x]), [["y", [-36.2]], ["y3", [-36.1]]], "a range is never drawn as a point");
  const zero = (spec.layout.shapes as { xref: string; x0: number; x1: number }[]).map((s) => [s.xref, s.x0, s.x1]);
  assert.deepEqual(zero, [["x", 0, 0], ["x2", 0, 0], ["x3", 0, 0]]);
  const titles = (spec.layout.annotations as { text: string }[]).map((a) => a.text);
  assert.deepEqual(titles, ["<b>motion (role)</b>", "<b>appearance (role)</b>", "<b>between roles</b>"]);
  assert.equal(spec.data.filter((t) => t.showlegend).length, 3, "each kind of mark once in the legend");
});

test("claimsChart: claims without roles share one panel", () => {
  const spec = claimsChart([claim("x", [], { effect: 1 }, 2), { ...claim("y", [], { effect: 1 }, 2), roles: undefined }], { title: "t" });
  assert.deepEqual(axisKeys(spec, "y"), ["yaxis"]);
  assert.throws(() => claimsChart([], { title: "none" }), /no claims/);
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

test("withVerdicts puts the claims' verdicts under the title and grows the top margin and height to fit them", () => {
  const panels = resultPanels(reversalRows, { title: "Bars", by: ["frames"] });
  const marked = withVerdicts(panels, ["COVER helps: holds (3 seeds)", "a <b> claim: inconclusive (1 seed)"]);
  assert.match(marked.layout.title?.text ?? "", /^Bars<br>.*<br><sub>COVER helps: holds \(3 seeds\)<\/sub><br><sub>a &lt;b> claim: inconclusive \(1 seed\)<\/sub>$/);
  const margin = (spec: FigureSpec) => (spec.layout.margin as { t: number }).t;
  assert.equal(margin(marked), margin(panels) + 44);
  assert.equal(marked.layout.height, (panels.layout.height as number) + 44);
  assert.equal(withVerdicts(panels, []), panels);
  const long = "a linear probe on frozen appearance features does far worse on motion than a model trained on motion (probe minus trained): holds (3 seeds)";
  const narrow = withVerdicts({ ...panels, layout: { ...panels.layout, width: 560 } }, [long]);
  const subs = (narrow.layout.title?.text ?? "").match(/<sub>[^<]*<\/sub>/g) ?? [];
  assert.equal(subs.length, 1 + 2, "the interval note and the long verdict wrapped into two lines");
  assert.ok(subs.slice(1).every((line) => line.length - 11 <= 86), subs.join("\n"));
  assert.equal(margin(narrow), margin(panels) + 44);
});
