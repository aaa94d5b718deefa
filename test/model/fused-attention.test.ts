/**
 * The fused per-head attention on wasm (_attendFused: one q/k/v projection, splitGrid, one
 * hand-differentiated op per (sequence, head) block, mergeGrid) against the per-head path it
 * replaces (_attendMergedPerHead) and the batched path: values and gradients with respect to the
 * input and every weight; self- and cross-attention, causal, bidirectional and explicit masks,
 * d_attn ≠ d_mid, B = 1 and 3; and a whole model's gradient.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { _attendCore, _attendFused, _attendMergedPerHead, fusedApplies, mergeHeads, type MaskOption } from "../../lib/model/attention.js";
import { DTransformer, dTransformer } from "../../lib/model/dtransformer.js";
import { attentionLayout, type MhaWeights } from "../../lib/model/mh-attention.js";
import { rope } from "../../lib/positional/rope.js";
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
function run(which: "fused" | "merged" | "batched", X: tf.Tensor, Z: tf.Tensor | undefined, w: MhaWeights, H: number, mask: MaskOption) {
  const f = (x: tf.Tensor, z: tf.Tensor, ...ws: tf.Tensor[]) => {
    const ww = { ...w, ...Object.fromEntries(KEYS.map((k, i) => [k, ws[i]!])) };
    const zz = Z ? z : x;
    const o = { nHeads: H, mask };
    return which === "fused" ? _attendFused(x, zz, ww, o) : which === "merged" ? _attendMergedPerHead(x, zz, ww, o) : mergeHeads(_attendCore(x, zz, ww, o));
  };
  const y = f(X, Z ?? X, ...KEYS.map((k) => w[k]));
  const G = tf.randomNormal(y.shape, 0, 1, "float32", 99);
  const ws = KEYS.map((k) => w[k]);
  const grads = Z
    ? tf.grads((x: tf.Tensor, z: tf.Tensor, ...v: tf.Tensor[]) => tf.sum(tf.mul(f(x, z, ...v), G)))([X, Z, ...ws])
    : tf.grads((x: tf.Tensor, ...v: tf.Tensor[]) => tf.sum(tf.mul(f(x, x, ...v), G)))([X, ...ws]);
  return { y, grads, names: Z ? ["X", "Z", ...KEYS] : ["X", ...KEYS] };
}

describe("fused per-head attention equals the per-head and batched paths", () => {
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
      for (const ref of ["merged", "batched"] as const) {
        const e = run(ref, X, Z, w, c.H, c.mask);
        expectClose(a.y, e.y, { atol: 1e-5, what: `Y vs ${ref}` });
        a.grads.forEach((g, i) => expectClose(g, e.grads[i]!, { atol: 1e-4, rtol: 1e-4, what: `d${a.names[i]} vs ${ref}` }));
      }
    });
  }
  it("applies without rotation, score bias, KV cache or hooks; the dispatch uses it only then", () => {
    assert.equal(fusedApplies({ nHeads: 2, mask: "causal" }), true);
    const m = DTransformer.create({ ...presets.micro }, 0).withPositional(rope());
    assert.equal(fusedApplies({ nHeads: 2, mask: "causal", pe: m.positional, peCtx: { cfg: m.cfg, param: (n) => m.params.get(n) } }), false);
    m.dispose();
  });
});

describe("a whole model's gradient with the fused path", () => {
  const saved = { ...attentionLayout };
  after(() => Object.assign(attentionLayout, saved));
  it("equals the batched layout's (learned positions, B = 2, ℓ = 24)", () => {
    const m = DTransformer.create({ ...presets.micro, lMax: 32, initStd: 0.25 }, 3);
    const ids = tf.tensor2d(Array.from({ length: 48 }, (_, i) => (i * 7 + ((i * i) % 5)) % m.cfg.nVocab), [2, 24], "int32");
    const names = [...m.params.vars.keys()];
    const gradOf = (mode: "per-head" | "batched") => {
      Object.assign(attentionLayout, { mode });
      try {
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(dTransformer(ids, m))) as tf.Scalar);
        return { value, grads };
      } finally {
        Object.assign(attentionLayout, saved);
      }
    };
    const a = gradOf("per-head");
    const e = gradOf("batched");
    expectClose(a.value, e.value, { atol: 1e-6 });
    for (const n of names) if (e.grads[n]) expectClose(a.grads[n]!, e.grads[n]!, { atol: 1e-5, rtol: 1e-4, what: n });
    m.dispose();
  });
});
