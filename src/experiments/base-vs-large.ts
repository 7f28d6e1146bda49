/** Fig. 4: two sizes of the same family, both co-trained with COVER. */
import { resultPanels } from "../report/figure";
import { ResultRow, sideBySide } from "../report/table";
import { measure, term } from "./claims";
import { Experiment, fmt, roleLabel, top1 } from "./experiment";
import { LARGE_GAIN_RANGE } from "./paper";
import { ALL_ROLES, mixOf, Role, VIDEO_ROLES } from "../runs/scales";
import { cover, largeVariant } from "./shared-runs";

export const baseVsLarge: Experiment = {
  name: "base-vs-large",
  title: "Base vs large model",
  paper: "Fig. 4",
  async run(ctx) {
    const s = ctx.settings;
    const mix = mixOf(s, ALL_ROLES);
    const base = await cover(ctx, mix, "cover");
    const large = await cover(ctx, mix, "cover", largeVariant(ctx));
    const roles = ALL_ROLES;
    const sizes = [["base", s.model.preset, base], ["large", s.largeModel.preset, large]] as const;
    // The paper gives no absolute numbers for this figure's datasets, only the range of the gains (the claims).
    const rows: ResultRow[] = roles.flatMap((role) => sizes.map(([size, preset, run]) => (
      { experiment: "base-vs-large", dataset: role, metric: "top1", model: `${size} (${preset})`, kit: top1(run, role, s), paper: null })));
    const gain = (role: Role) => {
      const [b, l] = rows.filter((r) => r.dataset === role).map((r) => r.kit);
      return b !== null && l !== null ? l - b : null;
    };
    const claims = roles.map((role) => measure({
      id: `large-beats-base-${role}`, claim: `the larger model beats the smaller on ${role} (large minus base)`,
      paper: { range: [LARGE_GAIN_RANGE.min, LARGE_GAIN_RANGE.max] }, expect: "positive",
    }, [term(1, large, role, s), term(-1, base, role, s)]));
    const findings = [`large - base per dataset: ${roles.map((role) => `${role} ${fmt(gain(role))}`).join(", ")} (paper: +${LARGE_GAIN_RANGE.min} to +${LARGE_GAIN_RANGE.max} on every dataset)`];
    return {
      rows, claims, findings, runs: { base: base.dir, large: large.dir },
      present: (mean) => ({
        tables: [sideBySide("base-vs-large", mean, { title: "Base vs large model (Fig. 4), top-1 %", rowKeys: ["model"] })],
        figures: { "base-vs-large": resultPanels(mean, { title: "Base vs large model (Fig. 4)", by: ["model"], label: (d) => roleLabel(d, s) }) },
      }),
    };
  },
};
