/** Table 2: a COVER model tested with its frames in reverse order. Appearance barely moves; motion collapses. */
import { resultPanels } from "../report/figure";
import { ResultRow, resultTable } from "../report/table";
import type { DatasetResult } from "../train/evaluate";
import { evaluateRun } from "../runs/evaluate";
import { measure, term } from "./claims";
import { Experiment, fmt, roleLabel, top1 } from "./experiment";
import { FRAME_REVERSAL } from "./paper";
import { cover } from "./shared-runs";
import { ALL_ROLES, mixOf } from "../runs/scales";

const paperDrop = (role: "appearance" | "motion") => FRAME_REVERSAL[role].reversed - FRAME_REVERSAL[role].normal;

export const frameReversal: Experiment = {
  name: "frame-reversal",
  title: "Frame-order reversal at test time",
  paper: "Table 2",
  async run(ctx) {
    const s = ctx.settings;
    const run = await cover(ctx, mixOf(ctx.settings, ALL_ROLES), "cover");
    const data = await ctx.openData(run.config, { quiet: ctx.quiet });
    let reversed: Record<string, DatasetResult>;
    try { reversed = await evaluateRun(run.dir, data, { reverseFrames: true }, ctx.quiet, ctx.signal); } finally { await data.close(); }
    const rows: ResultRow[] = [];
    const roles = ["appearance", "motion"] as const;
    for (const role of roles) {
      rows.push({ experiment: "frame-reversal", dataset: role, metric: "top1", frames: "in order", kit: top1(run, role, s), paper: FRAME_REVERSAL[role].normal });
      rows.push({ experiment: "frame-reversal", dataset: role, metric: "top1", frames: "reversed", kit: top1(reversed, role, s), paper: FRAME_REVERSAL[role].reversed });
    }
    const change = (role: "appearance" | "motion") => [term(1, reversed, role, s), term(-1, run, role, s)];
    const claims = [
      measure({ id: "reversal-motion", claim: "reversing the frames costs the motion dataset (reversed minus in order)", paper: { effect: paperDrop("motion") }, expect: "negative" }, change("motion")),
      measure({
        id: "reversal-motion-vs-appearance", claim: "reversal costs motion more than appearance (motion's change minus appearance's)",
        paper: { effect: paperDrop("motion") - paperDrop("appearance") }, expect: "negative",
      }, [...change("motion"), ...change("appearance").map((t) => ({ ...t, coef: -t.coef }))]),
    ];
    const changeOf = (role: "appearance" | "motion") => {
      const [n, r] = rows.filter((x) => x.dataset === role).map((x) => x.kit);
      return n !== null && r !== null ? r - n : null;
    };
    const findings = roles.map((role) => `${role}: ${fmt(changeOf(role))} points when reversed (paper: ${fmt(paperDrop(role))})`);
    return {
      rows, claims, findings, runs: { cover: run.dir },
      present: (mean) => ({
        tables: [resultTable("frame-reversal", mean, { title: "Frame-order reversal at test time (Table 2), top-1 %", delta: false })],
        figures: { "frame-reversal": resultPanels(mean, { title: "Frames in order vs reversed (Table 2)", by: ["frames"], label: (d) => roleLabel(d, s) }) },
      }),
    };
  },
};
