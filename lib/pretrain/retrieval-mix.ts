/**
 * retrievalMixSource — training batches that teach a small byte-level model the compact retrieval
 * formats of lib/eval (passkey "key=NNNNN. key=NNNNN." … "key=" → "NNNNN"; LongEval lines
 * "name=NNNNN" … "name=" → "NNNNN"), mixed with natural text and a synthetic copy task.
 *
 * Why a deliberate mix (docs/literature.md, "Small byte-level models and retrieval"): a 4-layer byte model trained on Moby Dick with PI-format
 * passkey samples learned the answer's format but retrieved 0 % of keys; the same model learns pure
 * induction (copy a random string when it repeats) within a few hundred steps. So every row of a
 * batch is one of four kinds, drawn independently by weight:
 *
 *   text     a window of the natural text (language modelling; keeps the model a text model)
 *   passkey  one compact passkey episode of ℓ_e ∈ [minEpisode, ℓ] tokens starting at position 0,
 *            haystack = the PI filler (cycled, random phase) or a window of the cleaned text,
 *            needle at a word boundary nearest a drawn depth (0 and 1 drawn 10 % each, else uniform);
 *            the rest of the row is ". " + cleaned text
 *   lines    one compact LongEval lines episode (lib/eval/records.ts) of ℓ_e ∈ [64, ℓ] tokens at a
 *            uniform depth, then ". " + cleaned text
 *   copy     a random string over a–z0–9 of 8–48 characters, repeated (with " ") to fill the row:
 *            the induction signal that retrieval needs, dense from the first step
 *
 * Episodes start at position 0, as the evaluation prompts do, and their lengths cover every
 * ℓ_e up to ℓ, so a model with a learned W_p sees the question at every position it is tested at.
 * The cleaned text is the given text with digits, "=" and non-ASCII characters removed (whitespace
 * runs collapsed), so the key is never in a haystack or tail, and one byte is one token.
 * Deviation from the evaluation format: the needle goes in at any word boundary, not only at a
 * sentence boundary (more positions; the sentence boundaries are among them).
 *
 * Every draw comes from the Rng passed to next(rng): the same trainer seed gives the same batches.
 * Byte-level only (the tokenizer is UTF-8 bytes; N_V ≥ 256).
 */
import { ConfigError } from "../errors.js";
import type { Batch, BatchSource } from "../data/types.js";
import { byteTokenizer } from "../data/tokenizer.js";
import type { Rng } from "../tensor/random.js";
import { drawDigits } from "../eval/common.js";
import { PASSKEY_FILLER, PASSKEY_FORMATS } from "../eval/passkey.js";
import { lines } from "../eval/records.js";
import { cleanFillerText } from "../eval/fillers.js";

/** The kinds of rows in a retrieval mix. */
export type MixKind = "text" | "passkey" | "lines" | "copy";
export const MIX_KINDS: readonly MixKind[] = ["text", "passkey", "lines", "copy"];

/** Defaults of retrievalMixSource (weights are per row and need not sum to 1). */
export const retrievalMixDefaults = {
  weights: { text: 0.3, passkey: 0.45, lines: 0.1, copy: 0.15 } as Readonly<Record<MixKind, number>>,
  /** probability that a passkey haystack is the PI filler (else cleaned text) */
  piFiller: 0.5,
  /** shortest passkey episode (tokens); the compact format's fixed part is 31 */
  minEpisode: 40,
  /** shortest lines episode (two records, question and answer need ~50) */
  minLinesEpisode: 64,
  digits: 5,
  copyMin: 8,
  copyMax: 48,
};

export interface RetrievalMixOptions {
  /** B rows per batch */
  batch: number;
  /** ℓ tokens per row (the model's ℓ_max for base training) */
  length: number;
  /** natural text for text rows (as is) and for haystacks and tails (cleaned) */
  text: string;
  weights?: Partial<Record<MixKind, number>>;
  piFiller?: number;
  minEpisode?: number;
  digits?: number;
}

/** One row with what it asks: the answer's position (passkey, lines) and the needle's. */
export interface MixRow {
  kind: MixKind;
  /** exactly ℓ ASCII characters (text rows: ℓ bytes of the raw text, decoded) */
  text: string;
  ids: number[];
  /** the key / register value the row's question asks for, or null (text, copy) */
  answer: string | null;
  /** index of the answer's first token (right after the question), or null */
  answerPos: number | null;
  /** index of the needle's first token (passkey: "key="; lines: the queried record), or null */
  needlePos: number | null;
  /** tokens of the episode (prompt + answer); ℓ for text and copy rows */
  episodeLength: number;
  /** passkey: the drawn depth; lines: the requested depth; else null */
  depth: number | null;
  /** passkey: "pi" or "text"; else null */
  filler: "pi" | "text" | null;
}

export { cleanFillerText };

interface Resolved {
  batch: number;
  length: number;
  raw: Int32Array;
  clean: string;
  weights: number[];
  piFiller: number;
  minEpisode: number;
  digits: number;
}

function positiveInt(v: unknown, what: string, min = 1): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw new ConfigError(`retrievalMixSource: ${what}=${String(v)} must be an integer ≥ ${min}`);
  return v;
}

function resolve(o: RetrievalMixOptions): Resolved {
  if (!o || typeof o !== "object") throw new ConfigError("retrievalMixSource: options { batch, length, text } are required");
  const d = retrievalMixDefaults;
  const length = positiveInt(o.length, "length (ℓ)", 64);
  const minEpisode = positiveInt(o.minEpisode ?? d.minEpisode, "minEpisode", 40);
  if (minEpisode > length) throw new ConfigError(`retrievalMixSource: minEpisode=${minEpisode} exceeds length ℓ=${length}`);
  const digits = positiveInt(o.digits ?? d.digits, "digits", 1);
  if (digits > 9) throw new ConfigError(`retrievalMixSource: digits=${digits} must be ≤ 9`);
  const piFiller = o.piFiller ?? d.piFiller;
  if (!(typeof piFiller === "number" && piFiller >= 0 && piFiller <= 1)) throw new ConfigError(`retrievalMixSource: piFiller=${piFiller} must be in [0, 1]`);
  const w = { ...d.weights, ...(o.weights ?? {}) };
  for (const k of Object.keys(w)) if (!MIX_KINDS.includes(k as MixKind)) throw new ConfigError(`retrievalMixSource: unknown weight "${k}"; kinds: ${MIX_KINDS.join(", ")}`);
  const weights = MIX_KINDS.map((k) => {
    const v = w[k];
    if (!(typeof v === "number" && Number.isFinite(v) && v >= 0)) throw new ConfigError(`retrievalMixSource: weights.${k}=${v} must be finite and ≥ 0`);
    return v;
  });
  if (!(weights.reduce((s, v) => s + v, 0) > 0)) throw new ConfigError("retrievalMixSource: weights sum to 0; need a positive sum");
  if (typeof o.text !== "string") throw new ConfigError("retrievalMixSource: text must be a string (e.g. corpusSplit(mobyDick()).train)");
  const raw = Int32Array.from(byteTokenizer({ specials: false }).encode(o.text));
  const clean = cleanFillerText(o.text);
  if (raw.length < length || clean.length < 2 * length) {
    throw new ConfigError(`retrievalMixSource: text has ${raw.length} bytes (${clean.length} after cleaning); need ≥ ${2 * length} for ℓ=${length}`);
  }
  return { batch: positiveInt(o.batch, "batch (B)"), length, raw, clean, weights, piFiller, minEpisode, digits };
}

/** ≤ `n` characters of the cleaned text from a uniform start, without leading or trailing space. */
function cleanWindow(r: Resolved, n: number, rng: Rng): string {
  if (n <= 0) return "";
  const s = rng.int(0, r.clean.length - n - 1);
  return r.clean.slice(s, s + n + 1).trimStart().slice(0, n).trimEnd();
}

/** ≤ `n` characters of the endlessly repeated PI filler from a random phase, without leading or trailing space. */
function piWindow(n: number, rng: Rng): string {
  const block = `${PASSKEY_FILLER} `;
  const s = rng.int(0, block.length);
  return block.repeat(Math.ceil((n + s + 1) / block.length) + 1).slice(s, s + n + 1).trimStart().slice(0, n).trimEnd();
}

/** The word boundary (0, after a space, or the end) nearest to depth·|w|. */
function nearestWordBoundary(w: string, depth: number): number {
  const target = depth * w.length;
  let best = 0;
  for (let i = 1; i <= w.length; i++) {
    if ((i === w.length || w[i - 1] === " ") && Math.abs(i - target) < Math.abs(best - target)) best = i;
  }
  return best;
}

/** Pads an episode to ℓ with ". " and cleaned text (no digits, so the answer is never repeated). */
function fillRow(r: Resolved, episode: string, rng: Rng): string {
  const rest = r.length - episode.length;
  if (rest <= 0) return episode.slice(0, r.length);
  return (episode + (". " + cleanWindow(r, rest, rng)).slice(0, rest)).padEnd(r.length, " ");
}

function drawDepth(rng: Rng): number {
  const u = rng.uniform();
  return u < 0.1 ? 0 : u < 0.2 ? 1 : rng.uniform();
}

function passkeyRow(r: Resolved, rng: Rng): Omit<MixRow, "ids"> {
  const f = PASSKEY_FORMATS.compact;
  const e = rng.int(r.minEpisode, r.length + 1);
  const key = drawDigits(rng, r.digits);
  const depth = drawDepth(rng);
  const filler = rng.uniform() < r.piFiller ? "pi" : "text";
  const fixed = f.needle(key).length + f.question.length + f.target(key).length + 2; // two " " joins at least
  const hayLen = Math.max(0, e - fixed - 1); // −1: a third join when the haystack is split
  const hay = filler === "pi" ? piWindow(hayLen, rng) : cleanWindow(r, hayLen, rng);
  const b = nearestWordBoundary(hay, depth);
  const prefix = hay.slice(0, b).trimEnd();
  const suffix = hay.slice(b).trim();
  const head = prefix ? `${prefix} ` : "";
  const prompt = head + [f.needle(key), suffix, f.question].filter((s) => s.length > 0).join(" ");
  const episode = prompt + f.target(key);
  return { kind: "passkey", text: fillRow(r, episode, rng), answer: key, answerPos: prompt.length, needlePos: head.length, episodeLength: episode.length, depth, filler };
}

function linesRow(r: Resolved, rng: Rng): Omit<MixRow, "ids"> {
  const lo = Math.min(retrievalMixDefaults.minLinesEpisode, r.length);
  const e = rng.int(lo, r.length + 1);
  const depth = rng.uniform();
  const ex = lines(rng, byteTokenizer({ specials: false }), { length: e, depth, variant: "compact", digits: r.digits });
  const episode = ex.prompt + ex.target;
  return { kind: "lines", text: fillRow(r, episode, rng), answer: ex.answer, answerPos: ex.prompt.length, needlePos: ex.needlePos, episodeLength: episode.length, depth, filler: null };
}

const COPY_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

function copyRow(r: Resolved, rng: Rng): Omit<MixRow, "ids"> {
  const d = retrievalMixDefaults;
  const n = rng.int(d.copyMin, d.copyMax + 1);
  let s = "";
  for (let i = 0; i < n; i++) s += COPY_ALPHABET[rng.int(0, COPY_ALPHABET.length)];
  const text = `${s} `.repeat(Math.ceil(r.length / (n + 1))).slice(0, r.length);
  return { kind: "copy", text, answer: null, answerPos: null, needlePos: null, episodeLength: r.length, depth: null, filler: null };
}

function textRow(r: Resolved, rng: Rng): MixRow {
  const s = rng.int(0, r.raw.length - r.length + 1);
  const ids = Array.from(r.raw.subarray(s, s + r.length));
  return { kind: "text", text: byteTokenizer({ specials: false }).decode(ids), ids, answer: null, answerPos: null, needlePos: null, episodeLength: r.length, depth: null, filler: null };
}

/** One row of the given kind (all draws from `rng`). */
function rowOf(r: Resolved, kind: MixKind, rng: Rng): MixRow {
  if (kind === "text") return textRow(r, rng);
  const row = kind === "passkey" ? passkeyRow(r, rng) : kind === "lines" ? linesRow(r, rng) : copyRow(r, rng);
  const ids = Array.from(row.text, (c) => c.charCodeAt(0)); // ASCII: one byte per character
  return { ...row, ids };
}

/**
 * Rows of one kind, for tests, plots and notebooks (`rng` is advanced).
 * @example retrievalRows(new Rng(0), "passkey", 3, { batch: 1, length: 128, text: corpusSplit(mobyDick()).train })
 */
export function retrievalRows(rng: Rng, kind: MixKind, n: number, opts: RetrievalMixOptions): MixRow[] {
  if (!MIX_KINDS.includes(kind)) throw new ConfigError(`retrievalRows: kind="${String(kind)}" must be one of ${MIX_KINDS.join(", ")}`);
  const r = resolve(opts);
  return Array.from({ length: n }, () => rowOf(r, kind, rng));
}

/** A retrieval mix with counts of the kinds it has drawn. */
export interface RetrievalMixSource extends BatchSource {
  /** rows drawn per kind so far */
  realised(): { kind: MixKind; rows: number; fraction: number }[];
  /** the next batch's rows with their metadata (draws from `rng` exactly as next(rng) does) */
  nextRows(rng: Rng): MixRow[];
}

/**
 * B rows of ℓ tokens per batch, each row's kind drawn by weight (text, passkey, lines, copy).
 * @example
 * const { train } = corpusSplit(mobyDick());
 * const source = retrievalMixSource({ batch: 16, length: 128, text: train });
 * await dTraining(model, { source, steps: 1000, seed: 0 });
 */
export function retrievalMixSource(opts: RetrievalMixOptions): RetrievalMixSource {
  const r = resolve(opts);
  const counts = MIX_KINDS.map(() => 0);
  const nextRows = (rng: Rng): MixRow[] =>
    Array.from({ length: r.batch }, () => {
      const k = rng.categorical(r.weights);
      counts[k]!++;
      return rowOf(r, MIX_KINDS[k]!, rng);
    });
  return {
    name: "retrieval-mix",
    nextRows,
    next(rng: Rng): Batch {
      const rows = nextRows(rng);
      const tokens = new Int32Array(r.batch * r.length);
      rows.forEach((row, i) => tokens.set(row.ids, i * r.length));
      return { tokens, batch: r.batch, length: r.length };
    },
    describe: () => ({
      kind: "retrieval-mix",
      batch: r.batch,
      length: r.length,
      weights: Object.fromEntries(MIX_KINDS.map((k, i) => [k, r.weights[i]])),
      piFiller: r.piFiller,
      minEpisode: r.minEpisode,
      digits: r.digits,
      textBytes: r.raw.length,
      cleanChars: r.clean.length,
    }),
    realised() {
      const n = counts.reduce((s, c) => s + c, 0);
      return MIX_KINDS.map((kind, i) => ({ kind, rows: counts[i]!, fraction: n ? counts[i]! / n : 0 }));
    },
  };
}
