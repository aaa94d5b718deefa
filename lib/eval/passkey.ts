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
 *
 * Other haystacks (option `filler`, lib/eval/fillers.ts: "moby-dick", "sotu" or { name, text }):
 * the same needle, question and answer, the haystack a window of the cleaned text (no digits, no
 * "=") starting at a word drawn uniformly (the second draw from the rng, after the key), as long as
 * prompt + continuation ≤ ℓ allows; the needle goes in at the word boundary nearest to
 * depth × haystack (natural text has too few sentence ends at ℓ = 128 for a sentence boundary to
 * follow the depth). The default filler "pi" gives exactly the examples described above.
 */
import { ConfigError } from "../errors.js";
import type { Tokenizer } from "../data/types.js";
import type { Rng } from "../tensor/random.js";
import { checkTaskOptions, countTokens, drawDigits, exampleId, largestFitting, rngOf, type Checked } from "./common.js";
import { fillerName, fillerText } from "./fillers.js";
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

interface Assembled {
  prompt: string;
  before: string;
  prefix: string;
  suffix: string;
}

/** Candidate insertion points of a text window: 0, each word start, and the end. */
export function wordBoundaries(w: string): number[] {
  const out = [0];
  for (let i = 1; i < w.length; i++) if (w[i - 1] === " " && w[i] !== " ") out.push(i);
  if (w.length > 0) out.push(w.length);
  return out;
}

/** The prompt for a window `w` (filler or text), the needle at the boundary nearest to depth. */
function assembleWindow(w: string, bounds: number[], key: string, o: Checked, f: Format): Assembled {
  const target = o.depth * w.length;
  let b = 0;
  for (const x of bounds) if (Math.abs(x - target) < Math.abs(b - target)) b = x;
  const prefix = w.slice(0, b).trimEnd();
  const suffix = w.slice(b).trimStart();
  const head = [o.header ? PASSKEY_HEADER : "", prefix].filter((s) => s.length > 0);
  const before = head.length ? head.join(f.sep) + f.sep : "";
  const prompt = before + [f.needle(key), suffix, f.question].filter((s) => s.length > 0).join(f.sep);
  return { prompt, before, prefix, suffix };
}

/** The prompt for a window of `c` filler characters. */
function assemble(c: number, key: string, o: Checked, f: Format): Assembled {
  const w = fillerWindow(c);
  return assembleWindow(w, sentenceBoundaries(w), key, o, f);
}

/**
 * One passkey example: a uniformly drawn `digits`-digit key (the only draw from `rng`), hidden at
 * `depth` in filler sized so that prompt + continuation ≤ ℓ tokens.
 * @example passkey(new Rng(0), byteTokenizer(), { length: 256, depth: 0.5, variant: "compact" })
 */
export function passkey(rng: Rng | number | string, tok: Tokenizer, opts: TaskOptions, index = 0): EvalExample {
  const o = checkTaskOptions("passkey", tok, opts);
  const f = PASSKEY_FORMATS[o.variant];
  const r = rngOf(rng);
  const key = drawDigits(r, o.digits);
  const targetLen = tok.encode(f.target(key)).length;
  const name = fillerName(opts.filler);
  const text = fillerText(opts.filler);
  const hi = o.length * 8 + 64;
  let build = (c: number) => assemble(c, key, o, f);
  if (text !== null) {
    if (text.length < hi + 2) throw new ConfigError(`passkey: filler "${name}" has ${text.length} characters after cleaning; ℓ=${o.length} needs ≥ ${hi + 2}`);
    let start = r.int(0, text.length - hi - 1);
    while (start > 0 && start < text.length && !(text[start - 1] === " " && text[start] !== " ")) start++; // the next whole word
    const source = text.slice(start, start + hi);
    build = (c: number) => {
      const w = source.slice(0, c).trimEnd();
      return assembleWindow(w, wordBoundaries(w), key, o, f);
    };
  }
  const total = (c: number) => countTokens(tok, build(c).prompt, o.bos) + targetLen;
  const fixed = total(0);
  if (fixed > o.length) {
    throw new ConfigError(`passkey: ℓ=${o.length} is too short for the ${o.variant} format${o.header ? " with header" : ""}: needle, question and answer alone take ${fixed} tokens; use ℓ ≥ ${fixed}${o.variant === "standard" ? ' or variant "compact"' : ""}`);
  }
  const perChar = PASSKEY_FILLER.length / Math.max(1, tok.encode(PASSKEY_FILLER).length);
  const c = largestFitting(hi, (o.length - fixed) * perChar + 1, (n) => total(n) <= o.length);
  const a = build(c);
  const { ids, targetIds } = encodeExample(tok, a.prompt, f.target(key), o.bos);
  const pre = a.prefix ? tok.encode(a.prefix).length : 0;
  const post = a.suffix ? tok.encode(a.suffix).length : 0;
  return {
    id: name === "pi" ? exampleId("passkey", o.variant, o.length, o.depth, index) : exampleId("passkey", o.variant, o.length, o.depth, index).replace("/", `@${name}/`),
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
    ...(name === "pi" ? {} : { filler: name }),
  };
}
