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
}

export const PAPER_SCHEDULE: StepSchedule = { baseLr: 5e-3, milestones: [11 / 20, 15 / 20], gamma: 0.1, warmup: 0 };

/** Learning rate at `step` of `totalSteps` (step counted from 0). */
export function learningRate(s: StepSchedule, step: number, totalSteps: number): number {
  const progress = totalSteps > 0 ? step / totalSteps : 0;
  const drops = s.milestones.filter((m) => progress >= m).length;
  const lr = s.baseLr * s.gamma ** drops;
  if (s.warmup > 0 && progress < s.warmup) return lr * ((step + 1) / Math.max(1, Math.round(s.warmup * totalSteps)));
  return lr;
}
