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
 * of the base, so the bases stay as loaded, once per fine-tuning seed (default 0, 1, 2: the order of the
 * training batches). Every retrieval cell is measured on several haystacks (fillers: the PI sentences,
 * held-out Moby Dick, State of the Union addresses; lib/eval/fillers.ts) with n examples per
 * (ℓ, depth, filler); seed k of a fine-tune is scored on examples k·n … (k+1)·n − 1 of each cell, so
 * the seeds of a recipe together see disjoint examples. Everything is seeded; the tables carry every
 * example (columns recipe, base, seed, filler).
 *
 * With `cacheDir`, each finished (run, seed) is stored there under a key of everything that decides
 * its numbers (the run, its seed, the settings, a hash of the base's weights); a later call with the
 * same key reads it instead of recomputing (an interrupted or extended experiment resumes).
 */
import * as aq from "arquero";
import { createHash } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import { defaultTokenizer } from "../eval/common.js";
import { evalTable, runEval } from "../eval/index.js";
import { FILLER_NAMES, fillerName, type FillerSpec } from "../eval/fillers.js";
import { writeFileAtomic } from "../io/safetensors.js";
import { perplexityTable } from "../eval/perplexity.js";
import type { DTransformer } from "../model/dtransformer.js";
import { currentSignal } from "../runtime/context.js";
import { forwardMacs, refuseLongRunOnCpu, trainingMacs } from "../runtime/long-run.js";
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
  /** passkey depths (default 0, 0.25, 0.5, 0.75, 1) and examples per (ℓ, depth, filler) cell and model (default 7) */
  depths?: readonly number[];
  n?: number;
  /** passkey haystacks (default FILLER_NAMES: "pi", "moby-dick", "sotu") */
  fillers?: readonly FillerSpec[];
  /** fine-tuning seeds (default 0, 1, 2): every training recipe runs once per seed */
  seeds?: readonly number[];
  /** perplexity windows per ℓ (default 24) */
  windows?: number;
  /** fine-tuning steps N (default 100), rows per step (default 4), peak lr (default: runRecipe's) */
  steps?: number;
  batch?: number;
  lr?: number;
  /** Table 4: the steps at which PI-FT and FT are evaluated (default 0, N/4, N/2, N) and its ℓ grid (default ℓ_max·{1, 2, …, s}) */
  snapshots?: readonly number[];
  table4Lengths?: readonly number[];
  /** Table 4 depths (default 0, 0.5, 1) and examples per (ℓ, depth, filler) cell and seed (default 4) */
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
  /** run ≥ LONG_RUN_MACS multiply-adds on TF.js's slow cpu backend although wasm is available (lib/runtime/long-run.ts) */
  allowCpu?: boolean;
  /**
   * models already produced by a recipe, by recipe name (e.g. { curriculum: loadCheckpoint(dir) }):
   * evaluated as that recipe's run instead of training it again; `steps` / `tokens` go to the runs table
   */
  pretrained?: Record<string, { model: DTransformer; steps?: number; tokens?: number; trainS?: number }>;
  /** one line per stage (the CLI prints them) */
  log?: (line: string) => void;
  /** store each finished (run, seed) here and reuse stored ones with the same key (see the header) */
  cacheDir?: string;
}

export interface ExperimentResult {
  /** per-example passkey rows (EVAL_COLUMNS + recipe, base, seed, filler) */
  passkey: aq.ColumnTable;
  /** per-window perplexity rows (PERPLEXITY_COLUMNS + recipe, base, seed) */
  perplexity: aq.ColumnTable;
  /** Table 4's per-example rows (+ recipe, base, seed, filler, step) */
  table4Rows: aq.ColumnTable;
  /** training logs (LOG_COLUMNS + method, seed) */
  training: aq.ColumnTable;
  /** one row per (run, seed): method, recipe, base, seed, positional, steps, tokens, train_s, eval_s, status, cached */
  runs: aq.ColumnTable;
  /** the settings actually used */
  settings: Record<string, unknown>;
  /** "completed" or "interrupted" */
  status: "completed" | "interrupted";
  wallS: number;
}

/**
 * The full plan: zero-shot on every base, the rotary recipes on RoPE, the table extension on learned,
 * and a direct fine-tune at ℓ' (PI's FT) of the fixed absolute encodings (sinusoidal, bounded), which
 * have no table to interpolate and run past ℓ_max as they are.
 */
export const DEFAULT_PLAN: readonly ExperimentRun[] = [
  { recipe: "extrapolate", base: "rope" },
  { recipe: "extrapolate", base: "learned" },
  { recipe: "extrapolate", base: "alibi" },
  { recipe: "extrapolate", base: "nope" },
  { recipe: "extrapolate", base: "sinusoidal" },
  { recipe: "extrapolate", base: "bounded" },
  { recipe: "pi", base: "rope" },
  { recipe: "ntk", base: "rope" },
  { recipe: "dynamic-ntk", base: "rope" },
  { recipe: "yarn", base: "rope" },
  { recipe: "pi-ft", base: "rope" },
  { recipe: "yarn-ft", base: "rope" },
  { recipe: "ft", base: "rope" },
  { recipe: "learned-extend-ft", base: "learned" },
  { recipe: "ft", base: "sinusoidal" },
  { recipe: "ft", base: "bounded" },
  { recipe: "curriculum", base: "rope" },
];

/** The label of a run in tables and plots, e.g. "pi-ft (rope)". */
export const methodLabel = (r: ExperimentRun): string => `${r.recipe} (${r.base})`;

/** The recipes whose Table 4 rows are collected (PI vs direct fine-tuning of RoPE, as in the PI paper). */
export const TABLE4_RECIPES = ["pi-ft", "ft"];
const TABLE4_BASE = "rope";

const addCols = (t: aq.ColumnTable, cols: Record<string, unknown>): aq.ColumnTable => t.assign(aq.table(Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, Array.from({ length: t.numRows() }, () => v)]))));

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
    n: o.n ?? 7,
    fillers: (o.fillers ?? FILLER_NAMES).map(fillerName),
    seeds: [...(o.seeds ?? [0, 1, 2])],
    windows: o.windows ?? 24,
    snapshots: [...(o.snapshots ?? [...new Set([0, Math.round(steps / 4), Math.round(steps / 2), steps])])],
    table4Lengths: [...(o.table4Lengths ?? Array.from({ length: scale }, (_, i) => half(i + 1)))],
    table4Depths: [...(o.table4Depths ?? [0, 0.5, 1])],
    table4N: o.table4N ?? 4,
    curriculumTokens: o.curriculumTokens ?? steps * batch * targetLength,
    seed: o.seed ?? 0,
    workers: o.workers ?? 1,
  };
  if (!settings.seeds.length || settings.seeds.some((x) => !Number.isSafeInteger(x) || x < 0) || new Set(settings.seeds).size !== settings.seeds.length) throw new ConfigError(`context-extension: seeds=${JSON.stringify(o.seeds)} must be distinct integers ≥ 0 (at least one)`);
  for (const f of o.fillers ?? []) if (typeof f === "string" && !(FILLER_NAMES as readonly string[]).includes(f)) throw new ConfigError(`context-extension: unknown filler "${f}"; known: ${FILLER_NAMES.join(", ")} (or { name, text })`);
  if (!settings.fillers.length || new Set(settings.fillers).size !== settings.fillers.length) throw new ConfigError(`context-extension: fillers=${JSON.stringify(settings.fillers)} must be distinct (at least one)`);
  const plan = (o.plan ?? DEFAULT_PLAN).filter((r) => {
    if (!o.bases[r.base]) return o.plan === undefined ? false : (() => { throw new ConfigError(`context-extension: run ${methodLabel(r)} needs a base "${r.base}"; given: ${names.join(", ")}`); })();
    const ok = recipeApplies(recipeFrom(r.recipe), o.bases[r.base]!);
    if (!ok && o.plan !== undefined) throw new ConfigError(`context-extension: recipe "${r.recipe}" does not apply to base "${r.base}" (${o.bases[r.base]!.positional.label})`);
    return ok;
  });
  return { ...settings, plan };
}

/** SHA-256 of a model's weights (names, shapes and float32 values, in name order): part of a cache key. */
export function weightsHash(m: DTransformer): string {
  const h = createHash("sha256");
  for (const name of [...m.params.vars.keys()].sort()) {
    const v = m.params.vars.get(name)!;
    h.update(`${name}:${v.shape.join("x")};`);
    const d = v.dataSync() as Float32Array;
    h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  }
  return h.digest("hex");
}

type Rows = Record<string, unknown>[];
/** What one (run, seed) produces: its rows of every table. */
interface UnitResult {
  passkey: Rows;
  perplexity: Rows;
  table4: Rows;
  training: Rows;
  run: Record<string, unknown>;
}

const objs = (t: aq.ColumnTable): Rows => t.objects() as Rows;
const slug = (s: string) => s.replace(/[^a-z0-9]+/gi, "-").replace(/^-|-$/g, "");

/** The experiment's work in multiply-adds (lib/runtime/long-run.ts): each unit's training, passkey sweeps and perplexity windows. */
function experimentMacs(o: ExperimentOptions, s: ReturnType<typeof experimentSettings>, units: readonly { run: ExperimentRun }[], fillers: number): number {
  let total = 0;
  for (const { run } of units) {
    const cfg = o.bases[run.base]!.cfg;
    const training = o.pretrained?.[run.recipe] ? "none" : recipeFrom(run.recipe).training;
    if (training === "finetune") total += s.steps * trainingMacs(cfg, s.targetLength, s.batch);
    if (training === "scratch") total += (s.curriculumTokens / s.targetLength) * trainingMacs(cfg, s.targetLength);
    for (const l of s.lengths) total += (fillers * s.depths.length * s.n + s.windows) * forwardMacs(cfg, l);
  }
  return total;
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
  const fillers = (o.fillers ?? FILLER_NAMES) as readonly FillerSpec[];
  const units = s.plan.flatMap((run) => (recipeFrom(run.recipe).training === "finetune" ? s.seeds.map((seed, k) => ({ run, seed: seed as number | null, k })) : [{ run, seed: null as number | null, k: 0 }]));
  const results: UnitResult[] = [];
  await refuseLongRunOnCpu(`contextExtension: ${units.length} runs`, experimentMacs(o, s, units, fillers.length), o.allowCpu);
  const allowCpu = o.allowCpu ? { allowCpu: true } : {};
  const sweep = { variant: "compact" as const, tokenizer: tok, seed: s.seed, ...allowCpu, ...(signal ? { signal } : {}) };
  const hashes = new Map<DTransformer, string>();
  const hashOf = (m: DTransformer) => hashes.get(m) ?? (hashes.set(m, weightsHash(m)), hashes.get(m)!);
  if (o.cacheDir) await mkdir(o.cacheDir, { recursive: true });
  let i = 0;
  let computeS = 0;
  for (const { run, seed, k } of units) {
    if (signal?.aborted) break;
    const method = methodLabel(run);
    const who = seed === null ? method : `${method} seed ${seed}`;
    const recipe = recipeFrom(run.recipe);
    const given = o.pretrained?.[run.recipe];
    const snap = TABLE4_RECIPES.includes(run.recipe) && run.base === TABLE4_BASE && recipe.training === "finetune";
    const scratch = recipe.training === "scratch";
    const lr = scratch ? o.curriculumLr : o.lr;
    const { plan: _p, ...settingsKey } = s;
    const key = createHash("sha256").update(JSON.stringify({
      run, seed, k, settings: settingsKey, fillers: fillers.map((f) => (typeof f === "string" ? f : { name: f.name, sha: createHash("sha256").update(f.text).digest("hex") })),
      base: hashOf(o.bases[run.base]!), given: given ? hashOf(given.model) : null, lr: lr ?? null, text: o.text ? createHash("sha256").update(o.text).digest("hex") : null,
      curriculum: scratch ? [o.curriculumWarmup, o.curriculumBatchTokens, o.curriculumDecaySteps, o.curriculumMinLr] : null,
    })).digest("hex").slice(0, 16);
    const file = o.cacheDir ? join(o.cacheDir, `${slug(who)}-${key}.json`) : null;
    log(`[${++i}/${units.length}] ${who}: ${recipe.description}`);
    if (file) {
      const hit = await readFile(file, "utf8").then((t) => JSON.parse(t) as UnitResult, () => null);
      if (hit) {
        results.push({ ...hit, run: { ...hit.run, cached: true } });
        log(`  ${who}: read from ${file}`);
        continue;
      }
    }
    const tRun = performance.now();
    const t4: Rows = [];
    const r = given ? { model: given.model, status: "given" as const, steps: given.steps ?? 0, tokens: given.tokens ?? 0, trainS: given.trainS ?? 0, log: aq.table({}) } : await runRecipe(o.bases[run.base]!, recipe, {
      targetLength: s.targetLength, steps: s.steps, batch: s.batch, tokens: s.curriculumTokens, seed: seed ?? s.seed, workers: s.workers,
      ...(lr !== undefined ? { lr } : {}), ...(scratch && o.curriculumWarmup !== undefined ? { warmup: o.curriculumWarmup } : {}),
      ...(scratch && o.curriculumBatchTokens !== undefined ? { batchTokens: o.curriculumBatchTokens } : {}),
      ...(scratch && o.curriculumDecaySteps ? { decaySteps: o.curriculumDecaySteps, ...(o.curriculumMinLr !== undefined ? { minLr: o.curriculumMinLr } : {}) } : {}),
      ...(o.text ? { text: o.text } : {}), ...allowCpu, ...(signal ? { signal } : {}),
      ...(snap ? {
        snapshots: s.snapshots,
        onSnapshot: async (m: DTransformer, step: number) => {
          const t = await runEval(m, "passkey", { ...sweep, lengths: s.table4Lengths, depths: s.table4Depths, n: s.table4N, offset: k * s.table4N, fillers, label: method });
          t4.push(...objs(addCols(t, { recipe: run.recipe, base: run.base, seed, step }).relocate("filler", { after: "seed" })));
          log(`  ${who} after ${step} steps: passkey at ℓ ∈ {${s.table4Lengths.join(", ")}} evaluated`);
        },
      } : {}),
    });
    const trainS = r.trainS;
    const owns = recipe.training !== "none" && !given; // a given model belongs to the caller
    if (r.status === "interrupted" || signal?.aborted) {
      if (owns) r.model.dispose();
      break;
    }
    const tEval = performance.now();
    const pk: Rows = [];
    // every filler in one runEval call (a `filler` column, moved after the run's own columns)
    const t = await runEval(r.model, "passkey", { ...sweep, lengths: s.lengths, depths: s.depths, n: s.n, offset: k * s.n, fillers, label: method });
    pk.push(...objs(addCols(t, { recipe: run.recipe, base: run.base, seed }).relocate("filler", { after: "seed" })));
    const pp = await runEval(r.model, "perplexity", { lengths: s.lengths, windows: s.windows, tokenizer: tok, label: method, ...allowCpu, ...(signal ? { signal } : {}) });
    if (owns) r.model.dispose();
    if (signal?.aborted) break;
    const evalS = (performance.now() - tEval) / 1000;
    const totalS = (performance.now() - tRun) / 1000;
    computeS += totalS;
    const unit: UnitResult = {
      passkey: pk,
      perplexity: objs(addCols(pp, { recipe: run.recipe, base: run.base, seed })),
      table4: t4,
      training: r.log.numRows() ? objs(addCols(r.log, { method, seed })) : [],
      run: {
        method, recipe: run.recipe, base: run.base, seed, positional: r.model.positional.label, training: recipe.training, status: r.status,
        steps: r.steps, tokens: r.tokens, train_s: Number(trainS.toFixed(1)), eval_s: Number(evalS.toFixed(1)), total_s: Number(totalS.toFixed(1)), cached: false,
      },
    };
    results.push(unit);
    if (file) await writeFileAtomic(file, JSON.stringify(unit));
    log(`  ${who}: ${r.status === "none" ? "zero-shot" : `${given ? "given checkpoint, " : ""}${r.steps} steps, ${r.tokens} tokens, ${trainS.toFixed(0)} s training`}; evaluation ${evalS.toFixed(0)} s`);
  }
  const { plan, ...rest } = s;
  const table = (xs: Rows, empty: aq.ColumnTable) => (xs.length ? aq.from(xs) : empty);
  return {
    passkey: table(results.flatMap((u) => u.passkey), addCols(evalTable([]), { recipe: [], base: [], seed: [], filler: [] })),
    perplexity: table(results.flatMap((u) => u.perplexity), perplexityTable([])),
    table4Rows: table(results.flatMap((u) => u.table4), evalTable([])),
    training: table(results.flatMap((u) => u.training), aq.table({ method: [] })),
    runs: aq.from(results.map((u) => u.run)),
    settings: { ...rest, plan: plan.map(methodLabel), computed_s: Number(computeS.toFixed(1)) },
    status: signal?.aborted || results.length < units.length ? "interrupted" : "completed",
    wallS: (performance.now() - t0) / 1000,
  };
}
