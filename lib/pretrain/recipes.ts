/**
 * The recipes of the base checkpoints (data/checkpoints/): one typed recipe per positional encoding,
 * the single source of how each committed base was pretrained. `node scripts/make-checkpoints.mjs`
 * runs them (lib/pretrain/base-checkpoint.ts); `ctxlab experiment` reads a base's recipe.json back
 * (`readBaseRecipe`) so that the curriculum trains as the base was; test/data/checkpoints.test.ts
 * checks every committed recipe.json against `baseRecipe(name)`.
 *
 * A recipe is BASE_RECIPE with ENCODING_RECIPE[name] on top, then any overrides. Byte-level models
 * at ℓ_max = 128, pretrained on Moby Dick mixed with compact passkey / lines retrieval and a copy task
 * (retrieval-mix.ts), in phases of row weights, with AdamW and a warm-up–stable–decay schedule.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { presets, type DTransformerOptions } from "../config.js";
import { ConfigError } from "../errors.js";
import type { ScheduleSpec } from "../train/schedule.js";

/** Row weights of the retrieval mix (the kinds of lib/pretrain/retrieval-mix.ts). */
export type MixWeights = { text: number; passkey: number; lines: number; copy: number };

/** One training phase: from step `from` + 1 to the next phase's `from` (the last to `steps`). */
export interface Phase {
  from: number;
  weights: MixWeights;
}

/** Everything that decides a base checkpoint's training (the `recipe` field of its recipe.json). */
export interface BaseRecipe {
  seed: number;
  steps: number;
  batch: number;
  length: number;
  nLayers: number;
  nHeads: number;
  dE: number;
  dMlp: number;
  /**
   * std of the weights' initialisation. GPT-2's 0.02 is scaled for d_e = 768; at d_e = 64 it left the
   * copy loss on its plateau for 1,200 steps, 0.125 (≈ 1/√d_e) shortened the plateau severalfold.
   */
  initStd: number;
  /** "constant" (linear warm-up, then lr: a run of k steps is the prefix of any longer run) or "cosine" (to minLr at `steps`) */
  schedule: "constant" | "cosine";
  lr: number;
  warmup: number;
  minLr: number;
  /**
   * With the "constant" schedule: from this step on, η follows a cosine from lr down to minLr at
   * `steps` (warm-up, stable, decay). null: no decay. The run is the exact prefix of a longer run
   * up to this step.
   */
  decayFrom: number | null;
  weightDecay: number;
  clip: number;
  /**
   * Phase 1 is mostly the copy task (the induction signal retrieval needs), phase 2 shifts rows to
   * text, passkeys and lines once the induction head has formed.
   */
  phases: Phase[];
  /** probability that a passkey haystack is the PI filler (else cleaned text) */
  piFiller: number;
  /** shortest retrieval episode (bytes) */
  minEpisode: number;
}

/** The bases by directory name, and the registry name of each one's positional encoding. */
export const BASE_ENCODINGS = { learned: "learned", rope: "rope", alibi: "alibi", nope: "none", sinusoidal: "sinusoidal", bounded: "bounded" } as const;
export type BaseName = keyof typeof BASE_ENCODINGS;

/** The shared defaults. */
export const BASE_RECIPE: Readonly<BaseRecipe> = Object.freeze({
  seed: 0, steps: 2000, batch: 16, length: 128, nLayers: 4, nHeads: 4, dE: 64, dMlp: 256, initStd: 0.125,
  schedule: "constant", lr: 2e-3, warmup: 30, minLr: 2e-4, decayFrom: null, weightDecay: 0.1, clip: 1,
  phases: [
    { from: 0, weights: { text: 0.1, passkey: 0.2, lines: 0, copy: 0.7 } },
    { from: 1500, weights: { text: 0.3, passkey: 0.4, lines: 0.1, copy: 0.2 } },
  ],
  piFiller: 0.5, minEpisode: 40,
});

const phasesFrom = (from: number): Phase[] => [BASE_RECIPE.phases[0]!, { ...BASE_RECIPE.phases[1]!, from }];

/**
 * What each committed base used on top of BASE_RECIPE (data/checkpoints/README.md): learned W_p and
 * NoPE form their induction head later, so they get a longer phase 1 and twice the steps; all end
 * with a cosine decay of η. Sinusoidal and bounded (fixed additive encodings) take learned W_p's
 * budget and phases, the closest committed recipe (same seam, same late induction head); bounded
 * needed a longer phase 2 (8,000 steps, decay from 6,500: its first 4,000 steps are those of the
 * 5,000-step run, which stopped at 80 % of the committed passkeys at ℓ = 128).
 */
export const ENCODING_RECIPE: Readonly<Record<BaseName, Partial<BaseRecipe>>> = Object.freeze({
  learned: { steps: 5000, decayFrom: 4000, phases: phasesFrom(2500) },
  rope: { steps: 2500, decayFrom: 2000 },
  alibi: { steps: 2500, decayFrom: 2000 },
  nope: { steps: 5000, decayFrom: 3500, phases: phasesFrom(3000) },
  sinusoidal: { steps: 5000, decayFrom: 4000, phases: phasesFrom(2500) },
  bounded: { steps: 8000, decayFrom: 6500, phases: phasesFrom(2500) },
});

/** Whether `name` is one of the bases. */
export function isBaseName(name: string): name is BaseName {
  return Object.hasOwn(BASE_ENCODINGS, name);
}

/**
 * The recipe of one base: BASE_RECIPE, its encoding's defaults, then `overrides`; checked. A run
 * shorter than the default decay point (a pilot) is the undecayed prefix of the full run, unless
 * `overrides` sets decayFrom.
 */
export function baseRecipe(name: string, overrides: Partial<BaseRecipe> = {}): BaseRecipe {
  if (!isBaseName(name)) throw new ConfigError(`baseRecipe: unknown base "${name}"; known: ${Object.keys(BASE_ENCODINGS).join(", ")}`);
  const R: BaseRecipe = { ...BASE_RECIPE, ...ENCODING_RECIPE[name], ...overrides };
  if (!["constant", "cosine"].includes(R.schedule)) throw new ConfigError(`--schedule=${R.schedule} must be "constant" or "cosine"`);
  if (!Object.hasOwn(overrides, "decayFrom") && R.decayFrom !== null && (R.schedule === "cosine" || R.decayFrom >= R.steps)) R.decayFrom = null;
  const d = R.decayFrom;
  if (d !== null && (!Number.isInteger(d) || d < R.warmup || d >= R.steps || R.schedule !== "constant")) {
    throw new ConfigError(`${name}: --decayFrom=${d} must be an integer step in [warmup=${R.warmup}, steps=${R.steps}) with the "constant" schedule (--decayFrom null: no decay)`);
  }
  return R;
}

/** The architecture: presets.ref's form (untied W_u, tanh GELU) at the recipe's sizes, byte vocabulary, ℓ_max = length. */
export function baseArchitecture(R: BaseRecipe): Omit<DTransformerOptions, "positional"> {
  return { ...presets.ref, nVocab: 256, lMax: R.length, nLayers: R.nLayers, nHeads: R.nHeads, dE: R.dE, dMlp: R.dMlp, initStd: R.initStd ?? 0.02 };
}

/** Warm-up, η = lr, and from decayFrom a cosine to minLr; "cosine": decay right after the warm-up. */
export function baseSchedule(R: BaseRecipe): ScheduleSpec {
  return R.schedule === "cosine" || R.decayFrom !== null
    ? { kind: "cosine", lr: R.lr, warmup: R.warmup, minLr: R.minLr, total: R.steps, ...(R.decayFrom !== null ? { decayFrom: R.decayFrom } : {}) }
    : { kind: "linear-warmup-constant", lr: R.lr, warmup: R.warmup };
}

/** The phases as [last step, weights] pairs, cut at `steps`. */
export function phaseSpans(R: BaseRecipe): { first: number; until: number; weights: MixWeights }[] {
  return R.phases.map((p, i) => ({ first: p.from + 1, until: Math.min(R.phases[i + 1]?.from ?? R.steps, R.steps), weights: p.weights })).filter((p) => p.first <= p.until);
}

/** The command that reproduces recipe R of `name`: the flags that differ from baseRecipe(name). */
export function recipeCommand(name: BaseName, R: BaseRecipe): string {
  const D = baseRecipe(name);
  const flags = (Object.entries(R) as [keyof BaseRecipe, unknown][]).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify(D[k]));
  return `node scripts/make-checkpoints.mjs --only ${name}${flags.map(([k, v]) => ` --${k} ${typeof v === "object" && v !== null ? `'${JSON.stringify(v)}'` : String(v)}`).join("")}`;
}

/** A base's pretraining as far as its recipe.json records it (null when the file is absent or has no recipe). */
export async function readBaseRecipe(dir: string): Promise<Partial<BaseRecipe> & Pick<BaseRecipe, "steps" | "batch" | "length"> | null> {
  let text: string;
  try {
    text = await readFile(join(dir, RECIPE_FILE), "utf8");
  } catch {
    return null;
  }
  const r = JSON.parse(text) as Record<string, unknown>;
  const R = (typeof r.recipe === "object" && r.recipe !== null ? r.recipe : r) as Partial<BaseRecipe>;
  return [R.steps, R.batch, R.length].every((v) => typeof v === "number" && v > 0) ? (R as Partial<BaseRecipe> & Pick<BaseRecipe, "steps" | "batch" | "length">) : null;
}

/** The file a base checkpoint keeps its recipe in. */
export const RECIPE_FILE = "recipe.json";
