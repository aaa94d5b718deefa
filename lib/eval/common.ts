/**
 * Helpers shared by the generators: option checks, seeded draws, and the search for the largest
 * haystack that fits a token budget.
 */
import { ConfigError } from "../errors.js";
import { byteTokenizer, gpt2Tokenizer, GPT2_VOCAB_SIZE } from "../data/tokenizer.js";
import type { Tokenizer } from "../data/types.js";
import { Rng } from "../tensor/random.js";
import type { TaskOptions } from "./types.js";

/** An Rng from an Rng (used as is), a seed number or a seed string. */
export function rngOf(r: Rng | number | string): Rng {
  return r instanceof Rng ? r : new Rng(r);
}

/** The tokenizer a model's N_V implies: bytes for 256 (no specials) and 259, GPT-2 BPE for 50257. */
export function defaultTokenizer(nVocab: number): Tokenizer {
  if (nVocab === 259) return byteTokenizer();
  if (nVocab === 256) return byteTokenizer({ specials: false });
  if (nVocab === GPT2_VOCAB_SIZE) return gpt2Tokenizer();
  throw new ConfigError(`eval: no default tokenizer for N_V=${nVocab}; pass { tokenizer } (byteTokenizer() or gpt2Tokenizer())`);
}

/** Throws unless the tokenizer's ids fit the model's vocabulary. */
export function checkVocab(tok: Tokenizer, nVocab: number): void {
  if (tok.vocabSize > nVocab) throw new ConfigError(`eval: tokenizer "${tok.name}" has N_V=${tok.vocabSize} but the model has N_V=${nVocab}`);
}

/** Validated common options with defaults filled. */
export interface Checked {
  length: number;
  depth: number;
  variant: "standard" | "compact";
  header: boolean;
  digits: number;
  bos: boolean;
}

/** Checks ℓ, depth, variant, digits and bos; errors name the task, option and value. */
export function checkTaskOptions(task: string, tok: Tokenizer, o: TaskOptions): Checked {
  if (!o || typeof o !== "object") throw new ConfigError(`${task}: options { length, depth, … } are required`);
  if (!Number.isSafeInteger(o.length) || o.length < 2) throw new ConfigError(`${task}: length ℓ=${o.length} must be an integer ≥ 2 (tokens)`);
  if (typeof o.depth !== "number" || !(o.depth >= 0 && o.depth <= 1)) throw new ConfigError(`${task}: depth=${o.depth} must be in [0, 1]`);
  const variant = o.variant ?? "standard";
  if (variant !== "standard" && variant !== "compact") throw new ConfigError(`${task}: variant="${String(variant)}" must be "standard" or "compact"`);
  const digits = o.digits ?? 5;
  if (!Number.isInteger(digits) || digits < 1 || digits > 9) throw new ConfigError(`${task}: digits=${digits} must be an integer in 1…9`);
  const bos = o.bos ?? false;
  if (bos && tok.special.bos === undefined) throw new ConfigError(`${task}: bos=true but tokenizer "${tok.name}" has no bos token`);
  const header = o.header ?? false;
  if (header && variant === "compact") throw new ConfigError(`${task}: header=true needs variant "standard" (the compact variant has no instruction header)`);
  return { length: o.length, depth: o.depth, variant, header, digits, bos };
}

/** A uniformly drawn number with exactly `digits` digits (no leading zero), as a string. */
export function drawDigits(rng: Rng, digits: number): string {
  return String(rng.int(10 ** (digits - 1), 10 ** digits));
}

/** Draws with `draw` until the value is not in `used`, then adds it (gives up after 10,000 tries). */
export function drawUnique(used: Set<string>, draw: () => string, what: string): string {
  for (let i = 0; i < 10_000; i++) {
    const v = draw();
    if (!used.has(v)) {
      used.add(v);
      return v;
    }
  }
  throw new ConfigError(`cannot draw another distinct ${what} (${used.size} used); use fewer records (a shorter ℓ) or more digits`);
}

/**
 * The largest c in [0, hi] with fits(c), starting at `guess` (fits(0) must hold). Gallops away from
 * the guess, then bisects, so an exact guess costs two calls.
 */
export function largestFitting(hi: number, guess: number, fits: (c: number) => boolean): number {
  let g = Math.max(0, Math.min(hi, Math.round(guess)));
  let good: number;
  let bad: number;
  if (fits(g)) {
    good = g;
    let step = 1;
    while (good + step <= hi && fits(good + step)) {
      good += step;
      step *= 2;
    }
    bad = Math.min(hi + 1, good + step);
  } else {
    bad = g;
    let step = 1;
    while (g - step > 0 && !fits(g - step)) {
      bad = g - step;
      step *= 2;
    }
    good = Math.max(0, g - step);
  }
  while (bad - good > 1) {
    const mid = (good + bad) >> 1;
    if (fits(mid)) good = mid;
    else bad = mid;
  }
  return good;
}

/** Token count of `text` (plus one for bos). */
export const countTokens = (tok: Tokenizer, text: string, bos: boolean): number => tok.encode(text).length + (bos ? 1 : 0);

/** A short, stable id: "<task>[-compact]/L<length>/d<depth>/<index>". */
export function exampleId(task: string, variant: string, length: number, depth: number | null, index: number): string {
  return `${task}${variant === "standard" ? "" : `-${variant}`}/L${length}${depth === null ? "" : `/d${depth}`}/${index}`;
}
