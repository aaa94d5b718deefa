/**
 * Passkey retrieval (Mohtashami & Jaggi 2023, "Landmark Attention", llama/run_test.py; the prompt of
 * PI, Chen et al. 2023, arXiv 2306.15595, Fig. 3; docs/literature.md, "Position Interpolation (PI)"). Standard variant, lines joined
 * by "\n" as in the reference code:
 *
 *   [There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I
 *    will quiz you about the important information there.]                        (header: true)
 *   The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. …
 *   The pass key is 12345. Remember it. 12345 is the pass key.
 *   … The grass is green. … There and back again.
 *   What is the pass key? The pass key is                        → continuation " 12345"
 *
 * The haystack is a window of the endlessly repeated filler (the reference cuts it by characters
 * too), ending with a whole block; the needle goes in at the sentence boundary nearest to
 * depth × haystack (a boundary is the start of a sentence, or either end). The window is the
 * longest that keeps prompt + continuation ≤ ℓ tokens: ℓ or ℓ − 1 under the byte tokenizer (a window
 * never starts with the space between two sentences).
 *
 * Compact variant (for byte-level models; docs/literature.md, "Small byte-level models and retrieval"): no header, the same filler joined by " ",
 * needle "key=12345. key=12345." (the key twice, as in the PI needle) and question "key=", so the
 * continuation is "12345". "=" never occurs in the filler: one byte is enough to find the needle
 * (a one-token induction match), and the fixed part is 32 bytes instead of ~104, so it fits ℓ = 64.
 * The key never leaks: the filler, header and question contain no digits. needlePos is exact under
 * the byte tokenizer; under BPE it can be one token late where a " " separator merges into the
 * needle's first word (compact variant).
 */
import { ConfigError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import type { Rng } from "../tensor/random.js";
import { checkTaskOptions, countTokens, drawDigits, exampleId, largestFitting, rngOf, type Checked } from "./common.js";
import { encodeExample, type EvalExample, type TaskOptions } from "./types.js";

export const PASSKEY_FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
export const PASSKEY_HEADER = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.";

interface Format {
  sep: string;
  needle(key: string): string;
  question: string;
  target(key: string): string;
}

export const PASSKEY_FORMATS: Readonly<Record<"standard" | "compact", Format>> = {
  standard: {
    sep: "\n",
    needle: (k) => `The pass key is ${k}. Remember it. ${k} is the pass key.`,
    question: "What is the pass key? The pass key is",
    target: (k) => ` ${k}`,
  },
  compact: {
    sep: " ",
    needle: (k) => `key=${k}. key=${k}.`,
    question: "key=",
    target: (k) => k,
  },
};

/** The last `c` characters of the repeated filler (ending with a whole block), leading space removed. */
export function fillerWindow(c: number): string {
  const block = ` ${PASSKEY_FILLER}`;
  const rep = block.repeat(Math.ceil(c / block.length) + 1);
  return rep.slice(rep.length - c).trimStart();
}

/** Candidate insertion points of a window: 0, each sentence start, and the end. */
export function sentenceBoundaries(w: string): number[] {
  const out = [0];
  for (let i = 2; i < w.length; i++) if (w[i - 1] === " " && w[i - 2] === ".") out.push(i);
  if (w.length > 0) out.push(w.length);
  return out;
}

/** The boundary nearest to depth·|w| (ties go to the earlier one). */
function nearestBoundary(w: string, depth: number): number {
  const target = depth * w.length;
  let best = 0;
  for (const b of sentenceBoundaries(w)) if (Math.abs(b - target) < Math.abs(best - target)) best = b;
  return best;
}

interface Assembled {
  prompt: string;
  before: string;
  prefix: string;
  suffix: string;
}

/** The prompt for a window of `c` filler characters. */
function assemble(c: number, key: string, o: Checked, f: Format): Assembled {
  const w = fillerWindow(c);
  const b = nearestBoundary(w, o.depth);
  const prefix = w.slice(0, b).trimEnd();
  const suffix = w.slice(b).trimStart();
  const head = [o.header ? PASSKEY_HEADER : "", prefix].filter((s) => s.length > 0);
  const before = head.length ? head.join(f.sep) + f.sep : "";
  const prompt = before + [f.needle(key), suffix, f.question].filter((s) => s.length > 0).join(f.sep);
  return { prompt, before, prefix, suffix };
}

/**
 * One passkey example: a uniformly drawn `digits`-digit key (the only draw from `rng`), hidden at
 * `depth` in filler sized so that prompt + continuation ≤ ℓ tokens.
 * @example passkey(new Rng(0), byteTokenizer(), { length: 256, depth: 0.5, variant: "compact" })
 */
export function passkey(rng: Rng | number | string, tok: Tokenizer, opts: TaskOptions, index = 0): EvalExample {
  const o = checkTaskOptions("passkey", tok, opts);
  const f = PASSKEY_FORMATS[o.variant];
  const key = drawDigits(rngOf(rng), o.digits);
  const targetLen = tok.encode(f.target(key)).length;
  const total = (c: number) => countTokens(tok, assemble(c, key, o, f).prompt, o.bos) + targetLen;
  const fixed = total(0);
  if (fixed > o.length) {
    throw new ConfigError(`passkey: ℓ=${o.length} is too short for the ${o.variant} format${o.header ? " with header" : ""}: needle, question and answer alone take ${fixed} tokens; use ℓ ≥ ${fixed}${o.variant === "standard" ? ' or variant "compact"' : ""}`);
  }
  const perChar = PASSKEY_FILLER.length / Math.max(1, tok.encode(PASSKEY_FILLER).length);
  const c = largestFitting(o.length * 8 + 64, (o.length - fixed) * perChar + 1, (n) => total(n) <= o.length);
  const a = assemble(c, key, o, f);
  const { ids, targetIds } = encodeExample(tok, a.prompt, f.target(key), o.bos);
  const pre = a.prefix ? tok.encode(a.prefix).length : 0;
  const post = a.suffix ? tok.encode(a.suffix).length : 0;
  return {
    id: exampleId("passkey", o.variant, o.length, o.depth, index),
    task: "passkey",
    variant: o.variant,
    length: o.length,
    depth: o.depth,
    prompt: a.prompt,
    target: f.target(key),
    answer: key,
    ids,
    targetIds,
    needlePos: countTokens(tok, a.before, o.bos),
    needleDepth: pre + post > 0 ? pre / (pre + post) : o.depth,
  };
}
