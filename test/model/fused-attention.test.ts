/**
 * Every attention layout of lib/engine/ against the per-head reference of Alg 4
 * (lib/model/attention.ts, attendReference): the fused per-head layout (one q/k/v projection,
 * splitGrid, one hand-differentiated op per (sequence, head) block, mergeGrid), the per-head
 * layout, the batched layout and the chunked layout. Values and gradients with respect to the input
 * and every weight; self- and cross-attention, causal, bidirectional and explicit masks,
 * d_attn ≠ d_mid, B = 1 and 3; every positional seam (rotation, score bias, score scale, and an
 * encoding that uses all three at once), with query positions past 0 and with a KV cache; and a
 * whole model's gradient.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { attendBatched } from "../../lib/engine/attention-batched.js";
import { attendChunked } from "../../lib/engine/attention-chunked.js";
import { attendFused, attendPerHead, fusedApplies } from "../../lib/engine/attention-per-head.js";
import { mergeHeads, type AttendOptions, type LayerKV, type MaskOption } from "../../lib/engine/seams.js";
import { attendReference } from "../../lib/model/attention.js";
import { DTransformer, dTransformer } from "../../lib/model/dtransformer.js";
import type { MhaWeights } from "../../lib/model/mh-attention.js";
import { alibi } from "../../lib/positional/alibi.js";
import { rope, ropeDynamicNTK, yarn } from "../../lib/positional/rope.js";
import type { PositionalEncoding } from "../../lib/positional/types.js";
import { expectClose, testBackend } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

function weights(dx: number, dz: number, H: number, dA: number, dM: number, seed: number): MhaWeights {
  const r = (shape: number[], k: number) => tf.randomNormal(shape, 0, 0.4, "float32", seed + k);
  return { W_q: r([dx, H * dA], 1), b_q: r([H * dA], 2), W_k: r([dz, H * dA], 3), b_k: r([H * dA], 4), W_v: r([dz, H * dM], 5), b_v: r([H * dM], 6), W_o: r([H * dM, 3], 7), b_o: r([3], 8) };
}

const KEYS = ["W_q", "b_q", "W_k", "b_k", "W_v", "b_v"] as const;

/** Y and the gradients of Σ Y ⊙ G with respect to X (and Z when distinct) and the q/k/v weights. */
type Which = "fused" | "per-head" | "batched" | "chunked" | "reference";
const LAYOUTS: Record<Which, (x: tf.Tensor, z: tf.Tensor, w: MhaWeights, o: AttendOptions) => tf.Tensor> = {
  fused: attendFused,
  "per-head": attendPerHead,
  batched: (x, z, w, o) => mergeHeads(attendBatched(x, z, w, o)),
  chunked: (x, z, w, o) => attendChunked(x, z, w, o, { chunk: 4 }),
  reference: (x, z, w, o) => mergeHeads(attendReference(x, z, w, o)),
};

function run(which: Which, X: tf.Tensor, Z: tf.Tensor | undefined, w: MhaWeights, H: number, mask: MaskOption, extra: Partial<AttendOptions> = {}) {
  const f = (x: tf.Tensor, z: tf.Tensor, ...ws: tf.Tensor[]) => {
    const ww = { ...w, ...Object.fromEntries(KEYS.map((k, i) => [k, ws[i]!])) };
    const zz = Z ? z : x;
    return LAYOUTS[which](x, zz, ww, { nHeads: H, mask, ...extra });
  };
  const y = f(X, Z ?? X, ...KEYS.map((k) => w[k]!));
  const G = tf.randomNormal(y.shape, 0, 1, "float32", 99);
  const ws = KEYS.map((k) => w[k]!);
  const grads = Z
    ? tf.grads((x: tf.Tensor, z: tf.Tensor, ...v: tf.Tensor[]) => tf.sum(tf.mul(f(x, z, ...v), G)))([X, Z, ...ws])
    : tf.grads((x: tf.Tensor, ...v: tf.Tensor[]) => tf.sum(tf.mul(f(x, x, ...v), G)))([X, ...ws]);
  return { y, grads, names: Z ? ["X", "Z", ...KEYS] : ["X", ...KEYS] };
}

describe("the fused per-head layout equals the per-head, batched, chunked layouts and the reference", () => {
  const cases: { what: string; B: number; l: number; lz?: number; H: number; dA: number; dM: number; mask: MaskOption }[] = [
    { what: "self, causal, B = 3", B: 3, l: 11, H: 2, dA: 4, dM: 4, mask: "causal" },
    { what: "self, bidirectional, B = 1", B: 1, l: 9, H: 3, dA: 2, dM: 2, mask: "bidirectional" },
    { what: "self, d_attn ≠ d_mid, causal", B: 2, l: 7, H: 2, dA: 3, dM: 5, mask: "causal" },
    { what: "cross, explicit mask", B: 2, l: 5, lz: 6, H: 2, dA: 4, dM: 3, mask: Array.from({ length: 5 }, (_, i) => Array.from({ length: 6 }, (_, j) => (i + j) % 3 !== 0 || j === 0)) },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const dx = 6;
      const X = tf.randomNormal([c.B, c.l, dx], 0, 1, "float32", 1);
      const Z = c.lz ? tf.randomNormal([c.B, c.lz, dx], 0, 1, "float32", 2) : undefined;
      const w = weights(dx, dx, c.H, c.dA, c.dM, 10);
      const a = run("fused", X, Z, w, c.H, c.mask);
      for (const ref of ["per-head", "batched", "chunked", "reference"] as const) {
        const e = run(ref, X, Z, w, c.H, c.mask);
        expectClose(a.y, e.y, { atol: 1e-5, what: `Y vs ${ref}` });
        a.grads.forEach((g, i) => expectClose(g, e.grads[i]!, { atol: 1e-4, rtol: 1e-4, what: `d${a.names[i]} vs ${ref}` }));
      }
    });
  }
  it("applies without rotation, score bias, KV cache or hooks; the dispatch uses it only then", () => {
    assert.equal(fusedApplies({ nHeads: 2, mask: "causal" }), true);
    const m = DTransformer.create({ ...presets.micro }, 0).withPositional(rope());
    assert.equal(fusedApplies({ nHeads: 2, mask: "causal", pe: m.positional, peCtx: { cfg: m.cfg, param: (n: string) => m.params.get(n) } }), false);
    m.dispose();
  });
});

/** An encoding that uses every seam at once (rotation, score bias, score scale) and declares no traits. */
function allSeams(): PositionalEncoding {
  const r = rope();
  const b = alibi();
  return { name: "all-seams", label: "test: every seam", rotate: (t, p, w, c) => r.rotate(t, p, w, c), scoreBias: (q, k, c) => tf.mul(b.scoreBias!(q, k, c), 0.5), scoreScale: () => 1.7, toJSON: () => ({ name: "all-seams" }) };
}

describe("every layout equals the reference for every seam", () => {
  const encodings: [string, PositionalEncoding][] = [["rope", rope()], ["rope interleaved", rope({ layout: "interleaved" })], ["yarn (scale)", yarn(4)], ["dynamic NTK", ropeDynamicNTK({ originalLength: 8 })], ["alibi (bias)", alibi()], ["all seams", allSeams()]];
  const m = DTransformer.create({ ...presets.micro, lMax: 64 }, 0);
  for (const [what, pe] of encodings) {
    it(`${what}: values and gradients, queries at positions 5…15 over keys 0…15, B = 2`, () => {
      const cfg = { ...m.cfg, positional: pe };
      const X = tf.randomNormal([2, 11, 6], 0, 1, "float32", 5);
      const Z = tf.randomNormal([2, 16, 6], 0, 1, "float32", 6);
      const w = weights(6, 6, 2, 4, 4, 20);
      const extra = { pe, peCtx: { cfg, param: (n: string) => m.params.get(n) }, qPos: { start: 5, length: 11 }, kPos: { start: 0, length: 16 } };
      const e = run("reference", X, Z, w, 2, "causal", extra);
      for (const which of ["per-head", "batched", "chunked"] as const) {
        const a = run(which, X, Z, w, 2, "causal", extra);
        expectClose(a.y, e.y, { atol: 1e-5, what: `${what}: Y of ${which}` });
        a.grads.forEach((g, i) => expectClose(g, e.grads[i]!, { atol: 1e-4, rtol: 1e-4, what: `${what}: d${a.names[i]} of ${which}` }));
      }
      assert.equal(fusedApplies({ nHeads: 2, mask: "causal", ...extra }), !pe.rotate && !pe.scoreBias);
    });
  }
  it("with a KV cache (keys cached before rotation): reference, batched and chunked agree step by step", () => {
    const pe = ropeDynamicNTK({ originalLength: 6 }); // θ' changes as the sequence grows: cached keys are rotated again
    const cfg = { ...m.cfg, positional: pe };
    const w = weights(6, 6, 2, 4, 4, 30);
    const X = tf.randomNormal([1, 12, 6], 0, 1, "float32", 7);
    const outs = (which: Which) => {
      const kv: LayerKV = {};
      const ys: tf.Tensor[] = [];
      for (const [s, n] of [[0, 7], [7, 1], [8, 4]] as const) {
        const x = tf.slice(X, [0, s, 0], [-1, n, -1]);
        ys.push(LAYOUTS[which](x, x, w, { nHeads: 2, mask: "causal", pe, peCtx: { cfg, param: (p) => m.params.get(p) }, qPos: { start: s, length: n }, kPos: { start: 0, length: s + n }, kv }));
      }
      tf.dispose([kv.k!, kv.v!]);
      return ys;
    };
    const e = outs("reference");
    for (const which of ["batched", "chunked"] as const) outs(which).forEach((y, i) => expectClose(y, e[i]!, { atol: 1e-5, what: `${which} pass ${i}` }));
  });
});

describe("a whole model's gradient with the fused path", () => {
  it("equals the batched layout's (learned positions, B = 2, ℓ = 24)", () => {
    const m = DTransformer.create({ ...presets.micro, lMax: 32, initStd: 0.25 }, 3);
    const ids = tf.tensor2d(Array.from({ length: 48 }, (_, i) => (i * 7 + ((i * i) % 5)) % m.cfg.nVocab), [2, 24], "int32");
    const names = [...m.params.vars.keys()];
    const gradOf = (mode: "per-head" | "batched") => {
      const mm = m.withAttentionLayout({ mode });
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(dTransformer(ids, mm))) as tf.Scalar);
      return { value, grads };
    };
    const a = gradOf("per-head");
    const e = gradOf("batched");
    expectClose(a.value, e.value, { atol: 1e-6 });
    for (const n of names) if (e.grads[n]) expectClose(a.grads[n]!, e.grads[n]!, { atol: 1e-5, rtol: 1e-4, what: n });
    m.dispose();
  });
});
