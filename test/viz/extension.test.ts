/**
 * lib/viz/extension.ts: binned per-position curves with their 95 % intervals (closed forms on
 * hand-made rows), the offset-k attention mass of a micro model's trace against readPattern, the
 * zoomed PI Fig. 2, and recolouring by method.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { presets } from "../../lib/config.js";
import { Z95 } from "../../lib/eval/intervals.js";
import type { ActivationCache } from "../../lib/hooks/cache.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { readPattern } from "../../lib/viz/attention.js";
import { offsetMass, positionBins, positionCurve, scoreZoom, strongestOffsetHead, styleByMethod, withReferenceLine } from "../../lib/viz/extension.js";
import { methodStyle } from "../../lib/viz/methods.js";
import { rotarySpectra } from "../../lib/viz/spectra.js";
import { testBackend } from "../helpers/setup.js";

describe("positionBins", () => {
  const rows = [
    // window 0: positions 0–3 → bin 0 mean 1.5 (values 1, 2), bin 1 mean 4 (values 3, 5)
    { method: "pi (rope)", window: 0, position: 0, y: 1 },
    { method: "pi (rope)", window: 0, position: 1, y: 2 },
    { method: "pi (rope)", window: 0, position: 2, y: 3 },
    { method: "pi (rope)", window: 0, position: 3, y: 5 },
    // window 1: bin 0 mean 3.5, bin 1 has only NaN (skipped)
    { method: "pi (rope)", window: 1, position: 0, y: 3 },
    { method: "pi (rope)", window: 1, position: 1, y: 4 },
    { method: "pi (rope)", window: 1, position: 2, y: NaN },
    { method: "yarn (rope)", window: 0, position: 5, y: 7 },
  ];

  it("averages within each window first, then over windows: mean ± 1.96·sd/√n", () => {
    const b = positionBins(rows, { y: "y", bin: 2 });
    assert.deepEqual(b.map((x) => [x.group, x.from, x.n]), [["pi (rope)", 0, 2], ["pi (rope)", 2, 1], ["yarn (rope)", 4, 1]]);
    const first = b[0]!;
    assert.equal(first.mean, 2.5);
    assert.equal(first.x, 0.5);
    const half = (Z95 * Math.SQRT2) / Math.SQRT2; // sd of {1.5, 3.5} is √2, n = 2
    assert.ok(Math.abs(first.hi! - (2.5 + half)) < 1e-12 && Math.abs(first.lo! - (2.5 - half)) < 1e-12);
    assert.equal(b[1]!.mean, 4);
    assert.equal(b[1]!.lo, null, "one window: no interval");
  });

  it("names a bad bin width or a missing column", () => {
    assert.throws(() => positionBins(rows, { y: "y", bin: 0 }), /bin=0 must be an integer ≥ 1/);
    assert.throws(() => positionBins(rows, { y: "loss" }), /no column "loss"/);
  });

  it("positionCurve draws a band and a line per method in the method's colour", () => {
    const f = positionCurve(rows, { y: "y", bin: 2, marks: [{ x: 2, label: "ℓ_max" }], hline: { y: 1, label: "chance" } });
    const lines = f.data.filter((t) => t.showlegend !== false);
    assert.deepEqual(lines.map((t) => t.name), ["pi (rope) (n = 1)", "yarn (rope) (n = 1)"]);
    assert.equal((lines[0]!.line as { color: string }).color, methodStyle("pi (rope)").color);
    const bands = f.data.filter((t) => t.fill === "toself");
    assert.equal(bands.length, 1, "only the bin with two windows has a band");
    assert.deepEqual(bands[0]!.x, [0.5, 0.5]);
    assert.equal((f.layout.shapes as unknown[]).length, 2);
    assert.throws(() => positionCurve([{ method: "a", window: 0, position: 0, y: NaN }], { y: "y" }), /no finite values/);
  });
});

describe("offset mass on a micro model's trace", () => {
  let model: DTransformer;
  let cache: ActivationCache;
  before(async () => {
    await testBackend();
    model = DTransformer.create({ ...presets.micro }, 5);
    cache = model.trace([0, 3, 1, 4, 1, 5, 9, 2]).cache;
  });
  after(() => {
    cache.dispose();
    model.dispose();
  });

  it("reads A[m, m − k] for every query with a key k back", () => {
    const p = readPattern(cache, 1, 0);
    const r = offsetMass(cache, { layer: 1, head: 0, offset: 1, start: 10 });
    assert.deepEqual(r.position, [11, 12, 13, 14, 15, 16, 17]);
    assert.deepEqual(r.mass, [1, 2, 3, 4, 5, 6, 7].map((m) => p.rows[m]![m - 1]));
    const diag = offsetMass(cache, { layer: 0, head: 1, offset: 0 });
    assert.equal(diag.mass[0], 1, "query 0 sees only itself");
    assert.throws(() => offsetMass(cache, { layer: 0, head: 0, offset: -1 }), /offset=-1/);
  });

  it("strongestOffsetHead is the brute-force maximum of the mean offset mass", () => {
    const best = strongestOffsetHead(cache, { offset: 1, below: 6 });
    let max = -Infinity;
    for (const layer of [0, 1]) for (let head = 0; head < presets.micro.nHeads!; head++) {
      const r = offsetMass(cache, { layer, head });
      const vs = r.mass.filter((_, i) => r.position[i]! < 6);
      max = Math.max(max, vs.reduce((s, v) => s + v, 0) / vs.length);
    }
    assert.ok(Math.abs(best.mass - max) < 1e-12 && best.layer >= 0 && best.head >= 0);
    assert.throws(() => strongestOffsetHead(cache, { below: 1 }), /no query below position 1/);
  });
});

describe("scoreZoom and styleByMethod", () => {
  it("|a| stays ≲ 1 on [0, L] and explodes past it; the dots sit at multiples of L/L′", () => {
    const f = scoreZoom({ d: 16, originalLength: 64, extendedLength: 256, zoom: 3 });
    const [ex, inter, fine, dots] = f.data as { x: number[]; y: number[] }[];
    const inside = ex!.y.filter((_, i) => ex!.x[i]! <= 64);
    assert.ok(Math.max(...inside) < 1.5, `max inside ${Math.max(...inside)}`);
    assert.ok(Math.max(...ex!.y) > 10, "extrapolation leaves the fitted range");
    assert.ok(Math.max(...inter!.y) < 1.5, "interpolation stays in it");
    assert.deepEqual(dots!.x, [0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3]);
    assert.equal(fine!.x.at(-1), 3);
    assert.throws(() => scoreZoom({ originalLength: 64, zoom: 100 }), /zoom=100 must be in \(0, L=64\]/);
  });

  it("styleByMethod recolours by the mapped method and leaves the input alone", () => {
    const fig = rotarySpectra([{ label: "A", invFreq: [1, 0.1] }, { label: "B", invFreq: [0.5, 0.05] }], { originalLength: 10 });
    const before = JSON.stringify(fig);
    const out = styleByMethod(fig, (n) => (n === "A" ? "extrapolate (rope)" : "pi (rope)"));
    assert.deepEqual(out.data.map((t) => (t.line as { color: string }).color), [methodStyle("extrapolate (rope)").color, methodStyle("pi (rope)").color]);
    assert.equal(JSON.stringify(fig), before);
  });
});

describe("withReferenceLine", () => {
  it("adds one dashed line and its label, keeping the figure's own", () => {
    const fig = rotarySpectra([{ label: "A", invFreq: [1, 0.1] }], { originalLength: 10 });
    const n = (fig.layout.shapes as unknown[]).length;
    const out = withReferenceLine(fig, { y: 5 * Math.log(0.1), label: "chance" });
    assert.equal((out.layout.shapes as unknown[]).length, n + 1);
    assert.equal((out.layout.shapes as { y0: number }[]).at(-1)!.y0, 5 * Math.log(0.1));
    assert.equal((fig.layout.shapes as unknown[]).length, n, "input unchanged");
    assert.throws(() => withReferenceLine(fig, { y: NaN, label: "x" }), /y=NaN must be a finite number/);
  });
});
