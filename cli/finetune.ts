/**
 * `ctxlab finetune --from <ckpt> --length <ℓ'> --out <dir> [--pe <spec> | --recipe <name>] [--steps N] …`
 * and `ctxlab finetune --resume <dir> [--steps N]`: one context-extension fine-tune (lib/extend
 * runRecipe) from the command line. --pe is "keep" (default: the base's own encoding, PI's direct
 * FT), "extend-learned" (interpolate a learned W_p to ℓ' rows) or a registry spec ("pi:4",
 * "rope:yarn:4", …, adapted to the base's b and layout); --recipe names a training recipe instead
 * (pi-ft, yarn-ft, ft, learned-extend-ft, curriculum). --out receives dTraining's crash-safe
 * checkpoint (loadCheckpoint(dir) reads the model; `ctxlab eval --checkpoint <dir>` evaluates it),
 * metrics.csv and finetune-config.json (written atomically before training). Ctrl-C stops at the next
 * step boundary and saves; --resume continues exactly. --from also takes a Hugging Face directory or hub
 * id; a model with its own tokenizer (N_V not byte-level) trains on windows of ℓ' tokens of Moby Dick's
 * training split in that tokenizer (the retrieval mix is byte-level).
 */
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { ConfigError } from "../lib/errors.js";
import { corpusSplit, mobyDick } from "../lib/data/corpus.js";
import { windowSource } from "../lib/data/batches.js";
import type { BatchSource } from "../lib/data/types.js";
import type { TextTokenizer } from "../lib/data/tokenizer.js";
import { finetuneRecipe, recipeFrom, recipeNames, type Recipe } from "../lib/extend/recipes.js";
import { runRecipe, type RecipeResult } from "../lib/extend/run-recipe.js";
import { loadModel } from "../lib/hf/pretrained.js";
import { writeFileAtomic } from "../lib/io/safetensors.js";
import { MIX_KINDS, type MixKind } from "../lib/pretrain/retrieval-mix.js";
import { setHost } from "../lib/runtime/context.js";
import { useBackend, type BackendName } from "../lib/tensor/backend.js";
import { loadTrainingState, TRAINER_STATE_FILE } from "../lib/train/state.js";
import { terminalProgress, type Out } from "./progress.js";
import { checkpointTokenizer } from "./generate.js";

export const FINETUNE_CONFIG_FILE = "finetune-config.json";

/** Flags `ctxlab finetune` accepts. */
export const FINETUNE_FLAGS = ["from", "pe", "recipe", "length", "steps", "out", "resume", "batch", "batch-tokens", "lr", "warmup", "tokens", "seed", "workers", "checkpoint-every", "backend", "mix", "decay-from", "min-lr"] as const;

export interface FinetuneArgs {
  from?: string;
  pe?: string;
  recipe?: string;
  length?: number;
  steps?: number;
  out?: string;
  resume?: string;
  batch?: number;
  /** curriculum: tokens per step (B = batchTokens/ℓ per drawn ℓ) */
  batchTokens?: number;
  lr?: number;
  warmup?: number;
  /** a cosine decay of η after this step down to minLr at the last step (default: none) */
  decayFrom?: number;
  minLr?: number;
  tokens?: number;
  seed?: number;
  workers?: number;
  checkpointEvery?: number;
  backend?: BackendName | "auto";
  /** row weights of the retrieval mix, e.g. { text: 0.2, passkey: 0.3, lines: 0.05, copy: 0.45 } (--mix text=0.2,passkey=0.3,…) */
  mix?: Partial<Record<MixKind, number>>;
}

/** --mix text=0.2,passkey=0.3,lines=0.05,copy=0.45 → weights (each kind once, each ≥ 0, not all 0). */
export function parseMix(v: string): Partial<Record<MixKind, number>> {
  const out: Partial<Record<MixKind, number>> = {};
  for (const part of v.split(",")) {
    const [k, w, ...rest] = part.split("=");
    const n = Number(w);
    if (rest.length || !k || !(MIX_KINDS as readonly string[]).includes(k)) throw new ConfigError(`--mix ${v}: "${part}" is not kind=weight with kind one of ${MIX_KINDS.join(", ")}`);
    if (w === undefined || w.trim() === "" || !Number.isFinite(n) || n < 0) throw new ConfigError(`--mix ${v}: the weight of ${k} must be a finite number ≥ 0, got "${w ?? ""}"`);
    if (k in out) throw new ConfigError(`--mix ${v}: ${k} is given twice`);
    out[k as MixKind] = n;
  }
  if (!Object.values(out).some((x) => x! > 0)) throw new ConfigError(`--mix ${v}: at least one weight must be > 0`);
  return out;
}

function num(v: string | boolean | undefined, name: string, integer: boolean): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new ConfigError(`--${name} ${String(v)} is not ${integer ? "an integer" : "a number"}`);
  return n;
}

/** FinetuneArgs from parsed flags (cli/main.ts parseFlags); unknown flags are errors. */
export function finetuneArgsFromFlags(flags: Record<string, string | boolean>): FinetuneArgs {
  for (const k of Object.keys(flags)) if (!(FINETUNE_FLAGS as readonly string[]).includes(k)) throw new ConfigError(`ctxlab finetune: unknown flag --${k}; known: ${FINETUNE_FLAGS.map((n) => `--${n}`).join(", ")}`);
  const a: Record<string, unknown> = {};
  for (const k of ["from", "pe", "recipe", "out", "resume", "backend"] as const) if (typeof flags[k] === "string") a[k] = flags[k];
  if (flags.mix !== undefined) {
    if (typeof flags.mix !== "string") throw new ConfigError("--mix needs a value: kind=weight,… (text, passkey, lines, copy)");
    a.mix = parseMix(flags.mix);
  }
  const nums: [string, keyof FinetuneArgs, boolean][] = [
    ["length", "length", true], ["steps", "steps", true], ["batch", "batch", true], ["batch-tokens", "batchTokens", true], ["lr", "lr", false], ["warmup", "warmup", true],
    ["decay-from", "decayFrom", true], ["min-lr", "minLr", false], ["tokens", "tokens", true], ["seed", "seed", true], ["workers", "workers", true], ["checkpoint-every", "checkpointEvery", true],
  ];
  for (const [flag, key, integer] of nums) {
    const v = num(flags[flag], flag, integer);
    if (v !== undefined) a[key] = v;
  }
  return a as FinetuneArgs;
}

/** The recipe of the arguments: --recipe (a training recipe) or --pe. */
export function recipeOfArgs(a: Pick<FinetuneArgs, "pe" | "recipe">): Recipe {
  if (a.recipe !== undefined && a.pe !== undefined) throw new ConfigError("ctxlab finetune: give --recipe or --pe, not both (a recipe sets the positional encoding)");
  if (a.recipe === undefined) return finetuneRecipe(a.pe ?? "keep");
  const r = recipeFrom(a.recipe);
  if (r.training === "none") throw new ConfigError(`ctxlab finetune: recipe "${r.name}" is zero-shot (nothing to train); training recipes: ${recipeNames().filter((n) => recipeFrom(n).training !== "none").join(", ")}`);
  return r;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

async function readConfig(dir: string): Promise<FinetuneArgs> {
  try {
    return JSON.parse(await readFile(join(dir, FINETUNE_CONFIG_FILE), "utf8")) as FinetuneArgs;
  } catch (e) {
    throw new ConfigError(`ctxlab finetune --resume ${dir}: cannot read ${FINETUNE_CONFIG_FILE} (${(e as Error).message}); is it a ctxlab finetune directory?`);
  }
}

/** Checks the arguments of a new run; returns them with the defaults filled in. */
function checkNew(a: FinetuneArgs): Required<Pick<FinetuneArgs, "from" | "length" | "out" | "steps">> & FinetuneArgs {
  if (!a.from) throw new ConfigError("ctxlab finetune: give --from <checkpoint dir> (or --resume <dir>)");
  if (a.length === undefined) throw new ConfigError("ctxlab finetune: give --length <ℓ'>, the context length to fine-tune at");
  if (!a.out) throw new ConfigError("ctxlab finetune: give --out <dir> for the checkpoint, metrics.csv and finetune-config.json");
  return { ...a, from: a.from, length: a.length, out: a.out, steps: a.steps ?? 100 };
}

/** Run `ctxlab finetune`; returns the recipe result (its model is disposed). */
/**
 * The training data of a model whose vocabulary is not byte-level (a Hugging Face model): windows of
 * ℓ' tokens of Moby Dick's training split in its own tokenizer; undefined for byte-level models.
 */
async function ownTokenizerSource(cfg: { from: string; length: number; batch?: number; mix?: unknown }, training: string, nVocab: number, out: Out): Promise<BatchSource | undefined> {
  if (nVocab >= 256 && nVocab <= 259) return undefined;
  if (training === "scratch") throw new ConfigError(`ctxlab finetune: the curriculum trains from scratch on byte-level data; the model from ${cfg.from} has N_V=${nVocab}`);
  if (cfg.mix !== undefined) throw new ConfigError(`ctxlab finetune: --mix weights the byte-level retrieval mix; the model from ${cfg.from} has N_V=${nVocab} and trains on text in its own tokenizer`);
  const tok = (await checkpointTokenizer(cfg.from, nVocab, undefined, "finetune")) as TextTokenizer;
  const tokens = tok.encode(corpusSplit(mobyDick()).train);
  out.write(`data: windows of ${cfg.length} tokens of Moby Dick's training split (${tokens.length.toLocaleString("en-US")} tokens in the model's tokenizer)\n`);
  return windowSource(tokens, { batch: cfg.batch ?? 4, length: cfg.length });
}

export async function finetuneCommand(args: FinetuneArgs, out: Out, signal?: AbortSignal): Promise<RecipeResult> {
  const resumeDir = args.resume;
  if (resumeDir && (args.from || args.pe || args.recipe || args.length !== undefined || args.out)) throw new ConfigError("ctxlab finetune --resume <dir>: the run's settings come from its finetune-config.json; only --steps, --workers and --backend may be given");
  const saved = resumeDir ? await readConfig(resumeDir) : undefined;
  // --steps on a resume sets the last step (for the curriculum too, whose steps otherwise come from its token budget)
  const cfg = saved ? { ...checkNew(saved), out: resumeDir!, ...(args.steps !== undefined ? { steps: args.steps, tokens: undefined } : {}) } : checkNew(args);
  const recipe = recipeOfArgs(cfg);
  if (!resumeDir && (await exists(join(cfg.out, TRAINER_STATE_FILE)))) throw new ConfigError(`ctxlab finetune: ${cfg.out} already holds a training checkpoint; continue it with --resume ${cfg.out}, or choose another --out`);
  const info = await useBackend(args.backend ?? cfg.backend ?? "auto");
  out.write(`${info.summary}\n`);
  const prev = setHost({ progress: (label, total) => terminalProgress(out, label, total) });
  const state = resumeDir ? await loadTrainingState(resumeDir) : undefined;
  const base = state ? state.model : await loadModel(cfg.from); // ctxlab checkpoint, HF directory or hub id
  try {
    if (!resumeDir) {
      await mkdir(cfg.out, { recursive: true });
      await writeFileAtomic(join(cfg.out, FINETUNE_CONFIG_FILE), JSON.stringify({ ...cfg, backend: undefined }, null, 2) + "\n");
    }
    out.write(`recipe ${recipe.name}: ${recipe.description}; base ${base.positional.label}, ℓ_max=${base.cfg.lMax} → ℓ'=${cfg.length}${state ? `, resuming at step ${state.step}` : ""}\n`);
    const source = await ownTokenizerSource(cfg, recipe.training, base.cfg.nVocab, out);
    const r = await runRecipe(base, recipe, {
      ...(source ? { source } : {}),
      targetLength: cfg.length, steps: cfg.steps, checkpointDir: cfg.out, checkpointEvery: cfg.checkpointEvery ?? 50,
      ...(cfg.batch !== undefined ? { batch: cfg.batch } : {}), ...(cfg.lr !== undefined ? { lr: cfg.lr } : {}), ...(cfg.warmup !== undefined ? { warmup: cfg.warmup } : {}),
      ...(cfg.decayFrom !== undefined ? { decayFrom: cfg.decayFrom } : {}), ...(cfg.minLr !== undefined ? { minLr: cfg.minLr } : {}),
      ...(cfg.tokens !== undefined ? { tokens: cfg.tokens } : {}), ...(cfg.batchTokens !== undefined ? { batchTokens: cfg.batchTokens } : {}),
      ...(cfg.seed !== undefined ? { seed: cfg.seed } : {}), ...(cfg.mix !== undefined ? { mix: cfg.mix } : {}), workers: args.workers ?? cfg.workers ?? 1,
      ...(state ? { resume: state } : {}), ...(signal ? { signal } : {}),
    });
    out.write(`${r.status}: ${r.message}\nmodel: ${r.model.positional.label}; checkpoint: ${cfg.out}/${TRAINER_STATE_FILE} (loadCheckpoint("${cfg.out}"), ctxlab eval --checkpoint ${cfg.out}; and metrics.csv, ${FINETUNE_CONFIG_FILE})\n`);
    r.model.dispose();
    return r;
  } finally {
    setHost(prev);
    if (!base.params.vars.values().next().value?.isDisposed) base.dispose();
  }
}
