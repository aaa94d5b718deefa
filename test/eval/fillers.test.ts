/**
 * Passkey haystacks (lib/eval/fillers.ts, passkey.ts's `filler`): every filler gives a valid compact
 * example (the needle exactly as before, once; the key nowhere else; the length ℓ or ℓ − 1; the needle
 * where needlePos says and near the requested depth); the default "pi" is unchanged (the committed
 * evalset); sweeps with an offset draw other examples; batched scoring equals one-by-one scoring.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { byteTokenizer } from "../../lib/data/tokenizer.js";
import { cleanFillerText, depthSweep, evaluateExamples, FILLER_NAMES, fillerText, parseJsonl, passkey, scoreLogits, scoreLogitsBatch, sotuText, wordBoundaries } from "../../lib/eval/index.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { rope } from "../../lib/positional/index.js";
import { testBackend } from "../helpers/setup.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const tok = byteTokenizer({ specials: false });

before(async () => {
  await testBackend();
});

describe("fillers", () => {
  it("the text fillers are long, cleaned (no digits, no '=', ASCII) and distinct", () => {
    for (const f of ["moby-dick", "sotu"] as const) {
      const t = fillerText(f)!;
      assert.ok(t.length > 100_000, `${f}: ${t.length} characters`);
      assert.doesNotMatch(t, /[0-9=]|[^\x20-\x7e]/);
    }
    assert.equal(fillerText("pi"), null);
    assert.match(sotuText(), /Mr\. Speaker/);
    assert.notEqual(fillerText("moby-dick")!.slice(0, 200), fillerText("sotu")!.slice(0, 200));
    assert.equal(fillerText({ name: "mine", text: "a1b=c\u00e9  d" }), "abc d");
    assert.deepEqual(wordBoundaries("ab cd  e"), [0, 3, 7, 8]);
  });
  for (const filler of FILLER_NAMES) {
    it(`${filler}: valid compact examples at ℓ = 64 … 1,024, every depth`, () => {
      for (const length of [64, 128, 1024]) {
        for (const depth of [0, 0.25, 0.5, 0.75, 1]) {
          for (let i = 0; i < 3; i++) {
            const e = passkey(`t/${filler}/${length}/${depth}/${i}`, tok, { length, depth, variant: "compact", filler });
            const total = e.ids.length + e.targetIds.length;
            assert.ok(total === length || total === length - 1, `${filler} ℓ=${length}: ${total} tokens`);
            const needle = `key=${e.answer}. key=${e.answer}.`;
            assert.equal(e.prompt.split(needle).length, 2, "the needle occurs exactly once");
            assert.equal((e.prompt + e.target).split(e.answer).length, 4, "the key: twice in the needle, once as the answer");
            assert.ok(e.prompt.endsWith(" key="), "the question ends the prompt");
            assert.equal(e.target, e.answer);
            assert.match(e.answer, /^[1-9]\d{4}$/);
            assert.equal(tok.decode(e.ids.slice(e.needlePos!, e.needlePos! + needle.length)), needle, "needlePos points at the needle");
            if (length >= 128) assert.ok(Math.abs(e.needleDepth! - depth) < 0.06, `${filler} ℓ=${length} depth ${depth}: realised ${e.needleDepth}`);
            if (depth === 0) assert.equal(e.needlePos, 0);
            if (filler !== "pi") {
              assert.equal(e.filler, filler);
              assert.match(e.id, new RegExp(`^passkey-compact@${filler}/L${length}/d${depth}/`));
            }
          }
        }
      }
    });
  }
  it("the default filler is the PI filler, unchanged: the committed evalset regenerates exactly", () => {
    const committed = parseJsonl(readFileSync(join(root, "data/evalsets/passkey-compact.jsonl"), "utf8")) as { id: string; prompt: string; answer: string }[];
    const now = depthSweep("passkey", byteTokenizer(), { lengths: [64, 128, 256], depths: [0, 0.25, 0.5, 0.75, 1], n: 5, seed: 0, variant: "compact" });
    const pi = depthSweep("passkey", byteTokenizer(), { lengths: [64, 128, 256], depths: [0, 0.25, 0.5, 0.75, 1], n: 5, seed: 0, variant: "compact", filler: "pi" });
    assert.deepEqual(pi, now);
    for (const e of now) {
      const c = committed.find((x) => x.id === e.id)!;
      assert.ok(c, e.id);
      assert.equal(c.prompt, e.prompt);
      assert.equal(c.answer, e.answer);
      assert.equal(e.filler, undefined);
    }
  });
  it("a sweep is seeded per (filler, cell, index): offset k·n gives the examples k·n … of a larger n; fillers differ", () => {
    const o = { lengths: [128], depths: [0.5], variant: "compact" as const, filler: "sotu" as const };
    const big = depthSweep("passkey", tok, { ...o, n: 6 });
    assert.deepEqual(depthSweep("passkey", tok, { ...o, n: 3, offset: 3 }), big.slice(3));
    assert.deepEqual(depthSweep("passkey", tok, { ...o, n: 3 }), big.slice(0, 3));
    const moby = depthSweep("passkey", tok, { ...o, filler: "moby-dick", n: 6 });
    assert.ok(moby.every((e, i) => e.prompt !== big[i]!.prompt));
    assert.throws(() => depthSweep("lines", tok, { lengths: [128], filler: "sotu" }), /lines: filler "sotu" applies to the passkey task only/);
    assert.throws(() => depthSweep("passkey", tok, { ...o, n: 1, offset: -1 }), /offset=-1 must be an integer ≥ 0/);
    assert.throws(() => passkey(0, tok, { length: 128, depth: 0, filler: "bible" as never }), /unknown filler "bible"; known: pi, moby-dick, sotu/);
    assert.throws(() => passkey(0, tok, { length: 128, depth: 0, variant: "compact", filler: { name: "short", text: "a few words only" } }), /filler "short" has 16 characters after cleaning; ℓ=128 needs ≥ 1090/);
    assert.equal(cleanFillerText("x=1 y"), "x y");
  });
  it("batched scoring: the same rows as scoring one example at a time", async () => {
    const m = DTransformer.create({ nVocab: 256, lMax: 256, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32, positional: rope() }, 3);
    try {
      const exs = depthSweep("passkey", tok, { lengths: [64, 128], depths: [0, 0.5, 1], n: 3, variant: "compact", filler: "moby-dick" });
      const t = (await evaluateExamples(m, exs, tok)).objects() as { id: string; correct: number; logprob: number; prediction: string }[];
      assert.equal(t.length, exs.length);
      exs.forEach((e, i) => {
        const one = scoreLogits(m, e, tok);
        assert.equal(t[i]!.id, e.id);
        assert.equal(t[i]!.correct, one.correct);
        assert.equal(t[i]!.prediction, one.prediction);
        assert.ok(Math.abs(t[i]!.logprob - one.logprob!) < 1e-4, `${e.id}: ${t[i]!.logprob} vs ${one.logprob}`);
      });
      const same = exs.filter((e) => e.ids.length + e.targetIds.length === 128);
      assert.ok(same.length >= 2);
      assert.deepEqual(scoreLogitsBatch(m, same, tok).map((r) => r.prediction), same.map((e) => scoreLogits(m, e, tok).prediction));
      assert.throws(() => scoreLogitsBatch(m, [exs[0]!, exs.at(-1)!], tok), /a batch needs equal lengths/);
    } finally {
      m.dispose();
    }
  });
});
