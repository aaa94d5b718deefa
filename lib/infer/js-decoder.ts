/**
 * Algorithm 10 for ONE new token with a KV cache, in plain JavaScript over Float32Arrays: the decode
 * step of Alg 14 (dInference) on the wasm and cpu backends.
 *
 * Why: a decode step of the reference model is ~1 M multiply-adds, but on TF.js it is ~190 kernel
 * calls, each with a fixed engine cost, plus 4-D batched matMuls that take wasm's scalar kernel; that
 * overhead, not arithmetic, set the decode speed (docs/performance.md). Here the weights are read once
 * (dataSync) and each step is a handful of loops: matrix-vector products, layer norms, GELU, and
 * single-query attention over the cached keys and values (Alg 3), O(ℓ) per token.
 *
 * Same maths as dTransformer with a KVCache (test/infer/js-decoder.test.ts checks equality within
 * float32 tolerance for every positional encoding): keys are stored unrotated and rotated at their
 * position with the current θ'_j; when θ'_j changes (dynamic NTK past L) every cached key is rotated
 * again, as the tfjs path does. Position enters through the seams that lib/engine/seams.ts prepares
 * for a decode step (`stepSeams`): `embed` rows (read ahead when the encoding declares
 * traits.embedByPosition), the score scale, the score bias rows (a closed form under
 * traits.linearBias), and the rotary closed form under traits.rotaryLayout. An encoding that
 * rotates q and k without declaring how is refused (`jsDecoderUnsupported`): dInference then
 * keeps the tfjs path, which is also what it uses on tfjs-node(-gpu), where large kernels win.
 * Every architecture option runs here: RMSNorm, the gated SiLU MLP, grouped-query attention (the cache
 * holds H_kv heads; query head h reads head ⌊h / (H/H_kv)⌋), absent biases (read as 0), the parallel residual.
 */
import * as tf from "@tensorflow/tfjs";
import { stepSeams } from "../engine/seams.js";
import type { DTransformer, KVCache } from "../model/dtransformer.js";
import type { PeContext, PositionalEncoding } from "../positional/types.js";
import { gemvHeap, type GemvHeap } from "./gemv.js";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Why the JS decoder cannot run `model` (null when it can). */
export function jsDecoderUnsupported(model: DTransformer): string | null {
  return stepSeams(model.positional, { cfg: model.cfg, param: (n) => model.params.get(n) }).unsupported;
}

/** erf(x), Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5e-7, the formula of TF.js's cpu Erf kernel). */
export function erfApprox(x: number): number {
  const s = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-a * a);
  return s * y;
}

interface LayerWeights {
  ln1g: Float32Array; ln1b?: Float32Array; ln2g: Float32Array; ln2b?: Float32Array; // β absent under RMSNorm
  // float offsets into the heap (an absent bias is stored as zeros)
  Wqkv: number; bqkv: number; // [d_e, H·d_attn + H_kv·d_attn + H_kv·d_mid]: W_q | W_k | W_v side by side
  Wo: number; bo: number;
  Wg: number; bg: number; // gated MLP only (else 0-sized)
  W1: number; b1: number;
  W2: number; b2: number;
  kRot: number; // [H_kv][d_attn][capacity] keys rotated at their positions (transposed: scores are one gemv)
  v: number; // [H_kv][capacity][d_mid]
  kRaw: Float32Array; // [H_kv][d_attn][capacity] keys before rotation (a view of kRot's storage without rotation)
}

/** Layer norm (with β) or RMSNorm (b undefined: m = 0, no β) of x into out[o …]. */
function norm(x: Float64Array, g: Float32Array, b: Float32Array | undefined, eps: number, out: Float32Array, o: number, d: number): void {
  let m = 0;
  if (b) for (let i = 0; i < d; i++) m += x[i]!;
  m /= d;
  let v = 0;
  for (let i = 0; i < d; i++) v += (x[i]! - m) ** 2;
  const inv = 1 / Math.sqrt(v / d + eps);
  for (let i = 0; i < d; i++) out[o + i] = (x[i]! - m) * inv * g[i]! + (b ? b[i]! : 0);
}

/**
 * A decode session: built from a model and a KV cache filled by the prompt pass (the cache's tensors
 * are copied; the caller may dispose them), it feeds one token per `step` and returns its logits.
 * Holds room for `capacity` positions in all; weights are read once, so make a new decoder after the
 * model's weights change. Products run on a GemvHeap (WebAssembly SIMD, or plain JS with `prefer: "js"`).
 */
export class JsDecoder {
  /** number of positions cached (the next token sits at position `length`) */
  length: number;
  /** which product implementation runs ("wasm-simd" or "js") */
  readonly kind: GemvHeap["kind"];
  private readonly heap: GemvHeap;
  private readonly layers: LayerWeights[] = [];
  private readonly W_e: Float32Array;
  private readonly Wu: number; // [d_e, N_V] (W_eᵀ when tied)
  private readonly lnfg: Float32Array;
  private readonly lnfb?: Float32Array;
  private readonly pe: PositionalEncoding;
  private readonly peCtx: PeContext;
  private readonly seams: ReturnType<typeof stepSeams>;
  private embedRows?: { start: number; rows: Float32Array; count: number };
  private inv?: Float64Array; // θ'_j the rotated keys were rotated with
  private cos!: Float32Array; // [capacity][d/2] for this.inv
  private sin!: Float32Array;
  private tableLen = 0; // positions filled in cos/sin
  private readonly x: Float64Array; // the residual stream
  private readonly bias: Float64Array;
  // scratch offsets in the heap
  private readonly xt: number;
  private readonly qkv: number;
  private readonly q: number;
  private readonly scores: number;
  private readonly z: number;
  private readonly out: number;
  private readonly mlpOut: number;
  private readonly hid: number;
  private readonly gate: number;
  private readonly logits: number;

  constructor(private readonly model: DTransformer, kv: KVCache, readonly capacity: number, opts: { prefer?: "auto" | "js" } = {}) {
    const { cfg, params: p } = model;
    const [H, Hkv, dA, dM, dE, dMlp, nV] = [cfg.nHeads, cfg.nKvHeads, cfg.dAttn, cfg.dMid, cfg.dE, cfg.dMlp, cfg.nVocab];
    const read = (n: string) => p.get(n).dataSync() as Float32Array;
    const readOr0 = (n: string, len: number) => (p.has(n) ? read(n) : new Float32Array(len)); // an absent bias adds 0
    const maybe = (n: string) => (p.has(n) ? read(n) : undefined);
    if (!(Number.isSafeInteger(capacity) && capacity >= kv.length + 1)) throw new RangeError(`JsDecoder: capacity=${capacity} must be an integer above the cached length ${kv.length}`);
    this.length = kv.length;
    const pe: PositionalEncoding = cfg.positional;
    this.pe = pe;
    this.peCtx = { cfg, param: (n) => p.get(n) };
    this.seams = stepSeams(pe, this.peCtx);
    if (this.seams.unsupported) throw new RangeError(`JsDecoder: ${this.seams.unsupported}`);
    const gated = cfg.mlp === "gated-silu";
    const [nQ, nK] = [H * dA, Hkv * dA];
    const nQkv = nQ + nK + Hkv * dM;
    const nGate = gated ? dE * dMlp + dMlp : 0;
    const perLayer = dE * nQkv + nQkv + H * dM * dE + dE + nGate + dE * dMlp + dMlp + dMlp * dE + dE + Hkv * dA * capacity + Hkv * capacity * dM;
    const scratch = dE + nQkv + dA + capacity + H * dM + 2 * dE + 2 * dMlp + nV;
    this.heap = gemvHeap(cfg.nLayers * perLayer + dE * nV + scratch, opts.prefer ?? "auto");
    this.kind = this.heap.kind;
    const h = this.heap.f32;
    let top = 0;
    const alloc = (n: number, init?: ArrayLike<number>) => {
      const at = top;
      if (init) h.set(init, at);
      else h.fill(0, at, at + n);
      top += n;
      return at;
    };
    this.W_e = read("W_e");
    const Wu = alloc(dE * nV, cfg.tiedEmbeddings ? undefined : read("W_u"));
    if (cfg.tiedEmbeddings) for (let v = 0; v < nV; v++) for (let i = 0; i < dE; i++) h[Wu + i * nV + v] = this.W_e[v * dE + i]!;
    this.Wu = Wu;
    this.lnfg = read("ln_final.gamma");
    const lnfb = maybe("ln_final.beta");
    if (lnfb) this.lnfb = lnfb;
    for (let l = 0; l < cfg.nLayers; l++) {
      const b = `blocks.${l}`;
      const [Wq, Wk, Wv] = ["W_q", "W_k", "W_v"].map((n) => read(`${b}.attn.${n}`));
      const Wqkv = alloc(dE * nQkv);
      for (let i = 0; i < dE; i++) {
        h.set(Wq!.subarray(i * nQ, (i + 1) * nQ), Wqkv + i * nQkv);
        h.set(Wk!.subarray(i * nK, (i + 1) * nK), Wqkv + i * nQkv + nQ);
        h.set(Wv!.subarray(i * Hkv * dM, (i + 1) * Hkv * dM), Wqkv + i * nQkv + nQ + nK);
      }
      const bqkv = alloc(nQkv);
      h.set(readOr0(`${b}.attn.b_q`, nQ), bqkv);
      h.set(readOr0(`${b}.attn.b_k`, nK), bqkv + nQ);
      h.set(readOr0(`${b}.attn.b_v`, Hkv * dM), bqkv + nQ + nK);
      const L: LayerWeights = {
        ln1g: read(`${b}.ln1.gamma`), ln2g: read(`${b}.ln2.gamma`),
        Wqkv, bqkv,
        Wo: alloc(H * dM * dE, read(`${b}.attn.W_o`)), bo: alloc(dE, readOr0(`${b}.attn.b_o`, dE)),
        Wg: gated ? alloc(dE * dMlp, read(`${b}.mlp.W_gate`)) : 0, bg: gated ? alloc(dMlp, readOr0(`${b}.mlp.b_gate`, dMlp)) : 0,
        W1: alloc(dE * dMlp, read(`${b}.mlp.W_mlp1`)), b1: alloc(dMlp, readOr0(`${b}.mlp.b_mlp1`, dMlp)),
        W2: alloc(dMlp * dE, read(`${b}.mlp.W_mlp2`)), b2: alloc(dE, readOr0(`${b}.mlp.b_mlp2`, dE)),
        kRot: alloc(Hkv * dA * capacity), v: alloc(Hkv * capacity * dM), kRaw: new Float32Array(0),
      };
      const [ln1b, ln2b] = [maybe(`${b}.ln1.beta`), maybe(`${b}.ln2.beta`)];
      if (ln1b) L.ln1b = ln1b;
      if (ln2b) L.ln2b = ln2b;
      L.kRaw = this.seams.rotary ? new Float32Array(Hkv * dA * capacity) : h.subarray(L.kRot, L.kRot + Hkv * dA * capacity);
      this.copyCache(L, kv, l);
      this.layers.push(L);
    }
    this.xt = alloc(dE);
    this.qkv = alloc(nQkv);
    this.q = alloc(dA);
    this.scores = alloc(capacity);
    this.z = alloc(H * dM);
    this.out = alloc(dE);
    this.mlpOut = alloc(dE);
    this.hid = alloc(dMlp);
    this.gate = alloc(dMlp);
    this.logits = alloc(nV);
    this.x = new Float64Array(dE);
    this.bias = new Float64Array(H * capacity);
  }

  /** Copy layer l's cached keys [1, H_kv, n, d_attn] (transposed) and values [1, H_kv, n, d_mid] from the prompt pass. */
  private copyCache(L: LayerWeights, kv: KVCache, l: number): void {
    const { nKvHeads: Hkv, dAttn: dA, dMid: dM } = this.model.cfg;
    const [n, cap, h] = [kv.length, this.capacity, this.heap.f32];
    if (n === 0) return;
    const ck = kv.layers[l]?.k;
    const cv = kv.layers[l]?.v;
    if (!ck || !cv || ck.shape[2] !== n || cv.shape[2] !== n || ck.shape[1] !== Hkv) throw new RangeError(`JsDecoder: layer ${l} of the KV cache does not hold ${n} positions of H_kv=${Hkv} heads`);
    const k = ck.dataSync() as Float32Array;
    for (let hd = 0; hd < Hkv; hd++) for (let t = 0; t < n; t++) for (let d = 0; d < dA; d++) L.kRaw[(hd * dA + d) * cap + t] = k[(hd * n + t) * dA + d]!;
    const v = cv.dataSync() as Float32Array;
    for (let hd = 0; hd < Hkv; hd++) h.set(v.subarray(hd * n * dM, (hd + 1) * n * dM), L.v + hd * cap * dM);
  }

  /** Feed `token` at position `length`; returns its logits [N_V] (pre-softmax). */
  step(token: number): Float32Array {
    const { cfg } = this.model;
    const [dE, nV] = [cfg.dE, cfg.nVocab];
    const pos = this.length;
    const nK = pos + 1; // keys at positions 0 … pos
    if (nK > this.capacity) throw new RangeError(`JsDecoder: position ${pos} is past the capacity of ${this.capacity} positions`);
    if (!Number.isInteger(token) || token < 0 || token >= nV) throw new RangeError(`JsDecoder: token=${token} must be an integer id in [0, N_V=${nV})`);
    const { x, bias } = this;
    const { f32: h, gemv } = this.heap;
    const { xt, out, mlpOut } = this;
    for (let i = 0; i < dE; i++) x[i] = this.W_e[token * dE + i]!; // line 2: W_e[:, x[t]]
    if (this.pe.embed) {
      const row = this.embedRow(pos);
      for (let i = 0; i < dE; i++) x[i] += row[i]!; //                 + W_p[:, t]
    }
    const scale = this.seams.scale(pos);
    const hasBias = this.seams.biasRows(pos, nK, bias, this.capacity);
    const rotated = this.seams.rotary ? this.prepareRotation(nK) : 0; // rotated pairs per head (0: none)
    for (const L of this.layers) {
      norm(x, L.ln1g, L.ln1b, cfg.lnEps, h, xt, dE); // line 5
      this.attend(L, pos, scale, hasBias, rotated); // line 6's MHAttention → out
      if (cfg.residual === "parallel") { // GPT-NeoX: the MLP reads the layer's input too
        norm(x, L.ln2g, L.ln2b, cfg.lnEps, h, xt, dE);
        this.mlp(L);
        for (let i = 0; i < dE; i++) x[i] += h[out + i]! + h[mlpOut + i]!;
        continue;
      }
      for (let i = 0; i < dE; i++) x[i] += h[out + i]!; // line 6
      norm(x, L.ln2g, L.ln2b, cfg.lnEps, h, xt, dE); // line 7
      this.mlp(L); // line 8
      for (let i = 0; i < dE; i++) x[i] += h[mlpOut + i]!;
    }
    this.length = nK;
    norm(x, this.lnfg, this.lnfb, cfg.lnEps, h, xt, dE); // line 10
    h.fill(0, this.logits, this.logits + nV);
    gemv(xt, this.Wu, this.logits, dE, nV, nV); // line 11: W_u X
    return h.slice(this.logits, this.logits + nV);
  }

  /** Multi-head attention (Alg 5) of the normalised xt at `pos` over the cached keys; W_o Y + b_o into out. */
  private attend(L: LayerWeights, pos: number, scale: number, hasBias: boolean, rotated: number): void {
    const { nHeads: H, nKvHeads: Hkv, dAttn: dA, dMid: dM, dE } = this.model.cfg;
    const { f32: h, gemv } = this.heap;
    const { xt, qkv, q, scores, z, out, bias } = this;
    const [cap, nK, group] = [this.capacity, pos + 1, H / Hkv];
    const [kOff, vOff] = [H * dA, H * dA + Hkv * dA];
    const nQkv = vOff + Hkv * dM;
    h.copyWithin(qkv, L.bqkv, L.bqkv + nQkv);
    gemv(xt, L.Wqkv, qkv, dE, nQkv, nQkv); // Alg 4 lines 1–3
    for (let g = 0; g < Hkv; g++) {
      for (let d = 0; d < dA; d++) L.kRaw[(g * dA + d) * cap + pos] = h[qkv + kOff + g * dA + d]!;
      h.copyWithin(L.v + (g * cap + pos) * dM, qkv + vOff + g * dM, qkv + vOff + (g + 1) * dM);
    }
    if (rotated) this.rotateKeys(L, pos, pos + 1);
    for (let hd = 0; hd < H; hd++) {
      const g = group === 1 ? hd : Math.floor(hd / group); // its key/value head (seams.ts, headOf)
      h.copyWithin(q, qkv + hd * dA, qkv + (hd + 1) * dA);
      if (rotated) this.rotateQuery(h, q, pos, rotated);
      // scores over keys 0 … pos (all ≤ the query: the causal mask removes nothing)
      h.fill(0, scores, scores + nK);
      gemv(q, L.kRot + g * dA * cap, scores, dA, nK, cap);
      let max = -Infinity;
      for (let t = 0; t < nK; t++) {
        let s = h[scores + t]! * scale;
        if (hasBias) s += bias[hd * cap + t]!;
        h[scores + t] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let t = 0; t < nK; t++) {
        const e = Math.exp(h[scores + t]! - max);
        h[scores + t] = e;
        sum += e;
      }
      const inv = 1 / sum;
      for (let t = 0; t < nK; t++) h[scores + t]! *= inv;
      h.fill(0, z + hd * dM, z + (hd + 1) * dM);
      gemv(scores, L.v + g * cap * dM, z + hd * dM, nK, dM, dM); // Σ_t α_t v_t
    }
    h.copyWithin(out, L.bo, L.bo + dE);
    gemv(z, L.Wo, out, H * dM, dE, dE); // W_o Y + b_o
  }

  /** Line 8's MLP of the normalised xt into mlpOut: GELU, or SiLU(gate) ⊙ up for the gated MLP. */
  private mlp(L: LayerWeights): void {
    const { dE, dMlp, gelu, mlp } = this.model.cfg;
    const { f32: h, gemv } = this.heap;
    const { xt, hid, gate, mlpOut } = this;
    h.copyWithin(hid, L.b1, L.b1 + dMlp);
    gemv(xt, L.W1, hid, dE, dMlp, dMlp); // W_mlp1 X̃ + b_mlp1 (up)
    if (mlp === "gated-silu") {
      h.copyWithin(gate, L.bg, L.bg + dMlp);
      gemv(xt, L.Wg, gate, dE, dMlp, dMlp);
      for (let i = 0; i < dMlp; i++) { const u = h[gate + i]!; h[hid + i] = (u / (1 + Math.exp(-u))) * h[hid + i]!; }
    } else if (gelu === "exact") for (let i = hid; i < hid + dMlp; i++) h[i] = 0.5 * h[i]! * (1 + erfApprox(h[i]! * Math.SQRT1_2));
    else for (let i = hid; i < hid + dMlp; i++) { const u = h[i]!; h[i] = 0.5 * u * (1 + Math.tanh(SQRT_2_OVER_PI * u * (1 + 0.044715 * u * u))); }
    h.copyWithin(mlpOut, L.b2, L.b2 + dE);
    gemv(hid, L.W2, mlpOut, dMlp, dE, dE); // W_mlp2 (·) + b_mlp2 (down)
  }

  /** Row `pos` of the additive table (read in blocks of 64 for position-only encodings). */
  private embedRow(pos: number): Float32Array {
    const dE = this.model.cfg.dE;
    const e = this.embedRows;
    if (e && pos >= e.start && pos < e.start + e.count) return e.rows.subarray((pos - e.start) * dE, (pos - e.start + 1) * dE);
    const max = this.pe.maxPositions?.(this.model.cfg) ?? Infinity;
    const count = this.seams.embedAhead ? Math.max(1, Math.min(64, this.capacity - pos, max - pos)) : 1;
    const rows = tf.tidy(() => this.pe.embed!({ start: pos, length: count }, this.peCtx).dataSync() as Float32Array);
    this.embedRows = { start: pos, rows: rows.slice(), count };
    return this.embedRows.rows.subarray(0, dE);
  }

  /**
   * θ'_j for a sequence of nK positions; when it differs from the one the cached keys were rotated
   * with (first step, or dynamic NTK past L), recompute the cos/sin tables and rotate every cached key
   * again. Returns the number of rotated pairs.
   */
  private prepareRotation(nK: number): number {
    const inv = this.seams.rotary!.inverseFrequencies(nK);
    const same = this.inv && this.inv.length === inv.length && this.inv.every((v, j) => v === inv[j]);
    if (!same) {
      this.inv = inv;
      this.cos = new Float32Array(this.capacity * inv.length);
      this.sin = new Float32Array(this.capacity * inv.length);
      this.tableLen = 0;
      this.ensureTables(nK);
      for (const L of this.layers) this.rotateKeys(L, 0, nK - 1);
    }
    this.ensureTables(nK);
    return inv.length;
  }

  /** cos and sin of m·θ'_j for m < n (float64 angle, float32 table: as rotaryTables). */
  private ensureTables(n: number): void {
    const inv = this.inv!;
    const hh = inv.length;
    for (let m = this.tableLen; m < n; m++) {
      for (let j = 0; j < hh; j++) {
        const a = m * inv[j]!;
        this.cos[m * hh + j] = Math.cos(a);
        this.sin[m * hh + j] = Math.sin(a);
      }
    }
    this.tableLen = Math.max(this.tableLen, n);
  }

  /** kRot[:, :, t] ← rotation of kRaw[:, :, t] at position t, for t in [from, to). */
  private rotateKeys(L: LayerWeights, from: number, to: number): void {
    const { nKvHeads: H, dAttn: dA } = this.model.cfg; // the cache's H_kv key heads
    const hh = this.inv!.length;
    const cap = this.capacity;
    const inter = this.seams.rotary!.layout === "interleaved";
    const h = this.heap.f32;
    for (let hd = 0; hd < H; hd++) {
      const base = hd * dA * cap;
      for (let d = 2 * hh; d < dA; d++) for (let t = from; t < to; t++) h[L.kRot + base + d * cap + t] = L.kRaw[base + d * cap + t]!;
      for (let j = 0; j < hh; j++) {
        const oa = base + (inter ? 2 * j : j) * cap;
        const ob = base + (inter ? 2 * j + 1 : j + hh) * cap;
        for (let t = from; t < to; t++) {
          const c = this.cos[t * hh + j]!;
          const s = this.sin[t * hh + j]!;
          const a = L.kRaw[oa + t]!;
          const b = L.kRaw[ob + t]!;
          h[L.kRot + oa + t] = a * c - b * s;
          h[L.kRot + ob + t] = a * s + b * c;
        }
      }
    }
  }

  private rotateQuery(h: Float32Array, q: number, pos: number, hh: number): void {
    const inter = this.seams.rotary!.layout === "interleaved";
    for (let j = 0; j < hh; j++) {
      const ia = q + (inter ? 2 * j : j);
      const ib = q + (inter ? 2 * j + 1 : j + hh);
      const c = this.cos[pos * hh + j]!;
      const s = this.sin[pos * hh + j]!;
      const a = h[ia]!;
      const b = h[ib]!;
      h[ia] = a * c - b * s;
      h[ib] = a * s + b * c;
    }
  }
}
