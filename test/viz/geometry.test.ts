/**
 * lib/viz/geometry.ts and linalg.ts: PCA recovers a known plane, Jacobi eigenpairs, cosine
 * similarity (exact block averages), position vectors from learned W_p (seeded micro model) and
 * from rotary angles (plain arrays), and figure snapshots.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { InputError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { learned, W_P } from "../../lib/positional/learned.js";
import { none } from "../../lib/positional/none.js";
import type { PositionalEncoding } from "../../lib/positional/types.js";
import { consecutiveDistance, modelContext, normCurve, pcaTrajectory, positionVectors, similarityHeatmap } from "../../lib/viz/geometry.js";
import { blockCosine, consecutiveDistances, cosineSimilarity, dot, jacobiEigen, pca } from "../../lib/viz/linalg.js";
import { blockAverage } from "../../lib/viz/sample.js";
import { expectClose, testBackend } from "../helpers/setup.js";
import { matchSnapshot } from "./snapshot.js";

/** A stand-in rotary encoding: angles t·θ_j from plain arrays (θ = RoPE, d = 4, b = 100). */
const THETA = [1, 0.1];
const fakeRope: PositionalEncoding = {
  name: "fake-rope",
  label: "rotary (θ = [1, 0.1])",
  angles: (positions) => positions.map((t) => THETA.map((th) => t * th)),
  toJSON: () => ({ name: "fake-rope" }),
};

let model: DTransformer;
before(async () => {
  await testBackend();
  model = DTransformer.create({ ...presets.micro, lMax: 16 }, 7);
});
after(() => model.dispose());

describe("PCA", () => {
  it("recovers a known plane in ℝ⁵ (components span it, all variance explained)", () => {
    const u = [1, 1, 0, 0, 0].map((x) => x / Math.SQRT2);
    const v = [0, 0, 1, 1, 1].map((x) => x / Math.sqrt(3));
    const pts = Array.from({ length: 50 }, (_, t) => u.map((ui, i) => 3 * Math.cos(t / 4) * ui + Math.sin(t / 3) * v[i]! + 10 * (i + 1)));
    const p = pca(pts, 3);
    for (const c of p.components.slice(0, 2)) {
      const inPlane = u.map((_, i) => dot(c, u) * u[i]! + dot(c, v) * v[i]!);
      expectClose(inPlane, c, { atol: 1e-9, what: "component in span(u, v)" });
    }
    expectClose([p.explained[0]! + p.explained[1]!, p.variances[2]!], [1, 0], { atol: 1e-9 });
    expectClose(p.components.map((a) => dot(a, a)), [1, 1, 1], { atol: 1e-12 });
    expectClose([dot(p.components[0]!, p.components[1]!)], [0], { atol: 1e-12 });
    expectClose(p.mean, [10, 20, 30, 40, 50].map((m, i) => m + pts.reduce((s, r) => s + r[i]! - 10 * (i + 1), 0) / 50), { atol: 1e-9 });
  });

  it("sorts axis-aligned variances and fixes signs", () => {
    const pts = Array.from({ length: 400 }, (_, t) => [0, 3 * Math.cos((2 * Math.PI * t) / 400), Math.sin((2 * Math.PI * t) / 400), 0]);
    const p = pca(pts, 2);
    expectClose(p.components[0]!, [0, 1, 0, 0], { atol: 1e-9 });
    expectClose(p.components[1]!, [0, 0, 1, 0], { atol: 1e-9 });
    expectClose(p.variances, [(9 * 200) / 399, 200 / 399], { rtol: 1e-9 });
  });

  it("jacobiEigen diagonalises a symmetric matrix", () => {
    const { values, vectors } = jacobiEigen([[2, 1, 0], [1, 2, 0], [0, 0, 5]]);
    expectClose([...values].sort((a, b) => a - b), [1, 3, 5], { atol: 1e-12 });
    const col = (j: number) => vectors.map((r) => r[j]!);
    for (let j = 0; j < 3; j++) {
      const Av = [2 * col(j)[0]! + col(j)[1]!, col(j)[0]! + 2 * col(j)[1]!, 5 * col(j)[2]!];
      expectClose(Av, col(j).map((x) => x * values[j]!), { atol: 1e-12 });
    }
  });
});

describe("cosine similarity and distances", () => {
  it("cos of identical vectors is 1, of opposite −1, of zero vectors 0", () => {
    assert.equal(cosineSimilarity([1, 2, 3], [1, 2, 3]), 1);
    expectClose([cosineSimilarity([1, 2], [-2, -4])], [-1], { atol: 1e-15 });
    assert.equal(cosineSimilarity([0, 0], [1, 2]), 0);
  });

  it("blockCosine equals the block-averaged cosine matrix exactly", () => {
    const vs = Array.from({ length: 11 }, (_, t) => [Math.cos(t), Math.sin(t), t % 3, 1]);
    const full = vs.map((a) => vs.map((b) => cosineSimilarity(a, b)));
    expectClose(blockCosine(vs, 1).flat(), full.flat(), { atol: 1e-12 });
    expectClose(blockCosine(vs, 3).flat(), blockAverage(full, 4).z.flat(), { atol: 1e-12 });
    expectClose(blockCosine(vs).map((r, i) => r[i]!), new Array(11).fill(1), { atol: 1e-12 });
  });

  it("consecutiveDistances", () => {
    assert.deepEqual(consecutiveDistances([[0, 0], [3, 4], [3, 5]]), [5, 1]);
  });
});

describe("positionVectors", () => {
  it("learned: the rows of W_p", () => {
    const W = model.params.get(W_P).arraySync() as number[][];
    const got = positionVectors(model.positional, [0, 5, 15], modelContext(model));
    expectClose(got.flat(), [W[0]!, W[5]!, W[15]!].flat(), { atol: 0 });
  });

  it("an additive encoding with only an embed seam: rows of its [ℓ, d_e] output", () => {
    const embedOnly: PositionalEncoding = { name: "e", label: "embed-only", embed: (pos) => tf.tensor2d(Array.from({ length: pos.length }, (_, t) => [t, -t])), toJSON: () => ({ name: "e" }) };
    const before = tf.memory().numTensors;
    assert.deepEqual(positionVectors(embedOnly, [1, 3], modelContext(model)), [[1, -1], [3, -3]]);
    assert.equal(tf.memory().numTensors, before, "no tensor leaked");
  });

  it("rotary: R(t)·q for q = 1/√d, unit norm, ⟨p(t), p(t+k)⟩ depends on k only", () => {
    const vs = positionVectors(fakeRope, 6, { cfg: model.cfg });
    expectClose(vs[0]!, [0.5, 0.5, 0.5, 0.5], { atol: 1e-15 });
    expectClose(vs[1]!.slice(0, 2), [(Math.cos(1) - Math.sin(1)) / 2, (Math.sin(1) + Math.cos(1)) / 2], { atol: 1e-15 });
    expectClose(vs.map((v) => dot(v, v)), new Array(6).fill(1), { atol: 1e-12 });
    expectClose([dot(vs[0]!, vs[2]!)], [dot(vs[3]!, vs[5]!)], { atol: 1e-12 });
  });

  it("NoPE has no vectors; learned without parameters says what to pass", () => {
    assert.throws(() => positionVectors(none(), 4, { cfg: model.cfg }), InputError);
    assert.throws(() => positionVectors(learned(), 4, { cfg: model.cfg }), /needs parameter "pos.W_p"/);
  });
});

describe("geometry figures (snapshots)", () => {
  const W = () => positionVectors(model.positional, 16, modelContext(model));
  const R = () => positionVectors(fakeRope, 16, { cfg: model.cfg });

  it("pcaTrajectory 2-D and 3-D, coloured by t", () => {
    const f2 = pcaTrajectory(W(), { dims: 2, title: "learned W_p" });
    assert.equal(f2.data[0]!.type, "scatter");
    assert.deepEqual((f2.data[0]!.marker as { color: number[] }).color, Array.from({ length: 16 }, (_, i) => i));
    matchSnapshot("pca-trajectory-2d", f2);
    const f3 = pcaTrajectory(R(), { dims: 3, title: "rotary" });
    assert.equal(f3.data[0]!.type, "scatter3d");
    matchSnapshot("pca-trajectory-3d", f3);
  });

  it("pcaTrajectory thins 8k positions and keeps the last", () => {
    const vs = Array.from({ length: 8192 }, (_, t) => [Math.cos(t / 100), Math.sin(t / 100), t / 8192]);
    const f = pcaTrajectory(vs, { dims: 2 });
    const c = (f.data[0]!.marker as { color: number[] }).color;
    assert.ok(c.length <= 2000);
    assert.equal(c.at(-1), 8191);
  });

  it("similarityHeatmap: a heatmap with cos(p, p) = 1 on the diagonal; block-averages 8k", () => {
    const f = similarityHeatmap(R(), { title: "rotary" });
    const z = f.data[0]!.z as number[][];
    assert.equal(f.data[0]!.type, "heatmap");
    assert.deepEqual(z.map((r, i) => r[i]), new Array(16).fill(1));
    matchSnapshot("similarity-heatmap", f);
    const big = similarityHeatmap(Array.from({ length: 8192 }, (_, t) => [Math.cos(t / 500), Math.sin(t / 500)]));
    assert.equal((big.data[0]!.z as number[][]).length, 512);
    assert.match(String((big.layout.title as { text: string }).text), /16×16 blocks/);
  });

  it("consecutiveDistance and normCurve compare labelled sets", () => {
    const sets = [{ label: "learned W_p", vectors: W() }, { label: "rotary", vectors: R() }];
    const d = consecutiveDistance(sets);
    assert.equal(d.data.length, 2);
    expectClose(d.data[1]!.y as number[], consecutiveDistances(R()), { atol: 0 });
    matchSnapshot("consecutive-distance", d);
    const n = normCurve(sets);
    expectClose(n.data[1]!.y as number[], new Array(16).fill(1), { atol: 1e-12 });
    matchSnapshot("norm-curve", n);
    assert.equal(normCurve(R()).data.length, 1);
  });
});
