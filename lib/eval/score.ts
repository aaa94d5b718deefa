/**
 * Scoring one example: exact match of the answer, by one of two scorers.
 *
 *   "logit" (the default)  One forward pass over prompt + continuation[0 : n−1] (teacher forcing):
 *                          correct iff every continuation token is the argmax (ties → lowest id) of
 *                          its row. This is exactly "greedy decoding of n tokens reproduces the
 *                          continuation's tokens", without the generation loop; it also gives
 *                          log P(continuation | prompt) and honours forward hooks. Its prediction
 *                          is the argmax tokens under teacher forcing (after a first wrong token the
 *                          rest are conditioned on the true prefix, not on the model's own output).
 *   "greedy"               Algorithm 14 at temperature 0 (dInference, KV cache) for n (+ extra)
 *                          tokens; correct iff the generated text, leading whitespace trimmed,
 *                          starts with the answer: the protocol of PI, LongChat and Lost in the
 *                          Middle (greedy decoding, string match). More lenient about the leading
 *                          space and about how the answer is split into tokens; ignores hooks.
 *
 * The logit scorer is the default because the generators know the exact continuation, it is one
 * pass instead of a prompt pass plus n cached steps, and it is deterministic across backends up to
 * argmax ties. Both need ℓ_prompt + n − 1 positions; a model whose positional table is shorter gets
 * an error row ("ℓ > ℓ_max") instead of an exception.
 */
import * as tf from "@tensorflow/tfjs";
import { ConfigError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import type { HookFilter, HookFn } from "../hooks/context.js";
import { dInference } from "../infer/dinference.js";
import type { DTransformer } from "../model/dtransformer.js";
import { cut2d } from "../engine/attention-chunked.js";
import { OVER_LMAX } from "./types.js";

export type ScorerName = "logit" | "greedy";
export const SCORERS: readonly ScorerName[] = ["logit", "greedy"];
export const DEFAULT_SCORER: ScorerName = "logit";

/** What a scorer needs from an example. */
export interface Scorable {
  ids: readonly number[];
  targetIds: readonly number[];
  answer: string;
}

export interface ScoreResult {
  correct: 0 | 1 | null;
  prediction: string | null;
  /** log P(continuation | prompt) in nats (logit scorer), else null */
  logprob: number | null;
  error: string | null;
}

export interface ScoreOptions {
  /** default "logit" */
  scorer?: ScorerName;
  /** forward hooks for the logit scorer (e.g. an ablation); ignored by "greedy" */
  hooks?: readonly (readonly [HookFilter, HookFn])[];
  /** greedy: tokens generated beyond the continuation's length (default 0) */
  extraTokens?: number;
  signal?: AbortSignal;
  /** evaluate ≥ LONG_RUN_MACS multiply-adds on TF.js's slow cpu backend although wasm is available (lib/runtime/long-run.ts) */
  allowCpu?: boolean;
}

/** Exact match after trimming: does `generated` (leading whitespace removed) start with `answer` (trimmed)? */
export function matchAnswer(generated: string, answer: string): boolean {
  const a = answer.trim();
  return a.length > 0 && generated.trimStart().startsWith(a);
}

/** Positions a scorer feeds the model: ℓ_prompt + n − 1. */
export const positionsNeeded = (ex: Scorable): number => ex.ids.length + Math.max(ex.targetIds.length, 1) - 1;

/** The model's hard limit on positions (learned W_p: ℓ_max), or undefined. */
export const positionLimit = (model: DTransformer): number | undefined => model.positional.maxPositions?.(model.cfg);

/**
 * Teacher-forced check on given logits: `rows` holds n rows of N_V logits (row i predicts
 * target[i]). Returns the argmax ids, whether they all equal the target, and Σ log softmax[target].
 */
export function teacherForced(rows: ArrayLike<number>, nVocab: number, target: readonly number[]): { argmax: number[]; correct: boolean; logprob: number } {
  if (rows.length !== target.length * nVocab) throw new ConfigError(`teacherForced: ${rows.length} logits for ${target.length} rows of N_V=${nVocab}`);
  const argmax: number[] = [];
  let logprob = 0;
  for (let i = 0; i < target.length; i++) {
    const off = i * nVocab;
    let best = 0;
    for (let v = 1; v < nVocab; v++) if (rows[off + v]! > rows[off + best]!) best = v;
    let z = 0;
    for (let v = 0; v < nVocab; v++) z += Math.exp(rows[off + v]! - rows[off + best]!);
    logprob += rows[off + target[i]!]! - rows[off + best]! - Math.log(z);
    argmax.push(best);
  }
  return { argmax, correct: argmax.every((a, i) => a === target[i]), logprob };
}

/** The logit scorer: one teacher-forced forward pass. */
export function scoreLogits(model: DTransformer, ex: Scorable, tok: Tokenizer, o: Pick<ScoreOptions, "hooks"> = {}): ScoreResult {
  const n = ex.targetIds.length;
  if (n === 0) throw new ConfigError("scoreLogits: the example has an empty continuation (target)");
  const x = [...ex.ids, ...ex.targetIds.slice(0, -1)];
  const P = ex.ids.length;
  const V = model.cfg.nVocab;
  const logits = model.logits(x, o.hooks?.length ? { hooks: o.hooks } : {}) as tf.Tensor;
  let rows: Float32Array;
  try {
    const slice = cut2d(logits, P - 1, n); // disposed here; not tf.slice: on wasm it copies the whole [ℓ, N_V] input
    try {
      rows = slice.dataSync() as Float32Array;
    } finally {
      slice.dispose();
    }
  } finally {
    logits.dispose();
  }
  const r = teacherForced(rows, V, ex.targetIds);
  return { correct: r.correct ? 1 : 0, prediction: tok.decode(r.argmax), logprob: r.logprob, error: null };
}

/**
 * The logit scorer on several examples at once: examples with the same number of positions
 * (ℓ_prompt + n − 1) share one batched forward pass ([B, T, N_V] logits); the result of each is that
 * of scoreLogits on it alone, up to float rounding of the batched matrix products (same kernels, other
 * summation blocks). Used by evaluateExamples when the scorer is "logit" and no hooks are given.
 */
export function scoreLogitsBatch(model: DTransformer, exs: readonly Scorable[], tok: Tokenizer): ScoreResult[] {
  if (!exs.length) return [];
  const T = positionsNeeded(exs[0]!);
  for (const ex of exs) {
    if (!ex.targetIds.length) throw new ConfigError("scoreLogitsBatch: an example has an empty continuation (target)");
    if (positionsNeeded(ex) !== T) throw new ConfigError(`scoreLogitsBatch: examples need ${T} and ${positionsNeeded(ex)} positions; a batch needs equal lengths`);
  }
  if (exs.length === 1) return [scoreLogits(model, exs[0]!, tok)];
  const V = model.cfg.nVocab;
  const xs = exs.map((ex) => [...ex.ids, ...ex.targetIds.slice(0, -1)]);
  const logits = model.logits(xs) as tf.Tensor;
  const flat = logits.reshape([-1, V]); // [B·ℓ, N_V]: rows are cut without wasm's whole-input copy (cut2d)
  try {
    return exs.map((ex, b) => {
      const n = ex.targetIds.length;
      const slice = cut2d(flat, b * T + ex.ids.length - 1, n);
      let rows: Float32Array;
      try {
        rows = slice.dataSync() as Float32Array;
      } finally {
        slice.dispose();
      }
      const r = teacherForced(rows, V, ex.targetIds);
      return { correct: r.correct ? 1 : 0, prediction: tok.decode(r.argmax), logprob: r.logprob, error: null } as ScoreResult;
    });
  } finally {
    flat.dispose();
    logits.dispose();
  }
}

/** Tokens per batched forward of evaluateExamples (B = ⌊this / positions⌋, at least 1). */
export const SCORE_BATCH_TOKENS = 4096;

/** The greedy scorer: Algorithm 14 at τ = 0, then matchAnswer. */
export async function scoreGreedy(model: DTransformer, ex: Scorable, tok: Tokenizer, o: Pick<ScoreOptions, "extraTokens" | "signal"> = {}): Promise<ScoreResult> {
  const extra = o.extraTokens ?? 0;
  if (!Number.isInteger(extra) || extra < 0) throw new ConfigError(`scoreGreedy: extraTokens=${extra} must be an integer ≥ 0`);
  const r = await dInference(model, ex.ids as number[], { maxTokens: Math.max(ex.targetIds.length, 1) + extra, temperature: 0, ...(o.signal ? { signal: o.signal } : {}) });
  const prediction = tok.decode(r.tokens);
  return { correct: matchAnswer(prediction, ex.answer) ? 1 : 0, prediction, logprob: null, error: null };
}

/** Scores one example with the chosen scorer; examples beyond the model's position table give an error result. */
export async function scoreExample(model: DTransformer, ex: Scorable, tok: Tokenizer, o: ScoreOptions = {}): Promise<ScoreResult> {
  const scorer = o.scorer ?? DEFAULT_SCORER;
  if (!SCORERS.includes(scorer)) throw new ConfigError(`unknown scorer "${String(scorer)}"; use ${SCORERS.map((s) => `"${s}"`).join(" or ")}`);
  const limit = positionLimit(model);
  if (limit !== undefined && positionsNeeded(ex) > limit) return { correct: null, prediction: null, logprob: null, error: OVER_LMAX };
  return scorer === "logit" ? scoreLogits(model, ex, tok, o) : scoreGreedy(model, ex, tok, o);
}
