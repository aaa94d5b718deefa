/**
 * The bugs the fault suite found in the readers, one deterministic case each (the fuzzers find them
 * only by chance): deep nesting and prototype-named keys in JSON, huge echoed values, quadratic
 * GPT-2 BPE on long pre-tokens, gpt-tokenizer's shared streaming decoder, Node's ENOENT for mkdir on a
 * read-only file system.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveRunConfig } from "../../cli/run-config.js";
import { byteTokenizer, gpt2Tokenizer, tokenizerFrom } from "../../lib/data/tokenizer.js";
import { CheckpointError, ConfigError, InputError } from "../../lib/errors.js";
import { parseJsonl } from "../../lib/eval/jsonl.js";
import { configFromGpt2Json } from "../../lib/io/checkpoint.js";
import { deepArray } from "./fuzz.js";

const deep = deepArray(100_000);
function throwsShort(f: () => unknown, cls: new (...a: never[]) => Error, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof cls && re.test((e as Error).message) && (e as Error).message.length < 1200);
}

describe("reader bugs found by fuzzing", () => {
  it("10⁵-deep nesting is a clean error, not a RangeError from JSON.stringify", () => {
    throwsShort(() => configFromGpt2Json({ vocab_size: deep }), CheckpointError, /field "vocab_size" \(N_V\) must be a positive integer, got an array nested too deeply to print/);
    throwsShort(() => resolveRunConfig({ seed: deep }), ConfigError, /run config: seed = an array nested too deeply to print is invalid/);
    throwsShort(() => parseJsonl(`{"prompt": ${"[".repeat(100_000)}${"]".repeat(100_000)}, "answer": "1"}`), InputError, /field "prompt" must be a string, got an array nested too deeply/);
    throwsShort(() => tokenizerFrom({ name: deep } as never), ConfigError, /expected a name or \{ name, … \}, got an? object nested too deeply to print/);
  });

  it("keys named after Object.prototype members are unknown keys in a run config", () => {
    for (const k of ["toString", "constructor", "__defineGetter__", "hasOwnProperty", "__proto__"]) {
      throwsShort(() => resolveRunConfig(JSON.parse(`{"${k}": {}}`)), ConfigError, new RegExp(`unknown key ${k}`));
      throwsShort(() => resolveRunConfig(JSON.parse(`{"model": {"${k}": 1}}`)), ConfigError, /unknown key model\./);
    }
  });

  it("huge values and keys are cut in messages; no Levenshtein over a 100 KB key", () => {
    throwsShort(() => configFromGpt2Json({ vocab_size: "x".repeat(1_000_000) }), CheckpointError, /got "x{100,}\.\.\.$/);
    throwsShort(() => parseJsonl(JSON.stringify({ prompt: "p", answer: { k: "y".repeat(1_000_000) } })), InputError, /field "answer" must be a string/);
    const key = "k".repeat(100_000);
    assert.throws(() => resolveRunConfig({ [key]: 1 }), /unknown key k+\.\.\.; valid keys/);
  });

  it("GPT-2 encoding of 64,000-character runs is fast and round-trips", () => {
    const g = gpt2Tokenizer();
    for (const c of ["\ud800", "😀", "=", "a", "7", " "]) {
      const text = c.repeat(64_000);
      const ids = g.encode(text); // was quadratic (minutes); kept here as a size that would time the test out
      assert.equal(g.decode(ids), text.replace(/\ud800/g, "\ufffd"));
    }
    assert.deepEqual(g.encode("The whale, the whale!"), [464, 22206, 11, 262, 22206, 0]); // ordinary text: unchanged
  });

  it("GPT-2 decode: calls are independent, in order, linear, and keep U+FEFF", () => {
    const g = gpt2Tokenizer();
    const [h1, h2] = g.encode("😀") as [number, number];
    const hello = g.encode(" hello");
    assert.equal(g.decode([h1]), "\ufffd"); // was "" (the byte stayed in gpt-tokenizer's shared decoder)
    assert.equal(g.decode(hello), " hello"); // was "\ufffd hello"
    assert.equal(g.decode([h1, ...hello]), "\ufffd hello"); // was " hello\ufffd"
    assert.equal(g.decode([h2]), "\ufffd");
    const run = Array.from({ length: 128_001 }, (_, i) => (i % 2 ? h2 : h1));
    const s = g.decode(run); // was 3.5 s (repeated copying)
    assert.equal(s, "😀".repeat(64_000) + "\ufffd");
    assert.equal(g.decode(g.encode("\ufeffBOM")), "\ufeffBOM");
  });

  it("byte encode of 1 MB allocates about its output, not 30 bytes per byte", () => {
    const t = byteTokenizer();
    const ids = t.encode("x".repeat(1_000_000), { bos: true, eos: true });
    assert.equal(ids.length, 1_000_002);
    assert.equal(ids[0], 256);
    assert.equal(ids.at(-1), 257);
  });
});
