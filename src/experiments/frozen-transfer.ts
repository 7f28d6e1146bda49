/**
 * Sec. 3.2 and Fig. 3: (a) appearance features, frozen, probed linearly on the motion dataset; (b) full fine-tuning
 * transfer A -> B starting from a standard model trained on A vs a COVER model trained on everything but B.
 */
import { resultPanels } from "../report/figure";
import { ResultRow, resultTable } from "../report/table";
import { ClaimMeasure, measure, term } from "./claims";
import { Experiment, fmt, roleLabel, top1 } from "./experiment";
import { FROZEN_PROBE_MOTION, STANDARD_VS_COVER, TRANSFER_GAIN_RANGE } from "./paper";
import { finetuneRun, probeRun } from "../runs/factories";
import { ALL_ROLES, mixOf, Role } from "../runs/scales";
import { cover, standard } from "./shared-runs";

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
    rows.push({ experiment: "frozen-transfer", dataset: "motion", metric: "top1", setting: "trained on motion (reference)", kit: top1(motion, "motion", s), paper: STANDARD_VS_COVER.standard.ssv2 });
    const claims: ClaimMeasure[] = [measure({
      id: "probe-far-below-trained", claim: "a linear probe on frozen appearance features does far worse on motion than a model trained on motion (probe minus trained)",
      paper: { effect: FROZEN_PROBE_MOTION - STANDARD_VS_COVER.standard.ssv2 }, expect: "negative",
    }, [term(1, probe, "motion", s), term(-1, motion, "motion", s)])];

    const gains: number[] = [];
    for (const [from, to] of TRANSFER_PAIRS) {
      const source = await standard(ctx, from);
      const withoutTarget = mixOf(s, ALL_ROLES.filter((r) => r !== to));
      const coverSource = await cover(ctx, withoutTarget, `cover-without-${to}`);
      const fromStandard = await ctx.cache.get(finetuneRun(s, to, ctx.seed, source.dir, `standard-${from}`));
      const fromCover = await ctx.cache.get(finetuneRun(s, to, ctx.seed, coverSource.dir, `cover-without-${to}`));
      runs[`${from} -> ${to} (standard)`] = fromStandard.dir;
      runs[`${from} -> ${to} (COVER)`] = fromCover.dir;
      const a = top1(fromStandard, to, s);
      const b = top1(fromCover, to, s);
      if (a !== null && b !== null) gains.push(b - a);
      claims.push(measure({
        id: `transfer-${from}-to-${to}`, claim: `fine-tuning ${from} -> ${to} from COVER beats fine-tuning from standard training (COVER minus standard)`,
        paper: { range: [TRANSFER_GAIN_RANGE.min, TRANSFER_GAIN_RANGE.max] }, expect: "positive",
      }, [term(1, fromCover, to, s), term(-1, fromStandard, to, s)]));
      rows.push({ experiment: "frozen-transfer", dataset: to, metric: "top1", setting: `${from} -> ${to}, from standard`, kit: a, paper: null });
      rows.push({ experiment: "frozen-transfer", dataset: to, metric: "top1", setting: `${from} -> ${to}, from COVER`, kit: b, paper: null });
    }
    const findings = [
      `linear probe of frozen appearance features on motion: ${fmt(rows[0].kit)} vs ${fmt(rows[1].kit)} when trained on motion (paper: ${FROZEN_PROBE_MOTION} on SSv2 from K400 features, far below full training)`,
      `transfer gains of COVER over standard: ${gains.map((g) => fmt(g)).join(", ")} (paper: +${TRANSFER_GAIN_RANGE.min} to +${TRANSFER_GAIN_RANGE.max} on every pair)`,
    ];
    return {
      rows, claims, findings, runs,
      present: (mean) => ({
        tables: [resultTable("frozen-transfer", mean, { title: "Frozen features (Sec. 3.2) and transfer A -> B (Fig. 3), top-1 %" })],
        figures: { "frozen-transfer": resultPanels(mean, { title: "Frozen features and transfer (Sec. 3.2, Fig. 3)", by: ["setting"], label: (d) => roleLabel(d, s) }) },
      }),
    };
  },
};
