/**
 * Sec. 3.2 and Fig. 3: (a) appearance features, frozen, probed linearly on the motion dataset; (b) full fine-tuning
 * transfer A -> B starting from a standard model trained on A vs a COVER model trained on everything but B.
 */
import { paperVsKitBars } from "../report/figure";
import { ResultRow, resultTable } from "../report/table";
import { Experiment, fmt, top1 } from "./experiment";
import { FROZEN_PROBE_MOTION, TRANSFER_GAIN_RANGE } from "./paper";
import { finetuneRun, probeRun } from "./runs";
import { Role } from "./scales";
import { ALL, cover, standard } from "./shared-runs";

export const TRANSFER_PAIRS: [Role, Role][] = [["appearance", "motion"], ["motion", "appearance"]];

export const frozenTransfer: Experiment = {
  name: "frozen-transfer",
  title: "Frozen features and transfer",
  paper: "Sec. 3.2, Fig. 3",
  async run(ctx) {
    const s = ctx.settings;
    const rows: ResultRow[] = [];
    const runs: Record<string, string> = {};
    const appearance = await standard(ctx, "appearance");
    const probe = await ctx.cache.get(probeRun(s, "motion", ctx.seed, appearance.dir, "standard-appearance"));
    const motion = await standard(ctx, "motion");
    runs["probe appearance -> motion"] = probe.dir;
    rows.push({ experiment: "frozen-transfer", dataset: "motion", metric: "top1", setting: "frozen appearance features + linear head", kit: top1(probe, "motion", s), paper: FROZEN_PROBE_MOTION });
    rows.push({ experiment: "frozen-transfer", dataset: "motion", metric: "top1", setting: "trained on motion (reference)", kit: top1(motion, "motion", s), paper: null });

    const gains: number[] = [];
    for (const [from, to] of TRANSFER_PAIRS) {
      const source = await standard(ctx, from);
      const withoutTarget = Object.fromEntries(Object.entries(ALL).filter(([r]) => r !== to)) as Partial<Record<Role, number>>;
      const coverSource = await cover(ctx, withoutTarget, `cover-without-${to}`);
      const fromStandard = await ctx.cache.get(finetuneRun(s, to, ctx.seed, source.dir, `standard-${from}`));
      const fromCover = await ctx.cache.get(finetuneRun(s, to, ctx.seed, coverSource.dir, `cover-without-${to}`));
      runs[`${from} -> ${to} (standard)`] = fromStandard.dir;
      runs[`${from} -> ${to} (COVER)`] = fromCover.dir;
      const a = top1(fromStandard, to, s);
      const b = top1(fromCover, to, s);
      if (a !== null && b !== null) gains.push(b - a);
      rows.push({ experiment: "frozen-transfer", dataset: to, metric: "top1", setting: `${from} -> ${to}, from standard`, kit: a, paper: null });
      rows.push({ experiment: "frozen-transfer", dataset: to, metric: "top1", setting: `${from} -> ${to}, from COVER`, kit: b, paper: null });
    }
    const findings = [
      `linear probe of frozen appearance features on motion: ${fmt(rows[0].kit)} vs ${fmt(rows[1].kit)} when trained on motion (paper: ${FROZEN_PROBE_MOTION} on SSv2 from K400 features, far below full training)`,
      `transfer gains of COVER over standard: ${gains.map((g) => fmt(g)).join(", ")} (paper: +${TRANSFER_GAIN_RANGE.min} to +${TRANSFER_GAIN_RANGE.max} on every pair); the claim ${gains.length && gains.every((g) => g > 0) ? "holds" : "does not hold"} at this scale`,
    ];
    return {
      name: this.name, scale: ctx.scale, rows, findings, runs,
      tables: [resultTable("frozen-transfer", rows, { title: "Frozen features (Sec. 3.2) and transfer A -> B (Fig. 3), top-1 %" })],
      figures: { "frozen-transfer": paperVsKitBars(rows, { title: "Frozen features and transfer (Sec. 3.2, Fig. 3)", by: ["setting"], yTitle: "top-1 %" }) },
    };
  },
};
