/**
 * Tokenizers: UTF-8 bytes (with or without special tokens) and GPT-2 BPE (r50k_base).
 *
 * Byte layout (ids are 0-based; P&H's V = {1,…,N_V} shifted down by one):
 *   0…255  the UTF-8 bytes
 *   256    bos   (beginning of sequence)
 *   257    eos   (end of sequence / document separator)
 *   258    pad
 *   N_V = 259.  `byteTokenizer({ specials: false })` is the plain 256-symbol byte alphabet.
 * This differs from P&H §4 (mask = N_V−2, bos = N_V−1, eos = N_V): there is no mask token (decoder
 * only), and the specials follow the bytes in the order bos, eos, pad.
 *
 * GPT-2: r50k_base from gpt-tokenizer, N_V = 50257, <|endoftext|> = 50256 serves as both bos and eos
 * (as in Hugging Face's GPT-2 tokenizer). There is no pad token. A literal "<|endoftext|>" inside the
 * text is encoded as ordinary text, never as the special token; use `{ eos: true }` to append it.
 *
 * `encode` adds no specials unless asked; `decode` drops special tokens unless `{ specials: true }`.
 * Byte decoding is lenient: invalid or truncated UTF-8 becomes U+FFFD, and a special token ends any
 * partial character (bytes on either side of it are never joined).
 *
 * Long pieces: gpt-tokenizer's BPE merge loop is quadratic in the length of a pre-token (64,000
 * characters of one class, e.g. "=" × 64,000 or 64,000 lone surrogates, took 3–28 s, and 64,000 emoji
 * overflowed the stack). A text whose GPT-2 pre-tokens are all at most GPT2_MAX_PIECE = 512 UTF-16
 * units long is encoded exactly as before (one call to gpt-tokenizer); a pre-token longer than that
 * is BPE-encoded in slices of 512 units (never splitting a surrogate pair), the other pre-tokens one
 * by one. Only tokens next to a slice boundary inside such a run can differ from Hugging Face's.
 */
import { show } from "../util/show.js";
import { createRequire } from "node:module";
import { ConfigError, InputError } from "../errors.js";
import type { Tokenizer } from "./types.js";

/** Options for `encode(text, opts)`: prepend bos and/or append eos. */
export interface EncodeOptions {
  bos?: boolean;
  eos?: boolean;
}

/** Options for `decode(ids, opts)`: `specials: true` renders special tokens as e.g. "<|eos|>". */
export interface DecodeOptions {
  specials?: boolean;
}

/** A Tokenizer whose encode/decode take the options above. */
export interface TextTokenizer extends Tokenizer {
  encode(text: string, opts?: EncodeOptions): number[];
  decode(ids: readonly number[], opts?: DecodeOptions): string;
}

export const BYTE_BOS = 256;
export const BYTE_EOS = 257;
export const BYTE_PAD = 258;
export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_EOT = 50256;

/** Throws InputError unless every id is an integer in [0, N_V); names the index, value and N_V. */
export function checkIds(ids: readonly number[], nVocab: number, where: string): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= nVocab) {
      throw new InputError(`${where}: ids[${i}]=${v} is outside [0, N_V) with N_V=${nVocab}`);
    }
  }
}

/** Wraps a token list with bos/eos as requested; throws if the tokenizer lacks the token. */
function withSpecials(ids: number[], opts: EncodeOptions | undefined, special: Readonly<Record<string, number>>, where: string): number[] {
  if (!opts?.bos && !opts?.eos) return ids;
  for (const k of ["bos", "eos"] as const) {
    if (opts[k] && special[k] === undefined) throw new ConfigError(`${where}: ${k}=true but this tokenizer has no ${k} token`);
  }
  const out = opts.bos ? [special.bos!].concat(ids) : ids;
  if (opts.eos) out.push(special.eos!);
  return out;
}

/** Name of each special id, for decode({ specials: true }). */
function specialNames(special: Readonly<Record<string, number>>): Map<number, string> {
  const m = new Map<number, string>();
  for (const [k, v] of Object.entries(special)) if (!m.has(v)) m.set(v, k);
  return m;
}

/** UTF-8 byte tokenizer; `specials: false` gives N_V = 256 with no special tokens. */
export function byteTokenizer(opts: { specials?: boolean } = {}): TextTokenizer {
  const specials = opts.specials ?? true;
  const special: Readonly<Record<string, number>> = Object.freeze(specials ? { bos: BYTE_BOS, eos: BYTE_EOS, pad: BYTE_PAD } : ({} as Record<string, number>));
  const vocabSize = specials ? 259 : 256;
  const names = specialNames(special);
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  return {
    name: "byte",
    vocabSize,
    special,
    encode(text: string, eo?: EncodeOptions): number[] {
      const bytes = encoder.encode(text);
      const ids = new Array<number>(bytes.length); // preallocated: Array.from(bytes) grows through the iterator (≈30 bytes per byte of text)
      for (let i = 0; i < bytes.length; i++) ids[i] = bytes[i]!;
      return withSpecials(ids, eo, special, "byteTokenizer.encode");
    },
    decode(ids: readonly number[], d?: DecodeOptions): string {
      checkIds(ids, vocabSize, "byteTokenizer.decode");
      let out = "";
      let run: number[] = [];
      const flush = () => {
        if (run.length) out += decoder.decode(Uint8Array.from(run));
        run = [];
      };
      for (const id of ids) {
        if (id < 256) run.push(id);
        else {
          flush(); // a special token ends any partial UTF-8 sequence
          if (d?.specials) out += `<|${names.get(id)}|>`;
        }
      }
      flush();
      return out;
    },
    toJSON: () => ({ name: "byte", vocabSize, specials, special: { ...special } }),
  };
}

/**
 * The part of gpt-tokenizer's r50k_base module used here. Its own .d.ts files do not parse under
 * TypeScript 5.6 (string-named imports in models.d.ts), so they are not imported, even as types.
 */
interface R50k {
  encode(text: string, opts?: { disallowedSpecial?: Set<string> }): number[];
  decode(ids: Iterable<number>): string;
  readonly vocabularySize: number;
}
let r50k: R50k | undefined;
/**
 * Flushes gpt-tokenizer's shared streaming TextDecoder. Its decode() ends with `{ stream: true }`, so
 * the bytes of a trailing partial character stay in a module-level decoder and came out at the start
 * of the NEXT, unrelated decode() call ("😀"'s first token alone gave "", and the next call began with
 * U+FFFD or completed the emoji). Flushing before and after each decode makes every call independent:
 * a truncated character becomes U+FFFD, as in byteTokenizer.
 */
let flushR50k: () => string = () => "";

/** Loads gpt-tokenizer's r50k_base on first use (≈0.1 s), synchronously, from node_modules. */
function loadR50k(): R50k {
  if (!r50k) {
    const req = createRequire(import.meta.url);
    r50k = req("gpt-tokenizer/encoding/r50k_base") as R50k;
    if (r50k.vocabularySize !== GPT2_VOCAB_SIZE) {
      throw new ConfigError(`gpt2Tokenizer: gpt-tokenizer r50k_base has N_V=${r50k.vocabularySize}, expected ${GPT2_VOCAB_SIZE}`);
    }
    try {
      const core = req("gpt-tokenizer/BytePairEncodingCore") as { decoder?: { decode(input?: Uint8Array): string } };
      const d = core.decoder;
      if (d && typeof d.decode === "function") flushR50k = () => d.decode();
    } catch {
      /* another gpt-tokenizer layout: nothing to flush */
    }
  }
  return r50k;
}

/** GPT-2's pre-tokenizer pattern (gpt-tokenizer's R50K_TOKEN_SPLIT_REGEX), used to find over-long pre-tokens. */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
/** Pre-tokens longer than this (UTF-16 units) are BPE-encoded in slices of this length (see the header). */
export const GPT2_MAX_PIECE = 512;

/** r50k encoding of `text` in time linear in its length (exactly gpt-tokenizer's unless a pre-token exceeds GPT2_MAX_PIECE). */
function encodeBounded(enc: R50k, text: string, opts: { disallowedSpecial: Set<string> }): number[] {
  if (text.length <= GPT2_MAX_PIECE) return enc.encode(text, opts);
  let long = false;
  for (const m of text.matchAll(GPT2_SPLIT)) if (m[0].length > GPT2_MAX_PIECE) { long = true; break; }
  if (!long) return enc.encode(text, opts);
  const out: number[] = [];
  for (const [piece] of text.matchAll(GPT2_SPLIT)) {
    for (let i = 0; i < piece.length; ) {
      let j = Math.min(piece.length, i + GPT2_MAX_PIECE);
      const c = piece.charCodeAt(j - 1);
      if (j < piece.length && c >= 0xd800 && c <= 0xdbff) j--; // keep a surrogate pair together
      for (const id of enc.encode(piece.slice(i, j), opts)) out.push(id);
      i = j;
    }
  }
  return out;
}

/** GPT-2 BPE (r50k_base): N_V = 50257, bos = eos = 50256 ("<|endoftext|>"). */
export function gpt2Tokenizer(): TextTokenizer {
  const enc = loadR50k();
  const special: Readonly<Record<string, number>> = Object.freeze({ bos: GPT2_EOT, eos: GPT2_EOT });
  const noSpecials = { disallowedSpecial: new Set<string>() };
  return {
    name: "gpt2-bpe",
    vocabSize: GPT2_VOCAB_SIZE,
    special,
    encode(text: string, eo?: EncodeOptions): number[] {
      return withSpecials(encodeBounded(enc, text, noSpecials), eo, special, "gpt2Tokenizer.encode");
    },
    decode(ids: readonly number[], d?: DecodeOptions): string {
      checkIds(ids, GPT2_VOCAB_SIZE, "gpt2Tokenizer.decode");
      flushR50k(); // whatever an earlier caller left in gpt-tokenizer's shared decoder is not ours
      return enc.decode(d?.specials ? ids : ids.filter((v) => v !== GPT2_EOT)) + flushR50k();
    },
    toJSON: () => ({ name: "gpt2-bpe", vocabSize: GPT2_VOCAB_SIZE, encoding: "r50k_base" }),
  };
}


const ALIASES: Record<string, string> = { byte: "byte", bytes: "byte", "gpt2-bpe": "gpt2-bpe", gpt2: "gpt2-bpe", r50k_base: "gpt2-bpe" };

/**
 * Rebuilds a tokenizer from `toJSON()` output (checkpoints) or a name (CLI): "byte", "gpt2",
 * "gpt2-bpe", "r50k_base". A recorded vocabSize that disagrees with the rebuilt one is an error.
 */
export function tokenizerFrom(json: string | { name: string; [k: string]: unknown }): TextTokenizer {
  const spec = typeof json === "string" ? { name: json } : json;
  if (!spec || typeof spec.name !== "string") throw new ConfigError(`tokenizerFrom: expected a name or { name, … }, got ${show(json)}`);
  const kind = ALIASES[spec.name.trim().toLowerCase()];
  if (!kind) throw new ConfigError(`tokenizerFrom: unknown tokenizer ${show(spec.name)}; known: ${Object.keys(ALIASES).join(", ")}`);
  const tok = kind === "byte" ? byteTokenizer({ specials: spec.specials !== false }) : gpt2Tokenizer();
  if (spec.vocabSize !== undefined && spec.vocabSize !== tok.vocabSize) {
    throw new ConfigError(`tokenizerFrom: recorded N_V=${show(spec.vocabSize)} but tokenizer "${tok.name}" has N_V=${tok.vocabSize}`);
  }
  return tok;
}
