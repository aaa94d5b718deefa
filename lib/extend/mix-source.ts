/**
 * The fine-tuning data of the context-extension recipes: windows of text mixed, row by row, with
 * passkey retrieval samples (lib/eval/passkey.ts, the "compact" variant by default — the format the
 * byte-level base checkpoints were trained and are evaluated on, REFERENCE.md §7). Without the
 * passkey rows a fine-tune at ℓ' would teach language modelling at ℓ' but could erase the retrieval
 * skill it is measured on; with them, PI's "200 steps recover k_max = L'" (Table 4) is testable.
 *
 *   retrievalMixSource(tokens, tok, { length: 512, batch: 4, passkeyFraction: 0.5 })
 *   retrievalMixSource(tokens, tok, { mixture: "doubling", lMax: 128, maxLength: 1024, batchTokens: 4096 })
 *
 * Per batch: ℓ is fixed, or drawn from a length mixture (lib/data/mixture.ts, e.g. the question's
 * 50/25/12.5 % doubling curriculum); B is fixed or floor(batchTokens/ℓ). Per row: with probability
 * `passkeyFraction` a passkey sample of exactly ℓ tokens (prompt + answer, needle depth uniform in
 * [0, 1], key uniform), else a window of text at a uniform start. A sample shorter than ℓ (the
 * generator fills to ℓ or ℓ − 1) is left-padded with the tail of the passkey filler, so every row is
 * natural text. All randomness comes from the trainer's Rng: resumable and reproducible.
 *
 * (Written for the extension recipes; a general retrieval mix in lib/data would supersede it.)
 */
import { ConfigError } from "../errors.js";
import { buildMixture, jitterLength, positiveInt, type Mixture, type MixtureSpec } from "../data/mixture.js";
import type { Batch, BatchSource, Tokenizer } from "../data/types.js";
import { fillerWindow, passkey } from "../eval/tasks.js";
import type { Rng } from "../tensor/random.js";

export interface RetrievalMixOptions extends Partial<MixtureSpec> {
  /** fixed ℓ (give this or `mixture`) */
  length?: number;
  /** fixed B (give this or `batchTokens`) */
  batch?: number;
  /** B = max(1, floor(batchTokens / ℓ)) */
  batchTokens?: number;
  /** probability that a row is a passkey sample (default 0.5) */
  passkeyFraction?: number;
  /** passkey format (default "compact") */
  variant?: "standard" | "compact";
  /** key digits (default 5) */
  digits?: number;
}

/** A retrieval-mix source; `realised()` counts rows of each kind. */
export interface RetrievalMixSource extends BatchSource {
  realised(): { text: number; passkey: number; passkeyShare: number; lengths: Record<number, number> };
}

/** `k` tokens of natural filler (the tail of the passkey haystack text) to left-pad a short sample. */
export function fillerPad(tok: Tokenizer, k: number): number[] {
  if (k <= 0) return [];
  for (let chars = 4 * k + 16; ; chars *= 2) {
    const ids = tok.encode(`${fillerWindow(chars)} `);
    if (ids.length >= k) return ids.slice(ids.length - k);
  }
}

/** One passkey row of exactly ℓ tokens: a compact (or standard) sample at a uniform depth, left-padded. */
export function passkeyRow(rng: Rng, tok: Tokenizer, length: number, o: { variant?: "standard" | "compact"; digits?: number } = {}): number[] {
  const depth = rng.uniform();
  const ex = passkey(rng, tok, { length, depth, variant: o.variant ?? "compact", ...(o.digits !== undefined ? { digits: o.digits } : {}) });
  const seq = [...ex.ids, ...ex.targetIds];
  return seq.length >= length ? seq.slice(seq.length - length) : [...fillerPad(tok, length - seq.length), ...seq];
}

function lengthRule(o: RetrievalMixOptions, where: string): { mix: Mixture | null; fixed: number | null; longest: number; shortest: number } {
  if ((o.length === undefined) === (o.mixture === undefined)) throw new ConfigError(`${where}: give exactly one of length (ℓ) and mixture, got length=${o.length}, mixture=${JSON.stringify(o.mixture)}`);
  if (o.length !== undefined) {
    const l = positiveInt(o.length, `${where}: length (ℓ)`);
    return { mix: null, fixed: l, longest: l, shortest: l };
  }
  const mix = buildMixture(o as MixtureSpec, where);
  const shortest = Math.max(1, Math.round(mix.components[0]!.length * (1 - mix.jitter)));
  return { mix, fixed: null, longest: mix.maxRealisedLength, shortest };
}

/**
 * Text windows mixed row by row with passkey samples (see the header).
 * @example const src = retrievalMixSource(textTokens(train, tok), tok, { length: 512, batch: 4 });
 */
export function retrievalMixSource(tokens: Int32Array, tok: Tokenizer, o: RetrievalMixOptions): RetrievalMixSource {
  const where = "retrievalMixSource";
  if (!(tokens instanceof Int32Array)) throw new ConfigError(`${where}: tokens must be an Int32Array (textTokens(text, tokenizer))`);
  const rule = lengthRule(o, where);
  if ((o.batch === undefined) === (o.batchTokens === undefined)) throw new ConfigError(`${where}: give exactly one of batch (B) and batchTokens, got batch=${o.batch}, batchTokens=${o.batchTokens}`);
  const batchOf = o.batch !== undefined ? ((b: number) => () => b)(positiveInt(o.batch, `${where}: batch (B)`)) : ((bt: number) => (l: number) => Math.max(1, Math.floor(bt / l)))(positiveInt(o.batchTokens, `${where}: batchTokens`));
  const p = o.passkeyFraction ?? 0.5;
  if (!(Number.isFinite(p) && p >= 0 && p <= 1)) throw new ConfigError(`${where}: passkeyFraction=${p} must be in [0, 1]`);
  if (tokens.length < rule.longest) throw new ConfigError(`${where}: ℓ=${rule.longest} is longer than the corpus (${tokens.length} tokens)`);
  const variant = o.variant ?? "compact";
  const digits = o.digits;
  // fail now, not at step k, when the shortest ℓ cannot hold the needle, question and answer
  if (p > 0) passkey(0, tok, { length: rule.shortest, depth: 0, variant, ...(digits !== undefined ? { digits } : {}) });
  const counts = { text: 0, passkey: 0, lengths: {} as Record<number, number> };
  return {
    name: "retrieval-mix",
    next(rng: Rng): Batch {
      const length = rule.fixed ?? jitterLength(rule.mix!.components[rng.categorical(rule.mix!.components.map((c) => c.weight))]!.length, rule.mix!.jitter, rng);
      const batch = batchOf(length);
      const out = new Int32Array(batch * length);
      for (let b = 0; b < batch; b++) {
        if (p > 0 && rng.uniform() < p) {
          out.set(passkeyRow(rng, tok, length, { variant, ...(digits !== undefined ? { digits } : {}) }), b * length);
          counts.passkey++;
        } else {
          const s = rng.int(0, tokens.length - length + 1);
          out.set(tokens.subarray(s, s + length), b * length);
          counts.text++;
        }
      }
      counts.lengths[length] = (counts.lengths[length] ?? 0) + 1;
      return { tokens: out, batch, length };
    },
    describe: () => ({
      kind: "retrieval-mix",
      ...(rule.fixed !== null ? { length: rule.fixed } : rule.mix!.describe),
      ...(o.batch !== undefined ? { batch: o.batch } : { batchTokens: o.batchTokens }),
      passkeyFraction: p, variant, digits: digits ?? 5, corpusTokens: tokens.length,
    }),
    realised: () => ({ text: counts.text, passkey: counts.passkey, passkeyShare: counts.passkey / Math.max(1, counts.text + counts.passkey), lengths: { ...counts.lengths } }),
  };
}
