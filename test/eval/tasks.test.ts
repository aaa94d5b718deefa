/**
 * Retrieval generators (lib/eval/tasks.ts): exact formats for small seeded cases, reproducibility,
 * lengths within (and close to) the budget, needle depth by token position, no answer leakage.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { byteTokenizer, gpt2Tokenizer } from "../../lib/data/tokenizer.js";
import type { Tokenizer } from "../../lib/data/types.js";
import { ConfigError } from "../../lib/errors.js";
import { largestFitting } from "../../lib/eval/common.js";
import { depthSweep, fillerWindow, kvRetrieval, lines, passkey, PASSKEY_FILLER, PASSKEY_HEADER, sentenceBoundaries, type EvalExample } from "../../lib/eval/index.js";

const tok = byteTokenizer();
const total = (e: EvalExample) => e.ids.length + e.targetIds.length;
const count = (s: string, sub: string) => s.split(sub).length - 1;

describe("exact formats (byte tokenizer, seed 0)", () => {
  it("passkey standard: PI Fig. 3 lines joined by \\n, needle at the start or before the question", () => {
    const e0 = passkey(0, tok, { length: 128, depth: 0 });
    assert.equal(e0.prompt, "The pass key is 89816. Remember it. 89816 is the pass key.\ngo. There and back again.\nWhat is the pass key? The pass key is");
    assert.deepEqual([e0.target, e0.answer, e0.ids.length, e0.targetIds.length, e0.needlePos, e0.needleDepth], [" 89816", "89816", 122, 6, 0, 0]);
    const e1 = passkey(0, tok, { length: 128, depth: 1 });
    assert.equal(e1.prompt, "go. There and back again.\nThe pass key is 89816. Remember it. 89816 is the pass key.\nWhat is the pass key? The pass key is");
    assert.equal(e1.needlePos, 26);
    assert.equal(e0.id, "passkey/L128/d0/0");
  });
  it("passkey with the PI instruction header", () => {
    const e = passkey(0, tok, { length: 300, depth: 0.5, header: true });
    assert.ok(e.prompt.startsWith("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.\n"));
    assert.ok(e.prompt.endsWith("\nWhat is the pass key? The pass key is"));
    assert.equal(total(e), 300);
  });
  it("passkey compact: key=NNNNN twice, question key=, fits ℓ = 64", () => {
    const e = passkey(0, tok, { length: 64, depth: 0.5, variant: "compact" });
    assert.equal(e.prompt, "ere we go. key=89816. key=89816. There and back again. key=");
    assert.deepEqual([e.target, total(e), e.needlePos, e.id], ["89816", 64, 11, "passkey-compact/L64/d0.5/0"]);
  });
  it("lines standard and compact (LongChat)", () => {
    const s = lines(0, tok, { length: 200, depth: 0 });
    assert.equal(s.prompt, "line hard-acorn: REGISTER_CONTENT is <12926>\nline acid-glove: REGISTER_CONTENT is <95957>\nWhat is the REGISTER_CONTENT in line hard-acorn? line hard-acorn: REGISTER_CONTENT is <");
    assert.deepEqual([s.target, s.needlePos], ["12926", 0]);
    const c = lines(0, tok, { length: 64, depth: 1, variant: "compact" });
    assert.equal(c.prompt, "hard-acorn=12926\nacid-glove=95957\nacid-glove=");
    assert.deepEqual([c.answer, c.needlePos, c.needleDepth], ["95957", 17, 0.5]);
    const h = lines(0, tok, { length: 600, depth: 0.5, header: true });
    assert.ok(h.prompt.startsWith("Below is a record of lines I want you to remember."));
  });
  it("kv retrieval (Lost in the Middle): JSON of UUID pairs, the key asked at the end", () => {
    const e = kvRetrieval(0, tok, { length: 300, depth: 0.5 });
    assert.match(e.prompt, /^JSON data:\n\{"[0-9a-f-]{36}": "[0-9a-f-]{36}",\n "[0-9a-f-]{36}": "[0-9a-f-]{36}"\}\n\nKey: "[0-9a-f-]{36}"\nCorresponding value: "$/);
    const key = /Key: "([^"]+)"/.exec(e.prompt)![1]!;
    assert.ok(e.prompt.includes(`"${key}": "${e.answer}"`));
    assert.ok(total(e) <= 300);
  });
});

describe("generator properties", () => {
  it("is reproducible for a seed and differs across seeds", () => {
    const a = depthSweep("passkey", tok, { lengths: [128], depths: [0.5], n: 3, seed: 7, variant: "compact" });
    const b = depthSweep("passkey", tok, { lengths: [128], depths: [0.5], n: 3, seed: 7, variant: "compact" });
    assert.deepEqual(a, b);
    const c = depthSweep("passkey", tok, { lengths: [128], depths: [0.5], n: 3, seed: 8, variant: "compact" });
    assert.notDeepEqual(a.map((e) => e.answer), c.map((e) => e.answer));
    // a cell does not depend on which other cells are requested
    const d = depthSweep("passkey", tok, { lengths: [64, 128], depths: [0, 0.5], n: 3, seed: 7, variant: "compact" });
    assert.deepEqual(d.filter((e) => e.length === 128 && e.depth === 0.5), a);
  });
  it("keeps prompt + continuation ≤ ℓ: ℓ or ℓ − 1 for passkey under bytes, within one record for lines/kv", () => {
    for (const [task, variant, slack] of [["passkey", "standard", 1], ["passkey", "compact", 1], ["lines", "compact", 21], ["lines", "standard", 50], ["kv", "standard", 82]] as const) {
      const lengths = task === "passkey" && variant === "compact" ? [64, 100, 257] : [300, 777];
      for (const e of depthSweep(task, tok, { lengths, depths: [0, 0.3, 1], n: 2, variant })) {
        assert.ok(total(e) <= e.length, `${e.id}: ${total(e)} > ℓ`);
        assert.ok(total(e) >= e.length - slack, `${e.id}: ${total(e)} tokens, more than ${slack} short of ℓ=${e.length}`);
      }
    }
  });
  it("places the needle within one sentence/record of depth × haystack (by token position)", () => {
    /** The haystack's text: the prompt without header, needle and question. */
    const haystack = (e: EvalExample): string => {
      if (e.task === "lines") return e.variant === "compact" ? e.prompt.slice(0, e.prompt.lastIndexOf("\n") + 1) : e.prompt.slice(0, e.prompt.indexOf("What is the REGISTER"));
      const needle = e.variant === "compact" ? `key=${e.answer}. key=${e.answer}.` : `The pass key is ${e.answer}. Remember it. ${e.answer} is the pass key.`;
      const question = e.variant === "compact" ? "key=" : "What is the pass key? The pass key is";
      return e.prompt.replace(PASSKEY_HEADER, "").replace(needle, "").slice(0, -question.length).trim();
    };
    const check = (t: Tokenizer, task: string, variant: "standard" | "compact", unit: number, header: boolean) => {
      for (const e of depthSweep(task, t, { lengths: [400, 1000], depths: [0, 0.1, 0.25, 0.5, 0.9, 1], n: 2, variant, header })) {
        const hay = t.encode(haystack(e)).length;
        const off = Math.abs(e.needleDepth! - e.depth!) * hay; // tokens between the needle and depth × haystack
        assert.ok(off <= unit + 1, `${e.id}: needle ${off.toFixed(1)} tokens from depth × haystack (one unit = ${unit})`);
        assert.ok(e.needlePos! >= 0 && e.needlePos! < e.ids.length);
      }
    };
    check(tok, "passkey", "standard", 21, true);
    check(tok, "passkey", "compact", 21, false);
    check(tok, "lines", "compact", 21, false); // the longest record: "gentle-feather=NNNNN\n"
    check(tok, "lines", "standard", 50, false);
    check(gpt2Tokenizer(), "passkey", "standard", 6, false);
  });
  it("needle_pos points at the needle's first token; depth is measured in tokens", () => {
    for (const e of depthSweep("passkey", tok, { lengths: [512], depths: [0, 0.5, 1], n: 2 })) {
      assert.ok(tok.decode(e.ids.slice(e.needlePos!)).startsWith("The pass key is "));
      const filler = tok.encode(e.prompt).length - tok.encode(`The pass key is ${e.answer}. Remember it. ${e.answer} is the pass key.\nWhat is the pass key? The pass key is`).length;
      const target = e.depth! * filler;
      assert.ok(Math.abs(e.needlePos! - target) <= 21, `${e.id}: needle at ${e.needlePos}, target ${target}`);
    }
  });
  it("never leaks the answer outside the needle", () => {
    for (const [task, variant] of [["passkey", "standard"], ["passkey", "compact"], ["lines", "standard"], ["lines", "compact"], ["kv", "standard"]] as const) {
      for (const e of depthSweep(task, tok, { lengths: [400, 1500], depths: [0, 0.5, 1], n: 3, seed: 1, variant })) {
        const needle = task === "passkey" ? 2 : 1;
        assert.equal(count(e.prompt, e.answer), needle, `${e.id}: the answer occurs ${count(e.prompt, e.answer)} times`);
        if (task !== "kv") assert.match(e.answer, /^[1-9]\d{4}$/);
      }
    }
    assert.doesNotMatch(PASSKEY_FILLER, /\d|=/);
  });
  it("rejects ℓ too short for a format, bad options, and names them", () => {
    assert.throws(() => passkey(0, tok, { length: 64, depth: 0 }), (e: Error) => e instanceof ConfigError && /ℓ=64 is too short.*use ℓ ≥ 102 or variant "compact"/.test(e.message));
    assert.throws(() => lines(0, tok, { length: 40, depth: 0, variant: "compact" }), /too short for two compact records/);
    assert.throws(() => passkey(0, tok, { length: 128, depth: 1.5 }), /depth=1.5 must be in \[0, 1\]/);
    assert.throws(() => passkey(0, tok, { length: 128, depth: 0, variant: "tiny" as never }), /variant="tiny"/);
    assert.throws(() => passkey(0, byteTokenizer({ specials: false }), { length: 128, depth: 0, bos: true }), /no bos token/);
    assert.throws(() => depthSweep("needle", tok, { lengths: [64] }), /unknown evaluation task "needle"; known: passkey, lines, kv/);
    assert.throws(() => kvRetrieval(0, tok, { length: 300, depth: 0, variant: "compact" }), /no compact variant/);
  });
});

describe("helpers", () => {
  it("fillerWindow ends with a whole block; boundaries are sentence starts and both ends", () => {
    assert.equal(fillerWindow(21), "There and back again.");
    assert.equal(fillerWindow(28), "we go. There and back again.");
    assert.equal(fillerWindow(29), "we go. There and back again."); // a leading space is dropped
    assert.deepEqual(sentenceBoundaries("we go. There and back again."), [0, 7, 28]);
  });
  it("largestFitting finds the last c with fits(c), from a good or a bad guess", () => {
    for (const guess of [0, 3, 37, 100, 500]) assert.equal(largestFitting(1000, guess, (c) => c <= 37), 37);
    assert.equal(largestFitting(10, 5, () => true), 10);
    assert.equal(largestFitting(10, 5, (c) => c === 0), 0);
  });
});
