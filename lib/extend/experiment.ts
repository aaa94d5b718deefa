/**
 * The headline experiment, "context extension": every recipe (recipes.ts) on the base
 * checkpoints, evaluated at ℓ = 1×, 2×, 4×, 8× ℓ_max —
 *
 *   passkey (compact) × depths    accuracy vs length per method (LongChat's plot, docs/literature.md, "LongChat and Lost in the Middle") and
 *                                 vs depth (Lost in the Middle, §3.3)
 *   perplexity vs length          held-out Moby Dick (PI Tables 1–3, ALiBi §4; §3.1, §3.5)
 *   Table 4                       k_max (PI's rule: largest ℓ with ≥ 20 % passkey accuracy at it and
 *                                 every shorter tested ℓ) after N fine-tuning steps, PI vs direct FT
 *
 * One run = one (recipe, base) pair; fine-tunes target ℓ' = s·ℓ_max (default s = 4) and train a copy
 * of the base, so the bases stay as loaded. Everything is seeded; the tables carry every example.
 */
import * as aq from "arquero";
import { ConfigError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import { defaultTokenizer } from "../eval/common.js";
import { evalTable, runEval } from "../eval/index.js";
import { perplexityTable } from "../eval/perplexity.js";
import type { DTransformer } from "../model/dtransformer.js";
import { currentSignal } from "../runtime/context.js";
import { recipeApplies, recipeFrom } from "./recipes.js";
import { runRecipe } from "./run-recipe.js";

/** One (recipe, base) pair of the plan. */
export interface ExperimentRun {
  recipe: string;
  base: string;
}

export interface ExperimentOptions {
  /** base models by name ("rope", "learned", "alibi", "nope", …) */
  bases: Record<string, DTransformer>;
  /** the pairs to run (default: DEFAULT_PLAN, keeping those whose base is given and fits) */
  plan?: readonly ExperimentRun[];
  /** ℓ' = scale·ℓ_max for every recipe (default 4) */
  scale?: number;
  /** evaluation lengths (default ℓ_max·{1, 2, 4, 8}) */
  lengths?: readonly number[];
  /** passkey depths (default 0, 0.25, 0.5, 0.75, 1) and examples per (ℓ, depth) cell (default 5) */
  depths?: readonly number[];
  n?: number;
  /** perplexity windows per ℓ (default 8) */
  windows?: number;
  /** fine-tuning steps N (default 100), rows per step (default 4), peak lr (default: runRecipe's) */
  steps?: number;
  batch?: number;
  lr?: number;
  /** Table 4: the steps at which PI-FT and FT are evaluated (default 0, N/4, N/2, N) and its ℓ grid (default ℓ_max·{1, 1.5, …, s}) */
  snapshots?: readonly number[];
  table4Lengths?: readonly number[];
  /** Table 4 depths (default 0, 0.5, 1) and examples per cell (default 4) */
  table4Depths?: readonly number[];
  table4N?: number;
  /** the curriculum's token budget (default: a fine-tune's, steps·batch·ℓ'; the question asks for the base's pretraining budget) */
  curriculumTokens?: number;
  /** training text (default Moby Dick's training split) */
  text?: string;
  /** the curriculum's peak lr, warm-up and tokens per step (default: runRecipe's, the base pretraining's) */
  curriculumLr?: number;
  curriculumWarmup?: number;
  curriculumBatchTokens?: number;
  /** the curriculum's η decays along a cosine over its last this-many steps, to curriculumMinLr (default lr/10), as the base's did; default: no decay */
  curriculumDecaySteps?: number;
  curriculumMinLr?: number;
  tokenizer?: Tokenizer;
  seed?: number;
  workers?: number;
  signal?: AbortSignal;
  /**
   * models already produced by a recipe, by recipe name (e.g. { curriculum: loadCheckpoint(dir) }):
   * evaluated as that recipe's run instead of training it again; `steps` / `tokens` go to the runs table
   */
  pretrained?: Record<string, { model: DTransformer; steps?: number; tokens?: number; trainS?: number }>;
  /** one line per stage (the CLI prints them) */
  log?: (line: string) => void;
}

export interface ExperimentResult {
  /** per-example passkey rows (EVAL_COLUMNS + recipe, base) */
  passkey: aq.ColumnTable;
  /** per-window perplexity rows (PERPLEXITY_COLUMNS + recipe, base) */
  perplexity: aq.ColumnTable;
  /** Table 4's per-example rows (+ recipe, base, step) */
  table4Rows: aq.ColumnTable;
  /** training logs (LOG_COLUMNS + method) */
  training: aq.ColumnTable;
  /** one row per run: method, recipe, base, positional, steps, tokens, train_s, eval_s, status */
  runs: aq.ColumnTable;
  /** the settings actually used */
  settings: Record<string, unknown>;
  /** "completed" or "interrupted" */
  status: "completed" | "interrupted";
  wallS: number;
}

/** The full plan: zero-shot on every base, the rotary recipes on RoPE, the table extension on learned. */
export const DEFAULT_PLAN: readonly ExperimentRun[] = [
  { recipe: "extrapolate", base: "rope" },
  { recipe: "extrapolate", base: "learned" },
  { recipe: "extrapolate", base: "alibi" },
  { recipe: "extrapolate", base: "nope" },
  { recipe: "pi", base: "rope" },
  { recipe: "ntk", base: "rope" },
  { recipe: "dynamic-ntk", base: "rope" },
  { recipe: "yarn", base: "rope" },
  { recipe: "pi-ft", base: "rope" },
  { recipe: "yarn-ft", base: "rope" },
  { recipe: "ft", base: "rope" },
  { recipe: "learned-extend-ft", base: "learned" },
  { recipe: "curriculum", base: "rope" },
];

/** The label of a run in tables and plots, e.g. "pi-ft (rope)". */
export const methodLabel = (r: ExperimentRun): string => `${r.recipe} (${r.base})`;

/** The recipes whose Table 4 rows are collected (PI vs direct fine-tuning, as in the PI paper). */
export const TABLE4_RECIPES = ["pi-ft", "ft"];

const addCols = (t: aq.ColumnTable, cols: Record<string, unknown>): aq.ColumnTable => t.assign(aq.table(Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, Array.from({ length: t.numRows() }, () => v)]))));

function concat(ts: aq.ColumnTable[], empty: aq.ColumnTable): aq.ColumnTable {
  const nonEmpty = ts.filter((t) => t.numRows() > 0);
  return nonEmpty.length ? nonEmpty.slice(1).reduce((a, b) => a.concat(b), nonEmpty[0]!) : empty;
}

/** Validated settings with defaults (the lMax of the first base decides the default lengths). */
export function experimentSettings(o: ExperimentOptions) {
  const names = Object.keys(o.bases ?? {});
  if (!names.length) throw new ConfigError("context-extension: give at least one base model (bases: { rope: model, … })");
  const lMax = o.bases[names[0]!]!.cfg.lMax;
  for (const n of names) if (o.bases[n]!.cfg.lMax !== lMax) throw new ConfigError(`context-extension: base "${n}" has ℓ_max=${o.bases[n]!.cfg.lMax} but "${names[0]}" has ${lMax}; all bases must share ℓ_max`);
  const scale = o.scale ?? 4;
  if (!Number.isInteger(scale) || scale < 2) throw new ConfigError(`context-extension: scale=${scale} must be an integer ≥ 2`);
  const steps = o.steps ?? 100;
  const batch = o.batch ?? 4;
  const targetLength = scale * lMax;
  const half = (k: number) => Math.round(lMax * k);
  const settings = {
    lMax, scale, targetLength, steps, batch, ...(o.lr !== undefined ? { lr: o.lr } : {}),
    lengths: [...(o.lengths ?? [1, 2, 4, 8].map((k) => k * lMax))],
    depths: [...(o.depths ?? [0, 0.25, 0.5, 0.75, 1])],
    n: o.n ?? 5,
    windows: o.windows ?? 8,
    snapshots: [...(o.snapshots ?? [...new Set([0, Math.round(steps / 4), Math.round(steps / 2), steps])])],
    table4Lengths: [...(o.table4Lengths ?? Array.from({ length: 2 * scale - 1 }, (_, i) => half(1 + i / 2)))],
    table4Depths: [...(o.table4Depths ?? [0, 0.5, 1])],
    table4N: o.table4N ?? 4,
    curriculumTokens: o.curriculumTokens ?? steps * batch * targetLength,
    seed: o.seed ?? 0,
    workers: o.workers ?? 1,
  };
  const plan = (o.plan ?? DEFAULT_PLAN).filter((r) => {
    if (!o.bases[r.base]) return o.plan === undefined ? false : (() => { throw new ConfigError(`context-extension: run ${methodLabel(r)} needs a base "${r.base}"; given: ${names.join(", ")}`); })();
    const ok = recipeApplies(recipeFrom(r.recipe), o.bases[r.base]!);
    if (!ok && o.plan !== undefined) throw new ConfigError(`context-extension: recipe "${r.recipe}" does not apply to base "${r.base}" (${o.bases[r.base]!.positional.label})`);
    return ok;
  });
  return { ...settings, plan };
}

/**
 * Run the experiment (see the header); returns the tables for report.ts. On abort returns what has
 * finished, with status "interrupted".
 * @example const r = await contextExtension({ bases: { rope: await loadCheckpoint("data/checkpoints/rope") } });
 */
export async function contextExtension(o: ExperimentOptions): Promise<ExperimentResult> {
  const s = experimentSettings(o);
  const signal = currentSignal(o.signal);
  const log = o.log ?? (() => {});
  const t0 = performance.now();
  const tok = o.tokenizer ?? defaultTokenizer(o.bases[s.plan[0]?.base ?? Object.keys(o.bases)[0]!]!.cfg.nVocab);
  const passkey: aq.ColumnTable[] = [];
  const ppl: aq.ColumnTable[] = [];
  const t4: aq.ColumnTable[] = [];
  const training: aq.ColumnTable[] = [];
  const runs: Record<string, unknown>[] = [];
  const sweep = { variant: "compact" as const, tokenizer: tok, seed: s.seed, ...(signal ? { signal } : {}) };
  let k = 0;
  for (const run of s.plan) {
    if (signal?.aborted) break;
    const method = methodLabel(run);
    const recipe = recipeFrom(run.recipe);
    log(`[${++k}/${s.plan.length}] ${method}: ${recipe.description}`);
    const tRun = performance.now();
    const snap = TABLE4_RECIPES.includes(run.recipe) && recipe.training === "finetune";
    const scratch = recipe.training === "scratch";
    const lr = scratch ? o.curriculumLr : o.lr;
    const given = o.pretrained?.[run.recipe];
    const r = given ? { model: given.model, status: "given" as const, steps: given.steps ?? 0, tokens: given.tokens ?? 0, trainS: given.trainS ?? 0, log: aq.table({}) } : await runRecipe(o.bases[run.base]!, recipe, {
      targetLength: s.targetLength, steps: s.steps, batch: s.batch, tokens: s.curriculumTokens, seed: s.seed, workers: s.workers,
      ...(lr !== undefined ? { lr } : {}), ...(scratch && o.curriculumWarmup !== undefined ? { warmup: o.curriculumWarmup } : {}),
      ...(scratch && o.curriculumBatchTokens !== undefined ? { batchTokens: o.curriculumBatchTokens } : {}),
      ...(scratch && o.curriculumDecaySteps ? { decaySteps: o.curriculumDecaySteps, ...(o.curriculumMinLr !== undefined ? { minLr: o.curriculumMinLr } : {}) } : {}),
      ...(o.text ? { text: o.text } : {}), ...(signal ? { signal } : {}),
      ...(snap ? {
        snapshots: s.snapshots,
        onSnapshot: async (m: DTransformer, step: number) => {
          const t = await runEval(m, "passkey", { ...sweep, lengths: s.table4Lengths, depths: s.table4Depths, n: s.table4N, label: method });
          t4.push(addCols(t, { recipe: run.recipe, base: run.base, step }));
          log(`  ${method} after ${step} steps: passkey at ℓ ∈ {${s.table4Lengths.join(", ")}} evaluated`);
        },
      } : {}),
    });
    const trainS = r.trainS;
    if (r.log.numRows()) training.push(addCols(r.log, { method }));
    const owns = recipe.training !== "none" && !given; // a given model belongs to the caller
    if (r.status === "interrupted" || signal?.aborted) {
      if (owns) r.model.dispose();
      break;
    }
    const tEval = performance.now();
    const pk = await runEval(r.model, "passkey", { ...sweep, lengths: s.lengths, depths: s.depths, n: s.n, label: method });
    const pp = await runEval(r.model, "perplexity", { lengths: s.lengths, windows: s.windows, tokenizer: tok, label: method, ...(signal ? { signal } : {}) });
    passkey.push(addCols(pk, { recipe: run.recipe, base: run.base }));
    ppl.push(addCols(pp, { recipe: run.recipe, base: run.base }));
    runs.push({
      method, recipe: run.recipe, base: run.base, positional: r.model.positional.label, training: recipe.training, status: r.status,
      steps: r.steps, tokens: r.tokens, train_s: Number(trainS.toFixed(1)), eval_s: Number(((performance.now() - tEval) / 1000).toFixed(1)), total_s: Number(((performance.now() - tRun) / 1000).toFixed(1)),
    });
    log(`  ${method}: ${r.status === "none" ? "zero-shot" : `${given ? "given checkpoint, " : ""}${r.steps} steps, ${r.tokens} tokens, ${trainS.toFixed(0)} s training`}; evaluation ${((performance.now() - tEval) / 1000).toFixed(0)} s`);
    if (owns) r.model.dispose();
  }
  const { plan, ...rest } = s;
  return {
    passkey: concat(passkey, addCols(evalTable([]), { recipe: [], base: [] })),
    perplexity: concat(ppl, perplexityTable([])),
    table4Rows: concat(t4, evalTable([])),
    training: concat(training, aq.table({ method: [] })),
    runs: aq.from(runs),
    settings: { ...rest, plan: plan.map(methodLabel) },
    status: signal?.aborted || runs.length < plan.length ? "interrupted" : "completed",
    wallS: (performance.now() - t0) / 1000,
  };
}
