/** lib/extend: every recipe runs on a tiny model (smoke), the registry's rules, and the mix source. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { byteTokenizer } from "../../lib/data/tokenizer.js";
import { RECIPES, adaptModel, adaptPositional, cloneModel, recipeFrom, recipeSource, runRecipe, scaledRotary } from "../../lib/extend/index.js";
import { runEval } from "../../lib/eval/index.js";
import { loadTrainingState } from "../../lib/train/state.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { alibi, learned, rope } from "../../lib/positional/index.js";
import { Rng } from "../../lib/tensor/random.js";
import { testBackend, values } from "../helpers/setup.js";

const tok = byteTokenizer();
const tiny = { nVocab: 259, lMax: 64, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32 };
const text = "Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse. ".repeat(40);
const bases: Record<string, DTransformer> = {};
let tmp = "";

before(async () => {
  await testBackend();
  bases.rope = DTransformer.create({ ...tiny, positional: rope({ layout: "interleaved", base: 500 }) }, 1);
  bases.learned = DTransformer.create({ ...tiny, positional: learned() }, 2);
  bases.alibi = DTransformer.create({ ...tiny, positional: alibi() }, 3);
  tmp = mkdtempSync(join(tmpdir(), "ctxlab-extend-"));
});
after(() => {
  for (const m of Object.values(bases)) m.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const baseFor = (name: string) => (name === "learned-extend-ft" ? bases.learned! : bases.rope!);

describe("runRecipe: a smoke run of every recipe (tiny model, ℓ_max = 64 → ℓ' = 128)", () => {
  for (const recipe of RECIPES) {
    it(`${recipe.name}: adapted model runs at ℓ', trains as the recipe says, base weights untouched`, async () => {
      const base = baseFor(recipe.name);
      const before = values(base.params.get("blocks.0.attn.W_q"));
      const r = await runRecipe(base, recipe.name, { targetLength: 128, steps: 2, batch: 2, tokens: 2 * 2 * 128, batchTokens: 256, text, seed: 5 });
      assert.equal(r.scale, 2);
      assert.equal(r.status, recipe.training === "none" ? "none" : "completed");
      assert.equal(r.steps, recipe.training === "none" ? 0 : 2);
      assert.equal(r.log.numRows(), r.steps);
      const t = await runEval(r.model, "passkey", { lengths: [128], depths: [0.5], n: 1, variant: "compact", tokenizer: tok });
      assert.equal(t.get("error", 0), null, `${recipe.name} must run at ℓ' = 128`);
      assert.deepEqual(values(base.params.get("blocks.0.attn.W_q")), before, "the base is never trained");
      if (recipe.training !== "none") {
        assert.notDeepEqual(values(r.model.params.get("blocks.0.attn.W_q")), before, "the copy is trained");
        r.model.dispose();
      }
    });
  }
  it("rotary scalings keep the base's own b and layout, with L = ℓ_max", () => {
    const pi = scaledRotary(bases.rope!, "pi", 4).toJSON();
    assert.deepEqual([pi.name, pi.base, pi.layout, pi.factor, pi.originalLength], ["pi", 500, "interleaved", 4, 64]);
    const y = adaptPositional(bases.rope!, "yarn:4").toJSON();
    assert.deepEqual([y.name, y.base, y.layout, y.originalLength], ["yarn", 500, "interleaved", 64]);
    assert.equal(adaptPositional(bases.rope!, "rope:pi:2:half-split").toJSON().layout, "half-split");
    assert.equal(adaptPositional(bases.learned!, "alibi").toJSON().name, "alibi");
  });
  it("refuses a recipe for the wrong base, unknown names and bad lengths, naming them", async () => {
    await assert.rejects(runRecipe(bases.learned!, "pi-ft", { targetLength: 128 }), /recipe "pi-ft" needs a base with rope; this base uses the learned W_p/);
    await assert.rejects(runRecipe(bases.learned!, "ft", { targetLength: 128 }), /recipe "ft" needs a base with an encoding without a position table/);
    await assert.rejects(runRecipe(bases.alibi!, "learned-extend-ft", { targetLength: 128 }), /needs a base with learned/);
    await assert.rejects(runRecipe(bases.rope!, "pi-fft", { targetLength: 128 }), /unknown extension recipe "pi-fft"; known: extrapolate, pi, pi-ft/);
    await assert.rejects(runRecipe(bases.rope!, "pi", { targetLength: 1.5 }), /targetLength ℓ'=1.5 must be an integer ≥ 2/);
    await assert.rejects(runRecipe(bases.rope!, "ft", { targetLength: 128, steps: 0 }), /steps=0 must be an integer ≥ 1/);
    await assert.rejects(runRecipe(bases.rope!, "pi", { targetLength: 128, resume: {} as never }), /does not train; there is nothing to resume/);
  });
  it("learned positions: extrapolation refuses ℓ > ℓ_max, the extended table runs there", async () => {
    const r = await runRecipe(bases.learned!, "extrapolate", { targetLength: 128 });
    const t = await runEval(r.model, "passkey", { lengths: [64, 128], depths: [0], n: 1, variant: "compact", tokenizer: tok });
    assert.deepEqual(t.array("error"), [null, "ℓ > ℓ_max"]);
    const ext = adaptModel(bases.learned!, recipeFrom("learned-extend-ft"), 128);
    assert.deepEqual(ext.params.get("pos.W_p").shape, [128, 16]);
    assert.notEqual(ext.params.get("blocks.0.attn.W_q"), bases.learned!.params.get("blocks.0.attn.W_q"), "a fine-tune starts from a copy");
    ext.dispose();
  });
});

describe("runRecipe: snapshots, checkpoints and resume", () => {
  it("a run cut into snapshot segments equals one run; snapshots see the steps asked for", async () => {
    const seen: number[] = [];
    const a = await runRecipe(bases.rope!, "pi-ft", { targetLength: 128, steps: 4, batch: 2, text, snapshots: [0, 1, 3], onSnapshot: (_m, s) => void seen.push(s) });
    const b = await runRecipe(bases.rope!, "pi-ft", { targetLength: 128, steps: 4, batch: 2, text });
    assert.deepEqual(seen, [0, 1, 3]);
    assert.deepEqual(a.log.array("loss"), b.log.array("loss"));
    assert.deepEqual(values(a.model.params.get("blocks.0.mlp.W_mlp1")), values(b.model.params.get("blocks.0.mlp.W_mlp1")));
    a.model.dispose();
    b.model.dispose();
  });
  it("decaySteps: the curriculum's η decays over its last steps to minLr (warm-up–stable–decay, as the bases end)", async () => {
    // 4 × 256 tokens at 256 per step: 4 steps, warm-up 1, decay over the last 2
    const r = await runRecipe(bases.rope!, "curriculum", { targetLength: 128, tokens: 1024, batchTokens: 256, warmup: 1, lr: 1e-3, decaySteps: 2, minLr: 1e-4, text, seed: 5 });
    const lr = r.log.array("lr") as number[];
    assert.deepEqual(lr.slice(0, 2), [1e-3, 1e-3]);
    assert.ok(Math.abs(lr[2]! - 5.5e-4) < 1e-12, `step 3 is half-way down the cosine, got ${lr[2]}`);
    assert.ok(Math.abs(lr[3]! - 1e-4) < 1e-12, `step 4 = minLr, got ${lr[3]}`);
    r.model.dispose();
    await assert.rejects(runRecipe(bases.rope!, "pi-ft", { targetLength: 128, steps: 4, decayFrom: 2, decaySteps: 2, text }), /give decayFrom=2 or decaySteps=2, not both/);
    await assert.rejects(runRecipe(bases.rope!, "pi-ft", { targetLength: 128, steps: 4, minLr: 1e-5, text }), /minLr=0.00001 needs decayFrom/);
  });
  it("an interrupted fine-tune resumes from its checkpoint to the same losses", async () => {
    const dir = join(tmp, "ft");
    const ac = new AbortController();
    const full = await runRecipe(bases.rope!, "yarn-ft", { targetLength: 128, steps: 4, batch: 2, text });
    const cut = await runRecipe(bases.rope!, "yarn-ft", { targetLength: 128, steps: 4, batch: 2, text, checkpointDir: dir, signal: ac.signal, snapshots: [2], onSnapshot: () => ac.abort() });
    assert.equal(cut.steps, 2);
    const state = await loadTrainingState(dir);
    assert.equal(state.model.positional.toJSON().name, "yarn");
    const rest = await runRecipe(bases.rope!, "yarn-ft", { targetLength: 128, steps: 4, batch: 2, text, resume: state });
    assert.equal(rest.status, "completed");
    assert.deepEqual(rest.log.array("loss"), full.log.array("loss"));
    for (const m of [full.model, cut.model, rest.model]) m.dispose();
  });
});

describe("recipeSource", () => {
  it("a fine-tune draws B rows of ℓ' from the retrieval mix; the curriculum draws ℓ_max·2^k with B = batchTokens/ℓ and weights ½, ¼, …", () => {
    const ft = recipeSource(recipeFrom("pi-ft"), 64, { targetLength: 128, batch: 3, text });
    const b = ft.next(new Rng(1));
    assert.deepEqual([b.batch, b.length, b.tokens.length], [3, 128, 384]);
    assert.deepEqual(Array.from(b.tokens), Array.from(recipeSource(recipeFrom("pi-ft"), 64, { targetLength: 128, batch: 3, text }).next(new Rng(1)).tokens), "same seed, same batch");
    const cur = recipeSource(recipeFrom("curriculum"), 64, { targetLength: 256, batchTokens: 512, text });
    const rng = new Rng(2);
    const counts = new Map<number, number>();
    for (let i = 0; i < 700; i++) {
      const x = cur.next(rng);
      assert.equal(x.batch, 512 / x.length);
      counts.set(x.length, (counts.get(x.length) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort((a, c) => a - c), [64, 128, 256]);
    // weights 4/7, 2/7, 1/7 (½, ¼, ⅛ renormalised): 400, 200, 100 expected of 700
    assert.ok(Math.abs(counts.get(64)! - 400) < 60 && Math.abs(counts.get(128)! - 200) < 50 && Math.abs(counts.get(256)! - 100) < 40, JSON.stringify([...counts]));
    const decoded = tok.decode(Array.from(b.tokens));
    assert.ok(decoded.length > 0);
  });
  it("refuses a model whose vocabulary is not bytes (the mix is byte-level)", async () => {
    const bpe = DTransformer.create({ ...tiny, nVocab: 300, positional: rope() }, 0);
    await assert.rejects(runRecipe(bpe, "ft", { targetLength: 128, steps: 1, text }), /default training data is byte-level .* N_V=300/);
    bpe.dispose();
  });
  it("cloneModel copies: training the clone leaves the original", () => {
    const c = cloneModel(bases.alibi!);
    assert.notEqual(c.params.get("W_e"), bases.alibi!.params.get("W_e"));
    assert.deepEqual(values(c.params.get("W_e")), values(bases.alibi!.params.get("W_e")));
    c.dispose();
  });
});
