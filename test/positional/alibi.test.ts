/**
 * ALiBi (seam 3): reference slopes (docs/literature.md, "Test vectors", incl. non-power-of-two H), the bias
 * −m_h·(i − j) by hand and with a KV-cache-like range, a model past ℓ_max whose scores differ from
 * the no-bias scores by exactly the bias, causality, gradients and the registry.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { makeConfig, presets } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { alibi, alibiBias, alibiSlopes } from "../../lib/positional/alibi.js";
import { none } from "../../lib/positional/none.js";
import { positionalFrom } from "../../lib/positional/registry.js";
import type { PeContext } from "../../lib/positional/types.js";
import { expectClose, testBackend, values } from "../helpers/setup.js";
import { lossOf } from "../helpers/loss.js";

/** micro with H = 6 heads (a non-power-of-two slope set): d_e = 12, d_attn = 2, ℓ_max = 8 */
const six = { ...presets.micro, dE: 12, nHeads: 6, dMlp: 24 };

const SLOPES8 = [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625];
const REF: Record<number, number[]> = {
  4: [0.25, 0.0625, 0.015625, 0.00390625],
  6: [0.25, 0.0625, 0.015625, 0.00390625, 0.5, 0.125],
  8: SLOPES8,
  12: [...SLOPES8, 0.70710678, 0.35355339, 0.1767767, 0.088388348],
  16: [0.70710678, 0.5, 0.35355339, 0.25, 0.1767767, 0.125, 0.088388348, 0.0625, 0.044194174, 0.03125, 0.022097087, 0.015625, 0.011048543, 0.0078125, 0.0055242717, 0.00390625],
};


before(async () => {
  await testBackend();
});

describe("slopes (reference get_slopes; docs/literature.md, ALiBi)", () => {
  for (const H of [4, 6, 8, 12, 16]) {
    it(`${H} heads`, () => {
      expectClose(alibiSlopes(H), REF[H]!, { atol: 0, rtol: 1e-7 });
      expectClose(alibi().slopes!(H), REF[H]!, { atol: 0, rtol: 1e-7 });
    });
  }

  it("non-power-of-two H is not the naive 2^(−8h/H); bad H is a ConfigError", () => {
    assert.notDeepEqual(alibiSlopes(6), [1, 2, 3, 4, 5, 6].map((h) => 2 ** ((-8 * h) / 6)));
    assert.deepEqual(alibiSlopes(1), [2 ** -8]);
    assert.deepEqual(alibiSlopes(3), [2 ** -4, 2 ** -8, 2 ** -2]);
    assert.throws(() => alibiSlopes(0), (e: Error) => e instanceof ConfigError && /H=0/.test(e.message));
  });

  it("custom slopes must match H", () => {
    assert.deepEqual(alibi({ slopes: [1, 0.5] }).slopes!(2), [1, 0.5]);
    assert.throws(() => makeConfig({ ...presets.micro, positional: alibi({ slopes: [1, 0.5, 0.25] }) }), (e: Error) => e instanceof ConfigError && /3 slopes/.test(e.message) && /H=2/.test(e.message));
    assert.throws(() => alibi({ slopes: [1, NaN] }), ConfigError);
  });
});

describe("bias −m_h·(i − j)", () => {
  it("by hand: H = 4, ℓ = 3 (m_1 = 1/4, m_4 = 1/256)", () => {
    const b = alibiBias(4, 3, 3);
    assert.deepEqual(b[0], [[0, 0.25, 0.5], [-0.25, 0, 0.25], [-0.5, -0.25, 0]]);
    assert.deepEqual(b[3], [[0, 1 / 256, 2 / 256], [-1 / 256, 0, 1 / 256], [-2 / 256, -1 / 256, 0]]);
  });

  it("a KV-cache-like range (query 5 over keys 0…5) is the last row of the full bias", () => {
    const cfg = makeConfig({ ...six, positional: alibi() });
    const ctx: PeContext = { cfg, param: (n) => assert.fail(`ALiBi has no parameter ${n}`) };
    const full = alibiBias(6, 6, 6);
    const row = alibiBias(6, 1, 6, 5, 0);
    full.forEach((head, h) => assert.deepEqual(row[h], [head[5]]));
    const t = cfg.positional.scoreBias!({ start: 5, length: 1 }, { start: 0, length: 6 }, ctx);
    assert.deepEqual(t.shape, [6, 1, 6]);
    expectClose(values(t), row.flat(2), { atol: 0, rtol: 1e-7 });
    const tf_full = cfg.positional.scoreBias!({ start: 0, length: 6 }, { start: 0, length: 6 }, ctx);
    expectClose(values(tf_full), full.flat(2), { atol: 0, rtol: 1e-7 });
    tf.dispose([t, tf_full]);
  });
});

describe("a model with alibi()", () => {
  it("has no parameters of its own and no ℓ limit", () => {
    const m = DTransformer.create({ ...six, positional: alibi() }, 1);
    assert.equal(m.positional.maxPositions?.(m.cfg), undefined);
    assert.deepEqual(m.params.names().filter((n) => n.startsWith("pos.")), []);
    const out = m.logits(Array.from({ length: 3 * six.lMax }, (_, t) => t % 11));
    assert.deepEqual(out.shape, [24, 11]);
    assert.ok(values(out).every(Number.isFinite));
    out.dispose();
    m.dispose();
  });

  it("layer-0 scores minus the no-bias scores equal the bias on the causal part (ℓ > ℓ_max)", () => {
    const m = DTransformer.create({ ...six, positional: alibi() }, 2);
    const n = m.withPositional(none()); // same weights, no bias
    const x = Array.from({ length: 12 }, (_, t) => (5 * t + 3) % 11);
    const a = m.trace(x);
    const b = n.trace(x);
    const sa = a.cache.get("blocks.0.attn.hook_scores").arraySync() as number[][][][];
    const sb = b.cache.get("blocks.0.attn.hook_scores").arraySync() as number[][][][];
    const pattern = a.cache.get("blocks.0.attn.hook_pattern").arraySync() as number[][][][];
    const bias = alibiBias(6, 12, 12);
    for (let h = 0; h < 6; h++) {
      for (let i = 0; i < 12; i++) {
        for (let j = 0; j <= i; j++) assert.ok(Math.abs(sa[0]![h]![i]![j]! - sb[0]![h]![i]![j]! - bias[h]![i]![j]!) < 1e-5, `head ${h}, (${i}, ${j})`);
        for (let j = i + 1; j < 12; j++) assert.equal(pattern[0]![h]![i]![j], 0);
      }
    }
    a.cache.dispose();
    b.cache.dispose();
    tf.dispose([a.logits, b.logits]);
    m.dispose();
  });

  it("is causal and translation-invariant (start shifts nothing)", () => {
    const m = DTransformer.create({ ...six, positional: alibi() }, 3);
    const base = Array.from({ length: 12 }, (_, t) => (7 * t + 2) % 11);
    const ref = m.logits(base);
    for (const t of [0, 5, 10]) {
      const out = m.logits(base.map((v, u) => (u > t ? (v + 3 + u) % 11 : v)));
      expectClose(out.slice([0, 0], [t + 1, -1]), ref.slice([0, 0], [t + 1, -1]), { atol: 1e-5, what: `logits up to t=${t}` });
      out.dispose();
    }
    const shifted = m.logits(base, { start: 100 });
    expectClose(shifted, ref, { atol: 1e-5, what: "start = 100" });
    tf.dispose([ref, shifted]);
    m.dispose();
  });

  it("every parameter gets a non-zero gradient", () => {
    const m = DTransformer.create({ ...six, positional: alibi() }, 4);
    const ids = tf.tensor2d([Array.from({ length: 12 }, (_, t) => (3 * t + 1) % 11), Array.from({ length: 12 }, (_, t) => (5 * t + 2) % 11)], [2, 12], "int32");
    const { value, grads } = tf.variableGrads(() => lossOf(m, ids), [...m.params.vars.values()]);
    assert.ok(Number.isFinite(value.dataSync()[0]!));
    for (const [name, v] of m.params.vars) {
      const norm = tf.norm(grads[v.name]!).dataSync()[0]!;
      assert.ok(norm > 0 && Number.isFinite(norm), `${name}: gradient norm ${norm}`);
    }
    tf.dispose([value, ids, ...Object.values(grads)]);
    m.dispose();
  });
});

describe("registry", () => {
  it("round trips by name and by JSON, with and without custom slopes", () => {
    assert.deepEqual(positionalFrom("alibi").toJSON(), { name: "alibi" });
    assert.deepEqual(positionalFrom("alibi").slopes!(6), REF[6]);
    const custom = alibi({ slopes: [0.3, 0.2] });
    const back = positionalFrom(JSON.parse(JSON.stringify(custom.toJSON())));
    assert.deepEqual(back.toJSON(), { name: "alibi", slopes: [0.3, 0.2] });
    assert.deepEqual(back.slopes!(2), [0.3, 0.2]);
    const m = DTransformer.create({ ...presets.micro, positional: back }, 5);
    assert.equal(m.positional.label, custom.label);
    m.dispose();
  });
});
