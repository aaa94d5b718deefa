/**
 * lib/hooks/walkthrough.ts: Algorithm 10 as a table next to a trace (every pseudo-code line present,
 * every hook under its line, statistics equal to the tensors'), and traceDiff between two traces of
 * the same weights (identical traces differ by 0; ε and the GELU form change exactly the lines
 * that follow them).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeConfig, paperExact, presets } from "../../lib/config.js";
import { ConfigError } from "../../lib/errors.js";
import type { ActivationCache } from "../../lib/hooks/cache.js";
import { ALGORITHM_10, algorithm10Table, traceDiff, valueStats } from "../../lib/hooks/walkthrough.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { testBackend } from "../helpers/setup.js";

const X = [0, 3, 1, 4, 1, 5, 9, 2];
let model: DTransformer;
let cache: ActivationCache;

before(async () => {
  await testBackend();
  model = DTransformer.create({ ...presets.micro }, 3);
  cache = model.trace(X).cache;
});
after(() => {
  cache.dispose();
  model.dispose();
});

describe("algorithm10Table", () => {
  it("lists the 11 lines of Algorithm 10 in order, with Alg 4/5 sub-lines under line 6", () => {
    const rows = algorithm10Table(cache).objects() as Record<string, unknown>[];
    const lines = rows.map((r) => r.line).filter((l) => l !== "");
    assert.deepEqual(lines, ALGORITHM_10.map((p) => p.line));
    assert.equal(rows[0]!.value, `ℓ = ${X.length}`);
    assert.match(String(rows.find((r) => r.line === "4")!.value), /^L = 2; showing l = 1/);
  });

  it("puts each hook of layer 0 (and the layer-free ones) right after its line, with the tensor's shape and statistics", () => {
    const rows = algorithm10Table(cache, { layer: 0, preview: 3 }).objects() as Record<string, unknown>[];
    const hooks = rows.filter((r) => r.hook !== "");
    assert.ok(hooks.every((r) => !String(r.hook).startsWith("blocks.1.")));
    assert.ok(hooks.some((r) => r.hook === "blocks.0.attn.hook_pattern") && hooks.some((r) => r.hook === "hook_logits"));
    // the hook row follows its own line's row
    let current = "";
    for (const r of rows) {
      if (r.line !== "") current = String(r.line);
      else assert.ok(current !== "", "a hook before any line");
    }
    const q = rows.find((r) => r.hook === "blocks.0.attn.hook_q")!;
    const t = cache.get("blocks.0.attn.hook_q");
    assert.equal(q.shape, `[${t.shape.join(", ")}]`);
    const data = Array.from(t.dataSync());
    const mean = data.reduce((s, v) => s + v, 0) / data.length;
    assert.ok(Math.abs(Number(q.mean) - mean) < 1e-6);
    assert.equal(Number(q.max), Math.max(...data));
    assert.match(String(q.value), /^\[-?\d+\.\d{4}, -?\d+\.\d{4}, -?\d+\.\d{4}, …\]$/);
    // the pattern's rows sum to 1 over ℓ keys, so its mean is 1/ℓ with the masked zeros included
    const p = rows.find((r) => r.hook === "blocks.0.attn.hook_pattern")!;
    assert.ok(Math.abs(Number(p.mean) - 1 / X.length) < 1e-6);
  });

  it("leaves masked scores (−1e9) out of the statistics of line 6 (4:4–5)", () => {
    const s = (algorithm10Table(cache).objects() as Record<string, unknown>[]).find((r) => r.hook === "blocks.0.attn.hook_scores")!;
    assert.ok(Number(s.min) > -100, `min ${s.min}`);
  });

  it("shows every layer with layer: \"all\" and refuses a layer the trace lacks", () => {
    const all = algorithm10Table(cache, { layer: "all" }).objects() as Record<string, unknown>[];
    assert.ok(all.some((r) => r.hook === "blocks.1.mlp.hook_post"));
    assert.equal(all.filter((r) => r.line === "5").length, 2, "the loop body once per layer");
    const order = all.map((r) => String(r.hook)).filter((h) => h.startsWith("blocks."));
    assert.ok(order.lastIndexOf("blocks.0.hook_resid_post") < order.indexOf("blocks.1.ln1.hook_normalized"), "layer 0 before layer 1");
    assert.ok(order.indexOf("blocks.0.attn.hook_z") < order.indexOf("blocks.0.hook_attn_out"), "line 6's output after the Alg 4/5 lines");
    assert.throws(() => algorithm10Table(cache, { layer: 5 }), ConfigError);
  });
});

describe("valueStats", () => {
  it("counts non-finite values apart and skips masked entries", () => {
    const s = valueStats([1, 3, NaN, Infinity, -1e9]);
    assert.deepEqual([s.count, s.mean, s.std, s.min, s.max, s.nonFinite], [2, 2, 1, 1, 3, 2]);
  });
});

describe("traceDiff", () => {
  it("is 0 for the same weights and input, and the ε / GELU change shows exactly where the paper says", () => {
    const same = model.trace(X).cache;
    const d0 = traceDiff(cache, same).objects() as Record<string, unknown>[];
    assert.ok(d0.every((r) => r.max_abs_diff === 0));
    same.dispose();

    const exact = new DTransformer(makeConfig({ ...model.cfg, ...paperExact }), model.params);
    const other = exact.trace(X).cache;
    const d = new Map((traceDiff(cache, other, { layer: 0 }).objects() as Record<string, unknown>[]).map((r) => [r.hook, r]));
    assert.equal(d.get("hook_embed")!.max_abs_diff, 0, "line 2 has no ε and no GELU");
    assert.ok(Number(d.get("blocks.0.ln1.hook_normalized")!.rel_diff) > 0, "line 5 depends on ε");
    assert.ok(Number(d.get("blocks.0.mlp.hook_post")!.rel_diff) > 0, "line 8 depends on the GELU form");
    assert.ok(Number(d.get("blocks.0.attn.hook_scores")!.rel_diff) > 1e-6, "masked scores do not swamp the norm");
    assert.ok(!d.has("blocks.1.hook_resid_post"), "layer filter");
    other.dispose();
  });

  it("refuses traces of different shapes", () => {
    const short = model.trace(X.slice(0, 4)).cache;
    assert.throws(() => traceDiff(cache, short), /shape/);
    short.dispose();
  });
});
