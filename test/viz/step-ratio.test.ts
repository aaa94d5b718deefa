/**
 * lib/viz/step-ratio.ts and pcaPairs (lib/viz/linalg.ts): the relative step ‖Δp‖/‖p‖ (values, zero
 * norms left out, ℓ_max marked, method colours) and which frequency pairs the principal components
 * of a sinusoidal trajectory load on.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError } from "../../lib/errors.js";
import { pcaPairs } from "../../lib/viz/linalg.js";
import { ENCODING_COLORS } from "../../lib/viz/methods.js";
import { stepRatio, stepRatios } from "../../lib/viz/step-ratio.js";

/** p(t) on a circle of radius r in pair j of d/2 pairs: rotating by ω per step. */
const circle = (n: number, r: number, omega: number) => Array.from({ length: n }, (_, t) => [r * Math.cos(omega * t), r * Math.sin(omega * t)]);

describe("stepRatios", () => {
  it("is the chord over the radius: 2 sin(ω/2) for a rotation, whatever the radius", () => {
    for (const r of [0.01, 1, 50]) {
      const got = stepRatios(circle(5, r, 0.3));
      for (const v of got) assert.ok(Math.abs(v - 2 * Math.sin(0.15)) < 1e-12, `r = ${r}: ${v}`);
    }
    assert.deepEqual(stepRatios([[1, 0], [0, 1]]), [Math.SQRT2]);
  });

  it("is NaN where ‖p(t)‖ = 0, and refuses ragged vectors", () => {
    assert.ok(Number.isNaN(stepRatios([[0, 0], [1, 0]])[0]!));
    assert.throws(() => stepRatios([[1, 0], [1]]), (e: Error) => e instanceof InputError && /p\(0\) has 2 entries but p\(1\) has 1/.test(e.message));
  });
});

describe("stepRatio", () => {
  it("draws one line per set in its method's colour, leaves out zero norms and marks ℓ_max", () => {
    const f = stepRatio(
      [
        { label: "sinusoidal", method: "sinusoidal", vectors: circle(10, 4, 1) },
        { label: "learned W_p", method: "learned", vectors: [[0, 0], ...circle(9, 0.1, 0.5)] },
      ],
      { lMax: 8 },
    );
    assert.equal(f.data.length, 2);
    assert.equal((f.data[0]!.line as { color: string }).color, ENCODING_COLORS.sinusoidal);
    assert.equal((f.data[1]!.line as { color: string }).color, ENCODING_COLORS.learned);
    assert.deepEqual(f.data[1]!.x, [1, 2, 3, 4, 5, 6, 7, 8], "t = 0 (‖p‖ = 0) is left out");
    assert.ok((f.data[0]!.y as number[]).every((v) => Math.abs(v - 2 * Math.sin(0.5)) < 1e-12));
    const shape = (f.layout.shapes as { x0: number }[])[0]!;
    assert.equal(shape.x0, 8);
    assert.match(String((f.layout.annotations as { text: string }[])[0]!.text), /ℓ_max = 8/);
    assert.equal((f.layout.yaxis as { type?: string }).type, "log");
  });

  it("refuses no sets, a single vector and a bad ℓ_max", () => {
    assert.throws(() => stepRatio([]), InputError);
    assert.throws(() => stepRatio([{ label: "a", vectors: [[1, 0]] }]), /needs at least 2/);
    assert.throws(() => stepRatio([{ label: "a", vectors: circle(3, 1, 1) }], { lMax: 0 }), /lMax must be a positive/);
  });
});

describe("pcaPairs", () => {
  it("finds the pair that carries a component: two pairs with different amplitudes", () => {
    // pair 0 rotates with amplitude 3, pair 2 with amplitude 1, pair 1 is constant: PC1/PC2 live in pair 0, PC3/PC4 in pair 2
    const rows = Array.from({ length: 400 }, (_, t) => [3 * Math.cos(0.05 * t), 3 * Math.sin(0.05 * t), 0.7, 0.7, Math.cos(0.9 * t), Math.sin(0.9 * t)]);
    const p = pcaPairs(rows, 4);
    assert.deepEqual(p.map((c) => c.pairs), [[0], [0], [2], [2]]);
    assert.ok(p[0]!.loading > 0.99);
    assert.ok(Math.abs(p.reduce((s, c) => s + c.explained, 0) - 1) < 1e-6, "four components hold all the variance");
    assert.ok(p[0]!.explained > p[2]!.explained);
  });

  it("refuses odd widths and a bad cover", () => {
    assert.throws(() => pcaPairs([[1, 2, 3]], 1), /even number/);
    assert.throws(() => pcaPairs([[1, 2]], 1, { cover: 0 }), /cover must be in/);
  });
});
