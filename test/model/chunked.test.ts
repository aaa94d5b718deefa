/**
 * Chunked attention (lib/model/chunked-attention.ts): the same values and gradients as the unchunked
 * layouts for ℓ not a multiple of the chunk, B = 1 and 2, every positional seam; Alg 5 with other
 * masks; a KV cache filled by a chunked prompt pass; ℓ = 4,096 on a tiny model; the dispatch.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { cut2d, blockRows } from "../../lib/model/chunked-attention.js";
import { dTransformer, DTransformer, KVCache } from "../../lib/model/dtransformer.js";
import { attentionLayout, attentionPath, mhAttention } from "../../lib/model/mh-attention.js";
import { alibi } from "../../lib/positional/alibi.js";
import { none } from "../../lib/positional/none.js";
import { rope, yarn } from "../../lib/positional/rope.js";
import { expectClose, testBackend } from "../helpers/setup.js";

type Mode = "per-head" | "batched" | "chunked";
const saved = { ...attentionLayout };

/** Run fn with the attention layout forced (and the chunk size set), then restore it. */
function withLayout<T>(mode: Mode, chunk: number, fn: () => T): T {
  Object.assign(attentionLayout, { mode, chunk });
  try {
    return fn();
  } finally {
    Object.assign(attentionLayout, saved);
  }
}

/** Mean next-token cross-entropy of ids [B, ℓ]. */
function lossOf(model: DTransformer, ids: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const logits = dTransformer(ids, model);
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
after(() => Object.assign(attentionLayout, saved));

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
            withLayout(mode, 8, () => {
              const { value, grads } = tf.variableGrads(() => lossOf(m, ids), [...m.params.vars.values()]);
              return { loss: value, grads, logits: dTransformer(ids, m) };
            });
          const a = run("chunked");
          const b = run("per-head");
          const what = `${m.positional.name} B=${B} ℓ=${l}`;
          expectClose(a.logits, b.logits, { atol: 1e-5, rtol: 0, what: `${what} logits` });
          expectClose(a.loss, b.loss, { atol: 1e-6, rtol: 0, what: `${what} loss` });
          for (const k of Object.keys(b.grads)) expectClose(a.grads[k]!, b.grads[k]!, { atol: 1e-5, rtol: 1e-4, what: `${what} ∂${k}` });
          expectClose(a.logits, withLayout("batched", 8, () => dTransformer(ids, m)), { atol: 1e-5, rtol: 0, what: `${what} vs batched` });
          tf.dispose([a.logits, a.loss, b.logits, b.loss, ids, ...Object.values(a.grads), ...Object.values(b.grads)]);
        }
      }
    });
  }

  it("a chunk larger than ℓ, a chunk of 1, and no leaked tensors", () => {
    const m = models[3]!; // alibi: per-block score bias
    const ids = idsOf(2, 11, m.cfg.nVocab);
    const ref = withLayout("per-head", 8, () => dTransformer(ids, m));
    const n0 = tf.memory().numTensors;
    for (const chunk of [64, 1, 4]) {
      const y = withLayout("chunked", chunk, () => tf.tidy(() => dTransformer(ids, m)));
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
      const f = (x: tf.Tensor) => tf.sum(tf.square(mhAttention(x as never, (Zin === X ? x : Zin) as never, w, { nHeads: H, mask })));
      const a = withLayout("chunked", 4, () => ({ y: mhAttention(X as never, Zin as never, w, { nHeads: H, mask }) as tf.Tensor, g: tf.grad(f)(X) }));
      const b = withLayout("per-head", 4, () => ({ y: mhAttention(X as never, Zin as never, w, { nHeads: H, mask }) as tf.Tensor, g: tf.grad(f)(X) }));
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
      withLayout(mode, 8, () => {
        const kv = new KVCache(m.cfg.nLayers);
        const out = [dTransformer(prompt, m, { kv }), dTransformer(more, m, { kv })]; // the second pass has a past
        Object.assign(attentionLayout, saved); // decoding: automatic layout
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
    const a = withLayout("chunked", 512, () => m.logits(x));
    const b = withLayout("per-head", 512, () => m.logits(x));
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
    assert.equal(attentionPath(o, 1, 1024, 1024), short);
    assert.equal(attentionPath(o, 16, 256, 256), short); // 4 B · 256² · (4·16·4 + 1) ≈ 67 MB
    assert.equal(attentionPath({ nHeads: 1, mask: "causal" }, 1, 2048, 2048), short);
    assert.equal(attentionPath({ nHeads: 1, mask: "causal" }, 1, 2049, 2049), "chunked"); // ℓ_q > 2,048
    assert.equal(attentionPath(o, 4, 1024, 1024), "chunked"); // 4 B · 1024² · (4·4·4 + 1) ≈ 272 MB > 256 MiB
    assert.equal(attentionPath({ ...o, hooks: {} as never }, 1, 8192, 8192), "batched");
    assert.equal(attentionPath({ ...o, kv: {} }, 1, 1, 9000), "batched"); // a decoding step
    assert.equal(attentionPath({ ...o, kv: {} }, 1, 4096, 4096), "chunked"); // a long prompt pass
  });

  it("forced modes still work; chunked is one of them", () => {
    for (const mode of ["per-head", "batched", "chunked"] as const) {
      withLayout(mode, 8, () => assert.equal(attentionPath(o, 1, 16, 16), mode));
    }
    withLayout("batched", 8, () => assert.equal(attentionPath(o, 1, 4096, 4096), "batched"));
    withLayout("chunked", 8, () => assert.equal(attentionPath({ ...o, kv: {} }, 1, 1, 30), "chunked"));
  });

  it("CTXLAB_ATTENTION=chunked and CTXLAB_ATTENTION_CHUNK set the layout at import", () => {
    const url = new URL("../../lib/model/mh-attention.js", import.meta.url).href;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", `const m = await import(${JSON.stringify(url)}); console.log(JSON.stringify(m.attentionLayout));`], {
      env: { ...process.env, CTXLAB_ATTENTION: "chunked", CTXLAB_ATTENTION_CHUNK: "333" },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { mode: "chunked", chunk: 333, chunkAbove: 2048, scoreBudgetBytes: 256 * 2 ** 20 });
  });
});
