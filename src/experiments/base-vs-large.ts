/** Fig. 4: two sizes of the same family, both co-trained with COVER. */
import { paperVsKitBars } from "../report/figure";
import { ResultRow, sideBySide } from "../report/table";
import { Experiment, fmt, top1 } from "./experiment";
import { LARGE_GAIN_RANGE } from "./paper";
import { Role, VIDEO_ROLES } from "./scales";
import { ALL, cover } from "./shared-runs";

export const baseVsLarge: Experiment = {
  name: "base-vs-large",
  title: "Base vs large model",
  paper: "Fig. 4",
  async run(ctx) {
    const base = await cover(ctx, ALL, "cover");
    const large = await cover(ctx, ALL, "cover", true);
    const roles: Role[] = [...VIDEO_ROLES, "images"];
    const rows: ResultRow[] = roles.flatMap((role) => {
      const b = top1(base, role, ctx.settings);
      const l = top1(large, role, ctx.settings);
      return [{ experiment: "base-vs-large", dataset: role, metric: "large - base top1", model: `${ctx.settings.model.preset} -> ${ctx.settings.largeModel.preset}`,
        kit: b !== null && l !== null ? Math.round((l - b) * 10) / 10 : null, paper: (LARGE_GAIN_RANGE.min + LARGE_GAIN_RANGE.max) / 2, base: b, large: l }];
    });
    const gains = rows.map((r) => r.kit as number | null);
    const findings = [
      `large - base per dataset: ${roles.map((r, i) => `${r} ${fmt(gains[i])}`).join(", ")} (paper: +${LARGE_GAIN_RANGE.min} to +${LARGE_GAIN_RANGE.max} on every dataset; paper column shows the midpoint)`,
      `paper's claim (the larger model is better on every dataset) ${gains.every((g) => (g ?? -1) > 0) ? "holds" : "does not hold"} at this scale`,
    ];
    return {
      name: this.name, scale: ctx.scale, rows, findings, runs: { base: base.dir, large: large.dir },
      tables: [sideBySide("base-vs-large", rows, { title: "Large minus base, top-1 points (Fig. 4)", rowKeys: ["model"] })],
      figures: { "base-vs-large": paperVsKitBars(rows, { title: "Large minus base (Fig. 4)", yTitle: "top-1 points" }) },
    };
  },
};
