/** Table 1, the headline: the standard paradigm (one dataset per model) vs COVER (one model for all). */
import { paperVsKitBars } from "../report/figure";
import { ResultRow, sideBySide } from "../report/table";
import { Experiment, fmt, top1 } from "./experiment";
import { STANDARD_VS_COVER } from "./paper";
import { VIDEO_ROLES } from "./scales";
import { ALL, cover, standard } from "./shared-runs";

/** The paper's Table 1 columns by role (K600 has no built-in stand-in; K400 plays appearance, SSv2 motion). */
const PAPER: Record<string, { standard: number | null; cover: number | null }> = {
  appearance: { standard: STANDARD_VS_COVER.standard.k400, cover: STANDARD_VS_COVER.cover.k400 },
  motion: { standard: STANDARD_VS_COVER.standard.ssv2, cover: STANDARD_VS_COVER.cover.ssv2 },
  moments: { standard: null, cover: null },
};

export const standardVsCover: Experiment = {
  name: "standard-vs-cover",
  title: "Standard training vs COVER",
  paper: "Table 1",
  async run(ctx) {
    const rows: ResultRow[] = [];
    const runs: Record<string, string> = {};
    const coverAll = await cover(ctx, ALL, "cover");
    runs.cover = coverAll.dir;
    for (const role of VIDEO_ROLES) {
      const std = await standard(ctx, role);
      runs[`standard-${role}`] = std.dir;
      rows.push({ experiment: "standard-vs-cover", dataset: role, metric: "top1", training: "standard", kit: top1(std, role, ctx.settings), paper: PAPER[role].standard });
      rows.push({ experiment: "standard-vs-cover", dataset: role, metric: "top1", training: "COVER", kit: top1(coverAll, role, ctx.settings), paper: PAPER[role].cover });
    }
    const gain = (role: string) => {
      const s = rows.find((r) => r.dataset === role && r.training === "standard")?.kit ?? null;
      const c = rows.find((r) => r.dataset === role && r.training === "COVER")?.kit ?? null;
      return s !== null && c !== null ? c - s : null;
    };
    const better = VIDEO_ROLES.filter((r) => (gain(r) ?? -1) > 0);
    const findings = [
      ...VIDEO_ROLES.map((r) => `${r}: COVER ${fmt(gain(r))} points vs standard (paper: ${PAPER[r].cover !== null ? `+${fmt(PAPER[r].cover! - PAPER[r].standard!)}` : "n/a"})`),
      `paper's claim (COVER beats standard training on every dataset) ${better.length === VIDEO_ROLES.length ? "holds" : `holds on ${better.length} of ${VIDEO_ROLES.length} datasets`} at this scale`,
    ];
    return {
      name: this.name, scale: ctx.scale, rows, findings, runs,
      tables: [sideBySide("standard-vs-cover", rows, { title: "Standard training vs COVER (Table 1), top-1 %", rowKeys: ["training"], delta: true })],
      figures: { "standard-vs-cover": paperVsKitBars(rows, { title: "Standard vs COVER (Table 1)", by: ["dataset", "training"], yTitle: "top-1 %" }) },
    };
  },
};
