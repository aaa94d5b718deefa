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
 * gpt-tokenizer's rank table (id → the token's text, or its bytes when they are not valid UTF-8),
 * used to decode without gpt-tokenizer's decode(). That one goes through a module-level TextDecoder
 * in `{ stream: true }` mode, so (1) the bytes of a trailing partial character came out at the start
 * of the NEXT, unrelated call ("😀"'s first token alone gave "", the next call began with U+FFFD or
 * completed the emoji), (2) a truncated character followed by a text token came out after that text
 * ([😀₁, " hello"] → " hello�"), (3) runs of byte tokens were joined by repeated copying (128,000
 * tokens: 3.5 s), and a leading U+FEFF in byte tokens was dropped. Decoding the concatenated bytes
 * with one non-streaming, BOM-keeping decoder is linear, stateless and in order; invalid or
 * truncated UTF-8 becomes U+FFFD, as in byteTokenizer.
 */
let r50kTable: readonly (string | readonly number[])[] | undefined;

/** Loads gpt-tokenizer's r50k_base on first use (≈0.1 s), synchronously, from node_modules. */
function loadR50k(): R50k {
  if (!r50k) {
    const req = createRequire(import.meta.url);
    r50k = req("gpt-tokenizer/encoding/r50k_base") as R50k;
    if (r50k.vocabularySize !== GPT2_VOCAB_SIZE) {
      throw new ConfigError(`gpt2Tokenizer: gpt-tokenizer r50k_base has N_V=${r50k.vocabularySize}, expected ${GPT2_VOCAB_SIZE}`);
    }
    try {
      const m = req("gpt-tokenizer/bpeRanks/r50k_base") as { default?: unknown };
      const t = m.default ?? m;
      if (Array.isArray(t) && t.length === GPT2_EOT) r50kTable = t as (string | number[])[];
    } catch {
      /* another gpt-tokenizer layout: decode falls back to gpt-tokenizer's decode() */
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

/** The text of checked r50k ids (see r50kTable); `specials` renders <|endoftext|>, else it is dropped. */
function decodeR50k(table: readonly (string | readonly number[])[], bytesOf: (Uint8Array | undefined)[], ids: readonly number[], specials: boolean): string {
  const utf8 = new TextEncoder();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (const id of ids) {
    if (id === GPT2_EOT && !specials) continue;
    let b = bytesOf[id];
    if (!b) {
      const v = id === GPT2_EOT ? "<|endoftext|>" : table[id]!;
      b = bytesOf[id] = typeof v === "string" ? utf8.encode(v) : Uint8Array.from(v);
    }
    parts.push(b);
    n += b.length;
  }
  const all = new Uint8Array(n);
  let o = 0;
  for (const b of parts) {
    all.set(b, o);
    o += b.length;
  }
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: true }).decode(all);
}

/** GPT-2 BPE (r50k_base): N_V = 50257, bos = eos = 50256 ("<|endoftext|>"). */
export function gpt2Tokenizer(): TextTokenizer {
  const enc = loadR50k();
  const special: Readonly<Record<string, number>> = Object.freeze({ bos: GPT2_EOT, eos: GPT2_EOT });
  const noSpecials = { disallowedSpecial: new Set<string>() };
  const bytesOf = new Array<Uint8Array | undefined>(GPT2_VOCAB_SIZE); // each token's bytes, filled on first use
  return {
    name: "gpt2-bpe",
    vocabSize: GPT2_VOCAB_SIZE,
    special,
    encode(text: string, eo?: EncodeOptions): number[] {
      return withSpecials(encodeBounded(enc, text, noSpecials), eo, special, "gpt2Tokenizer.encode");
    },
    decode(ids: readonly number[], d?: DecodeOptions): string {
      checkIds(ids, GPT2_VOCAB_SIZE, "gpt2Tokenizer.decode");
      if (r50kTable) return decodeR50k(r50kTable, bytesOf, ids, d?.specials ?? false);
      return enc.decode(d?.specials ? ids : ids.filter((v) => v !== GPT2_EOT));
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

/**
 * Text of a token stream, piece by piece, without splitting a character: decoding each id alone turns
 * the bytes of a multi-byte character spread over several tokens (an emoji under BPE, any non-ASCII
 * character under the byte tokenizer) into U+FFFD each. `push(id)` returns the text that is complete
 * so far ("" while a character is unfinished: up to 3 more tokens are held), `end()` the rest.
 * @example const d = streamDecoder(byteTokenizer()); [0xf0, 0x9f, 0x98, 0x80].map((b) => d.push(b)).join("") // "😀"
 */
export function streamDecoder(tok: Pick<Tokenizer, "decode">): { push(id: number): string; end(): string } {
  let pending: number[] = [];
  return {
    push(id: number): string {
      pending.push(id);
      const s = tok.decode(pending);
      if (s.endsWith("\ufffd") && pending.length < 4) return ""; // maybe an unfinished character: wait
      pending = [];
      return s;
    },
    end(): string {
      const s = pending.length ? tok.decode(pending) : "";
      pending = [];
      return s;
    },
  };
}
