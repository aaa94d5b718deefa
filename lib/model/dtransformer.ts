/**
 * Algorithm 10 — P ← DTransformer(x | θ): the decoder-only (GPT-2-style, pre-LN) transformer.
 *
 *   1  ℓ ← length(x)
 *   2  for t ∈ [ℓ]: e_t ← W_e[:, x[t]] + W_p[:, t]        (the positional encoding's `embed` seam)
 *   3  X ← [e_1, …, e_ℓ]
 *   4  for l = 1 … L:
 *   5    X̃ ← layer_norm(X | γ¹_l, β¹_l)
 *   6    X ← X + MHAttention(X̃ | W_l, Mask[t, t'] = [[t ≤ t']])   (`rotate`/`scoreBias` seams inside)
 *   7    X̃ ← layer_norm(X | γ²_l, β²_l)
 *   8    X ← X + W^l_mlp2 GELU(W^l_mlp1 X̃ + b^l_mlp1 1ᵀ) + b^l_mlp2 1ᵀ
 *   9  end
 *  10  X ← layer_norm(X | γ, β)
 *  11  return P = softmax(W_u X)
 *
 * Row-major and batched: x is [B, ℓ] token ids, X is [B, ℓ, d_e], P is [B, ℓ, N_V] (row t of P is the
 * paper's column t). Every line's value passes a hook point (lib/hooks/names.ts), which is how
 * `trace` records the algorithm line by line. Deviations: ε and the GELU form are config choices.
 *
 * Architecture options (lib/config.ts; docs/design.md, "Architecture options"), each off by default:
 * norm "rmsnorm" (lines 5, 7, 10: RMSNorm, no β); mlp "gated-silu" (line 8: W_mlp2 (SiLU(W_gate X̃ + b_gate)
 * ⊙ (W_mlp1 X̃ + b_mlp1)) + b_mlp2); nKvHeads < H (line 6: grouped-query attention); bias off per
 * projection (the term is absent); residual "parallel" (lines 6–8: X ← X + MHAttn(X̃¹) + MLP(X̃²), both
 * normalised from the layer's input, as GPT-NeoX).
 */
import * as tf from "@tensorflow/tfjs";
import { makeConfig, type DTransformerConfig, type DTransformerOptions } from "../config.js";
import { InputError } from "../errors.js";
import { ActivationCache } from "../hooks/cache.js";
import { HookContext, hp, type HookFilter, type HookFn } from "../hooks/context.js";
import type { PeContext, PositionalEncoding } from "../positional/types.js";
import { gelu, linear } from "../tensor/ops.js";
import { Rng } from "../tensor/random.js";
import type { BSeq, Seq, Tensor } from "../tensor/typed.js";
import { _norm } from "./layer-norm.js";
import type { LayerKV } from "../engine/seams.js";
import { resolveLayout, type AttentionLayout } from "../engine/layout-options.js";
import { checkFits } from "../engine/memory-estimate.js";
import { _mhAttention, type MhaWeights } from "./mh-attention.js";
import { initValue, newVariable, ParamStore, paramShapes } from "./params.js";
import { _tokenEmbedding, toTokenBatch, type TokenInput } from "./token-embedding.js";
import { _unembedLogits } from "./unembedding.js";

/** Options of one forward call. */
export interface ForwardOptions {
  /** hooks for this call only: [filter, fn] pairs */
  hooks?: readonly (readonly [HookFilter, HookFn])[];
  /** 0-based position of the first token (default 0) */
  start?: number;
  /** attention layout for this call (default: the model's, see withAttentionLayout) */
  layout?: Partial<AttentionLayout>;
}

/** Output type: one sequence → [ℓ, N_V], a batch → [B, ℓ, N_V]. */
export type LogitsOf<X> = X extends readonly (readonly number[])[] ? BSeq<"N_V"> : X extends readonly number[] | Int32Array ? Seq<"N_V"> : Tensor<["ℓ", "N_V"]> | Tensor<["B", "ℓ", "N_V"]>;

/**
 * The model: a config, a parameter set θ and its positional encoding. `layout` says how the engine
 * arranges attention's arithmetic (lib/engine/layout-options.ts); it changes speed and memory, never
 * the values, and is not part of the checkpoint.
 */
export class DTransformer {
  readonly layout: Readonly<AttentionLayout>;
  constructor(
    readonly cfg: DTransformerConfig,
    readonly params: ParamStore,
    layout?: Partial<AttentionLayout>,
  ) {
    this.layout = resolveLayout(layout, "DTransformer: layout");
  }

  /** A freshly initialised model (GPT-2 initialisation from `seed`). */
  static create(opts: DTransformerOptions, seed = 0): DTransformer {
    const cfg = makeConfig(opts);
    return new DTransformer(cfg, ParamStore.init(cfg, seed));
  }

  get positional(): PositionalEncoding {
    return this.cfg.positional;
  }

  /**
   * The same weights (shared variables, no copy) under another positional encoding. Parameters the
   * new encoding needs and θ lacks are added, initialised from `seed`; the original model is unchanged.
   */
  withPositional(pe: PositionalEncoding, seed = 0): DTransformer {
    const cfg = makeConfig({ ...this.cfg, positional: pe });
    const vars = new Map(this.params.vars);
    const rng = new Rng(seed);
    for (const [name, shape] of paramShapes(cfg)) {
      if (!vars.has(name)) vars.set(name, newVariable(name, initValue(name, shape, cfg, rng), shape));
    }
    return new DTransformer(cfg, new ParamStore(vars), this.layout);
  }

  /**
   * The same weights and encoding (shared, no copy) with another attention layout, e.g.
   * `model.withAttentionLayout({ mode: "chunked", chunk: 512 })`. Unspecified fields keep this model's.
   */
  withAttentionLayout(layout: Partial<AttentionLayout>): DTransformer {
    return new DTransformer(this.cfg, this.params, { ...this.layout, ...layout });
  }

  /** Number of scalar parameters used by this model (tied W_u counted once). */
  numParams(): number {
    let n = 0;
    for (const name of paramShapes(this.cfg).keys()) n += this.params.get(name).size;
    return n;
  }

  /** Pre-softmax logits W_u X: [ℓ, N_V] for one sequence, [B, ℓ, N_V] for a batch. */
  logits<X extends TokenInput>(x: X, opts: ForwardOptions = {}): LogitsOf<X> {
    return this.run(x, opts, false) as LogitsOf<X>;
  }

  /** P (Alg 10 line 11): probabilities, row t = P̂(x[t+1] | x[1:t]). */
  forward<X extends TokenInput>(x: X, opts: ForwardOptions = {}): LogitsOf<X> {
    return this.run(x, opts, true) as LogitsOf<X>;
  }

  /** Logits with hooks that read or replace activations for this call only. */
  runWithHooks<X extends TokenInput>(x: X, hooks: readonly (readonly [HookFilter, HookFn])[], opts: Omit<ForwardOptions, "hooks"> = {}): LogitsOf<X> {
    return this.logits(x, { ...opts, hooks });
  }

  /**
   * Record every line of Algorithm 10 for one input (run_with_cache): the logits and an
   * ActivationCache of all hook points ("hook_embed", "blocks.0.attn.hook_pattern", …).
   */
  trace<X extends TokenInput>(x: X, opts: Omit<ForwardOptions, "hooks"> = {}): { logits: LogitsOf<X>; cache: ActivationCache } {
    const cache = new ActivationCache();
    try {
      const logits = this.run(x, { ...opts, hooks: [[() => true, (v: tf.Tensor, name: string) => void cache._set(name, tf.keep(v.clone()))]] }, false);
      return { logits: logits as LogitsOf<X>, cache };
    } catch (e) {
      cache.dispose();
      throw e;
    }
  }

  /** Free θ (shared with models made by withPositional). */
  dispose(): void {
    this.params.dispose();
  }

  private run(x: TokenInput, opts: ForwardOptions, probs: boolean): tf.Tensor {
    const { ids, batched } = toTokenBatch(x, this.cfg.nVocab, "DTransformer: x");
    try {
      const start = opts.start ?? 0;
      if (!Number.isSafeInteger(start) || start < 0) throw new InputError(`DTransformer: start=${start} must be a non-negative integer position`);
      const max = this.cfg.positional.maxPositions?.(this.cfg);
      const l = ids.shape[1];
      if (max !== undefined && start + l > max) {
        throw new InputError(
          `DTransformer: ℓ=${start + l} tokens exceed ℓ_max=${max} of the ${this.cfg.positional.label}. ` +
            `Ways out: use ℓ ≤ ${max} (truncate or slide a window), extend the table to a longer ℓ_max (extendLearned(model, n)), or run the same weights ` +
            `with an encoding that has no table (model.withPositional(...)).`,
        );
      }
      const hooks = opts.hooks?.length ? new HookContext(opts.hooks.map(([filter, fn]) => ({ filter, fn }))) : undefined;
      // refuse before the wasm heap runs out (hooks need the unchunked [B, H, ℓ, ℓ] scores)
      const layout = opts.layout ? resolveLayout({ ...this.layout, ...opts.layout }, "DTransformer: layout") : this.layout;
      if (tf.getBackend() === "wasm") checkFits(this.cfg, { batch: ids.shape[0], length: start + l, layout, ...(hooks ? { chunked: false } : {}) });
      return tf.tidy(() => {
        const out = dTransformer(ids, this, { hooks, start, probs, layout });
        return batched ? out : out.squeeze([0]);
      });
    } finally {
      ids.dispose();
    }
  }
}

/**
 * KV cache for Alg 14: per layer the keys (before rotation) and values of the positions seen so far.
 * `length` is the number of cached positions; the next tokens sit at positions length, length+1, ….
 */
export class KVCache {
  readonly layers: LayerKV[];
  length = 0;
  constructor(nLayers: number) {
    this.layers = Array.from({ length: nLayers }, () => ({}));
  }
  /** Bytes held by the cached keys and values. */
  bytes(): number {
    return this.layers.reduce((n, l) => n + 4 * ((l.k?.size ?? 0) + (l.v?.size ?? 0)), 0);
  }
  dispose(): void {
    for (const l of this.layers) {
      l.k?.dispose();
      l.v?.dispose();
      delete l.k;
      delete l.v;
    }
    this.length = 0;
  }
}

/** Weights of layer l's multi-head attention (a bias that the config turns off is absent). */
function mhaWeights(p: ParamStore, l: number): MhaWeights {
  const a = `blocks.${l}.attn`;
  const g = (n: string) => p.get(`${a}.${n}`);
  const opt = (n: string) => (p.has(`${a}.${n}`) ? { [n]: p.get(`${a}.${n}`) } : {});
  return { W_q: g("W_q"), W_k: g("W_k"), W_v: g("W_v"), W_o: g("W_o"), ...opt("b_q"), ...opt("b_k"), ...opt("b_v"), ...opt("b_o") };
}

/** A parameter that the architecture options may leave out (a bias, LayerNorm's β under RMSNorm). */
function maybe(p: ParamStore, name: string): tf.Tensor | undefined {
  return p.has(name) ? p.get(name) : undefined;
}

/** Line 8's MLP of block `b` on X̃ [B, ℓ, d_e]: GELU (Alg 10) or the gated SiLU MLP (gate/up/down). */
function mlp(Xt: tf.Tensor, p: ParamStore, cfg: DTransformerConfig, b: string, h: HookContext | undefined): tf.Tensor {
  const g = (n: string) => p.get(`${b}.mlp.${n}`);
  let post: tf.Tensor;
  if (cfg.mlp === "gated-silu") {
    const pre = hp(h, `${b}.mlp.hook_pre`, linear(Xt, g("W_gate"), maybe(p, `${b}.mlp.b_gate`))); // gate
    const lin = hp(h, `${b}.mlp.hook_pre_linear`, linear(Xt, g("W_mlp1"), maybe(p, `${b}.mlp.b_mlp1`))); // up
    post = hp(h, `${b}.mlp.hook_post`, tf.mul(tf.mul(pre, tf.sigmoid(pre)), lin)); // SiLU(gate) ⊙ up
  } else {
    const pre = hp(h, `${b}.mlp.hook_pre`, linear(Xt, g("W_mlp1"), maybe(p, `${b}.mlp.b_mlp1`))); // [B, ℓ, d_mlp]
    post = hp(h, `${b}.mlp.hook_post`, gelu(pre, cfg.gelu));
  }
  return hp(h, `${b}.hook_mlp_out`, linear(post, g("W_mlp2"), maybe(p, `${b}.mlp.b_mlp2`))); // down
}

/** What one pass shares between its stages: positions, the positional encoding's context, the layout, hooks, the cache. */
export interface PassContext {
  pos: { start: number; length: number };
  kPos: { start: number; length: number };
  peCtx: PeContext;
  layout: Partial<AttentionLayout>;
  hooks?: HookContext | undefined;
  kv?: KVCache | undefined;
}

/** The context of a pass over ids [B, ℓ] (positions from the cache, or `start`). */
export function _passContext(ids: tf.Tensor, model: DTransformer, o: { hooks?: HookContext; start?: number; kv?: KVCache; layout?: Partial<AttentionLayout> } = {}): PassContext {
  const l = ids.shape[1]!; // line 1
  const pos = { start: o.kv ? o.kv.length : (o.start ?? 0), length: l }; // the new tokens' positions
  const kPos = o.kv ? { start: 0, length: pos.start + l } : pos; // keys: cached positions + the new ones
  return { pos, kPos, peCtx: { cfg: model.cfg, param: (n) => model.params.get(n) }, layout: o.layout ?? model.layout, hooks: o.hooks, kv: o.kv };
}

/** Lines 2–3: token (and absolute position) embeddings [B, ℓ, d_e]. */
export function _embedStage(ids: tf.Tensor, model: DTransformer, c: PassContext): tf.Tensor {
  const h = c.hooks;
  const pe = model.cfg.positional;
  const X = hp(h, "hook_embed", _tokenEmbedding(ids, model.params.get("W_e"))); // line 2: W_e[:, x[t]]   [B, ℓ, d_e]
  return pe.embed ? tf.add(X, hp(h, "hook_pos_embed", pe.embed(c.pos, c.peCtx))) : X; //        + W_p[:, t]       [ℓ, d_e]
}

/** Lines 4–8 for layer i: the residual stream after the layer (no tidy: the caller scopes it). */
export function _blockStage(i: number, Xin: tf.Tensor, model: DTransformer, c: PassContext): tf.Tensor {
  const { cfg, params: p } = model;
  const h = c.hooks;
  const b = `blocks.${i}`;
  const g = (n: string) => p.get(`${b}.${n}`);
  const norm = (n: string, X: tf.Tensor) => _norm(cfg.norm, X, g(`${n}.gamma`), maybe(p, `${b}.${n}.beta`), cfg.lnEps);
  let R = hp(h, `${b}.hook_resid_pre`, Xin); // line 3 (i = 0) / residual entering layer i
  const Xt = hp(h, `${b}.ln1.hook_normalized`, norm("ln1", R)); // line 5
  const attnOut = hp(h, `${b}.hook_attn_out`, _mhAttention(Xt, Xt, mhaWeights(p, i), { nHeads: cfg.nHeads, nKvHeads: cfg.nKvHeads, mask: "causal", pe: cfg.positional, peCtx: c.peCtx, qPos: c.pos, kPos: c.kPos, hooks: h, prefix: `${b}.attn`, kv: c.kv?.layers[i], layout: c.layout }));
  if (cfg.residual === "parallel") { // GPT-NeoX: both branches read the layer's input
    const mlpOut = mlp(hp(h, `${b}.ln2.hook_normalized`, norm("ln2", R)), p, cfg, b, h);
    return hp(h, `${b}.hook_resid_post`, tf.add(tf.add(R, attnOut), mlpOut)); // lines 6–8 in one
  }
  R = hp(h, `${b}.hook_resid_mid`, tf.add(R, attnOut)); // line 6
  const Xt2 = hp(h, `${b}.ln2.hook_normalized`, norm("ln2", R)); // line 7
  return hp(h, `${b}.hook_resid_post`, tf.add(R, mlp(Xt2, p, cfg, b, h))); // line 8
}

/** Lines 10–11: final norm and unembedding → logits [B, ℓ, N_V] (or [rows, N_V] for X [rows, d_e]). */
export function _headStage(X: tf.Tensor, model: DTransformer, h?: HookContext): tf.Tensor {
  const { cfg, params: p } = model;
  const Xn = hp(h, "ln_final.hook_normalized", _norm(cfg.norm, X, p.get("ln_final.gamma"), maybe(p, "ln_final.beta"), cfg.lnEps)); // line 10
  const tied = cfg.tiedEmbeddings;
  return hp(h, "hook_logits", _unembedLogits(Xn, tied ? p.get("W_e") : p.get("W_u"), tied)); // line 11: W_u X
}

/**
 * Algorithm 10 on validated ids [B, ℓ] → logits (or P if `probs`) [B, ℓ, N_V]. No checks, no tidy:
 * the hot path shared by the model, training and inference.
 */
export function dTransformer(ids: tf.Tensor, model: DTransformer, o: { hooks?: HookContext; start?: number; probs?: boolean; kv?: KVCache; layout?: Partial<AttentionLayout> } = {}): tf.Tensor {
  const c = _passContext(ids, model, o);
  const h = o.hooks;
  let X = _embedStage(ids, model, c);
  for (let i = 0; i < model.cfg.nLayers; i++) {
    const Xin = X;
    // one tidy per layer: the layer's temporaries are freed before the next (long ℓ fits the wasm heap)
    X = tf.tidy(() => _blockStage(i, Xin, model, c));
  }
  if (o.kv) o.kv.length += c.pos.length;
  const logits = _headStage(X, model, h);
  if (!o.probs && !h) return logits;
  const P = hp(h, "hook_probs", tf.softmax(logits, -1));
  return o.probs ? P : logits;
}
