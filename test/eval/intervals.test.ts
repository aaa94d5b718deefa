/** Intervals (lib/eval/intervals.ts): Wilson against closed forms, the seeded bootstrap, the spread of seeds; the rollups that carry them. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { accuracyBy, bootstrapInterval, perplexityByLength, spread, wilson, Z95 } from "../../lib/eval/index.js";

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b}`);

describe("wilson", () => {
  it("0/n and n/n have the closed forms [0, z²/(n+z²)] and [n/(n+z²), 1]", () => {
    const z2 = Z95 * Z95;
    for (const n of [1, 10, 105]) {
      const zero = wilson(0, n)!;
      close(zero.lo, 0);
      close(zero.hi, z2 / (n + z2));
      const all = wilson(n, n)!;
      close(all.lo, n / (n + z2));
      close(all.hi, 1);
    }
    // hand-computed at n = 10: z²/(10 + z²) = 3.841459/13.841459 = 0.277533
    close(wilson(0, 10)!.hi, 0.2775328, 1e-7);
    close(wilson(10, 10)!.lo, 0.7224672, 1e-7);
  });
  it("5/10 is symmetric about ½: ½ ± z/(1 + z²/10)·√(1/40 + z²/400) = [0.236593, 0.763407]", () => {
    const { lo, hi } = wilson(5, 10)!;
    const half = (Z95 / (1 + (Z95 * Z95) / 10)) * Math.sqrt(1 / 40 + (Z95 * Z95) / 400);
    close(lo, 0.5 - half);
    close(hi, 0.5 + half);
    close(lo, 0.2365931, 1e-7);
    close(hi, 0.7634069, 1e-7);
  });
  it("1/5 = [0.036224, 0.624465]; z = 1 gives a narrower interval; n = 0 gives null; bad input is named", () => {
    close(wilson(1, 5)!.lo, 0.0362241, 1e-7);
    close(wilson(1, 5)!.hi, 0.6244654, 1e-7);
    assert.ok(wilson(1, 5, 1)!.hi < wilson(1, 5)!.hi);
    assert.equal(wilson(0, 0), null);
    assert.throws(() => wilson(6, 5), /wilson: k=6 must be an integer in \[0, n=5\]/);
    assert.throws(() => wilson(1, -1), /wilson: n=-1 must be an integer ≥ 0/);
    assert.throws(() => wilson(1.5, 5), /k=1.5/);
  });
  it("accuracyBy carries the Wilson interval of each group", () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ method: "A", length: 128, correct: i < 5 ? 1 : 0 }));
    const [g] = accuracyBy(rows, ["length"]).objects() as { lo: number; hi: number; accuracy: number }[];
    close(g!.lo, wilson(5, 10)!.lo);
    close(g!.hi, wilson(5, 10)!.hi);
  });
});

describe("bootstrapInterval", () => {
  const losses = [1.2, 1.5, 1.1, 1.9, 1.4, 1.3, 1.7, 1.0];
  it("is deterministic for a seed and moves with it; the interval holds the statistic", () => {
    const a = bootstrapInterval(losses, { seed: 7 })!;
    assert.deepEqual(bootstrapInterval(losses, { seed: 7 }), a);
    assert.notDeepEqual(bootstrapInterval(losses, { seed: 8 }), a);
    const mean = losses.reduce((s, v) => s + v, 0) / losses.length;
    assert.ok(a.lo < mean && mean < a.hi, `${a.lo} < ${mean} < ${a.hi}`);
    assert.ok(a.lo >= Math.min(...losses) && a.hi <= Math.max(...losses));
  });
  it("weights and transform: equal values give a point; one unit gives [v, v]; a perplexity interval is exp of the loss interval", () => {
    assert.deepEqual(bootstrapInterval([2, 2, 2], { weights: [1, 5, 9] }), { lo: 2, hi: 2 });
    assert.deepEqual(bootstrapInterval([3], {}), { lo: 3, hi: 3 });
    assert.equal(bootstrapInterval([], {}), null);
    const l = bootstrapInterval(losses, { seed: 1 })!;
    const p = bootstrapInterval(losses, { seed: 1, transform: Math.exp })!;
    close(p.lo, Math.exp(l.lo), 1e-12);
    close(p.hi, Math.exp(l.hi), 1e-12);
    assert.throws(() => bootstrapInterval([1, 2], { weights: [1] }), /1 weights for 2 values/);
    assert.throws(() => bootstrapInterval([1, NaN]), /value 1 = NaN/);
    assert.throws(() => bootstrapInterval([1, 2], { level: 1 }), /level=1 must be in \(0, 1\)/);
  });
  it("perplexityByLength: the interval brackets the token-weighted perplexity and is the same on every call", () => {
    const rows = losses.map((loss, w) => ({ method: "m", mode: "sequential", length: 64, window: w, start: w * 64, scored: 63, loss, perplexity: Math.exp(loss), error: null }));
    const [p] = perplexityByLength(rows).objects() as { perplexity: number; lo: number; hi: number }[];
    assert.ok(p!.lo < p!.perplexity && p!.perplexity < p!.hi);
    assert.deepEqual(perplexityByLength(rows).objects(), perplexityByLength(rows).objects());
  });
});

describe("spread", () => {
  it("mean, sample sd, min and max; nulls skipped; one value has no sd", () => {
    const s = spread([0.2, 0.4, null, 0.9]);
    assert.equal(s.n, 3);
    close(s.mean!, 0.5);
    close(s.sd!, Math.sqrt(((0.3 ** 2) + (0.1 ** 2) + (0.4 ** 2)) / 2));
    assert.deepEqual([s.min, s.max], [0.2, 0.9]);
    assert.deepEqual(spread([1]), { n: 1, mean: 1, sd: null, min: 1, max: 1 });
    assert.deepEqual(spread([]), { n: 0, mean: null, sd: null, min: null, max: null });
  });
});
