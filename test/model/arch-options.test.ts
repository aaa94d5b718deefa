/**
 * Architecture options (lib/config.ts; docs/design.md, "Architecture options"): the defaults leave
 * Algorithm 10 and its parameters as they were; bad values are clear ConfigErrors; for every option
 * alone and the Llama / Qwen2 / GPT-NeoX / multi-query / free-head-width combinations: the parameter
 * set (absent biases absent, W_gate present, H_kv-wide W_k/W_v), a non-zero gradient for every
 * parameter, central finite differences for every parameter, every attention layout (batched,
 * per-head, fused, chunked with a small chunk) equal in logits and gradients, and the attention
 * layouts against the per-head reference of Alg 4 with grouped-query weights and absent biases.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { makeConfig, paramShapes, presets, resolveBias } from "../../lib/config.js";
import { attendBatched } from "../../lib/engine/attention-batched.js";
import { attendChunked } from "../../lib/engine/attention-chunked.js";
import { attendFused, attendPerHead } from "../../lib/engine/attention-per-head.js";
import { mergeHeads, type AttendOptions, type QkvWeights } from "../../lib/engine/seams.js";
import { ConfigError } from "../../lib/errors.js";
import { attendReference } from "../../lib/model/attention.js";
import { DTransformer, dTransformer } from "../../lib/model/dtransformer.js";
import { _rmsNorm, _rmsNormOps } from "../../lib/model/layer-norm.js";
import { rope } from "../../lib/positional/rope.js";
import { expectClose, onBackend, testBackend } from "../helpers/setup.js";
import { lossOf } from "../helpers/loss.js";
import { ARCH_BASE, SEQS, VARIANTS } from "./arch-variants.js";

before(async () => {
  await testBackend();
});

const ids = () => tf.tensor2d(SEQS, [SEQS.length, SEQS[0]!.length], "int32");

describe("architecture options: config", () => {
  it("defaults keep Algorithm 10: the same parameter names, order and count (ref = 891,648)", () => {
    const cfg = makeConfig(presets.micro);
    assert.deepEqual([cfg.norm, cfg.mlp, cfg.nKvHeads, cfg.residual], ["layernorm", "gelu", 2, "sequential"]);
    assert.deepEqual(cfg.bias, { q: true, k: true, v: true, o: true, mlp: true });
    const names = [...paramShapes(cfg).keys()];
    const block = ["ln1.gamma", "ln1.beta", "attn.W_q", "attn.b_q", "attn.W_k", "attn.b_k", "attn.W_v", "attn.b_v", "attn.W_o", "attn.b_o", "ln2.gamma", "ln2.beta", "mlp.W_mlp1", "mlp.b_mlp1", "mlp.W_mlp2", "mlp.b_mlp2"];
    assert.deepEqual(names, ["W_e", "pos.W_p", ...block.map((n) => `blocks.0.${n}`), ...block.map((n) => `blocks.1.${n}`), "ln_final.gamma", "ln_final.beta"]);
    const ref = DTransformer.create(presets.ref, 0);
    assert.equal(ref.numParams(), 891_648);
    ref.dispose();
    // an explicit default equals the implicit one, bit for bit (the seeded init draws in paramShapes order)
    const a = DTransformer.create(presets.micro, 4);
    const b = DTransformer.create({ ...presets.micro, norm: "layernorm", mlp: "gelu", nKvHeads: 2, bias: true, residual: "sequential" }, 4);
    for (const [n, t] of a.params.vars) assert.deepEqual(Array.from(t.dataSync()), Array.from(b.params.get(n).dataSync()), n);
    a.dispose();
    b.dispose();
  });

  it("bias accepts a boolean or a partial record; a bias that is off has no parameter", () => {
    assert.deepEqual(resolveBias(false), { q: false, k: false, v: false, o: false, mlp: false });
    assert.deepEqual(resolveBias({ o: false }), { q: true, k: true, v: true, o: false, mlp: true });
    const cfg = makeConfig({ ...ARCH_BASE, mlp: "gated-silu", nKvHeads: 1, norm: "rmsnorm", bias: { q: true, k: true, v: true, o: false, mlp: false } });
    const s = paramShapes(cfg);
    assert.deepEqual(s.get("blocks.0.attn.W_k"), [16, 4]);
    assert.deepEqual(s.get("blocks.0.attn.b_v"), [4]);
    assert.deepEqual(s.get("blocks.0.attn.W_o"), [16, 16]);
    assert.deepEqual(s.get("blocks.1.mlp.W_gate"), [16, 24]);
    for (const n of ["blocks.0.attn.b_o", "blocks.0.mlp.b_mlp1", "blocks.0.mlp.b_gate", "blocks.0.mlp.b_mlp2", "blocks.0.ln1.beta", "ln_final.beta"]) assert.ok(!s.has(n), n);
  });

  it("bad values are ConfigErrors naming the field, the value and the rule", () => {
    const bad = (o: Record<string, unknown>, re: RegExp) => assert.throws(() => makeConfig({ ...ARCH_BASE, ...o } as never), (e: Error) => e instanceof ConfigError && re.test(e.message));
    bad({ nKvHeads: 3 }, /H_kv \(nKvHeads\) must be a positive integer that divides H=4.*got 3/);
    bad({ nKvHeads: 0 }, /nKvHeads.*got 0/);
    bad({ nKvHeads: 8 }, /divides H=4.*got 8/);
    bad({ norm: "batchnorm" }, /norm must be "layernorm" or "rmsnorm", got "batchnorm"/);
    bad({ mlp: "relu" }, /mlp must be "gelu" or "gated-silu", got "relu"/);
    bad({ residual: "both" }, /residual must be "sequential" or "parallel", got "both"/);
    bad({ bias: { q: 1 } }, /bias\.q must be a boolean, got 1/);
    bad({ bias: "no" }, /bias must be a boolean or a record/);
    bad({ bias: { out: false } }, /bias has unknown key\(s\) "out"; known: q, k, v, o, mlp/);
  });

  it("RMSNorm: the hand-written gradient equals the op-by-op one; y = x/√(mean x² + ε)·γ", async () => {
    await onBackend("cpu", () => {
      const x = tf.tensor2d([[3, 4], [1, -1]]);
      const g = tf.tensor1d([1, 2]);
      expectClose(_rmsNorm(x, g, 0), [3 / Math.sqrt(12.5), (2 * 4) / Math.sqrt(12.5), 1, -2], { atol: 1e-6 });
      const e = tf.randomNormal([3, 5, 8], 0, 1, "float32", 1);
      const gam = tf.randomNormal([8], 1, 0.3, "float32", 2);
      const G = tf.randomNormal([3, 5, 8], 0, 1, "float32", 3);
      const f = (op: typeof _rmsNorm) => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a, b, 1e-5), G)))([e, gam]);
      const [da, db] = f(_rmsNorm);
      const [ra, rb] = f(_rmsNormOps);
      expectClose(da!, ra!, { atol: 1e-5 });
      expectClose(db!, rb!, { atol: 1e-5 });
    });
  });
});

describe("architecture options: gradients", () => {
  for (const { name, opts } of VARIANTS) {
    it(`${name}: every parameter gets a non-zero gradient; no absent parameter exists`, () => {
      const m = DTransformer.create(opts, 5);
      assert.deepEqual(m.params.names(), [...paramShapes(m.cfg).keys()]);
      const x = ids();
      const vars = [...m.params.vars.values()];
      const { value, grads } = tf.variableGrads(() => lossOf(m, x), vars);
      assert.ok(Number.isFinite(value.dataSync()[0]!));
      for (const [n, v] of m.params.vars) {
        const g = grads[v.name];
        assert.ok(g, `no gradient for ${n}`);
        const norm = tf.norm(g).dataSync()[0]!;
        assert.ok(norm > 0 && Number.isFinite(norm), `${n}: gradient norm ${norm}`);
      }
      tf.dispose([value, x, ...Object.values(grads)]);
      m.dispose();
    });

    it(`${name}: gradients match central finite differences for every parameter (cpu)`, async () => {
      await onBackend("cpu", () => {
        const m = DTransformer.create(opts, 6);
        const x = tf.tensor2d([SEQS[0]!.slice(0, 7)], [1, 7], "int32");
        const vars = [...m.params.vars.entries()];
        const { value, grads } = tf.variableGrads(() => lossOf(m, x), vars.map(([, v]) => v));
        const h = 1e-3;
        for (const [n, v] of vars) {
          const dir = tf.tidy(() => {
            const r = tf.randomNormal(v.shape, 0, 1, "float32", 7);
            return tf.div(r, tf.norm(r));
          });
          const orig = v.clone();
          const at = (s: number) => {
            v.assign(tf.tidy(() => tf.add(orig, tf.mul(dir, s * h))));
            return tf.tidy(() => lossOf(m, x).dataSync()[0]!);
          };
          const fd = (at(1) - at(-1)) / (2 * h);
          v.assign(orig);
          const an = tf.tidy(() => tf.sum(tf.mul(grads[v.name]!, dir)).dataSync()[0]!);
          assert.ok(Math.abs(fd - an) <= 5e-4 + 2e-2 * Math.abs(an), `${n}: finite difference ${fd} vs gradient ${an}`);
          tf.dispose([dir, orig]);
        }
        tf.dispose([value, x, ...Object.values(grads)]);
        m.dispose();
      });
    });

    it(`${name}: batched, per-head${opts.positional?.rotate ? "" : " (fused)"} and chunked layouts give the same logits and gradients`, () => {
      const m = DTransformer.create(opts, 7);
      const x = ids();
      const G = tf.randomNormal([2, 10, 13], 0, 1, "float32", 8);
      const run = (layout: object) => {
        const vars = [...m.params.vars.values()];
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(dTransformer(x, m, { layout }), G)) as tf.Scalar, vars);
        return { y: tf.tidy(() => dTransformer(x, m, { layout })), value, grads };
      };
      const ref = run({ mode: "batched" });
      for (const layout of [{ mode: "per-head" }, { mode: "chunked", chunk: 3 }]) {
        const r = run(layout);
        expectClose(r.y, ref.y, { atol: 2e-5, what: `${layout.mode} logits` });
        for (const [n, v] of m.params.vars) expectClose(r.grads[v.name]!, ref.grads[v.name]!, { atol: 5e-5, rtol: 1e-3, what: `${layout.mode} ∂/∂${n}` });
        tf.dispose([r.y, r.value, ...Object.values(r.grads)]);
      }
      tf.dispose([ref.y, ref.value, ...Object.values(ref.grads), x, G]);
      m.dispose();
    });
  }
});

describe("architecture options: attention layouts against the per-head reference (Alg 4)", () => {
  // H = 4 query heads, H_kv = 2 or 1, some biases absent; d_attn = d_mid for the fused layout
  const cases: { name: string; Hkv: number; drop: (keyof QkvWeights)[]; dA: number; dM: number }[] = [
    { name: "GQA H_kv = 2, no biases", Hkv: 2, drop: ["b_q", "b_k", "b_v"], dA: 4, dM: 4 },
    { name: "MQA H_kv = 1, q/k/v biases", Hkv: 1, drop: [], dA: 4, dM: 4 },
    { name: "GQA H_kv = 2, only b_k, d_attn ≠ d_mid", Hkv: 2, drop: ["b_q", "b_v"], dA: 6, dM: 3 },
  ];
  const layouts: Record<string, (x: tf.Tensor, z: tf.Tensor, w: QkvWeights, o: AttendOptions) => tf.Tensor> = {
    batched: (x, z, w, o) => mergeHeads(attendBatched(x, z, w, o)),
    "per-head": attendPerHead,
    fused: attendFused,
    chunked: (x, z, w, o) => attendChunked(x, z, w, o, { chunk: 2 }),
  };
  for (const c of cases) {
    for (const pe of [undefined, rope()]) {
      it(`${c.name}${pe ? ", rotary" : ""}: values and gradients equal the reference`, () => {
        const r = (shape: number[], k: number) => tf.randomNormal(shape, 0, 0.5, "float32", 40 + k);
        const full: QkvWeights = { W_q: r([8, 4 * c.dA], 1), b_q: r([4 * c.dA], 2), W_k: r([8, c.Hkv * c.dA], 3), b_k: r([c.Hkv * c.dA], 4), W_v: r([8, c.Hkv * c.dM], 5), b_v: r([c.Hkv * c.dM], 6) };
        const w = Object.fromEntries(Object.entries(full).filter(([k]) => !c.drop.includes(k as keyof QkvWeights))) as unknown as QkvWeights;
        const keys = Object.keys(w) as (keyof QkvWeights)[];
        const X = r([2, 5, 8], 7);
        const cfg = makeConfig({ ...ARCH_BASE, dE: 8, dAttn: c.dA, dMid: c.dM, nKvHeads: c.Hkv, ...(pe ? { positional: pe } : {}) });
        const o: AttendOptions = { nHeads: 4, nKvHeads: c.Hkv, mask: "causal", ...(pe ? { pe, peCtx: { cfg, param: () => { throw new Error("no parameters"); } } } : {}) };
        const G = r([2, 5, 4 * c.dM], 8);
        const f = (fn: (typeof layouts)[string]) => {
          const g = (x: tf.Tensor, ...ws: tf.Tensor[]) => fn(x, x, Object.fromEntries(keys.map((k, i) => [k, ws[i]!])) as unknown as QkvWeights, o);
          return { y: g(X, ...keys.map((k) => w[k]!)), grads: tf.grads((x: tf.Tensor, ...ws: tf.Tensor[]) => tf.sum(tf.mul(g(x, ...ws), G)))([X, ...keys.map((k) => w[k]!)]) };
        };
        const ref = f((x, z, ww, oo) => mergeHeads(attendReference(x, z, ww, oo)));
        for (const [lname, fn] of Object.entries(layouts)) {
          if (lname === "fused" && pe) continue; // the fused layout takes no rotation (fusedApplies)
          const got = f(fn);
          expectClose(got.y, ref.y, { atol: 2e-5, what: `${lname} Y` });
          got.grads.forEach((g, i) => expectClose(g, ref.grads[i]!, { atol: 5e-5, rtol: 1e-4, what: `${lname} ∂/∂${["X", ...keys][i]}` }));
        }
      });
    }
  }
});
