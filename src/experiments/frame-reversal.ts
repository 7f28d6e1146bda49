/** Table 2: a COVER model tested with its frames in reverse order. Appearance barely moves; motion collapses. */
import { paperVsKitBars } from "../report/figure";
import { ResultRow, resultTable } from "../report/table";
import { evaluateRun } from "../train/evaluate-run";
import { Experiment, fmt, top1 } from "./experiment";
import { FRAME_REVERSAL } from "./paper";
import { ALL, cover } from "./shared-runs";

export const frameReversal: Experiment = {
  name: "frame-reversal",
  title: "Frame-order reversal at test time",
  paper: "Table 2",
  async run(ctx) {
    const run = await cover(ctx, ALL, "cover");
    const data = await ctx.openData(run.config, { quiet: ctx.quiet });
    let reversed;
    try { reversed = await evaluateRun(run.dir, data, { reverseFrames: true }, ctx.quiet, ctx.signal); } finally { await data.close(); }
    const rows: ResultRow[] = [];
    const roles = ["appearance", "motion"] as const;
    for (const role of roles) {
      const normal = top1(run, role, ctx.settings);
      const back = top1(reversed, role, ctx.settings);
      rows.push({ experiment: "frame-reversal", dataset: role, metric: "top1", frames: "in order", kit: normal, paper: FRAME_REVERSAL[role].normal });
      rows.push({ experiment: "frame-reversal", dataset: role, metric: "top1", frames: "reversed", kit: back, paper: FRAME_REVERSAL[role].reversed });
    }
    const drop = (role: "appearance" | "motion") => {
      const [n, r] = rows.filter((x) => x.dataset === role).map((x) => x.kit);
      return n !== null && r !== null ? n - r : null;
    };
    const findings = [
      `appearance: ${fmt(drop("appearance"))} points lost when reversed (paper: ${fmt(FRAME_REVERSAL.appearance.normal - FRAME_REVERSAL.appearance.reversed)})`,
      `motion: ${fmt(drop("motion"))} points lost when reversed (paper: ${fmt(FRAME_REVERSAL.motion.normal - FRAME_REVERSAL.motion.reversed)})`,
      `paper's claim (reversal hurts motion far more than appearance) ${(drop("motion") ?? 0) > (drop("appearance") ?? 0) + 5 ? "holds" : "does not hold"} at this scale`,
    ];
    return {
      name: this.name, scale: ctx.scale, rows, findings, runs: { cover: run.dir },
      tables: [resultTable("frame-reversal", rows, { title: "Frame-order reversal at test time (Table 2), top-1 %", delta: false })],
      figures: { "frame-reversal": paperVsKitBars(rows, { title: "Frames in order vs reversed (Table 2)", by: ["dataset", "frames"], yTitle: "top-1 %" }) },
    };
  },
};
