/**
 * Learning-rate schedules for Algorithm 13 (DTraining). The paper's η is one constant; modern
 * training warms η up linearly and then decays it along a half cosine (GPT-2/3, Chinchilla, PI §3.1).
 *
 * A schedule is plain JSON (so a checkpoint can store it) and `lrAt(spec, s)` is a pure function of
 * the 1-based step s (the s-th update, 1 ≤ s):
 *   constant:                η(s) = lr
 *   linear-warmup-constant:  η(s) = lr·(f + (1−f)·s/W)  for s ≤ W,  lr after
 *   cosine:                  warm-up as above, η = lr up to step D, then with p = min(1, (s−D)/(T−D)):
 *                            η(s) = minLr + (lr − minLr)·(1 + cos πp)/2,  so η(T) = minLr and η = minLr after T
 * W = warmup steps, D = decayFrom (default W: the decay starts right after the warm-up; D > W holds η
 * constant in between — warm-up–stable–decay, and a run is then the exact prefix of a longer one up
 * to D), f = warmupFrom (fraction of lr the warm-up starts from; PI uses 0.1), T = total.
 * Step 1 of a warm-up therefore gets lr·(f + (1−f)/W) > 0: no update is wasted with η = 0.
 */
import { ConfigError } from "../errors.js";

export type ScheduleSpec =
  | { kind: "constant"; lr: number }
  | { kind: "linear-warmup-constant"; lr: number; warmup: number; warmupFrom?: number }
  | { kind: "cosine"; lr: number; warmup?: number; warmupFrom?: number; total?: number; minLr?: number; decayFrom?: number };

/** A schedule with every default filled in (what a checkpoint stores). */
export type ResolvedSchedule =
  | { kind: "constant"; lr: number }
  | { kind: "linear-warmup-constant"; lr: number; warmup: number; warmupFrom: number }
  | { kind: "cosine"; lr: number; warmup: number; warmupFrom: number; total: number; minLr: number; decayFrom: number };

/** Defaults: constant η = 3e-4; a cosine decays to minLr = lr/10 at T = the run's `steps`. */
export const scheduleDefaults = { lr: 3e-4, minLrFraction: 0.1, warmupFrom: 0 };

const isStep = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const isRate = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;

/**
 * Validate a schedule (a number means constant η) and fill defaults; `steps` is the run's length,
 * used as the cosine's T when none is given. Throws ConfigError naming the field.
 *
 * @example
 * resolveSchedule({ kind: "cosine", lr: 1e-3, warmup: 100 }, 5000) // → T = 5000, minLr = 1e-4
 */
export function resolveSchedule(spec: ScheduleSpec | number | undefined, steps?: number): ResolvedSchedule {
  const s = spec === undefined ? { kind: "constant" as const, lr: scheduleDefaults.lr } : typeof spec === "number" ? { kind: "constant" as const, lr: spec } : spec;
  const fail = (m: string): never => {
    throw new ConfigError(`schedule ${JSON.stringify(s)}: ${m}`);
  };
  if (s === null || typeof s !== "object") return fail(`expected a number or {kind, lr, …}`);
  if (!isRate(s.lr)) fail(`lr must be a finite number ≥ 0, got ${s.lr}`);
  if (s.kind === "constant") return { kind: "constant", lr: s.lr };
  if (s.kind !== "linear-warmup-constant" && s.kind !== "cosine") return fail(`kind must be "constant", "linear-warmup-constant" or "cosine"`);
  const warmup = s.warmup ?? (s.kind === "cosine" ? 0 : fail(`warmup (steps) is required`));
  if (!isStep(warmup)) fail(`warmup must be an integer ≥ 0, got ${warmup}`);
  const warmupFrom = s.warmupFrom ?? scheduleDefaults.warmupFrom;
  if (!isRate(warmupFrom) || warmupFrom > 1) fail(`warmupFrom must be a fraction in [0, 1], got ${warmupFrom}`);
  if (s.kind === "linear-warmup-constant") return { kind: s.kind, lr: s.lr, warmup, warmupFrom };
  const total = s.total ?? steps ?? fail(`total (steps T of the decay) is required when the run length is unknown`);
  if (!isStep(total) || total < 1) fail(`total must be an integer ≥ 1, got ${total}`);
  const minLr = s.minLr ?? s.lr * scheduleDefaults.minLrFraction;
  if (!isRate(minLr) || minLr > s.lr) fail(`minLr must be in [0, lr=${s.lr}], got ${minLr}`);
  const decayFrom = s.decayFrom ?? warmup;
  if (s.decayFrom !== undefined && (!isStep(decayFrom) || decayFrom < warmup || decayFrom >= total)) fail(`decayFrom must be an integer step in [warmup=${warmup}, total=${total}), got ${decayFrom}`);
  return { kind: "cosine", lr: s.lr, warmup, warmupFrom, total, minLr, decayFrom };
}

/** η for the s-th update (s ≥ 1), by the closed forms in the header. */
export function lrAt(spec: ResolvedSchedule | ScheduleSpec | number, step: number): number {
  if (!Number.isSafeInteger(step) || step < 1) throw new ConfigError(`lrAt: step=${step} must be an integer ≥ 1 (the 1-based update number)`);
  const s = isResolved(spec) ? spec : resolveSchedule(spec);
  if (s.kind === "constant") return s.lr;
  if (step <= s.warmup) return s.lr * (s.warmupFrom + ((1 - s.warmupFrom) * step) / s.warmup);
  if (s.kind === "linear-warmup-constant") return s.lr;
  if (step <= s.decayFrom) return s.lr;
  const p = s.total > s.decayFrom ? Math.min(1, (step - s.decayFrom) / (s.total - s.decayFrom)) : 1;
  return s.minLr + ((s.lr - s.minLr) * (1 + Math.cos(Math.PI * p))) / 2;
}

function isResolved(s: ResolvedSchedule | ScheduleSpec | number): s is ResolvedSchedule {
  if (typeof s !== "object" || s === null) return false;
  if (s.kind === "constant") return true;
  if (s.kind === "linear-warmup-constant") return s.warmupFrom !== undefined;
  return s.warmup !== undefined && s.warmupFrom !== undefined && s.total !== undefined && s.minLr !== undefined && s.decayFrom !== undefined;
}

/** The schedule as a function s ↦ η(s) (for plotting: `Array.from({length: T}, (_, i) => f(i + 1))`). */
export function schedule(spec: ScheduleSpec | number, steps?: number): (step: number) => number {
  const s = resolveSchedule(spec, steps);
  return (step) => lrAt(s, step);
}
