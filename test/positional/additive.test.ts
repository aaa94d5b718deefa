/**
 * Additive positional encodings (seam 1, Alg 10 line 2): sinusoidal (Vaswani, P&H as printed,
 * tensor2tensor; docs/literature.md, "Test vectors"), the bounded unit-ball encoding, learned `table`, and
 * `extendLearned` (ViT-style interpolation of W_p). Models: shapes past ℓ_max, causality, gradients.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { makeConfig, presets } from "../../lib/config.js";
import { ConfigError, InputError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { bounded, boundedTable } from "../../lib/positional/bounded.js";
import { extendLearned } from "../../lib/model/extend-learned.js";
import { learned, W_P } from "../../lib/positional/learned.js";
import { none } from "../../lib/positional/none.js";
import { positionalFrom } from "../../lib/positional/registry.js";
import { sinusoidal, sinusoidTable } from "../../lib/positional/sinusoidal.js";
import type { PeContext, PositionalEncoding } from "../../lib/positional/types.js";
import { expectClose, maxAbsDiff, testBackend, values } from "../helpers/setup.js";
import { lossOf } from "../helpers/loss.js";

const micro = { ...presets.micro }; // ℓ_max = 8, d_e = 8, H = 2, L = 2, N_V = 11
const ctxOf = (pe: PositionalEncoding, lMax: number = micro.lMax): PeContext => ({
  cfg: makeConfig({ ...micro, lMax, positional: pe }),
  param: (n) => assert.fail(`no parameter ${n} expected`),
});


/** Every parameter of `m` gets a finite, non-zero gradient on sequences of length `l`. */
function assertAllGradients(m: DTransformer, l: number): void {
  const rows = [0, 1].map((b) => Array.from({ length: l }, (_, t) => (3 * t + 5 * b + 1) % m.cfg.nVocab));
  const ids = tf.tensor2d(rows, [2, l], "int32");
  const { value, grads } = tf.variableGrads(() => lossOf(m, ids), [...m.params.vars.values()]);
  assert.ok(Number.isFinite(value.dataSync()[0]!));
  for (const [name, v] of m.params.vars) {
    const norm = tf.norm(grads[v.name]!).dataSync()[0]!;
    assert.ok(norm > 0 && Number.isFinite(norm), `${name}: gradient norm ${norm}`);
  }
  tf.dispose([value, ids, ...Object.values(grads)]);
}

/** Changing tokens after t leaves logits up to t unchanged. */
function assertCausal(m: DTransformer, l: number): void {
  const base = Array.from({ length: l }, (_, t) => (7 * t + 2) % m.cfg.nVocab);
  const ref = m.logits(base);
  for (const t of [0, Math.floor(l / 2), l - 2]) {
    const x = base.map((v, u) => (u > t ? (v + 3 + u) % m.cfg.nVocab : v));
    const out = m.logits(x);
    expectClose(out.slice([0, 0], [t + 1, -1]), ref.slice([0, 0], [t + 1, -1]), { atol: 1e-5, what: `logits up to t=${t}` });
    out.dispose();
  }
  ref.dispose();
}

before(async () => {
  await testBackend();
});

describe("sinusoidal (docs/literature.md, Test vectors; d = 8)", () => {
  it("Vaswani: positions 0, 1, 5", () => {
    const [p0, p1, p5] = sinusoidTable([0, 1, 5], 8);
    expectClose(p0!, [0, 1, 0, 1, 0, 1, 0, 1], { atol: 1e-12 });
    expectClose(p1!, [0.84147098, 0.54030231, 0.099833417, 0.99500417, 0.0099998333, 0.99995, 0.00099999983, 0.9999995], { atol: 0, rtol: 1e-7 });
    expectClose(p5!, [-0.95892427, 0.28366219, 0.47942554, 0.87758256, 0.049979169, 0.99875026, 0.0049999792, 0.9999875], { atol: 0, rtol: 1e-7 });
    assert.deepEqual(sinusoidal().table!([0, 1, 5], ctxOf(sinusoidal())), [p0, p1, p5]);
  });

  it("P&H as printed: t = 1, 5 are code positions 0, 4; base ℓ_max by default", () => {
    const t1 = [0.099833417, 0.99500417, 0.0099998333, 0.99995, 0.00099999983, 0.9999995, 0.0001, 1];
    const t5 = [0.47942554, 0.87758256, 0.049979169, 0.99875026, 0.0049999792, 0.9999875, 0.00049999998, 0.99999988];
    const [a, b] = sinusoidTable([0, 4], 8, { variant: "phuong-hutter", base: 1e4 });
    expectClose(a!, t1, { atol: 0, rtol: 1e-7 });
    expectClose(b!, t5, { atol: 0, rtol: 1e-7 });
    const ph = sinusoidal({ variant: "phuong-hutter" });
    expectClose(ph.table!([0, 4], ctxOf(ph, 10000)).flat(), [...t1, ...t5], { atol: 0, rtol: 1e-7, what: "base = ℓ_max = 10⁴" });
    const lmax8 = ph.table!([0], ctxOf(ph, 8))[0]!;
    expectClose([lmax8[0]!], [Math.sin(1 / 8 ** (2 / 8))], { atol: 1e-15, what: "base = ℓ_max = 8" });
  });

  it("tensor2tensor: concatenated [sin | cos], positions 1, 5", () => {
    const [p1, p5] = sinusoidTable([1, 5], 8, { variant: "tensor2tensor" });
    expectClose(p1!, [0.84147098, 0.046399223, 0.002154433, 0.0001, 0.54030231, 0.99892298, 0.99999768, 1], { atol: 0, rtol: 1e-7 });
    expectClose(p5!, [-0.95892427, 0.23000171, 0.010771965, 0.00049999998, 0.28366219, 0.97319022, 0.99994198, 0.99999988], { atol: 0, rtol: 1e-7 });
  });

  it("relative property: PE(p)·PE(p+k) = Σ cos(kω_i), independent of p", () => {
    const expected = { 0: 4, 1: 3.535256, 5: 3.1599825, 50: 3.124961 } as Record<number, number>;
    for (const p of [0, 3, 17, 1000, 123457]) {
      for (const [k, v] of Object.entries(expected)) {
        const [a, b] = sinusoidTable([p, p + Number(k)], 8);
        const dot = a!.reduce((s, x, i) => s + x * b![i]!, 0);
        expectClose([dot], [v], { atol: 0, rtol: 1e-6, what: `p=${p}, k=${k}` });
      }
    }
  });

  it("rejects odd d_e, unknown variants and bad bases", () => {
    assert.throws(() => makeConfig({ ...micro, dE: 9, nHeads: 1, positional: sinusoidal() }), (e: Error) => e instanceof ConfigError && /d_e=9/.test(e.message));
    assert.throws(() => sinusoidal({ variant: "rope" as never }), ConfigError);
    assert.throws(() => sinusoidal({ base: 1 }), (e: Error) => e instanceof ConfigError && /base=1/.test(e.message));
  });
});

describe("bounded (unit ball, shrinking steps)", () => {
  const N = 10_000;
  const d = 8;
  const rows = boundedTable(Array.from({ length: N + 1 }, (_, t) => t), d);
  const dist = (a: number[], b: number[]) => Math.hypot(...a.map((x, i) => x - b[i]!));

  it("every vector is inside the unit ball, with norm r(t) = 1 − 1/(4(1+t))", () => {
    rows.forEach((r, t) => {
      const n = Math.hypot(...r);
      assert.ok(n < 1, `‖p(${t})‖ = ${n}`);
      assert.ok(Math.abs(n - (1 - 1 / (4 * (1 + t)))) < 1e-12, `‖p(${t})‖ = ${n}`);
    });
    for (const t of [1e6, 1e12, 1e15]) assert.ok(Math.hypot(...boundedTable([t], d)[0]!) < 1, `t=${t}`);
  });

  it("distinct positions have distinct vectors (pairwise-nearest distance > 0, t = 0…10⁴)", () => {
    const flat = new Float64Array(rows.flat());
    let nearest = Infinity;
    for (let a = 0; a <= N; a++) {
      for (let b = a + 1; b <= N; b++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += (flat[a * d + c]! - flat[b * d + c]!) ** 2;
        if (s < nearest) nearest = s;
      }
    }
    assert.ok(nearest > 0, `nearest squared distance ${nearest}`);
  });

  it("‖p(t+1) − p(t)‖ is strictly decreasing and tends to 0", () => {
    let prev = Infinity;
    for (let t = 0; t < N; t++) {
      const g = dist(rows[t + 1]!, rows[t]!);
      assert.ok(g < prev, `step at t=${t}: ${g} ≥ ${prev}`);
      prev = g;
    }
    const far = [1e5, 1e6, 1e8].map((t) => dist(...(boundedTable([t, t + 1], d) as [number[], number[]])));
    assert.ok(far[0]! < prev && far[1]! < far[0]! && far[2]! < far[1]! && far[2]! < 1e-8, `steps ${far}`);
  });

  it("t and 2t stay apart as t grows (log compression)", () => {
    for (const t of [10, 1e3, 1e6, 1e9]) {
      const [a, b] = boundedTable([t, 2 * t], d);
      assert.ok(dist(a!, b!) > 0.1, `‖p(${t}) − p(${2 * t})‖ = ${dist(a!, b!)}`);
    }
  });

  it("scale multiplies the rows; invalid options are ConfigErrors", () => {
    expectClose(boundedTable([3], d, { scale: 0.1 })[0]!, boundedTable([3], d)[0]!.map((x) => 0.1 * x), { atol: 1e-15 });
    assert.throws(() => bounded({ tau: 0.5 }), (e: Error) => e instanceof ConfigError && /tau=0.5/.test(e.message));
    assert.throws(() => bounded({ scale: 0 }), ConfigError);
  });
});

describe("the embed seam equals the table", () => {
  const encodings: PositionalEncoding[] = [sinusoidal(), sinusoidal({ variant: "phuong-hutter" }), sinusoidal({ variant: "tensor2tensor" }), bounded(), bounded({ tau: 4, scale: 0.5 })];
  for (const pe of encodings) {
    it(pe.label, () => {
      const ctx = ctxOf(pe);
      const t = pe.embed!({ start: 3, length: 20 }, ctx);
      assert.deepEqual(t.shape, [20, micro.dE]);
      assert.equal(t.dtype, "float32");
      const want = pe.table!(Array.from({ length: 20 }, (_, i) => 3 + i), ctx).flat();
      expectClose(values(t), want, { atol: 1e-7, rtol: 1e-6 });
      t.dispose();
    });
  }

  it("learned: table rows are W_p's rows; past ℓ_max is an InputError naming the limit", () => {
    const m = DTransformer.create(micro, 1);
    const ctx: PeContext = { cfg: m.cfg, param: (n) => m.params.get(n) };
    const W = m.params.get(W_P).arraySync() as number[][];
    assert.deepEqual(m.positional.table!([0, 7, 2], ctx), [W[0], W[7], W[2]]);
    assert.throws(() => m.positional.table!([8], ctx), (e: Error) => e instanceof InputError && /ℓ_max=8/.test(e.message));
    m.dispose();
  });
});

describe("models with unbounded additive encodings", () => {
  for (const pe of [sinusoidal(), bounded()]) {
    it(`${pe.name}: runs past ℓ_max, is causal, every parameter gets a gradient`, () => {
      const m = DTransformer.create({ ...micro, positional: pe }, 4);
      assert.equal(m.positional.maxPositions?.(m.cfg), undefined);
      assert.equal(m.params.has(W_P), false);
      const out = m.logits(Array.from({ length: 3 * micro.lMax }, (_, t) => t % 11));
      assert.deepEqual(out.shape, [3 * micro.lMax, 11]);
      assert.ok(values(out).every(Number.isFinite));
      out.dispose();
      assertCausal(m, 2 * micro.lMax);
      assertAllGradients(m, 2 * micro.lMax);
      m.dispose();
    });
  }
});

describe("extendLearned (ViT-style interpolation of W_p)", () => {
  it("old rows land on even rows, midpoints are averages, other variables are shared", () => {
    const m = DTransformer.create(micro, 6);
    const e = extendLearned(m, 15);
    const oldW = m.params.get(W_P).arraySync() as number[][];
    const newW = e.params.get(W_P).arraySync() as number[][];
    assert.equal(e.cfg.lMax, 15);
    assert.deepEqual(e.params.get(W_P).shape, [15, micro.dE]);
    for (let k = 0; k < 8; k++) assert.deepEqual(newW[2 * k], oldW[k], `new row ${2 * k} = old row ${k}`);
    for (let k = 0; k < 7; k++) expectClose(newW[2 * k + 1]!, oldW[k]!.map((a, c) => Math.fround((a + oldW[k + 1]![c]!) / 2)), { atol: 0, what: `row ${2 * k + 1}` });
    for (const [name, v] of m.params.vars) if (name !== W_P) assert.equal(e.params.get(name), v, `${name} is shared`);
    assert.notEqual(e.params.get(W_P), m.params.get(W_P));
    e.params.get(W_P).dispose();
    m.dispose();
  });

  it("nearest copies rows; the original is unchanged and still refuses ℓ > ℓ_max", () => {
    const m = DTransformer.create(micro, 7);
    const before = values(m.params.get(W_P));
    const e = extendLearned(m, 22, { method: "nearest" });
    const oldW = m.params.get(W_P).arraySync() as number[][];
    (e.params.get(W_P).arraySync() as number[][]).forEach((row, t) => assert.deepEqual(row, oldW[Math.round((t * 7) / 21)]));
    assert.equal(m.cfg.lMax, 8);
    assert.deepEqual(values(m.params.get(W_P)), before);
    assert.throws(() => m.logits(new Array(9).fill(1)), InputError);
    const out = e.logits(Array.from({ length: 22 }, (_, t) => t % 11));
    assert.deepEqual(out.shape, [22, 11]);
    assert.throws(() => e.logits(new Array(23).fill(1)), (err: Error) => err instanceof InputError && /ℓ_max=22/.test(err.message));
    out.dispose();
    e.params.get(W_P).dispose();
    m.dispose();
  });

  it("logits at ℓ ≤ old ℓ_max differ only through W_p", () => {
    const m = DTransformer.create(micro, 8);
    const e = extendLearned(m, 15);
    const x = [1, 4, 1, 5, 9, 2, 6, 5];
    const rows = tf.slice(e.params.get(W_P), [0, 0], [x.length, -1]);
    const swapped = m.runWithHooks(x, [["hook_pos_embed", () => rows.clone()]]);
    const ext = e.logits(x);
    expectClose(ext, swapped, { atol: 1e-6 });
    const orig = m.logits(x);
    assert.ok(maxAbsDiff(ext, orig) > 0, "interpolation changes W_p rows 1…7");
    tf.dispose([rows, swapped, ext, orig]);
    e.params.get(W_P).dispose();
    m.dispose();
  });

  it("errors name the value and the limit", () => {
    const m = DTransformer.create(micro, 9);
    assert.throws(() => extendLearned(m, 7), (e: Error) => e instanceof ConfigError && /newLMax=7/.test(e.message) && /ℓ_max=8/.test(e.message));
    assert.throws(() => extendLearned(m, 12.5), (e: Error) => e instanceof ConfigError && /newLMax=12.5/.test(e.message));
    assert.throws(() => extendLearned(m, 16, { method: "cubic" as never }), ConfigError);
    const n = m.withPositional(none());
    assert.throws(() => extendLearned(n, 16), (e: Error) => e instanceof ConfigError && /NoPE/.test(e.message));
    m.dispose();
  });
});

describe("registry round trips", () => {
  const ctx = (pe: PositionalEncoding) => ctxOf(pe);
  for (const pe of [learned({ initStd: 0.02 }), sinusoidal(), sinusoidal({ variant: "phuong-hutter", base: 512 }), sinusoidal({ variant: "tensor2tensor" }), bounded(), bounded({ tau: 8, base: 50, scale: 0.25 })]) {
    it(JSON.stringify(pe.toJSON()), () => {
      const back = positionalFrom(JSON.parse(JSON.stringify(pe.toJSON())));
      assert.deepEqual(back.toJSON(), pe.toJSON());
      assert.equal(back.label, pe.label);
      if (pe.name !== "learned") assert.deepEqual(back.table!([0, 9, 100], ctx(back)), pe.table!([0, 9, 100], ctx(pe)));
    });
  }

  it("names with arguments", () => {
    assert.deepEqual(positionalFrom("sinusoidal").toJSON(), { name: "sinusoidal" });
    assert.deepEqual(positionalFrom("sinusoidal:phuong-hutter").toJSON(), { name: "sinusoidal", variant: "phuong-hutter" });
    assert.deepEqual(positionalFrom("sinusoidal:tensor2tensor").toJSON(), { name: "sinusoidal", variant: "tensor2tensor" });
    assert.deepEqual(positionalFrom("bounded:4").toJSON(), { name: "bounded", tau: 4 });
    assert.throws(() => positionalFrom("sinusoidal:nope"), ConfigError);
  });
});
