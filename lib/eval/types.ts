/**
 * Shared types of the evaluations (lib/eval): one generated example, the options every retrieval
 * generator takes, and the per-example row of a results table.
 *
 * How length is measured (all tasks): ℓ counts the whole sequence the model reads and writes, the
 * prompt's tokens plus the answer's continuation tokens, exactly as a training window of ℓ tokens
 * counts its last target. A generator fills prompt + continuation to ≤ ℓ tokens, as close to ℓ as the
 * format allows (ℓ or ℓ − 1 under the byte tokenizer in passkey; within one record for lines/kv). Teacher
 * forcing or greedy decoding of the continuation then uses ℓ − 1 positions, so a model with a learned
 * table of ℓ_max rows can be tested at ℓ = ℓ_max.
 *
 * Depth (0…1) is the fraction of the haystack (filler or records, not the header or question) that
 * lies before the needle, by token position: 0 = the needle comes first, 1 = right before the question.
 */
import type { Tokenizer } from "../data/types.js";
import type { FillerSpec } from "./fillers.js";

/** One prompt with a known answer. */
export interface EvalExample {
  /** unique within a sweep, e.g. "passkey-compact/L128/d0.5/3" */
  id: string;
  /** "passkey", "lines", "kv" or "jsonl" */
  task: string;
  /** "standard" (the papers' text) or "compact" (short needle and question for byte models) */
  variant: string;
  /** the requested ℓ (the cell of a sweep); the realised prompt + continuation has ≤ ℓ tokens */
  length: number;
  /** the requested depth, or null when the task has none */
  depth: number | null;
  prompt: string;
  /** the exact continuation the prompt asks for (teacher-forced by the logit scorer), e.g. " 12345" */
  target: string;
  /** what the generated text must start with (target without leading/trailing whitespace) */
  answer: string;
  /** prompt tokens */
  ids: number[];
  /** continuation tokens */
  targetIds: number[];
  /** 0-based token index of the needle's first token in ids, or null */
  needlePos: number | null;
  /** realised depth: haystack tokens before the needle / haystack tokens, or null */
  needleDepth: number | null;
  /** the haystack source when it is not the task's default (passkey: "moby-dick", "sotu", …) */
  filler?: string;
}

/** Options shared by the retrieval generators. */
export interface TaskOptions {
  /** ℓ: prompt + continuation tokens (≤ ℓ, as close as the format allows) */
  length: number;
  /** needle depth in [0, 1] */
  depth: number;
  /** "standard" (default) or "compact" */
  variant?: "standard" | "compact";
  /** prepend the task's instruction header (standard variant only; default false) */
  header?: boolean;
  /** digits of the key / register value (default 5) */
  digits?: number;
  /** prepend the tokenizer's bos token (default false; it counts towards ℓ) */
  bos?: boolean;
  /** passkey only: the haystack (lib/eval/fillers.ts; default "pi", the PI filler sentences) */
  filler?: FillerSpec;
}

/** One row of a retrieval results table (column names fit lib/viz/curves.ts). */
export interface EvalRow {
  /** model or method label (the plots' `by` column) */
  method: string;
  task: string;
  variant: string;
  scorer: string;
  id: string;
  /** requested ℓ */
  length: number;
  /** requested depth (null for tasks without one) */
  depth: number | null;
  /** realised prompt + continuation tokens */
  tokens: number;
  prompt_tokens: number;
  needle_pos: number | null;
  needle_depth: number | null;
  /** 1 correct, 0 wrong, null when the example could not be run (see error) */
  correct: 0 | 1 | null;
  answer: string;
  prediction: string | null;
  /** log P(target | prompt) under teacher forcing, nats (logit scorer), else null */
  logprob: number | null;
  /** why the example was not run, e.g. "ℓ > ℓ_max"; null otherwise */
  error: string | null;
}

/** The error value of rows a model cannot run because they exceed its positional table. */
export const OVER_LMAX = "ℓ > ℓ_max";

/** A tokenizer-bound example builder: assembles ids for text pieces. */
export function encodeExample(tok: Tokenizer, prompt: string, target: string, bos: boolean): { ids: number[]; targetIds: number[] } {
  const bosId = tok.special.bos;
  const ids = tok.encode(prompt);
  return { ids: bos && bosId !== undefined ? [bosId, ...ids] : ids, targetIds: tok.encode(target) };
}
