/**
 * lib/eval/cost.ts: forwardCost's rows (columns, the deterministic byte counts, peak memory growing
 * with ℓ, the model's layout unchanged, abort) and quadraticFit's exact recovery of a + bℓ + cℓ².
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { presets } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { COST_COLUMNS, forwardCost, powerLawFit, quadraticFit } from "../../lib/eval/cost.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { DEFAULT_LAYOUT } from "../../lib/engine/layout-options.js";
import { forwardMemory } from "../../lib/engine/memory-estimate.js";
import { none } from "../../lib/positional/none.js";
import { testBackend } from "../helpers/setup.js";

let model: DTransformer;
before(async () => {
  await testBackend();
  model = DTransformer.create({ ...presets.micro, positional: none() }, 2);
});
after(() => model.dispose());

describe("forwardCost", () => {
  it("measures one row per ℓ with the attention-score bytes 2·B·H·ℓ²·4 and the estimate", async () => {
    const t = await forwardCost(model, { lengths: [8, 32, 128], batch: 2, repeats: 1, attention: "batched" });
    assert.deepEqual(t.columnNames(), [...COST_COLUMNS]);
    const rows = t.objects() as Record<string, number | string | boolean>[];
    assert.deepEqual(rows.map((r) => r.length), [8, 32, 128]);
    for (const r of rows) {
      const l = Number(r.length);
      assert.equal(r.score_bytes, 2 * 2 * model.cfg.nHeads * l * l * 4);
      assert.equal(r.estimate_bytes, forwardMemory(model.cfg, { batch: 2, length: l, chunked: false }).bytes);
      assert.equal(r.method, "batched");
      assert.ok(Number(r.ms) >= 0);
    }
    // the batched layout holds [B, H, ℓ, ℓ] scores: peak memory grows faster than ℓ
    const peaks = rows.map((r) => Number(r.peak_bytes));
    assert.ok(peaks[0]! > 0 && peaks[1]! > peaks[0]! && peaks[2]! > peaks[1]!, `peaks ${peaks}`);
    assert.ok(peaks[2]! - peaks[1]! > 4 * (peaks[1]! - peaks[0]!), `quadratic growth expected: ${peaks}`);
    assert.deepEqual(model.layout, DEFAULT_LAYOUT, "the model's own layout is not changed");
  });

  it("chunked attention keeps the peak below the unchunked one at the same ℓ", async () => {
    const [b, c] = [await forwardCost(model, { lengths: [256], repeats: 1, attention: "batched" }), await forwardCost(model, { lengths: [256], repeats: 1, attention: "chunked" })];
    assert.ok(Number(c.get("peak_bytes", 0)) < Number(b.get("peak_bytes", 0)));
    assert.equal(c.get("chunked", 0), true);
  });

  it("returns the rows done so far when aborted, and checks its options", async () => {
    const ac = new AbortController();
    ac.abort();
    assert.equal((await forwardCost(model, { lengths: [4, 8], signal: ac.signal })).numRows(), 0);
    await assert.rejects(forwardCost(model, { lengths: [] }), ConfigError);
    await assert.rejects(forwardCost(model, { lengths: [4], repeats: 0 }), ConfigError);
    await assert.rejects(forwardCost(model, { lengths: [4], attention: "fast" as never }), ConfigError);
  });
});

describe("quadraticFit", () => {
  it("recovers a + b·ℓ + c·ℓ² exactly and reports the quadratic share at the largest ℓ", () => {
    const ls = [128, 256, 512, 1024, 2048];
    const f = quadraticFit(ls, ls.map((l) => 3 + 0.02 * l + 1e-5 * l * l));
    assert.ok(Math.abs(f.a - 3) < 1e-6 && Math.abs(f.b - 0.02) < 1e-9 && Math.abs(f.c - 1e-5) < 1e-12, JSON.stringify(f));
    const total = 3 + 0.02 * 2048 + 1e-5 * 2048 ** 2;
    assert.ok(Math.abs(f.quadraticShare - (1e-5 * 2048 ** 2) / total) < 1e-9);
    assert.throws(() => quadraticFit([1, 1, 2], [1, 2, 3]), ConfigError);
  });

  it("keeps every coefficient ≥ 0: data a free fit would give a negative intercept", () => {
    const ls = [100, 200, 400, 800];
    const ys = ls.map((l) => 0.5 * l + 1e-3 * l * l - 40); // the exact free fit has a = −40
    const f = quadraticFit(ls, ys);
    assert.ok(f.a >= 0 && f.b >= 0 && f.c >= 0, JSON.stringify(f));
    assert.equal(f.a, 0);
    const rss = ls.reduce((s, l, i) => s + (ys[i]! - (f.a + f.b * l + f.c * l * l)) ** 2, 0);
    assert.ok(rss < 40 ** 2 * ls.length, `a sensible fit: rss ${rss}`);
  });
});

describe("powerLawFit", () => {
  it("recovers k·x^p exactly, and a mixed a·ℓ + c·ℓ² gives an exponent between 1 and 2", () => {
    const ls = [256, 512, 1024, 2048];
    const f = powerLawFit(ls, ls.map((l) => 3e-4 * l ** 2));
    assert.ok(Math.abs(f.exponent - 2) < 1e-9 && Math.abs(f.coefficient - 3e-4) < 1e-12 && Math.abs(f.r2 - 1) < 1e-12, JSON.stringify(f));
    assert.ok(Math.abs(powerLawFit(ls, ls.map((l) => 5 * l)).exponent - 1) < 1e-9);
    const mixed = powerLawFit(ls, ls.map((l) => 0.5 * l + 1e-3 * l * l)).exponent;
    assert.ok(mixed > 1.2 && mixed < 1.9, `mixed exponent ${mixed}`);
  });

  it("refuses a non-positive point, one distinct x, or mismatched lengths, naming them", () => {
    assert.throws(() => powerLawFit([1, 2, 3], [1, 0, 2]), /point 1 is \(x=2, y=0\)/);
    assert.throws(() => powerLawFit([4, 4], [1, 2]), /at least 2 distinct x/);
    assert.throws(() => powerLawFit([1, 2], [1]), /2 x values but 1 y values/);
  });
});
