/** Table 5a: what each added dataset brings: independent models, K+S, K+S+M, K+S+M+images. */
import { paperVsKitBars } from "../report/figure";
import { ResultRow, sideBySide } from "../report/table";
import { Experiment, top1 } from "./experiment";
import { COTRAIN_ABLATION } from "./paper";
import { Role, VIDEO_ROLES } from "./scales";
import { cover, standard } from "./shared-runs";

export const cotrainAblation: Experiment = {
  name: "cotrain-ablation",
  title: "Co-training ablation",
  paper: "Table 5a",
  async run(ctx) {
    const rows: ResultRow[] = [];
    const runs: Record<string, string> = {};
    for (const setting of COTRAIN_ABLATION) {
      const kit: Partial<Record<Role, number | null>> = {};
      if (setting.setting === "independent") {
        for (const role of VIDEO_ROLES) {
          const run = await standard(ctx, role);
          runs[`standard-${role}`] = run.dir;
          kit[role] = top1(run, role, ctx.settings);
        }
      } else {
        const weights = Object.fromEntries(setting.datasets.map((d) => [d, 1])) as Partial<Record<Role, number>>;
        const run = await cover(ctx, weights, setting.datasets.length === 4 ? "cover" : undefined);
        runs[setting.setting] = run.dir;
        for (const role of VIDEO_ROLES) kit[role] = setting.datasets.includes(role) ? top1(run, role, ctx.settings) : null;
      }
      for (const role of VIDEO_ROLES) {
        rows.push({ experiment: "cotrain-ablation", dataset: role, metric: "top1", setting: setting.setting, kit: kit[role] ?? null, paper: setting[role as "appearance" | "motion" | "moments"] });
      }
    }
    const value = (setting: string, role: Role) => rows.find((r) => r.setting === setting && r.dataset === role)?.kit ?? null;
    const findings = VIDEO_ROLES.map((role) => {
      const series = COTRAIN_ABLATION.map((s) => value(s.setting, role)).filter((v): v is number => v !== null);
      return `${role}: ${COTRAIN_ABLATION.map((s) => `${s.setting} ${value(s.setting, role)?.toFixed(1) ?? "-"}`).join(" -> ")}` +
        ` (paper: more datasets never hurt; here the best is ${Math.max(...series).toFixed(1)}, independent ${series[0]?.toFixed(1)})`;
    });
    return {
      name: this.name, scale: ctx.scale, rows, findings, runs,
      tables: [sideBySide("cotrain-ablation", rows, { title: "Co-training ablation (Table 5a), top-1 %", rowKeys: ["setting"] })],
      figures: { "cotrain-ablation": paperVsKitBars(rows, { title: "Co-training ablation (Table 5a)", by: ["dataset", "setting"], yTitle: "top-1 %" }) },
    };
  },
};
