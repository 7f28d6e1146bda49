/** Table 5a: what each added dataset brings: independent models, K+S, K+S+M, K+S+M+images. */
import { resultPanels } from "../report/figure";
import { ResultRow, sideBySide } from "../report/table";
import { ClaimMeasure, EffectTerm, measure, term } from "./claims";
import { CachedRun } from "../runs/cache";
import { Experiment, roleLabel, top1 } from "./experiment";
import { COTRAIN_ABLATION } from "./paper";
import { mixOf, Role, VIDEO_ROLES } from "../runs/scales";
import { cover, standard } from "./shared-runs";

export const cotrainAblation: Experiment = {
  name: "cotrain-ablation",
  title: "Co-training ablation",
  paper: "Table 5a",
  async run(ctx) {
    const s = ctx.settings;
    const rows: ResultRow[] = [];
    const runs: Record<string, string> = {};
    // The run that measured each role in each setting (independent: that role's standard model).
    const measured = new Map<string, Partial<Record<Role, CachedRun>>>();
    for (const setting of COTRAIN_ABLATION) {
      const kit: Partial<Record<Role, number | null>> = {};
      const byRole: Partial<Record<Role, CachedRun>> = {};
      if (setting.setting === "independent") {
        for (const role of VIDEO_ROLES) {
          const run = await standard(ctx, role);
          runs[`standard-${role}`] = run.dir;
          byRole[role] = run;
        }
      } else {
        const run = await cover(ctx, mixOf(s, setting.datasets), setting.datasets.length === 4 ? "cover" : undefined);
        runs[setting.setting] = run.dir;
        for (const role of VIDEO_ROLES) if (setting.datasets.includes(role)) byRole[role] = run;
      }
      measured.set(setting.setting, byRole);
      for (const role of VIDEO_ROLES) kit[role] = byRole[role] ? top1(byRole[role]!, role, s) : null;
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
    const diff = (role: Role, to: string, from: string): EffectTerm[] =>
      [term(1, measured.get(to)![role]!, role, s), term(-1, measured.get(from)![role]!, role, s)];
    const paperDiff = (role: Role, to: string, from: string) => {
      const p = (name: string) => COTRAIN_ABLATION.find((x) => x.setting === name)![role as "appearance" | "motion" | "moments"];
      const a = p(to), b = p(from);
      return a !== null && b !== null ? a - b : 0;
    };
    const full = COTRAIN_ABLATION[COTRAIN_ABLATION.length - 1].setting;
    const claims: ClaimMeasure[] = VIDEO_ROLES.map((role) => measure({
      id: `full-mix-beats-independent-${role}`, claim: `the full mix beats training independently on ${role} (${full} minus independent)`,
      paper: { effect: paperDiff(role, full, "independent") }, expect: "positive",
    }, diff(role, full, "independent")));
    // Each step of the ladder, for every dataset both ends measure: the paper's claim is that no step costs a dataset.
    for (let i = 1; i < COTRAIN_ABLATION.length; i++) {
      const from = COTRAIN_ABLATION[i - 1].setting, to = COTRAIN_ABLATION[i].setting;
      for (const role of VIDEO_ROLES) {
        if (!measured.get(from)![role] || !measured.get(to)![role]) continue;
        claims.push(measure({
          id: `step-${to}-${role}`, claim: `${from} -> ${to} on ${role} (after minus before; the paper: no step costs a dataset)`,
          paper: { effect: paperDiff(role, to, from) }, expect: "positive",
        }, diff(role, to, from)));
      }
    }
    return {
      rows, claims, findings, runs,
      present: (mean) => ({
        tables: [sideBySide("cotrain-ablation", mean, { title: "Co-training ablation (Table 5a), top-1 %", rowKeys: ["setting"] })],
        figures: { "cotrain-ablation": resultPanels(mean, { title: "Co-training ablation (Table 5a)", by: ["setting"], label: (d) => roleLabel(d, s) }) },
      }),
    };
  },
};
