/**
 * Scoring (lib/eval/score.ts) and runEval: the match rule, teacher forcing on given logits, an oracle
 * model (hooked logits) that the logit scorer marks correct, greedy = logit on a random model's own
 * output, a real tiny random model's sweep (columns, accuracy in [0, 1]), learned W_p beyond ℓ_max.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { byteTokenizer, gpt2Tokenizer } from "../../lib/data/tokenizer.js";
import { dInference } from "../../lib/infer/dinference.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { learned, rope, type PositionalEncoding } from "../../lib/positional/index.js";
import { setHost } from "../../lib/runtime/context.js";
import { accuracyByLength, depthSweep, EVAL_COLUMNS, FILLER_NAMES, kMax, matchAnswer, OVER_LMAX, passkey, runEval, scoreExample, scoreGreedy, scoreLogits, teacherForced, type EvalExample } from "../../lib/eval/index.js";
import { testBackend } from "../helpers/setup.js";

const tok = byteTokenizer();
const tiny = (pe: PositionalEncoding = rope(), lMax = 64) => DTransformer.create({ nVocab: 259, lMax, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32, positional: pe }, 5);

/** Hook on hook_logits making row t's argmax the token seq[t+1] (an oracle for this sequence). */
const oracle = (seq: readonly number[]) =>
  [["hook_logits", (v: tf.Tensor) => {
    const l = v.shape[1]!;
    const next = Array.from({ length: l }, (_, t) => seq[t + 1] ?? 0);
    return tf.mul(tf.oneHot(tf.tensor1d(next, "int32"), v.shape[2]!), 30).reshape(v.shape);
  }]] as const;

before(async () => {
  await testBackend();
});

describe("match rule and teacher forcing", () => {
  it("matchAnswer trims leading whitespace and needs the answer as a prefix", () => {
    assert.equal(matchAnswer(" 12345.", "12345"), true);
    assert.equal(matchAnswer("\n12345", " 12345 "), true);
    assert.equal(matchAnswer("1234", "12345"), false);
    assert.equal(matchAnswer("x12345", "12345"), false);
    assert.equal(matchAnswer("anything", "  "), false);
  });
  it("teacherForced: argmax per row, all equal ⇒ correct, Σ log softmax[target]", () => {
    const rows = [0, 2, 1, /* row 2 */ 5, 0, 0];
    const r = teacherForced(rows, 3, [1, 0]);
    assert.deepEqual(r.argmax, [1, 0]);
    assert.equal(r.correct, true);
    const lse = (xs: number[]) => Math.log(xs.reduce((s, v) => s + Math.exp(v), 0));
    assert.ok(Math.abs(r.logprob - (2 - lse([0, 2, 1]) + 5 - lse([5, 0, 0]))) < 1e-12);
    assert.equal(teacherForced(rows, 3, [1, 2]).correct, false);
    assert.deepEqual(teacherForced([1, 1, 0], 3, [1]).argmax, [0]); // ties → lowest id
    assert.throws(() => teacherForced([1, 2], 3, [0]), /2 logits for 1 rows of N_V=3/);
  });
});

describe("scorers on models", () => {
  it("the logit scorer marks an oracle model correct and the plain model wrong", () => {
    const m = tiny();
    const ex = passkey(0, tok, { length: 64, depth: 0.5, variant: "compact" });
    const r = scoreLogits(m, ex, tok, { hooks: oracle([...ex.ids, ...ex.targetIds]) });
    assert.deepEqual([r.correct, r.prediction, r.error], [1, ex.answer, null]);
    assert.ok(r.logprob! < 0 && r.logprob! > -1e-3);
    const plain = scoreLogits(m, ex, tok);
    assert.equal(plain.correct, 0);
    assert.equal(typeof plain.prediction, "string");
    m.dispose();
  });
  it("greedy and logit agree on the model's own greedy continuation", async () => {
    const m = tiny();
    const ids = tok.encode("The sky is blue. key=");
    const { tokens } = await dInference(m, ids, { maxTokens: 4, temperature: 0 });
    const ex = { ids, targetIds: tokens, answer: tok.decode(tokens) } as const;
    assert.equal(scoreLogits(m, ex, tok).correct, 1, "teacher forcing reproduces greedy decoding");
    const g = await scoreGreedy(m, ex, tok);
    assert.equal(g.prediction, tok.decode(tokens));
    assert.equal(g.correct, ex.answer.trim() ? 1 : 0);
    const other = { ids, targetIds: tokens.map((t) => (t + 1) % 256), answer: "zzz" };
    assert.equal(scoreLogits(m, other, tok).correct, 0);
    assert.equal((await scoreGreedy(m, other, tok)).correct, 0);
    m.dispose();
  });
  it("a learned-W_p model gets error rows beyond ℓ_max, not an exception; ℓ = ℓ_max runs", async () => {
    const m = tiny(learned(), 64);
    const ex = passkey(0, tok, { length: 64, depth: 0, variant: "compact" });
    assert.equal((await scoreExample(m, ex, tok)).error, null);
    assert.equal((await scoreExample(m, ex, tok, { scorer: "greedy" })).error, null);
    const long = passkey(0, tok, { length: 128, depth: 0, variant: "compact" });
    assert.deepEqual(await scoreExample(m, long, tok), { correct: null, prediction: null, logprob: null, error: OVER_LMAX });
    await assert.rejects(scoreExample(m, ex, tok, { scorer: "beam" as never }), /unknown scorer "beam"/);
    m.dispose();
  });
});

describe("runEval", () => {
  it("a tiny random model: one row per example with the table columns, accuracy in [0, 1], progress reported", async () => {
    const m = tiny(learned(), 64);
    const updates: number[] = [];
    const prev = setHost({ progress: () => ({ update: (d) => void updates.push(d), end() {} }) });
    try {
      const t = await runEval(m, "passkey", { lengths: [64, 128], depths: [0, 1], n: 2, variant: "compact", label: "learned" });
      assert.deepEqual(t.columnNames(), [...EVAL_COLUMNS]);
      assert.equal(t.numRows(), 8);
      assert.equal(updates.at(-1), 8, "progress reaches every example (equal-length examples are scored in one batch)");
      assert.ok(updates.every((v, i) => i === 0 || v > updates[i - 1]!), `increasing: ${updates}`);
      const rows = t.objects() as Record<string, unknown>[];
      assert.ok(rows.every((r) => r.method === "learned" && r.scorer === "logit"));
      assert.deepEqual(rows.map((r) => r.error), [null, null, null, null, OVER_LMAX, OVER_LMAX, OVER_LMAX, OVER_LMAX]);
      const acc = accuracyByLength(t).objects() as { length: number; accuracy: number | null; n: number; errors: number }[];
      assert.ok(acc[0]!.accuracy! >= 0 && acc[0]!.accuracy! <= 1);
      assert.deepEqual([acc[1]!.accuracy, acc[1]!.n, acc[1]!.errors], [null, 0, 4]);
      assert.equal(kMax(t).numRows(), 1);
    } finally {
      setHost(prev);
      m.dispose();
    }
  });
  it("greedy scorer, lines task, a given list of examples, and abort returning the rows so far", async () => {
    const m = tiny();
    const t = await runEval(m, "lines", { lengths: [96], depths: [0.5], n: 2, variant: "compact", scorer: "greedy" });
    assert.equal(t.numRows(), 2);
    assert.ok((t.array("correct") as number[]).every((c) => c === 0 || c === 1));
    const exs: EvalExample[] = depthSweep("passkey", tok, { lengths: [64], depths: [0, 1], n: 2, variant: "compact" });
    const ac = new AbortController();
    ac.abort();
    assert.equal((await runEval(m, exs, { signal: ac.signal })).numRows(), 0);
    assert.equal((await runEval(m, exs)).numRows(), 4);
    await assert.rejects(runEval(m, "passkey", {}), /give lengths/);
    await assert.rejects(runEval(m, "topics" as never, { lengths: [64] }), /unknown task "topics"/);
    await assert.rejects(runEval(m, "constructor" as never, { lengths: [64] }), /unknown task "constructor"/);
    await assert.rejects(runEval(m, "passkey", { lengths: [64], tokenizer: gpt2Tokenizer() }), /tokenizer "gpt2-bpe" has N_V=50257 but the model has N_V=259/);
    m.dispose();
    const odd = DTransformer.create({ nVocab: 300, lMax: 8, nLayers: 1, nHeads: 1, dE: 4 }, 0);
    await assert.rejects(runEval(odd, "perplexity", { lengths: [8] }), /no default tokenizer for N_V=300; pass \{ tokenizer \}/);
    odd.dispose();
  });
  it("fillers: one sweep per haystack in one run, a filler column, each part equal to the run with that filler alone", async () => {
    const m = tiny();
    const opts = { lengths: [64], depths: [0, 1], n: 2, variant: "compact" as const };
    const t = await runEval(m, "passkey", { ...opts, fillers: FILLER_NAMES });
    assert.deepEqual(t.columnNames(), [...EVAL_COLUMNS, "filler"]);
    assert.equal(t.numRows(), 12);
    const rows = t.objects() as Record<string, unknown>[];
    for (const f of FILLER_NAMES) {
      const alone = (await runEval(m, "passkey", { ...opts, filler: f })).objects() as Record<string, unknown>[];
      const part = rows.filter((r) => r.filler === f).map(({ filler: _f, ...r }) => r);
      assert.equal(part.length, 4, f);
      assert.deepEqual(part.map((r) => [r.id, r.prompt_tokens, r.needle_pos, r.correct, r.answer]), alone.map((r) => [r.id, r.prompt_tokens, r.needle_pos, r.correct, r.answer]), f);
      for (let i = 0; i < 4; i++) assert.ok(Math.abs(Number(part[i]!.logprob) - Number(alone[i]!.logprob)) < 1e-4, `${f} row ${i}: ${part[i]!.logprob} vs ${alone[i]!.logprob}`);
    }
    // the haystacks differ: the same cells score differently on the PI sentences and on State of the Union
    assert.notDeepEqual(rows.filter((r) => r.filler === "pi").map((r) => r.logprob), rows.filter((r) => r.filler === "sotu").map((r) => r.logprob));
    await assert.rejects(runEval(m, "passkey", { ...opts, fillers: [] }), /runEval: fillers must be a non-empty list of fillers \(e\.g\. FILLER_NAMES: pi, moby-dick, sotu\), got \[\]/);
    await assert.rejects(runEval(m, "lines", { ...opts, fillers: ["pi"] }), /fillers applies to the passkey task only, got task "lines"/);
    await assert.rejects(runEval(m, "passkey", { ...opts, filler: "sotu", fillers: ["pi"] }), /either filler \(one haystack\) or fillers \(several\), not both \(filler="sotu", fillers=\["pi"\]\)/);
    await assert.rejects(runEval(m, "passkey", { ...opts, fillers: ["pi", "sotu", "pi"] }), /fillers must be distinct, "pi" is given twice/);
    await assert.rejects(runEval(m, "passkey", { ...opts, fillers: ["pi", "gutenberg" as never] }), /unknown filler "gutenberg"; known: pi, moby-dick, sotu/);
    m.dispose();
  });
});
