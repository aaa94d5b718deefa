/**
 * Optimisers of Algorithm 13 (lib/train/optim.ts): AdamW and SGD against updates computed by hand
 * in plain JavaScript, the default decay group, frozen groups, patterns, and the state round trip.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { presets } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { ParamStore } from "../../lib/model/params.js";
import { createOptimizer, isNoDecay, optimizerFromState, selector } from "../../lib/train/optim.js";
import { expectClose, testBackend, values } from "../helpers/setup.js";

before(async () => {
  await testBackend();
});

/** A ParamStore of 3-element vectors. */
function store(init: Record<string, number[]>): ParamStore {
  return new ParamStore(new Map(Object.entries(init).map(([n, v]) => [n, tf.variable(tf.tensor1d(v), true, `${n}#${Math.random()}`)])));
}

/** AdamW in plain JS (float64): θ ← θ − η·(m̂/(√v̂+ε) + λθ). */
function adamwRef(theta: number[], gs: number[][], lrs: number[], b1: number, b2: number, eps: number, wd: number): number[] {
  const p = theta.slice();
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  gs.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
      v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
      const mh = m[i]! / (1 - b1 ** t);
      const vh = v[i]! / (1 - b2 ** t);
      p[i] = p[i]! - lrs[k]! * (mh / (Math.sqrt(vh) + eps) + wd * p[i]!);
    }
  });
  return p;
}

const G1 = [0.1, -0.2, 0.3];
const G2 = [-0.05, 0.4, 0];
const grads = (g: number[], names: string[]) => new Map(names.map((n) => [n, tf.tensor1d(g)] as const));

describe("AdamW", () => {
  it("two steps on a 3-element parameter equal the hand computation (decay on W, none on a bias)", () => {
    const theta = [0.5, -1, 2];
    const ps = store({ "blocks.0.mlp.W_mlp1": theta, "blocks.0.mlp.b_mlp1": theta });
    const opt = createOptimizer(ps, { betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1 });
    assert.deepEqual(opt.hyper.decay, ["blocks.0.mlp.W_mlp1"]);
    const names = ps.names();
    const [g1, g2] = [grads(G1, names), grads(G2, names)];
    opt.apply(g1, 0.01);
    opt.apply(g2, 0.005);
    tf.dispose([...g1.values(), ...g2.values()]);
    assert.equal(opt.t, 2);
    expectClose(ps.get("blocks.0.mlp.W_mlp1"), adamwRef(theta, [G1, G2], [0.01, 0.005], 0.9, 0.95, 1e-8, 0.1), { atol: 1e-7, rtol: 1e-6, what: "W (decay)" });
    expectClose(ps.get("blocks.0.mlp.b_mlp1"), adamwRef(theta, [G1, G2], [0.01, 0.005], 0.9, 0.95, 1e-8, 0), { atol: 1e-7, rtol: 1e-6, what: "b (no decay)" });
    // the first step of Adam moves each coordinate by ≈ η·sign(g): a sanity anchor for the reference
    expectClose(adamwRef(theta, [G1], [0.01], 0.9, 0.95, 1e-8, 0), [0.49, -0.99, 1.99], { atol: 1e-8 });
    opt.dispose();
    ps.dispose();
  });

  it("SGD is the paper's θ ← θ − η·g; with momentum b ← μb + g", () => {
    const theta = [0.5, -1, 2];
    const ps = store({ w: theta });
    const sgd = createOptimizer(ps, { kind: "sgd" });
    assert.equal(sgd.slots.size, 0, "plain SGD keeps no state");
    const g1 = grads(G1, ["w"]);
    sgd.apply(g1, 0.1);
    expectClose(ps.get("w"), theta.map((p, i) => p - 0.1 * G1[i]!), { what: "SGD" });
    sgd.dispose();
    const ps2 = store({ w: theta });
    const mom = createOptimizer(ps2, { kind: "sgd", momentum: 0.9 });
    const g2 = grads(G2, ["w"]);
    mom.apply(g1, 0.1);
    mom.apply(g2, 0.1);
    const b2 = G1.map((g, i) => 0.9 * g + G2[i]!);
    expectClose(ps2.get("w"), theta.map((p, i) => p - 0.1 * G1[i]! - 0.1 * b2[i]!), { what: "momentum" });
    tf.dispose([...g1.values(), ...g2.values()]);
    mom.dispose();
    ps.dispose();
    ps2.dispose();
  });
});

describe("parameter groups", () => {
  it("by default no decay on biases, norms and embeddings; W_u and the weight matrices decay", () => {
    const m = DTransformer.create({ ...presets.micro, tiedEmbeddings: false }, 1);
    const opt = createOptimizer(m.params);
    const decay = new Set(opt.hyper.decay);
    const noDecay = m.params.names().filter((n) => !decay.has(n));
    assert.deepEqual(noDecay.filter((n) => !/\.(b_\w+|gamma|beta)$/.test(n)), ["W_e", "pos.W_p"]);
    assert.ok(noDecay.includes("blocks.0.attn.b_q") && noDecay.includes("blocks.1.ln2.gamma") && noDecay.includes("ln_final.beta"));
    assert.deepEqual([...decay].filter((n) => n.startsWith("blocks.0.")), ["blocks.0.attn.W_q", "blocks.0.attn.W_k", "blocks.0.attn.W_v", "blocks.0.attn.W_o", "blocks.0.mlp.W_mlp1", "blocks.0.mlp.W_mlp2"]);
    assert.ok(decay.has("W_u"));
    assert.ok(isNoDecay("pos.anything") && isNoDecay("blocks.3.attn.b_o") && !isNoDecay("blocks.3.attn.W_o"));
    assert.equal(opt.slots.size, 2 * m.params.names().length, "m and v for every trainable parameter");
    opt.dispose();
    m.dispose();
  });

  it("frozen parameters get no update and no state; patterns are dotted prefixes or globs", () => {
    const s = selector(["blocks.1", "pos.", "blocks.*.attn.W_q"], () => false);
    assert.ok(s("blocks.1.ln1.gamma") && !s("blocks.10.ln1.gamma") && s("pos.W_p") && s("blocks.0.attn.W_q") && !s("blocks.0.attn.W_k"));
    const ps = store({ "blocks.0.attn.W_q": [1, 2, 3], "blocks.0.attn.W_k": [1, 2, 3], "pos.W_p": [1, 2, 3] });
    const opt = createOptimizer(ps, { freeze: ["pos.", "blocks.*.attn.W_q"] });
    assert.deepEqual(opt.trainable, ["blocks.0.attn.W_k"]);
    assert.deepEqual([...opt.slots.keys()], ["m.blocks.0.attn.W_k", "v.blocks.0.attn.W_k"]);
    const g = grads(G1, ["blocks.0.attn.W_k"]);
    opt.apply(g, 0.1);
    assert.deepEqual(values(ps.get("blocks.0.attn.W_q")), [1, 2, 3]);
    assert.deepEqual(values(ps.get("pos.W_p")), [1, 2, 3]);
    assert.notDeepEqual(values(ps.get("blocks.0.attn.W_k")), [1, 2, 3]);
    const only = createOptimizer(ps, { trainable: (n) => n === "pos.W_p" });
    assert.deepEqual(only.trainable, ["pos.W_p"]);
    assert.throws(() => createOptimizer(ps, { trainable: "nothing" }), (e: Error) => e instanceof ConfigError && /no parameter is trainable/.test(e.message));
    assert.throws(() => createOptimizer(ps, { betas: [0.9, 1] }), /betas must be two numbers in \[0, 1\)/);
    tf.dispose([...g.values()]);
    opt.dispose();
    only.dispose();
    ps.dispose();
  });

  it("the state (t, m, v, groups) round-trips exactly", () => {
    const theta = [0.5, -1, 2];
    const ps = store({ w: theta, b_x: theta });
    const opt = createOptimizer(ps, { freeze: "b_x" });
    const g = grads(G1, ["w"]);
    opt.apply(g, 0.01);
    const st = opt.toState();
    assert.deepEqual([...st.slots.keys()], ["m.w", "v.w"]);
    const ps2 = store({ w: values(ps.get("w")), b_x: theta });
    const back = optimizerFromState(ps2, st);
    assert.equal(back.t, 1);
    assert.deepEqual(back.hyper, opt.hyper);
    const g2 = grads(G2, ["w"]);
    opt.apply(g2, 0.01);
    back.apply(g2, 0.01);
    assert.deepEqual(values(ps2.get("w")), values(ps.get("w")), "the same next update, bit for bit");
    tf.dispose([...g.values(), ...g2.values()]);
    [opt, back, ps, ps2].forEach((x) => x.dispose());
  });
});
