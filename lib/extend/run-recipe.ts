/**
 * runRecipe(base, recipe, { targetLength, steps, … }): one call that applies a context-extension
 * recipe (recipes.ts) to a base model and returns the adapted model with its training log.
 *
 *   1  check the recipe applies to the base (by its positional encoding); s = ℓ'/ℓ_max
 *   2  build the model: the base under the recipe's encoding (withPositional — shared weights for
 *      zero-shot recipes), a copy of the weights for fine-tunes (the base is never modified), the
 *      learned table interpolated to ℓ' rows (extendLearned), or a fresh model (curriculum)
 *   3  train (Algorithm 13, dTraining): fine-tunes for N steps at ℓ' on the retrieval mix the
 *      bases were pretrained on (text, compact passkey/lines, copy; recipeSource); the curriculum for
 *      tokens / batchTokens steps on the doubling mixture ½ ℓ_max, ¼ 2ℓ_max, … up to ℓ' of the same mix
 *   4  optionally stop at `snapshots` steps and call onSnapshot(model, step) (PI Table 4: k_max after
 *      N steps); the segments continue each other exactly (dTraining's resume), so a run with
 *      snapshots equals one without
 *
 * Fine-tune defaults follow PI §3.1 scaled to a ~1M-parameter model: AdamW β = (0.9, 0.95), no weight
 * decay, linear warm-up from 10 % of the peak over 10 steps, then constant lr 3e-4 (the base
 * pretraining's lr is 2e-3; PI fine-tunes at ~1/15 of LLaMA's), clipping at 1. The curriculum trains
 * like the base pretraining (scripts/make-checkpoints.mjs): linear warm-up over 60 steps, then constant
 * lr 2e-3, weight decay 0.1, 2,048 tokens per step. Interrupts (AbortSignal) end
 * the run at a step boundary with status "interrupted" and the model at its last completed step.
 */
import type * as aq from "arquero";
import type { BatchSource } from "../data/types.js";
import { corpusSplit, mobyDick } from "../data/corpus.js";
import { mixedSource } from "../data/batches.js";
import { doublingComponents } from "../data/mixture.js";
import { ConfigError } from "../errors.js";
import { retrievalMixSource, type MixKind } from "../pretrain/retrieval-mix.js";
import { DTransformer } from "../model/dtransformer.js";
import { ParamStore } from "../model/params.js";
import { extendLearned } from "../model/extend-learned.js";
import type { PositionalSpec } from "../positional/types.js";
import { currentSignal } from "../runtime/context.js";
import { describedStepMacs, refuseLongRunOnCpu } from "../runtime/long-run.js";
import { dTraining, type TrainingStatus } from "../train/dtraining.js";
import { logTable } from "../train/log.js";
import { resolveSchedule, type ScheduleSpec } from "../train/schedule.js";
import type { TrainingState } from "../train/state.js";
import { adaptPositional, checkApplies, recipeFrom, scaleOf, scaledRotary, type Recipe } from "./recipes.js";

export interface RecipeOptions {
  /** ℓ' = s·ℓ_max, the length to extend to (and to fine-tune at) */
  targetLength: number;
  /** fine-tuning steps N (default 100) */
  steps?: number;
  /** rows per step B (default 4) */
  batch?: number;
  /** micro-batches per step (default 1) */
  accumulate?: number;
  /** peak learning rate (default 3e-4 fine-tune, 1e-3 curriculum) */
  lr?: number;
  /** warm-up steps (default min(10, N) fine-tune, 5 % curriculum) */
  warmup?: number;
  /**
   * start a cosine decay of η after this step, down to `minLr` at the last step (warm-up–stable–decay,
   * as the base checkpoints end; lib/train/schedule.ts). Default: none, η stays at lr after the warm-up.
   */
  decayFrom?: number;
  /** the same, counted from the end: the decay spans the last `decaySteps` steps (after the warm-up) */
  decaySteps?: number;
  /** the decay's final η (default lr/10; with decayFrom or decaySteps) */
  minLr?: number;
  /** AdamW decoupled weight decay (default 0 fine-tune, 0.1 curriculum) */
  weightDecay?: number;
  /** curriculum: the token budget (default steps·batch·ℓ'); steps = ⌈tokens / (batch·ℓ')⌉ */
  tokens?: number;
  /** row weights of the retrieval mix (default: the base checkpoints' text 0.3, passkey 0.45, lines 0.1, copy 0.15) */
  mix?: Partial<Record<MixKind, number>>;
  /** the training text (default: Moby Dick's training split) */
  text?: string;
  /** curriculum: tokens per step (default batch·ℓ_max·16/4 = the base pretraining's 2,048 at ℓ_max 128, B 4) */
  batchTokens?: number;
  /** replaces the default data entirely */
  source?: BatchSource;
  /** seed of the batches (and of a fresh model's initialisation); default 0 */
  seed?: number;
  signal?: AbortSignal;
  /** train ≥ LONG_RUN_MACS multiply-adds on TF.js's slow cpu backend although wasm is available (lib/runtime/long-run.ts) */
  allowCpu?: boolean;
  /** gradient worker threads (dTraining `workers`, default 1) */
  workers?: number;
  /** save resumable training checkpoints here (dTraining), every `checkpointEvery` steps and at the end */
  checkpointDir?: string;
  checkpointEvery?: number;
  /** continue an interrupted run of this recipe (loadTrainingState(dir)); the base is then not used */
  resume?: TrainingState;
  /** steps at which to call onSnapshot (0 = before any training) */
  snapshots?: readonly number[];
  onSnapshot?: (model: DTransformer, step: number) => void | Promise<void>;
}

export interface RecipeResult {
  recipe: Recipe;
  /** the adapted model; zero-shot recipes share the base's weights (dispose the base last) */
  model: DTransformer;
  /** its positional encoding, as stored in checkpoints */
  positional: PositionalSpec;
  scale: number;
  targetLength: number;
  /** "completed" / "interrupted" / "diverged", or "none" for a recipe without training */
  status: TrainingStatus | "none";
  message: string;
  /** training steps reached and tokens seen */
  steps: number;
  tokens: number;
  /** the training log (LOG_COLUMNS; empty without training) */
  log: aq.ColumnTable;
  /** training wall time, seconds */
  trainS: number;
  /** the data description (for the report) */
  data: Record<string, unknown> | null;
}

const int = (v: number | undefined, dflt: number, name: string, min = 1): number => {
  const x = v ?? dflt;
  if (!Number.isSafeInteger(x) || x < min) throw new ConfigError(`runRecipe: ${name}=${v} must be an integer ≥ ${min}`);
  return x;
};

/** An independent copy of a model's weights (same config), so training never touches the original. */
export function cloneModel(model: DTransformer): DTransformer {
  return new DTransformer(model.cfg, ParamStore.fromTensors(model.cfg, model.params.vars, "cloneModel"));
}

/** Step 2 of the header: the model the recipe starts its training from (or evaluates as is). */
export function adaptModel(base: DTransformer, recipe: Recipe, targetLength: number, seed = 0): DTransformer {
  const s = scaleOf(base, targetLength);
  const trains = recipe.training === "finetune";
  if (recipe.training === "scratch") return DTransformer.create({ ...base.cfg }, seed);
  if (recipe.pe.kind === "extend-learned") {
    const src = trains ? cloneModel(base) : base;
    const lMax = base.cfg.lMax;
    const out = extendLearned(src, Math.max(targetLength, lMax));
    if (trains) src.params.get("pos.W_p").dispose(); // the copy's old table is replaced, not shared
    return out;
  }
  const src = trains ? cloneModel(base) : base;
  if (recipe.pe.kind === "rotary") return src.withPositional(scaledRotary(base, recipe.pe.scaling, s));
  if (recipe.pe.kind === "spec") return src.withPositional(adaptPositional(base, recipe.pe.spec), seed);
  return src;
}

/**
 * The training data: the retrieval mix the base checkpoints were pretrained on (lib/pretrain/retrieval-mix.ts:
 * text, compact passkey and lines episodes of every length up to ℓ, a copy task) at ℓ' for a
 * fine-tune; for the curriculum, one such source per length ℓ_max·2^k ≤ ℓ' with B = batchTokens/ℓ,
 * chosen per batch with weight 2^−(k+1) (renormalised): the question's 50/25/12.5 % … mixture.
 */
export function recipeSource(recipe: Recipe, lMax: number, o: Pick<RecipeOptions, "targetLength" | "batch" | "batchTokens" | "mix" | "text">): BatchSource {
  const text = o.text ?? corpusSplit(mobyDick()).train;
  const mix = o.mix ? { weights: o.mix } : {};
  const batch = int(o.batch, 4, "batch");
  if (recipe.training !== "scratch") return retrievalMixSource({ batch, length: o.targetLength, text, ...mix });
  const bt = int(o.batchTokens, batch * lMax * 4, "batchTokens");
  return mixedSource(doublingComponents(lMax, o.targetLength).map((c) => ({ source: retrievalMixSource({ batch: Math.max(1, Math.floor(bt / c.length)), length: c.length, text, ...mix }), weight: c.weight })));
}

/** The training plan of a recipe: steps, schedule, optimizer and data. */
function plan(recipe: Recipe, model: DTransformer, o: RecipeOptions) {
  const scratch = recipe.training === "scratch";
  const batch = int(o.batch, 4, "batch");
  const tokensPerStep = (scratch ? int(o.batchTokens, batch * model.cfg.lMax * 4, "batchTokens") : batch * o.targetLength) * int(o.accumulate, 1, "accumulate");
  const steps = scratch && o.tokens !== undefined ? Math.ceil(int(o.tokens, 1, "tokens") / tokensPerStep) : int(o.steps, 100, "steps");
  const lr = o.lr ?? (scratch ? 2e-3 : 3e-4);
  if (!(lr > 0 && Number.isFinite(lr))) throw new ConfigError(`runRecipe: lr=${lr} must be a finite number > 0`);
  const warmup = int(o.warmup, scratch ? Math.min(60, steps) : Math.min(10, steps), "warmup", 0);
  const warmupFrom = scratch ? 0 : 0.1;
  if (o.decayFrom !== undefined && o.decaySteps !== undefined) throw new ConfigError(`runRecipe: give decayFrom=${o.decayFrom} or decaySteps=${o.decaySteps}, not both`);
  const decayFrom = o.decaySteps !== undefined ? Math.max(warmup, steps - int(o.decaySteps, 0, "decaySteps", 1)) : o.decayFrom;
  if (o.minLr !== undefined && decayFrom === undefined) throw new ConfigError(`runRecipe: minLr=${o.minLr} needs decayFrom (the step the decay starts after)`);
  const schedule: ScheduleSpec = decayFrom === undefined || (o.decaySteps !== undefined && decayFrom >= steps) ? { kind: "linear-warmup-constant", lr, warmup, warmupFrom } : { kind: "cosine", lr, warmup, warmupFrom, total: steps, minLr: o.minLr ?? lr / 10, decayFrom };
  resolveSchedule(schedule, steps); // a bad decayFrom / minLr fails here, naming the field and the limit
  if (!o.source && (model.cfg.nVocab < 256 || model.cfg.nVocab > 259)) throw new ConfigError(`runRecipe: the default training data is byte-level (lib/pretrain/retrieval-mix.ts) but the model has N_V=${model.cfg.nVocab}; give \`source\``);
  const source = o.source ?? recipeSource(recipe, model.cfg.lMax, o);
  const optimizer = { kind: "adamw" as const, betas: [0.9, 0.95] as const, weightDecay: o.weightDecay ?? (scratch ? 0.1 : 0) };
  return { steps, schedule, source, optimizer };
}

/** Step 3–4: dTraining in segments ending at each snapshot step (each continues the previous exactly). */
async function train(recipe: Recipe, model: DTransformer, o: RecipeOptions, signal: AbortSignal | undefined) {
  const p = plan(recipe, model, o);
  const start = o.resume?.step ?? 0;
  const perStep = describedStepMacs(model.cfg, p.source.describe()); // a custom source without a shape: dTraining measures it
  if (perStep !== undefined) await refuseLongRunOnCpu(`runRecipe "${recipe.name}": ${p.steps - start} steps at ℓ′ = ${o.targetLength}`, (p.steps - start) * (o.accumulate ?? 1) * perStep, o.allowCpu);
  const marks = [...new Set([...(o.snapshots ?? []).filter((s) => s > start && s < p.steps), p.steps])].sort((a, b) => a - b);
  if (o.snapshots?.includes(start) && o.onSnapshot) await o.onSnapshot(model, start);
  let state = o.resume;
  let last: Awaited<ReturnType<typeof dTraining>> | undefined;
  const common = {
    source: p.source, signal, workers: o.workers ?? 1, ...(o.allowCpu ? { allowCpu: true } : {}),
    ...(o.checkpointDir ? { checkpointDir: o.checkpointDir, checkpointEvery: o.checkpointEvery ?? 50 } : {}),
    run: { recipe: recipe.name, targetLength: o.targetLength, positional: model.positional.toJSON() },
  };
  for (const m of marks) {
    if (m <= (state?.step ?? 0)) continue;
    last = await dTraining(model, state ? { ...common, steps: m, resume: state } : { ...common, steps: m, seed: o.seed ?? 0, optimizer: p.optimizer, schedule: p.schedule, clip: 1, accumulate: o.accumulate ?? 1 });
    state = last.state;
    if (last.status !== "completed") break;
    if (o.snapshots?.includes(m) && o.onSnapshot) await o.onSnapshot(model, m);
  }
  state?.optimizer.dispose();
  return { last, state, source: p.source };
}

/**
 * Apply `recipe` to `base` for ℓ' = targetLength (see the header).
 * @example
 * const r = await runRecipe(await loadCheckpoint("data/checkpoints/rope"), "pi-ft", { targetLength: 512, steps: 100 });
 * await runEval(r.model, "passkey", { lengths: [128, 256, 512], variant: "compact" });
 */
export async function runRecipe(base: DTransformer, recipe: string | Recipe, o: RecipeOptions): Promise<RecipeResult> {
  const r = recipeFrom(recipe);
  if (!o || typeof o !== "object") throw new ConfigError("runRecipe: give options { targetLength, … }");
  if (o.resume && r.training === "none") throw new ConfigError(`runRecipe: recipe "${r.name}" does not train; there is nothing to resume`);
  const from = o.resume ? o.resume.model : base;
  if (!o.resume) checkApplies(r, base);
  const scale = scaleOf(from, o.targetLength);
  const model = o.resume ? o.resume.model : adaptModel(base, r, o.targetLength, o.seed ?? 0);
  const max = model.positional.maxPositions?.(model.cfg);
  if (r.training === "finetune" && max !== undefined && o.targetLength > max) {
    if (!o.resume) model.dispose();
    throw new ConfigError(`runRecipe: cannot fine-tune at ℓ'=${o.targetLength}: the ${model.positional.label} has ℓ_max=${max}; extend the table first (recipe "learned-extend-ft", --pe extend-learned)`);
  }
  const out = { recipe: r, model, positional: model.positional.toJSON(), scale, targetLength: o.targetLength };
  if (r.training === "none") {
    if (o.snapshots?.includes(0) && o.onSnapshot) await o.onSnapshot(model, 0);
    return { ...out, status: "none", message: `${r.name}: no training (zero-shot)`, steps: 0, tokens: 0, log: logTable([]), trainS: 0, data: null };
  }
  const t0 = performance.now();
  try {
    const { last, state, source } = await train(r, model, o, currentSignal(o.signal));
    const rows = last?.rows ?? state?.log ?? [];
    return {
      ...out,
      status: last?.status ?? "completed",
      message: last?.message ?? `already at step ${state?.step ?? 0}`,
      steps: state?.step ?? 0,
      tokens: state?.tokensSeen ?? 0,
      log: logTable(rows),
      trainS: (performance.now() - t0) / 1000,
      data: { name: source.name, ...source.describe() },
    };
  } catch (e) {
    if (!o.resume) model.dispose(); // a copy or a fresh model: the base is untouched
    throw e;
  }
}
