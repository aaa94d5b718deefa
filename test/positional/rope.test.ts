/**
 * Rotary encodings (lib/positional/rope.ts, rope-scaling.ts): closed forms and the docs/literature.md, "Test vectors"
 * test vectors (numpy float64, 8 significant digits → asserted to 1e-6 relative), the tf seam against
 * the plain-array rotation, RoPE's relative property, PI ≡ RoPE at m/s, dynamic NTK, gradients on wasm
 * and cpu, the registry forms and JSON round trip, and the model with rotary positions.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { makeConfig, presets } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { dTransformer, DTransformer } from "../../lib/model/dtransformer.js";
import { positionalForms, positionalFrom } from "../../lib/positional/registry.js";
import {
  applyRotaryArray,
  dynamicNtkBase,
  llama3, llama3Bands, llama3InverseFrequencies,
  ntkBase,
  rope, ropeDynamicNTK, ropeInverseFrequencies, ropeNTK, ropePI,
  RotaryEncoding,
  yarn, yarnCorrectionDim, yarnCorrectionRange, yarnGamma, yarnInverseFrequencies, yarnMscale,
  type RotaryLayout,
} from "../../lib/positional/rope.js";
import type { PositionalEncoding } from "../../lib/positional/types.js";
import { Rng } from "../../lib/tensor/random.js";
import { expectClose, maxAbsDiff, onBackend, testBackend, values } from "../helpers/setup.js";

const ref = (a: ArrayLike<number>, b: ArrayLike<number>, what?: string) => expectClose(a, b, { rtol: 1e-6, atol: 1e-12, what });
const f32 = (a: ArrayLike<number> | tf.Tensor, b: ArrayLike<number> | tf.Tensor, what?: string) => expectClose(a, b, { rtol: 1e-5, atol: 2e-5, what });
const LAYOUTS: RotaryLayout[] = ["interleaved", "half-split"];
const theta8 = ropeInverseFrequencies(8, 1e4);
const q = [1, 2, 3, 4, 5, 6, 7, 8];
const k = [0.5, -1, 2, 0.25, -0.75, 1.5, -2, 1];
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

/** A one-head config with d_attn = d and ℓ_max = lMax (L defaults to ℓ_max). */
function cfgFor(pe: PositionalEncoding, d = 8, lMax = 2048) {
  return makeConfig({ nVocab: 11, lMax, nLayers: 1, nHeads: 1, dE: d, positional: pe });
}
/** Rotate rows x [ℓ][d] at positions start… through the tf seam. */
function seam(pe: RotaryEncoding, x: number[][], start: number, cfg = cfgFor(pe, x[0]!.length, 8)): number[][] {
  const t = tf.tensor4d(x.flat(), [1, 1, x.length, x[0]!.length]);
  const ctx = { cfg, param: (): tf.Tensor => { throw new Error("rotary encodings own no parameters"); } };
  const out = pe.rotate(t, { start, length: x.length }, "q", ctx);
  const rows = (out.arraySync() as number[][][][])[0]![0]!;
  tf.dispose([t, out]);
  return rows;
}
function randRows(rng: Rng, n: number, d: number): number[][] {
  return Array.from({ length: n }, () => Array.from(rng.normalArray(d)));
}

before(async () => {
  await testBackend();
});

describe("closed forms and the vectors of docs/literature.md (Test vectors)", () => {
  it("§4.1 RoPE θ_j = b^{−2j/d}, wavelengths and rotations in L = 2048 (d = 8)", () => {
    ref(theta8, [1, 0.1, 0.01, 0.001]);
    ref(Array.from(theta8, (t) => (2 * Math.PI) / t), [6.2831853, 62.831853, 628.31853, 6283.1853]);
    ref(Array.from(theta8, (t) => 2048 / ((2 * Math.PI) / t)), [325.94932, 32.594932, 3.2594932, 0.32594932]);
    ref(rope().inverseFrequencies(cfgFor(rope())), theta8, "rope() on d_attn = 8");
  });

  it("§4.2 PI: θ/4, and position 10·L/L' = 2.5 with θ equals position 10 with θ/4", () => {
    const pi = ropePI(4);
    ref(pi.inverseFrequencies(cfgFor(pi)), [0.25, 0.025, 0.0025, 0.00025]);
    const expected = [-1.9980879, -1.0038151, 1.9171214, 4.6178616, 4.8484532, 6.1231121, 6.9799781, 8.017475];
    ref(applyRotaryArray(q, 2.5, theta8, "interleaved"), expected, "RoPE at m = 2.5");
    ref(applyRotaryArray(q, 10, pi.inverseFrequencies(cfgFor(pi)), "interleaved"), expected, "PI ×4 at m = 10");
  });

  it("§4.3 NTK-aware base and frequencies (d = 8 and d = 128)", () => {
    ref([ntkBase(1e4, 4, 8)], [63496.042]);
    const ntk = ropeNTK(4);
    ref(ntk.inverseFrequencies(cfgFor(ntk)), [1, 0.062996052, 0.0039685026, 0.00025]);
    assert.ok(Math.abs(ntk.inverseFrequencies(cfgFor(ntk))[3]! - 0.001 / 4) < 1e-15, "lowest frequency divided by exactly s");
    ref([4, 8, 16].map((s) => ntkBase(1e4, s, 128)), [40889.942, 82684.623, 167198.74]);
  });

  it("§4.3 HF dynamic NTK (factor 4, L = 2048) at ℓ = 2048, 4096, 8192, 16384", () => {
    ref([2048, 4096, 8192, 16384].map((l) => dynamicNtkBase(1e4, 8, 2048, l, 4)), [1e4, 85498.797, 305673.51, 890971.88]);
    const dyn = ropeDynamicNTK({ factor: 4 });
    const cfg = cfgFor(dyn);
    ref(dyn.inverseFrequencies(cfg, 1000), theta8, "ℓ ≤ L leaves b");
    ref(dyn.inverseFrequencies(cfg), theta8, "no seqLen means ℓ ≤ L");
    ref(dyn.inverseFrequencies(cfg, 4096), [1, 0.058480355, 0.0034199519, 0.0002]);
    ref(dyn.inverseFrequencies(cfg, 8192), [1, 0.042529037, 0.001808719, 7.6923077e-5]);
  });

  it("§4.4 YaRN d = 8: ramp ends, implementation and paper θ, through yarn() too", () => {
    ref([yarnCorrectionDim(32, 8, 1e4, 2048), yarnCorrectionDim(1, 8, 1e4, 2048)], [1.0080001, 2.5131501]);
    assert.deepEqual(yarnCorrectionRange(8, 1e4, 2048, 1, 32), { low: 1, high: 3 });
    ref(yarnGamma(8, 1e4, 2048), [1, 1, 0.5, 0], "γ_impl");
    ref(yarnGamma(8, 1e4, 2048, { ramp: "paper" }), [1, 1, 0.072886879, 0], "γ_paper");
    ref(yarnInverseFrequencies(8, 1e4, 2048, 4), [1, 0.1, 0.00625, 0.00025], "θ_impl");
    ref(yarnInverseFrequencies(8, 1e4, 2048, 4, { ramp: "paper" }), [1, 0.1, 0.0030466516, 0.00025], "θ_paper");
    const y = yarn(4);
    ref(y.inverseFrequencies(cfgFor(y)), [1, 0.1, 0.00625, 0.00025], "yarn(4), L = ℓ_max = 2048");
    const yp = yarn(4, { ramp: "paper", originalLength: 2048 });
    ref(yp.inverseFrequencies(cfgFor(yp, 8, 64)), [1, 0.1, 0.0030466516, 0.00025], "originalLength overrides ℓ_max");
  });

  it("§4.4 YaRN real-size ramp indices and the toy config d = 32, L = 256, s = 4", () => {
    ref([16.128002, 40.210401, 20.944482, 45.026881], [yarnCorrectionDim(32, 128, 1e4, 2048), yarnCorrectionDim(1, 128, 1e4, 2048), yarnCorrectionDim(32, 128, 1e4, 4096), yarnCorrectionDim(1, 128, 1e4, 4096)]);
    assert.deepEqual(yarnCorrectionRange(128, 1e4, 2048, 1, 32), { low: 16, high: 41 });
    assert.deepEqual(yarnCorrectionRange(128, 1e4, 4096, 1, 32), { low: 20, high: 46 });
    ref([yarnCorrectionDim(32, 32, 1e4, 256), yarnCorrectionDim(1, 32, 1e4, 256)], [0.41964047, 6.4402404]);
    ref(yarnGamma(32, 1e4, 256).slice(0, 8), [1, 6 / 7, 5 / 7, 4 / 7, 3 / 7, 2 / 7, 1 / 7, 0]);
    const impl = yarnInverseFrequencies(32, 1e4, 256, 4);
    const paper = yarnInverseFrequencies(32, 1e4, 256, 4, { ramp: "paper" });
    ref(impl.slice(0, 8), [1, 0.50209047, 0.24846467, 0.12066896, 0.057142857, 0.026108704, 0.011293849, 0.0044456985]);
    ref(paper.slice(0, 8), [1, 0.43869671, 0.16997965, 0.071326337, 0.032437984, 0.015815194, 0.0081263608, 0.0044456985]);
    const piScaled = ropeInverseFrequencies(32, 1e4).slice(8).map((t) => t / 4);
    ref(impl.slice(8), piScaled, "pairs 8–15 (impl)");
    ref(paper.slice(8), piScaled, "pairs 8–15 (paper)");
  });

  it("§4.4 YaRN mscale = 0.1 ln s + 1 and the score multiplier mscale²", () => {
    const ss = [2, 4, 8, 16, 32];
    ref(ss.map(yarnMscale), [1.0693147, 1.1386294, 1.2079442, 1.2772589, 1.3465736]);
    ref(ss.map((s) => yarn(s).attentionScale()), [1.143434, 1.296477, 1.4591291, 1.6313902, 1.8132604]);
    const y = yarn(4);
    assert.equal(y.scoreScale({ start: 0, length: 3 }, { cfg: cfgFor(y), param: () => tf.scalar(0) }), y.attentionScale());
    assert.equal(yarn(4, { attentionFactor: 2 }).attentionScale(), 4);
    assert.equal(rope().attentionScale(), 1);
  });

  it("§4.4 Llama-3 toy θ' and the real Llama 3.1 bands (keeps 29, divides 29, blends 6)", () => {
    ref(llama3InverseFrequencies(8, 1e4, 2048, { factor: 4, lowFreqFactor: 1, highFreqFactor: 4 }), [1, 0.1, 0.0081487331, 0.00025]);
    const l3 = llama3({ factor: 4 });
    ref(l3.inverseFrequencies(cfgFor(l3)), [1, 0.1, 0.0081487331, 0.00025], "llama3() with L = ℓ_max");
    const bands = llama3Bands(128, 5e5, 8192, { lowFreqFactor: 1, highFreqFactor: 4 });
    const count = (b: string) => bands.filter((x) => x === b).length;
    assert.deepEqual([count("keep"), count("divide"), count("blend")], [29, 29, 6]);
    const th = ropeInverseFrequencies(128, 5e5);
    const l = llama3InverseFrequencies(128, 5e5, 8192);
    bands.forEach((b, j) => b !== "blend" && assert.equal(l[j], b === "keep" ? th[j] : th[j]! / 8));
  });
});

describe("§4.5 RoPE application: the two layouts", () => {
  it("q rotated at m = 1 and m = 5 in each layout", () => {
    ref(applyRotaryArray(q, 1, theta8, "interleaved"), [-1.1426397, 1.9220756, 2.5856788, 4.2795169, 4.939751, 6.0496992, 6.9919965, 8.006996]);
    ref(applyRotaryArray(q, 1, theta8, "half-split"), [-3.6670526, 1.3910078, 2.9298512, 3.991998, 3.5429825, 6.1696918, 7.0296495, 8.003996]);
    ref(applyRotaryArray(q, 5, theta8, "interleaved"), [2.2015107, -0.3915999, 0.71504553, 4.9486069, 4.6938763, 6.2423974, 6.9599127, 8.0348999]);
    ref(applyRotaryArray(q, 5, theta8, "half-split"), [5.0782836, -1.1213881, 2.6463966, 3.9599502, 0.45938665, 6.2243464, 7.1411893, 8.0198999]);
  });

  it("scores q@m·k@n: 5.42419323 / 12.51552209 at (5,2) and (13,10); 9.415824461 / 9.301258447 at (2,5)", () => {
    const score = (m: number, n: number, lay: RotaryLayout) => dot(applyRotaryArray(q, m, theta8, lay), applyRotaryArray(k, n, theta8, lay));
    ref([score(5, 2, "interleaved"), score(13, 10, "interleaved"), score(2, 5, "interleaved")], [5.42419323, 5.42419323, 9.415824461]);
    ref([score(5, 2, "half-split"), score(13, 10, "half-split"), score(2, 5, "half-split")], [12.51552209, 12.51552209, 9.301258447]);
  });

  it("half_split(q[perm]) = interleaved(q)[perm], perm = [0,2,4,6,1,3,5,7]", () => {
    const perm = [0, 2, 4, 6, 1, 3, 5, 7];
    for (const m of [1, 5, 37]) {
      const inter = applyRotaryArray(q, m, theta8, "interleaved");
      ref(applyRotaryArray(perm.map((i) => q[i]!), m, theta8, "half-split"), perm.map((i) => inter[i]!), `m = ${m}`);
    }
  });
});

describe("the tf seam (rotate)", () => {
  it("rotate on [1, 1, ℓ, 8] equals applyRotaryArray row by row (both layouts, offset start, scalings, partial rotary)", () => {
    const rng = new Rng(1);
    const x = randRows(rng, 5, 8);
    const cases: RotaryEncoding[] = [...LAYOUTS.map((layout) => rope({ layout })), ropePI(4, { layout: "interleaved" }), yarn(4), llama3({ factor: 4, originalLength: 16 }), rope({ rotaryFraction: 0.5 }), rope({ rotaryFraction: 0.5, layout: "interleaved" })];
    for (const pe of cases) {
      const cfg = cfgFor(pe);
      const inv = pe.inverseFrequencies(cfg);
      for (const start of [0, 3, 1000]) {
        const rows = seam(pe, x, start, cfg);
        x.forEach((row, i) => f32(rows[i]!, applyRotaryArray(row, start + i, inv, pe.settings.layout), `${pe.label}, start ${start}, row ${i}`));
      }
    }
    assert.equal(rope({ rotaryFraction: 0.5 }).inverseFrequencies(cfgFor(rope())).length, 2, "d = 4 of d_attn = 8 → 2 pairs");
  });

  it("RoPE's relative property: ⟨R(m)q, R(n)k⟩ depends only on m − n", () => {
    const rng = new Rng(2);
    for (const layout of LAYOUTS) {
      const pe = rope({ layout });
      const [qq, kk] = randRows(rng, 2, 8);
      const score = (m: number, n: number) => dot(seam(pe, [qq!], m)[0]!, seam(pe, [kk!], n)[0]!);
      for (const [m, n] of [[5, 2], [2, 5], [7, 7], [0, 9]]) {
        const s0 = score(m!, n!);
        for (const shift of [1, 17, 300]) f32([score(m! + shift, n! + shift)], [s0], `${layout} (${m},${n}) + ${shift}`);
      }
    }
  });

  it("PI at factor s equals RoPE evaluated at positions m/s", () => {
    const x = randRows(new Rng(3), 6, 8);
    for (const s of [2, 4, 8]) {
      const rows = seam(ropePI(s), x, 2);
      x.forEach((row, i) => f32(rows[i]!, applyRotaryArray(row, (2 + i) / s, theta8, "half-split"), `s = ${s}, row ${i}`));
    }
  });

  it("dynamic NTK equals RoPE for ℓ ≤ L and NTK with HF's effective s for ℓ > L", () => {
    const x = randRows(new Rng(4), 4, 8);
    const dyn = ropeDynamicNTK({ factor: 2 });
    const cfg = cfgFor(dyn, 8, 8); // L = ℓ_max = 8
    assert.deepEqual(seam(dyn, x, 4, cfg), seam(rope(), x, 4, cfg), "ℓ = 8 = L: plain RoPE");
    for (const end of [12, 20]) {
      const sEff = 2 * (end / 8) - 1;
      const ntk = ropeNTK(sEff);
      f32(seam(dyn, x, end - 4, cfg).flat(), seam(ntk, x, end - 4, cfg).flat(), `queries ending at ℓ = ${end}`);
      f32(seam(dyn, randRows(new Rng(5), end, 8), 0, cfg).flat(), seam(ntk, randRows(new Rng(5), end, 8), 0, cfg).flat(), `keys [0, ${end})`);
    }
  });

  for (const backend of ["wasm", "cpu"] as const) {
    it(`gradients flow through rotate on ${backend}: ∂/∂x Σ w·R(x) = Rᵀw`, async () => {
      await onBackend(backend, () => {
        const rng = new Rng(6);
        const w = randRows(rng, 3, 8);
        const x = tf.tensor4d(randRows(rng, 3, 8).flat(), [1, 1, 3, 8]);
        const wt = tf.tensor4d(w.flat(), [1, 1, 3, 8]);
        for (const pe of [rope({ layout: "interleaved" }), rope(), rope({ rotaryFraction: 0.5 })]) {
          const cfg = cfgFor(pe);
          const ctx = { cfg, param: () => tf.scalar(0) };
          const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(pe.rotate(t, { start: 2, length: 3 }, "k", ctx), wt)))(x);
          const inv = pe.inverseFrequencies(cfg);
          assert.ok(values(g).every(Number.isFinite));
          f32(g, w.flatMap((row, i) => applyRotaryArray(row, -(2 + i), inv, pe.settings.layout)), `${backend} ${pe.label}`);
          g.dispose();
        }
        tf.dispose([x, wt]);
      });
    });
  }
});

describe("registry, options and validation", () => {
  const cfg = cfgFor(rope(), 8, 2048);
  const cases: [string, RotaryEncoding][] = [
    ["rope", rope()],
    ["rope:interleaved", rope({ layout: "interleaved" })],
    ["rope:half-split", rope({ layout: "half-split" })],
    ["rope:pi:4", ropePI(4)],
    ["pi:4", ropePI(4)],
    ["ntk:4", ropeNTK(4)],
    ["dynamic-ntk", ropeDynamicNTK()],
    ["dynamic-ntk:2", ropeDynamicNTK({ factor: 2 })],
    ["yarn:8", yarn(8)],
    ["yarn:8:paper", yarn(8, { ramp: "paper" })],
    ["llama3:8", llama3({ factor: 8 })],
    ["rope:interleaved:yarn:4:paper", yarn(4, { ramp: "paper", layout: "interleaved" })],
  ];

  it("names with colon arguments give the expected encodings", () => {
    for (const [text, want] of cases) {
      const got = positionalFrom(text) as RotaryEncoding;
      assert.deepEqual(got.toJSON(), want.toJSON(), text);
      assert.deepEqual(got.inverseFrequencies(cfg, 4096), want.inverseFrequencies(cfg, 4096), text);
    }
    assert.equal(positionalFrom("rope").toJSON().layout, "half-split", "default layout");
    assert.equal(positionalFrom("yarn:8").toJSON().ramp, "implementation", "default YaRN ramp");
    for (const form of ["rope[:interleaved|half-split]", "yarn:<s>[:implementation|paper]", "llama3[:<factor>]"]) {
      assert.ok(positionalForms().some((f) => f.startsWith(form)), `help lists ${form}`);
    }
  });

  it("toJSON → JSON → positionalFrom round-trips every option", () => {
    const extra = [yarn(8, { ramp: "paper", originalLength: 128, alpha: 2, beta: 16, base: 5e5 }), llama3({ factor: 4, lowFreqFactor: 2, highFreqFactor: 8, originalLength: 64 }), rope({ rotaryFraction: 0.5, base: 1e6 })];
    for (const pe of [...cases.map(([, p]) => p), ...extra]) {
      const back = positionalFrom(JSON.parse(JSON.stringify(pe.toJSON()))) as RotaryEncoding;
      assert.deepEqual(back.toJSON(), pe.toJSON());
      assert.deepEqual(back.inverseFrequencies(cfg, 5000), pe.inverseFrequencies(cfg, 5000), pe.label);
      assert.equal(back.attentionScale(), pe.attentionScale());
    }
    const spec = positionalFrom({ name: "yarn", factor: 8, ramp: "paper", originalLength: 128 }) as RotaryEncoding;
    ref(spec.inverseFrequencies(cfg), yarnInverseFrequencies(8, 1e4, 128, 8, { ramp: "paper" }));
    assert.deepEqual(yarn(8).toJSON(), { name: "yarn", base: 10000, layout: "half-split", rotaryFraction: 1, factor: 8, alpha: 1, beta: 32, ramp: "implementation", attentionFactor: yarnMscale(8) });
  });

  it("bad names, arguments and options throw ConfigError naming the argument and the accepted forms", () => {
    const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: Error) => e instanceof ConfigError && re.test(e.message), `expected ${re}`);
    bad(() => positionalFrom("yarn"), /yarn: needs a scale factor s; accepted forms: yarn:<s>/);
    bad(() => positionalFrom("pi:abc"), /argument "abc" is not recognised; accepted forms: pi:<s>/);
    bad(() => positionalFrom("rope:4"), /rope: argument "4" is not recognised; accepted forms: rope\[/);
    bad(() => positionalFrom("ntk:2:3"), /argument "3" is a second factor/);
    bad(() => positionalFrom("pi:0.5"), /option factor=0.5 must be a finite number ≥ 1/);
    bad(() => positionalFrom({ name: "yarn", factor: 8, foo: 1 }), /unknown option "foo"; accepted: .*ramp/);
    bad(() => rope({ base: 1 }), /rope: option base=1 must be a finite number > 1/);
    bad(() => rope({ layout: "sideways" as RotaryLayout }), /option layout="sideways" must be "interleaved" or "half-split"/);
    bad(() => yarn(Infinity), /option factor=Infinity must be a finite number ≥ 1/);
    bad(() => yarn(4, { alpha: 2, beta: 1 }), /option beta=1 must be a finite number > alpha=2/);
    bad(() => llama3({ originalLength: 10.5 }), /option originalLength=10.5 must be a positive integer/);
    bad(() => cfgFor(rope(), 5), /rope: d_attn=5 must be even/);
    bad(() => cfgFor(rope({ rotaryFraction: 0.375 }), 8), /rotaryFraction=0.375 × d_attn=8 gives 3 rotated dims; that must be an even number ≥ 2/);
    bad(() => cfgFor(ropeNTK(2, { rotaryFraction: 0.25 }), 8), /ntk: needs more than 2 rotated dims/);
  });
});

describe("the model with rotary positions", () => {
  const micro = { ...presets.micro };

  it("runs past ℓ_max (no table) and is causal", () => {
    const m = DTransformer.create({ ...micro, positional: rope() }, 1);
    assert.equal(m.positional.maxPositions?.(m.cfg), undefined);
    const base = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8];
    const ref0 = m.logits(base);
    assert.deepEqual(ref0.shape, [12, 11]);
    for (const t of [0, 5, 10]) {
      const x = base.map((v, u) => (u > t ? (v + 3 + u) % 11 : v));
      const d = maxAbsDiff(ref0.slice([0, 0], [t + 1, -1]), m.logits(x).slice([0, 0], [t + 1, -1]));
      assert.ok(d <= 1e-6, `positions ≤ ${t} changed by ${d}`);
    }
    m.dispose();
  });

  it("every parameter gets a non-zero, finite gradient", () => {
    const m = DTransformer.create({ ...micro, positional: rope({ layout: "interleaved" }) }, 2);
    const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1]], [2, 10], "int32");
    const loss = () => tf.tidy(() => {
      const lp = tf.logSoftmax(dTransformer(ids, m).slice([0, 0, 0], [2, 9, -1]), -1);
      return tf.neg(tf.mean(tf.sum(tf.mul(lp, tf.oneHot(ids.slice([0, 1], [2, 9]), 11).cast("float32")), -1))) as tf.Scalar;
    });
    const { value, grads } = tf.variableGrads(loss, [...m.params.vars.values()]);
    for (const [name, v] of m.params.vars) {
      const n = tf.norm(grads[v.name]!).dataSync()[0]!;
      assert.ok(n > 0 && Number.isFinite(n), `${name}: gradient norm ${n}`);
    }
    tf.dispose([value, ids, ...Object.values(grads)]);
    m.dispose();
  });

  it("withPositional(yarn(4)) shares the variables and changes the logits", () => {
    const m = DTransformer.create({ ...micro, positional: rope(), initStd: 0.5 }, 3);
    const y = m.withPositional(yarn(4));
    for (const [name, v] of m.params.vars) assert.equal(y.params.vars.get(name), v, `${name} is shared`);
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2];
    const before = m.logits(x);
    assert.ok(maxAbsDiff(before, y.logits(x)) > 1e-4, "YaRN changes the logits");
    assert.equal(maxAbsDiff(before, m.logits(x)), 0, "the original model is unchanged");
    m.dispose();
  });

  it("trace records blocks.0.attn.hook_rot_q: R(0) is the identity, later rows are rotated", () => {
    const m = DTransformer.create({ ...micro, positional: rope() }, 4);
    const { cache } = m.trace([1, 2, 3, 4, 5]);
    const rq = cache.get("blocks.0.attn.hook_rot_q");
    const hq = cache.get("blocks.0.attn.hook_q");
    assert.deepEqual(rq.shape, [1, 2, 5, 4]);
    assert.ok(cache.has("blocks.1.attn.hook_rot_k"));
    f32(rq.slice([0, 0, 0, 0], [1, -1, 1, -1]), hq.slice([0, 0, 0, 0], [1, -1, 1, -1]), "position 0");
    assert.ok(maxAbsDiff(rq.slice([0, 0, 1, 0], [1, -1, -1, -1]), hq.slice([0, 0, 1, 0], [1, -1, -1, -1])) > 1e-6);
    cache.dispose();
    m.dispose();
  });
});
