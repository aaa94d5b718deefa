/**
 * lib/viz/spectra.ts: wavelengths against docs/literature.md, "Test vectors", spectra from encoding objects, and
 * figure snapshots (rotary inputs as plain arrays: §4.1–4.4 vectors for RoPE, PI, NTK, YaRN).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { makeConfig, presets } from "../../lib/config.js";
import { InputError } from "../../lib/errors.js";
import { none } from "../../lib/positional/none.js";
import type { PositionalEncoding } from "../../lib/positional/types.js";
import { encodingSpectra, ropeTheta, rotaryScaleFactors, rotarySpectra, spectraOf, wavelengths } from "../../lib/viz/spectra.js";
import { expectClose } from "../helpers/setup.js";
import { matchSnapshot } from "./snapshot.js";
import { ENCODING_COLORS, SCALING_COLORS } from "../../lib/viz/methods.js";

// docs/literature.md, "Test vectors" (d = 8, b = 1e4, L = 2048, s = 4)
const ROPE = [1, 0.1, 0.01, 0.001];
const SCHEMES = [
  { label: "RoPE", invFreq: ROPE },
  { label: "PI (s = 4)", invFreq: [0.25, 0.025, 0.0025, 0.00025] },
  { label: "NTK-aware (s = 4)", invFreq: [1, 0.062996052, 0.0039685026, 0.00025] },
  { label: "YaRN (s = 4)", invFreq: [1, 0.1, 0.00625, 0.00025] },
];

describe("rotary spectra", () => {
  it("ropeTheta and wavelengths match §4.1", () => {
    expectClose(ropeTheta(8, 1e4), ROPE, { rtol: 1e-12 });
    expectClose(wavelengths(ROPE), [6.2831853, 62.831853, 628.31853, 6283.1853], { rtol: 1e-7 });
  });

  it("spectraOf reads inverseFrequencies and rejects non-rotary encodings", () => {
    const cfg = makeConfig({ ...presets.micro, positional: none() });
    const fake: PositionalEncoding = { name: "fake-rope", label: "fake RoPE", inverseFrequencies: (c) => ropeTheta(c.dAttn, 1e4), toJSON: () => ({ name: "fake-rope" }) };
    const [s] = spectraOf([fake], cfg);
    assert.equal(s!.label, "fake RoPE");
    expectClose(s!.invFreq, [1, 0.01], { rtol: 1e-12 }); // d_attn = 4
    assert.throws(() => spectraOf([none()], cfg), InputError);
    const f = encodingSpectra([fake], cfg, { originalLength: 8 });
    assert.deepEqual(f.data[0]!.y, wavelengths(s!.invFreq));
  });

  it("rotarySpectra: one log-scale line per scheme and the L line (snapshot)", () => {
    const f = rotarySpectra(SCHEMES, { originalLength: 2048, extendedLength: 8192 });
    assert.equal(f.data.length, 4);
    assert.equal((f.layout.yaxis as { type: string }).type, "log");
    assert.equal((f.layout.shapes as { y0: number }[])[0]!.y0, 2048);
    assert.deepEqual(f.data.map((d) => (d.line as { color: string }).color), [ENCODING_COLORS.rope, SCALING_COLORS.pi, SCALING_COLORS.ntk, SCALING_COLORS.yarn], "one colour per method, as everywhere");
    assert.match(String((f.layout.annotations as { text: string }[])[1]!.text), /L′ = 8192: the extended context/);
    matchSnapshot("rotary-spectra", f);
  });

  it("rotaryScaleFactors: PI is flat at s, NTK runs from 1 to s (snapshot)", () => {
    const f = rotaryScaleFactors(ROPE, SCHEMES.slice(1));
    expectClose(f.data[0]!.y as number[], [4, 4, 4, 4], { rtol: 1e-9 });
    expectClose([(f.data[1]!.y as number[])[0]!, (f.data[1]!.y as number[])[3]!], [1, 4], { rtol: 1e-7 });
    matchSnapshot("rotary-scale-factors", f);
  });
});
