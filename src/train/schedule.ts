/**
 * Learning-rate schedules as functions of training progress, so a shorter run keeps the paper's shape.
 * COVER (Sec. 4.1): lr 5e-3, divided by 10 at epochs 11 and 15 of 20 -> milestones at 11/20 and 15/20 of the run.
 */
export interface StepSchedule {
  baseLr: number;
  /** Fractions of the whole run (0..1) at which the rate is multiplied by `gamma`. */
  milestones: number[];
  gamma: number;
  /** Linear warm-up from 0 over this fraction of the run (0 = none). */
  warmup: number;
  /** "step" (default): drops at the milestones; "cosine": half a cosine from baseLr to 0 after the warm-up (milestones unused). */
  decay?: "step" | "cosine";
}

export const PAPER_SCHEDULE: StepSchedule = { baseLr: 5e-3, milestones: [11 / 20, 15 / 20], gamma: 0.1, warmup: 0 };

/** Learning rate at `step` of `totalSteps` (step counted from 0). */
export function learningRate(s: StepSchedule, step: number, totalSteps: number): number {
  const progress = totalSteps > 0 ? step / totalSteps : 0;
  const lr = s.decay === "cosine" ? cosineRate(s, progress) : s.baseLr * s.gamma ** s.milestones.filter((m) => progress >= m).length;
  if (s.warmup > 0 && progress < s.warmup) return lr * ((step + 1) / Math.max(1, Math.round(s.warmup * totalSteps)));
  return lr;
}

function cosineRate(s: StepSchedule, progress: number): number {
  const after = s.warmup < 1 ? Math.max(0, (progress - s.warmup) / (1 - s.warmup)) : 0;
  return s.baseLr * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, after)));
}
