/**
 * lib/viz/relative.ts: RoFormer's relative upper bound against docs/literature.md, "RoPE", the score curve
 * a(s) = Re Σ h_j e^{isθ_j} against closed forms, PI Fig. 2's fit (bounded on [0, L], exploding past
 * it, bounded again when interpolated), and figure snapshots.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { extrapolationVsInterpolation, fitScoreCoefficients, ropeDecayCurve, ropeRelativeBound, rotaryScoreCurve } from "../../lib/viz/relative.js";
import { ropeTheta } from "../../lib/viz/spectra.js";
import { expectClose } from "../helpers/setup.js";
import { matchSnapshot } from "./snapshot.js";

const maxAbs = (a: ArrayLike<number>, lo = 0, hi = a.length - 1) => {
  let m = 0;
  for (let i = lo; i <= hi; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

describe("ropeRelativeBound (RoFormer §3.4.3)", () => {
  it("matches §4.9 for d = 128 at s = 0, 10, 50, 100, 250", () => {
    const got = [0, 10, 50, 100, 250].map((s) => ropeRelativeBound(s, 128, 1e4));
    expectClose(got, [32.5, 17.954137, 12.629452, 10.22733, 6.548179], { rtol: 1e-7, atol: 0 });
  });

  it("is (d/2 + 1)/2 at s = 0 for any d, and decays overall", () => {
    for (const d of [8, 32, 64]) assert.equal(ropeRelativeBound(0, d), (d / 2 + 1) / 2);
    assert.ok(ropeRelativeBound(1000, 128) < ropeRelativeBound(10, 128));
  });

  it("ropeDecayCurve: one line per d, y = the bound (snapshot)", () => {
    const f = ropeDecayCurve([32, 128], 1e4, 64);
    assert.equal(f.data.length, 2);
    assert.equal((f.data[1]!.y as number[])[0], 32.5);
    assert.equal((f.data[0]!.x as number[]).length, 65);
    matchSnapshot("rope-decay", f);
  });

  it("thins 8k distances with min/max buckets and says so", () => {
    const f = ropeDecayCurve(64, 1e4, 8191);
    assert.ok((f.data[0]!.x as number[]).length <= 2000);
    assert.match(String(f.data[0]!.name), /min\/max per/);
  });
});

describe("rotaryScoreCurve", () => {
  it("equals Σ_j (re_j cos sθ_j − im_j sin sθ_j)", () => {
    const h = { re: Float64Array.of(1, 0.5), im: Float64Array.of(0, 2) };
    const theta = [0.5, 0.1];
    const s = [0, 1, 2.5, 100];
    expectClose(rotaryScoreCurve(h, theta, s), s.map((x) => Math.cos(0.5 * x) + 0.5 * Math.cos(0.1 * x) - 2 * Math.sin(0.1 * x)), { atol: 1e-12 });
    expectClose(rotaryScoreCurve(h, theta, [0]), [1.5], { atol: 1e-15 });
  });
});

describe("PI Fig. 2: extrapolation vs interpolation", () => {
  const theta = ropeTheta(32, 1e4);
  const L = 128;
  const { h, targets } = fitScoreCoefficients(theta, L, { seed: 3 });
  const s = Array.from({ length: 4 * L + 1 }, (_, i) => i);

  it("the fit is seeded, targets lie in [−1, 1], and max |a| = 1 on [0, L]", () => {
    assert.equal(targets.length, L + 1);
    assert.ok(targets.every((t) => t >= -1 && t <= 1));
    const again = fitScoreCoefficients(theta, L, { seed: 3 });
    assert.deepEqual(Array.from(again.h.re), Array.from(h.re));
    const a = rotaryScoreCurve(h, theta, s);
    expectClose([maxAbs(a, 0, L)], [1], { atol: 1e-12 });
  });

  it("extrapolated beyond L it explodes (≫ 10×); interpolated it stays within ~1", () => {
    const a = rotaryScoreCurve(h, theta, s);
    assert.ok(maxAbs(a, L + 1, 4 * L) > 100, `max beyond L: ${maxAbs(a, L + 1, 4 * L)}`);
    const interp = rotaryScoreCurve(h, theta, s.map((x) => x / 4));
    assert.ok(maxAbs(interp) < 1.5, `max interpolated: ${maxAbs(interp)}`);
  });

  it("d = 128, L = 2048 (the paper's setting) grows to the paper's order of 10³–10⁴", () => {
    const t = ropeTheta(128, 1e4);
    const fit = fitScoreCoefficients(t, 2048, { seed: 0 });
    const a = rotaryScoreCurve(fit.h, t, Array.from({ length: 4097 }, (_, i) => i));
    const beyond = maxAbs(a, 2049, 4096);
    assert.ok(beyond > 1e3 && beyond < 1e5, `max on (L, 2L]: ${beyond}`);
  });

  it("figure: two panels with ℓ_max marked in each (snapshot)", () => {
    const f = extrapolationVsInterpolation({ d: 16, originalLength: 64, extendedLength: 256, seed: 1 });
    assert.equal(f.data.length, 2);
    assert.deepEqual(f.data.map((t) => t.xaxis), ["x", "x2"]);
    assert.deepEqual((f.layout.shapes as { x0: number }[]).map((m) => m.x0), [64, 64]);
    assert.equal((f.data[0]!.x as number[]).length, 257);
    matchSnapshot("extrapolation-vs-interpolation", f);
  });
});
