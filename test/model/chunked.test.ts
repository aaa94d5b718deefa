/**
 * Chunked attention (lib/engine/attention-chunked.ts): the same values and gradients as the unchunked
 * layouts for ℓ not a multiple of the chunk, B = 1 and 2, every positional seam; Alg 5 with other
 * masks; a KV cache filled by a chunked prompt pass; ℓ = 4,096 on a tiny model; the dispatch, and
 * the layout as an explicit option (per call, per model, sent to workers as data; no environment).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { cut2d, blockRows } from "../../lib/engine/attention-chunked.js";
import { attentionPath, DEFAULT_LAYOUT, type AttentionLayout } from "../../lib/engine/layout-options.js";
import { dTransformer, DTransformer, KVCache } from "../../lib/model/dtransformer.js";
import { mhAttention } from "../../lib/model/mh-attention.js";
import { alibi } from "../../lib/positional/alibi.js";
import { none } from "../../lib/positional/none.js";
import { rope, yarn } from "../../lib/positional/rope.js";
import { expectClose, testBackend } from "../helpers/setup.js";

type Mode = "per-head" | "batched" | "chunked";
/** Run fn with a layout that forces `mode` (and sets the chunk size). */
function withLayout<T>(mode: Mode, chunk: number, fn: (layout: Partial<AttentionLayout>) => T): T {
  return fn({ mode, chunk });
}

/** Mean next-token cross-entropy of ids [B, ℓ]. */
function lossOf(model: DTransformer, ids: tf.Tensor2D, layout?: Partial<AttentionLayout>): tf.Scalar {
  return tf.tidy(() => {
    const logits = dTransformer(ids, model, layout ? { layout } : {});
    const [B, l] = ids.shape;
    const lp = tf.logSoftmax(logits.slice([0, 0, 0], [B, l - 1, -1]), -1);
    const tgt = tf.oneHot(ids.slice([0, 1], [B, l - 1]), model.cfg.nVocab).cast("float32");
    return tf.neg(tf.mean(tf.sum(tf.mul(lp, tgt), -1))) as tf.Scalar;
  });
}

function idsOf(B: number, l: number, nVocab: number, seed = 1): tf.Tensor2D {
  return tf.tensor2d(Array.from({ length: B * l }, (_, i) => (i * 7 + seed * 5 + ((i * i) % 3)) % nVocab), [B, l], "int32");
}

before(async () => {
  await testBackend();
});

describe("chunked attention equals the unchunked layouts", () => {
  // weights larger than GPT-2's init so that attention is far from uniform and a wrong mask would show
  const base = DTransformer.create({ ...presets.micro, lMax: 40, initStd: 0.25 }, 21);
  const models = [base, base.withPositional(rope()), base.withPositional(yarn(4)), base.withPositional(alibi()), base.withPositional(none())];
  after(() => base.dispose());

  for (const B of [1, 2]) {
    it(`values and gradients, B = ${B}, ℓ = 13 and 29 with chunk 8 (learned, rope, yarn, alibi, none)`, () => {
      for (const m of models) {
        for (const l of [13, 29]) {
          const ids = idsOf(B, l, m.cfg.nVocab, l);
          const run = (mode: Mode) =>
            withLayout(mode, 8, (layout) => {
              const { value, grads } = tf.variableGrads(() => lossOf(m, ids, layout), [...m.params.vars.values()]);
              return { loss: value, grads, logits: dTransformer(ids, m, { layout }) };
            });
          const a = run("chunked");
          const b = run("per-head");
          const what = `${m.positional.name} B=${B} ℓ=${l}`;
          expectClose(a.logits, b.logits, { atol: 1e-5, rtol: 0, what: `${what} logits` });
          expectClose(a.loss, b.loss, { atol: 1e-6, rtol: 0, what: `${what} loss` });
          for (const k of Object.keys(b.grads)) expectClose(a.grads[k]!, b.grads[k]!, { atol: 1e-5, rtol: 1e-4, what: `${what} ∂${k}` });
          expectClose(a.logits, withLayout("batched", 8, (layout) => dTransformer(ids, m, { layout })), { atol: 1e-5, rtol: 0, what: `${what} vs batched` });
          tf.dispose([a.logits, a.loss, b.logits, b.loss, ids, ...Object.values(a.grads), ...Object.values(b.grads)]);
        }
      }
    });
  }

  it("a chunk larger than ℓ, a chunk of 1, and no leaked tensors", () => {
    const m = models[3]!; // alibi: per-block score bias
    const ids = idsOf(2, 11, m.cfg.nVocab);
    const ref = withLayout("per-head", 8, (layout) => dTransformer(ids, m, { layout }));
    const n0 = tf.memory().numTensors;
    for (const chunk of [64, 1, 4]) {
      const y = withLayout("chunked", chunk, (layout) => tf.tidy(() => dTransformer(ids, m, { layout })));
      expectClose(y, ref, { atol: 1e-5, rtol: 0, what: `chunk ${chunk}` });
      y.dispose();
    }
    assert.equal(tf.memory().numTensors, n0, "tensors leaked");
    tf.dispose([ids, ref]);
  });

  it("Alg 5 with a bidirectional mask and with an explicit mask matrix, values and gradients", () => {
    const rng = (s: number, shape: number[]) => tf.randomNormal(shape, 0, 0.5, "float32", s);
    const H = 2;
    const w = { W_q: rng(1, [8, 8]), b_q: rng(2, [8]), W_k: rng(3, [8, 8]), b_k: rng(4, [8]), W_v: rng(5, [8, 6]), b_v: rng(6, [6]), W_o: rng(7, [6, 8]), b_o: rng(8, [8]) };
    const X = rng(9, [2, 11, 8]);
    const Z = rng(10, [2, 7, 8]);
    const banded = Array.from({ length: 11 }, (_, i) => Array.from({ length: 7 }, (_, j) => Math.abs(i - j) <= 2 || j === 0));
    for (const [Zin, mask] of [[X, "bidirectional"], [Z, "bidirectional"], [Z, banded]] as const) {
      const f = (layout: Partial<AttentionLayout>) => (x: tf.Tensor) => tf.sum(tf.square(mhAttention(x as never, (Zin === X ? x : Zin) as never, w, { nHeads: H, mask, layout })));
      const a = withLayout("chunked", 4, (layout) => ({ y: mhAttention(X as never, Zin as never, w, { nHeads: H, mask, layout }) as tf.Tensor, g: tf.grad(f(layout))(X) }));
      const b = withLayout("per-head", 4, (layout) => ({ y: mhAttention(X as never, Zin as never, w, { nHeads: H, mask, layout }) as tf.Tensor, g: tf.grad(f(layout))(X) }));
      expectClose(a.y, b.y, { atol: 1e-5, rtol: 0, what: "Y" });
      expectClose(a.g, b.g, { atol: 1e-4, rtol: 1e-5, what: "∂X" });
    }
  });
});

describe("KV cache", () => {
  it("a chunked prompt pass fills the cache with the full keys and values; continuation and decoding agree", () => {
    const m = DTransformer.create({ ...presets.micro, lMax: 64, initStd: 0.25, positional: rope() }, 22);
    const prompt = idsOf(2, 19, m.cfg.nVocab, 3);
    const more = idsOf(2, 9, m.cfg.nVocab, 4);
    const step = idsOf(2, 1, m.cfg.nVocab, 5);
    const run = (mode: Mode) =>
      withLayout(mode, 8, (layout) => {
        const kv = new KVCache(m.cfg.nLayers);
        const out = [dTransformer(prompt, m, { kv, layout }), dTransformer(more, m, { kv, layout })]; // the second pass has a past
        out.push(dTransformer(step, m, { kv }));
        return { out, kv };
      });
    const a = run("chunked");
    const b = run("batched");
    a.out.forEach((y, i) => expectClose(y, b.out[i]!, { atol: 1e-5, rtol: 0, what: `pass ${i}` }));
    assert.equal(a.kv.length, 29);
    a.kv.layers.forEach((l, i) => {
      expectClose(l.k!, b.kv.layers[i]!.k!, { atol: 1e-6, what: `layer ${i} keys` });
      expectClose(l.v!, b.kv.layers[i]!.v!, { atol: 1e-6, what: `layer ${i} values` });
    });
    a.kv.dispose();
    b.kv.dispose();
    m.dispose();
  });
});

describe("long input", () => {
  it("ℓ = 4,096 with chunk 512 on a tiny model runs and matches the per-head path", () => {
    const m = DTransformer.create({ ...presets.tiny, nLayers: 1, nHeads: 2, positional: rope() }, 23);
    const x = Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) % 256);
    const a = withLayout("chunked", 512, (layout) => m.logits(x, { layout }));
    const b = withLayout("per-head", 512, (layout) => m.logits(x, { layout }));
    assert.deepEqual(a.shape, [4096, 256]);
    expectClose(a, b, { atol: 1e-5, rtol: 0, what: "logits" });
    tf.dispose([a, b]);
    m.dispose();
  });

  it("the block rows shrink so that one block's working set stays under blockBytes", () => {
    assert.equal(blockRows(4096, 4096, 4, false, { chunk: 1024 }), 1024);
    assert.equal(blockRows(100, 100, 4, false, { chunk: 1024 }), 100);
    assert.equal(blockRows(65536, 65536, 4, false, { chunk: 1024 }), 341); // 256 MiB / (4 B · 65,536 · 3)
    assert.equal(blockRows(16384, 16384, 4, false, { chunk: 1024 }), 1024);
    assert.ok(blockRows(65536, 65536, 4, true, { chunk: 1024 }) < 100); // ALiBi: H·rows·ℓ_k bias per block
    assert.equal(blockRows(10, 10 ** 9, 1, false), 10); // never below 16 rows (or ℓ_q)
  });

  it("cut2d copies exactly the requested rows and columns", () => {
    const x = tf.tensor2d(Array.from({ length: 35 }, (_, i) => i), [5, 7]);
    assert.deepEqual(Array.from(cut2d(x, 1, 2).dataSync()), [7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
    assert.deepEqual(Array.from(cut2d(x, 2, 2, 3, 2).dataSync()), [17, 18, 24, 25]);
    assert.equal(cut2d(x, 0, 5), x);
    x.dispose();
  });
});

describe("dispatch", () => {
  const o = { nHeads: 4, mask: "causal" as const };
  it("auto: per-head (wasm) or batched for short inputs, chunked above ℓ = 2,048 or 256 MiB of unchunked scores per layer, batched with hooks", () => {
    const short = tf.getBackend() === "wasm" ? "per-head" : "batched";
    assert.equal(attentionPath(o, 1, 1024, 1024, undefined, tf.getBackend()), short);
    assert.equal(attentionPath(o, 16, 256, 256, undefined, tf.getBackend()), short); // 4 B · 256² · (4·16·4 + 1) ≈ 67 MB
    assert.equal(attentionPath({ nHeads: 1, mask: "causal" }, 1, 2048, 2048, undefined, tf.getBackend()), short);
    assert.equal(attentionPath({ nHeads: 1, mask: "causal" }, 1, 2049, 2049, undefined, tf.getBackend()), "chunked"); // ℓ_q > 2,048
    assert.equal(attentionPath(o, 4, 1024, 1024, undefined, tf.getBackend()), "chunked"); // 4 B · 1024² · (4·4·4 + 1) ≈ 272 MB > 256 MiB
    assert.equal(attentionPath({ ...o, hooks: {} as never }, 1, 8192, 8192, undefined, tf.getBackend()), "batched");
    assert.equal(attentionPath({ ...o, kv: {} }, 1, 1, 9000, undefined, tf.getBackend()), "batched"); // a decoding step
    assert.equal(attentionPath({ ...o, kv: {} }, 1, 4096, 4096, undefined, tf.getBackend()), "chunked"); // a long prompt pass
  });

  it("forced modes still work; chunked is one of them", () => {
    for (const mode of ["per-head", "batched", "chunked"] as const) {
      withLayout(mode, 8, (layout) => assert.equal(attentionPath(o, 1, 16, 16, layout, "wasm"), mode));
    }
    withLayout("batched", 8, (layout) => assert.equal(attentionPath(o, 1, 4096, 4096, layout, "wasm"), "batched"));
    withLayout("chunked", 8, (layout) => assert.equal(attentionPath({ ...o, kv: {} }, 1, 1, 30, layout, "wasm"), "chunked"));
  });

  it("the layout is an option, not a global: the environment does not change it; a model carries its own", () => {
    const url = new URL("../../lib/engine/layout-options.js", import.meta.url).href;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify(m.resolveLayout(undefined)));`], {
      env: { ...process.env, CTXLAB_ATTENTION: "chunked", CTXLAB_ATTENTION_CHUNK: "333" },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { mode: "auto", chunk: 1024, chunkAbove: 2048, scoreBudgetBytes: 256 * 2 ** 20 });
    const m = DTransformer.create({ ...presets.micro }, 0);
    const c = m.withAttentionLayout({ mode: "chunked", chunk: 64 });
    assert.deepEqual(m.layout, DEFAULT_LAYOUT);
    assert.deepEqual(c.layout, { ...DEFAULT_LAYOUT, mode: "chunked", chunk: 64 });
    assert.equal(c.params, m.params, "weights are shared");
    assert.deepEqual(c.withPositional(rope()).layout, c.layout, "withPositional keeps the layout");
    assert.throws(() => m.withAttentionLayout({ mode: "fast" as never }), /layout: mode="fast" must be one of auto, per-head, batched, chunked/);
    assert.throws(() => m.logits([1, 2], { layout: { chunk: 0 } }), /layout: chunk=0 must be an integer ≥ 1/);
    m.dispose();
  });
});
