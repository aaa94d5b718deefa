/**
 * Chunked (query-blocked) exact attention for long contexts: the same values as Alg 4/5, computed
 * in blocks of `chunk` query rows so that attention memory is O(ℓ·chunk), not O(B·H·ℓ²).
 *
 * For a block of queries [t0, t1) only the keys that the mask lets them see are used — under the
 * causal mask the prefix [0, t1) — so one block's scores are [rows, t1] per (batch, head):
 *   S = (q·scale)·kᵀ + bias;  P = softmax(S);  Y_block = P·V.
 * Position enters through the plan's seams (seams.ts): the rotations once for the whole sequence (q and
 * k are only [ℓ, d] per head), the score bias per block from the block's PositionRanges (ALiBi accepts
 * any ranges), the scale folded into q. Every product is a 2-D matMul of one (batch, head) block (XNNPACK's fast
 * path on wasm; docs/performance.md); per-head projections come from column slices of the weights as in
 * `attendPerHead`. Rows and key prefixes are cut with `cut2d`, which on wasm copies only the
 * rows it returns, straight from the heap (wasm's Slice first copies its whole input out of the heap,
 * and its Gather runs at ~30 ns per element). Each block runs in its own tf.tidy.
 *
 * Gradients: the blocks form one tf.customGrad op that saves only q, k, v and the output and
 * recomputes each block's P in the backward pass (as FlashAttention does):
 *   D = rowsum(dY ⊙ Y);  dV += Pᵀ·dY;  dP = dY·Vᵀ;  dS = P ⊙ (dP − D);  dq = dS·K;  dK += dSᵀ·q.
 * So training memory for attention is O(ℓ·d) per layer plus one block, instead of the P tensors.
 *
 * Block size: rows = min(chunk, ⌊blockBytes / (4·ℓ_k·f)⌋) with f the number of [rows, ℓ_k] tensors
 * alive at once (3, or 2H + 3 with a per-head score bias), so one block's working set stays under
 * `blockBytes` (default 256 MiB) even at ℓ = 64k (341 rows there; 1,024 up to ℓ ≈ 21k). Blocks run
 * last first: each block's [rows, kEnd] tensors are then no larger than the previous block's and reuse
 * their heap space (in the natural order every block outgrows the holes of the last one, and the wasm
 * heap, which never shrinks, grew to ~5× the working set at ℓ = 64k).
 */
import * as tf from "@tensorflow/tfjs";
import type { PositionRange } from "../positional/types.js";
import { transpose2d } from "../tensor/fast-kernels.js";
import { mm } from "../tensor/ops.js";
import { splitRows } from "../tensor/split-rows.js";
import { causalBias } from "./mask-bias.js";
import { DEFAULT_CHUNK } from "./layout-options.js";
import { appendKV, headCols, planAttention, type AttendOptions, type MaskOption, type QkvWeights } from "./seams.js";

/** Default upper bound on one block's working set (bytes). */
export const DEFAULT_BLOCK_BYTES = 256 * 2 ** 20;

/** Options of the chunked path. */
export interface ChunkOptions {
  /** query rows per block (default DEFAULT_CHUNK) */
  chunk?: number;
  /** upper bound on one block's working set in bytes; may lower the rows per block (default 256 MiB) */
  blockBytes?: number;
}

/** Rows per block for ℓ_k keys (see the header). */
export function blockRows(lq: number, lk: number, H: number, perHeadBias: boolean, c: ChunkOptions = {}): number {
  const chunk = Math.max(1, Math.floor(c.chunk ?? DEFAULT_CHUNK));
  const f = perHeadBias ? 2 * H + 3 : 3;
  const byBudget = Math.floor((c.blockBytes ?? DEFAULT_BLOCK_BYTES) / (4 * Math.max(1, lk) * f));
  return Math.max(1, Math.min(chunk, lq, Math.max(16, byBudget)));
}

/** What the blocked product needs besides q, k, v; peBias gives a block's [H, rows, kEnd] encoding bias. */
interface Spec {
  B: number;
  H: number;
  lq: number;
  lk: number;
  qStart: number;
  kStart: number;
  rows: number;
  mask: MaskOption;
  maskBias: (q: PositionRange, k: PositionRange, rowOffset: number) => tf.Tensor | undefined;
  peBias?: (q: PositionRange, k: PositionRange) => tf.Tensor;
}

/** Query rows [t0, t0 + rows), which see keys [0, kEnd). */
type Block = { t0: number; rows: number; kEnd: number };

/** The query blocks and how many keys each sees. */
function blocksOf(s: Spec): Block[] {
  const out: Block[] = [];
  for (let t0 = 0; t0 < s.lq; t0 += s.rows) {
    const rows = Math.min(s.rows, s.lq - t0);
    const last = s.qStart + t0 + rows - 1 - s.kStart; // key index of the last query's own position
    const causal = s.mask === "causal" && s.qStart + t0 >= s.kStart; // every row sees ≥ 1 key
    out.push({ t0, rows, kEnd: causal ? Math.min(s.lk, last + 1) : s.lk });
  }
  return out;
}

/** The block's additive bias (mask + encoding): [rows, kEnd] shared by all heads, or [H, rows, kEnd]. */
function blockBias(s: Spec, b: Block, tri: Map<number, tf.Tensor>): tf.Tensor | undefined {
  let mask: tf.Tensor | undefined;
  const off = s.qStart + b.t0 - s.kStart;
  if (s.mask === "causal") {
    if (off >= 0 && off + b.rows <= b.kEnd) {
      let t = tri.get(b.rows);
      if (!t) tri.set(b.rows, (t = tf.keep(causalBias(b.rows, b.rows))));
      mask = off === 0 ? t.clone() : tf.pad(t, [[0, 0], [off, 0]]); // keys before the block's first query: 0
    } else mask = s.maskBias({ start: s.qStart + b.t0, length: b.rows }, { start: s.kStart, length: b.kEnd }, b.t0);
  } else mask = s.maskBias({ start: s.qStart + b.t0, length: b.rows }, { start: s.kStart, length: b.kEnd }, b.t0);
  if (!s.peBias) return mask;
  const pe = s.peBias({ start: s.qStart + b.t0, length: b.rows }, { start: s.kStart, length: b.kEnd });
  if (!mask) return pe;
  const both = tf.add(pe, mask);
  tf.dispose([pe, mask]);
  return both;
}

const CUT = "CtxlabCut2D";

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array;
}

if (!tf.getKernel(CUT, "wasm")) {
  tf.registerKernel({
    kernelName: CUT,
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const x = inputs.x!;
      const [r0, r, c0, c] = attrs!.box as number[];
      const n = x.shape[1]!;
      const be = backend as unknown as HeapBackend;
      const out = be.makeOutput([r!, c!], x.dtype); // allocate first: growing the heap detaches old views
      const dst = be.typedArrayFromHeap(out);
      const src = be.typedArrayFromHeap(x);
      if (c === n) dst.set(src.subarray(r0! * n, (r0! + r!) * n));
      else for (let i = 0; i < r!; i++) dst.set(src.subarray((r0! + i) * n + c0!, (r0! + i) * n + c0! + c!), i * c!);
      return out;
    },
  });
}

/** Rows [r0, r0+r) and columns [c0, c0+c) of a 2-D float32 tensor (no gradient; used inside the custom op). */
export function cut2d(x: tf.Tensor, r0: number, r: number, c0 = 0, c = x.shape[1]! - c0): tf.Tensor {
  const [m, n] = x.shape as [number, number];
  if (r0 === 0 && r === m && c0 === 0 && c === n) return x;
  if (tf.getBackend() !== "wasm" || x.dtype !== "float32") return tf.slice(x, [r0, c0], [r, c]);
  return tf.engine().runKernel(CUT, { x }, { box: [r0, r, c0, c] }) as tf.Tensor;
}

/** Head h's [rows, kEnd] part of a block bias (a contiguous cut: no copy of the other heads). */
function headBias(bias: tf.Tensor | undefined, h: number): tf.Tensor | undefined {
  if (!bias || bias.rank === 2) return bias;
  const [H, r, k] = bias.shape as [number, number, number];
  return cut2d(bias.reshape([H * r, k]), h * r, r);
}

/** P = softmax(q_block·kᵀ_prefix + bias) for one (batch, head) block; returns [qc, P]. */
function probs(q: tf.Tensor, kT: tf.Tensor, b: Block, bias: tf.Tensor | undefined): [tf.Tensor, tf.Tensor] {
  const qc = cut2d(q, b.t0, b.rows); // [rows, d]
  const kTp = cut2d(kT, 0, kT.shape[0]!, 0, b.kEnd); // [d, kEnd]
  let sc = tf.matMul(qc, kTp);
  if (bias) {
    const t = tf.add(sc, bias);
    sc.dispose();
    sc = t;
  }
  const p = tf.softmax(sc, -1);
  sc.dispose();
  return [qc, p];
}

/**
 * The blocked product over B·H (batch, head) pairs as one differentiable op: qs, ks, vs are
 * [ℓ_q, d], [ℓ_k, d], [ℓ_k, d_mid] in order b·H + h, q already scaled; returns [B, ℓ_q, H·d_mid].
 */
function blockedAttention(qs: tf.Tensor[], ks: tf.Tensor[], vs: tf.Tensor[], s: Spec): tf.Tensor {
  const n = qs.length;
  const blocks = blocksOf(s);
  const tri = new Map<number, tf.Tensor>();
  const op = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [Q, K, V] = [0, 1, 2].map((j) => args.slice(j * n, (j + 1) * n) as tf.Tensor[]) as [tf.Tensor[], tf.Tensor[], tf.Tensor[]];
    const kTs = K.map((k) => transpose2d(k));
    const parts: tf.Tensor[] = [];
    for (const b of [...blocks].reverse()) {
      parts.unshift(tf.tidy(() => {
        const bias = blockBias(s, b, tri);
        const heads: tf.Tensor[] = [];
        for (let i = 0; i < n; i++) {
          heads.push(tf.tidy(() => {
            const [, p] = probs(Q[i]!, kTs[i]!, b, headBias(bias, i % s.H));
            return tf.matMul(p, cut2d(V[i]!, 0, b.kEnd)); // [rows, d_mid]
          }));
        }
        const perBatch = Array.from({ length: s.B }, (_, bb) => (s.H === 1 ? heads[bb]! : tf.concat(heads.slice(bb * s.H, (bb + 1) * s.H), 1)));
        return tf.stack(perBatch); // [B, rows, H·d_mid]
      }));
    }
    const value = parts.length === 1 ? parts[0]! : tf.concat(parts, 1);
    save([...Q, ...K, ...V, value]);
    return { value, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backward(dy, saved, s, blocks, tri) };
  }) as Parameters<typeof tf.customGrad>[0]);
  try {
    return op(...qs, ...ks, ...vs);
  } finally {
    tf.dispose([...tri.values()]);
    tri.clear();
  }
}

/** Gradients of the blocked product, block by block, recomputing P (see the header). */
function backward(dy: tf.Tensor, saved: tf.Tensor[], s: Spec, blocks: Block[], tri: Map<number, tf.Tensor>): tf.Tensor[] {
  const n = s.B * s.H;
  const Q = saved.slice(0, n);
  const K = saved.slice(n, 2 * n);
  const V = saved.slice(2 * n, 3 * n);
  const out = saved[3 * n]!;
  const dMid = V[0]!.shape[1]!;
  const HD = s.H * dMid;
  const dy2 = dy.reshape([s.B * s.lq, HD]);
  const out2 = out.reshape([s.B * s.lq, HD]);
  const kTs = K.map((k) => transpose2d(k));
  const vTs = V.map((v) => transpose2d(v));
  const dQ: tf.Tensor[][] = Array.from({ length: n }, () => []);
  let dK = K.map((k) => tf.zerosLike(k));
  let dV = V.map((v) => tf.zerosLike(v));
  try {
    for (const b of [...blocks].reverse()) {
      const next = tf.tidy(() => {
        const bias = blockBias(s, b, tri);
        const res: tf.Tensor[] = [];
        for (let bb = 0; bb < s.B; bb++) {
          const dyB = cut2d(dy2, bb * s.lq + b.t0, b.rows); // [rows, H·d_mid]
          const oB = cut2d(out2, bb * s.lq + b.t0, b.rows);
          for (let h = 0; h < s.H; h++) {
            const i = bb * s.H + h;
            res.push(...tf.tidy(() => {
              const dyh = cut2d(dyB, 0, b.rows, h * dMid, dMid);
              const oh = cut2d(oB, 0, b.rows, h * dMid, dMid);
              const D = tf.sum(tf.mul(dyh, oh), 1, true); // [rows, 1]
              const [qc, p] = probs(Q[i]!, kTs[i]!, b, headBias(bias, h));
              const dVp = tf.matMul(transpose2d(p), dyh); // [kEnd, d_mid]
              const dP = tf.matMul(dyh, cut2d(vTs[i]!, 0, dMid, 0, b.kEnd)); // [rows, kEnd]
              const dS = tf.mul(p, tf.sub(dP, D));
              const dq = tf.matMul(dS, cut2d(K[i]!, 0, b.kEnd)); // [rows, d]
              const dKp = tf.matMul(transpose2d(dS), qc); // [kEnd, d]
              const pad = (t: tf.Tensor) => (b.kEnd < s.lk ? tf.pad(t, [[0, s.lk - b.kEnd], [0, 0]]) : t);
              return [dq, tf.add(dK[i]!, pad(dKp)), tf.add(dV[i]!, pad(dVp))];
            }));
          }
        }
        return res;
      });
      tf.dispose([...dK, ...dV]);
      dK = next.filter((_, j) => j % 3 === 1);
      dV = next.filter((_, j) => j % 3 === 2);
      next.filter((_, j) => j % 3 === 0).forEach((dq, i) => dQ[i]!.unshift(dq));
    }
    const dq = dQ.map((list) => (list.length === 1 ? list[0]! : tf.concat(list, 0)));
    dQ.forEach((list) => list.length > 1 && tf.dispose(list));
    return [...dq, ...dK, ...dV];
  } finally {
    tf.dispose([...kTs, ...vTs, ...[...tri.values()]]);
    tri.clear();
  }
}

/**
 * Multi-head attention computed in query blocks: X [B, ℓ_x, d_x] attends to Z [B, ℓ_z, d_z] (plus
 * the cached keys/values when `o.kv` is given, which is filled with the full new keys and values).
 * Hooks are not called (the dispatch sends hooked calls to the batched form).
 * Returns Y with heads side by side: [B, ℓ_x, H·d_mid], the same as `attendPerHead`.
 */
export function attendChunked(X: tf.Tensor, Z: tf.Tensor, w: QkvWeights, o: AttendOptions, c: ChunkOptions = {}): tf.Tensor {
  const plan = planAttention(X, Z, w, o);
  const { H, Hkv, B, lq, lk, dAttn, dMid, qPos, kPos, scale } = plan;
  const lz = Z.shape[1]!;
  const X2 = X.reshape([B * lq, X.shape[2]!]);
  const Z2 = X === Z ? X2 : Z.reshape([B * lz, Z.shape[2]!]);
  const proj = (A: tf.Tensor, W: tf.Tensor, b: tf.Tensor | undefined, g: number, d: number, l: number) => {
    const [Wg, bg] = headCols(W, b, g, d);
    return (bg ? tf.add(mm(A, Wg), bg) : mm(A, Wg)).reshape([B, 1, l, d]);
  };
  const heads = Array.from({ length: H }, (_, h) => h);
  const kvHeads = Array.from({ length: Hkv }, (_, g) => g);
  let ks = kvHeads.map((g) => proj(Z2, w.W_k, w.b_k, g, dAttn, lz)); // [B, 1, ℓ_z, d_attn] per key/value head
  let vs = kvHeads.map((g) => proj(Z2, w.W_v, w.b_v, g, dMid, lz));
  if (o.kv) {
    const hadPast = o.kv.k !== undefined;
    const [fullK, fullV] = appendKV(o.kv, Hkv === 1 ? ks[0]! : tf.concat(ks, 1), Hkv === 1 ? vs[0]! : tf.concat(vs, 1));
    if (hadPast) {
      ks = kvHeads.map((g) => tf.slice(fullK, [0, g, 0, 0], [-1, 1, -1, -1]));
      vs = kvHeads.map((g) => tf.slice(fullV, [0, g, 0, 0], [-1, 1, -1, -1]));
    }
  }
  const byBatch = (t: tf.Tensor, l: number, d: number) => splitRows(t.reshape([B * l, d]), B); // not tf.unstack: slow on wasm
  const perHead = heads.map((h) => {
    // one tidy per head: only the rotated, scaled q, the rotated k and v outlive it (O(ℓ·d) each)
    const [q, k, v] = tf.tidy(() => {
      let q = proj(X2, w.W_q, w.b_q, plan.headOf(h).q, dAttn, lq);
      let k = ks[plan.headOf(h).k]!;
      if (plan.rotateQ && plan.rotateK) [q, k] = [plan.rotateQ(q), plan.rotateK(k)];
      return [tf.mul(q, scale), k, vs[plan.headOf(h).v]!];
    });
    return { q: byBatch(q, lq, dAttn), k: byBatch(k, lk, dAttn), v: byBatch(v, lk, dMid) };
  });
  const order = (f: (p: (typeof perHead)[number]) => tf.Tensor[]) => Array.from({ length: B * H }, (_, i) => f(perHead[i % H]!)[Math.floor(i / H)]!); // b·H + h
  const rows = blockRows(lq, lk, H, plan.scoreBias !== undefined, c);
  const spec: Spec = { B, H, lq, lk, qStart: qPos.start, kStart: kPos.start, rows, mask: o.mask, maskBias: plan.maskBias, ...(plan.scoreBias ? { peBias: plan.scoreBias } : {}) };
  return blockedAttention(order((p) => p.q), order((p) => p.k), order((p) => p.v), spec);
}
