/** Fig. 4: two sizes of the same family, both co-trained with COVER. */
import { paperVsKitBars } from "../report/figure";
import { ResultRow, sideBySide } from "../report/table";
import { measure, term } from "./claims";
import { Experiment, fmt, top1 } from "./experiment";
import { LARGE_GAIN_RANGE } from "./paper";
import { Role, VIDEO_ROLES } from "../runs/scales";
import { ALL, cover, largeVariant } from "./shared-runs";

export const baseVsLarge: Experiment = {
  name: "base-vs-large",
  title: "Base vs large model",
  paper: "Fig. 4",
  async run(ctx) {
    const s = ctx.settings;
    const base = await cover(ctx, ALL, "cover");
    const large = await cover(ctx, ALL, "cover", largeVariant(ctx));
    const roles: Role[] = [...VIDEO_ROLES, "images"];
    const rows: ResultRow[] = roles.map((role) => {
      const b = top1(base, role, s);
      const l = top1(large, role, s);
      return { experiment: "base-vs-large", dataset: role, metric: "large - base top1", model: `${s.model.preset} -> ${s.largeModel.preset}`,
        kit: b !== null && l !== null ? Math.round((l - b) * 10) / 10 : null, paper: null, base: b, large: l };
    });
    const claims = roles.map((role) => measure({
      id: `large-beats-base-${role}`, claim: `the larger model beats the smaller on ${role} (large minus base)`,
      paper: { range: [LARGE_GAIN_RANGE.min, LARGE_GAIN_RANGE.max] }, expect: "positive",
    }, [term(1, large, role, s), term(-1, base, role, s)]));
    const findings = [`large - base per dataset: ${rows.map((r) => `${r.dataset} ${fmt(r.kit)}`).join(", ")} (paper: +${LARGE_GAIN_RANGE.min} to +${LARGE_GAIN_RANGE.max} on every dataset)`];
    return {
      rows, claims, findings, runs: { base: base.dir, large: large.dir },
      present: (mean) => ({
        tables: [sideBySide("base-vs-large", mean, { title: "Large minus base, top-1 points (Fig. 4)", rowKeys: ["model"] })],
        figures: { "base-vs-large": paperVsKitBars(mean, { title: "Large minus base (Fig. 4)", yTitle: "top-1 points" }) },
      }),
    };
  },
};
