/** Tokenizers: byte layout and specials, GPT-2 r50k_base ids, round trips, lenient decoding, errors, tokenizerFrom. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, InputError } from "../../lib/errors.js";
import { byteTokenizer, gpt2Tokenizer, tokenizerFrom, streamDecoder } from "../../lib/data/tokenizer.js";

const SAMPLES: Record<string, string> = {
  ascii: "Call me Ishmael. Some years ago—never mind how long.",
  emoji: "whale 🐳 and 👩‍👩‍👧 family",
  cjk: "白鯨 (はくげい) 모비 딕",
  combining: "e\u0301 a\u0308 n\u0303 — Zalgo: Z\u0351\u0364a\u036Bl\u0350go",
  newlines: "line one\n\n\tline two\r\n",
  empty: "",
};

describe("byteTokenizer", () => {
  const tok = byteTokenizer();

  it("has bytes 0…255 then bos=256, eos=257, pad=258 (N_V = 259); specials: false gives N_V = 256", () => {
    assert.equal(tok.name, "byte");
    assert.equal(tok.vocabSize, 259);
    assert.deepEqual({ ...tok.special }, { bos: 256, eos: 257, pad: 258 });
    const plain = byteTokenizer({ specials: false });
    assert.equal(plain.vocabSize, 256);
    assert.deepEqual({ ...plain.special }, {});
  });

  it("encodes text as its UTF-8 bytes, with no specials unless asked", () => {
    assert.deepEqual(tok.encode("Hi é"), [72, 105, 32, 0xc3, 0xa9]);
    assert.deepEqual(tok.encode("🐳"), [0xf0, 0x9f, 0x90, 0xb3]);
    assert.deepEqual(tok.encode("Hi", { bos: true, eos: true }), [256, 72, 105, 257]);
    assert.deepEqual(tok.encode("Hi", { eos: true }), [72, 105, 257]);
    assert.deepEqual(tok.encode(""), []);
  });

  it("round-trips ASCII, emoji, CJK, combining marks and the empty string (both variants)", () => {
    for (const t of [tok, byteTokenizer({ specials: false })]) {
      for (const [what, s] of Object.entries(SAMPLES)) {
        const ids = t.encode(s);
        assert.equal(ids.length, Buffer.byteLength(s, "utf8"), what);
        assert.equal(t.decode(ids), s, what);
      }
    }
  });

  it("decode drops specials, or shows them on request", () => {
    const ids = tok.encode("ab", { bos: true, eos: true });
    assert.equal(tok.decode([...ids, 258, 258]), "ab");
    assert.equal(tok.decode([...ids, 258], { specials: true }), "<|bos|>ab<|eos|><|pad|>");
  });

  it("decodes a split multi-byte character leniently (U+FFFD), keeping the rest", () => {
    const whale = tok.encode("🐳");
    assert.equal(tok.decode(whale.slice(0, 2)), "\uFFFD");
    assert.equal(tok.decode([...whale.slice(0, 3), 65]), "\uFFFDA");
    assert.equal(tok.decode([0xff, 66]), "\uFFFDB");
    // a special token between the halves of a character does not join them: one U+FFFD for the
    // truncated lead, one per stray continuation byte (WHATWG "maximal subpart" rule)
    assert.equal(tok.decode([...whale.slice(0, 2), 257, ...whale.slice(2)]), "\uFFFD\uFFFD\uFFFD");
    assert.equal(tok.decode([...whale.slice(0, 2), ...whale.slice(2)]), "🐳");
  });

  it("rejects ids outside [0, N_V), naming the index, the value and N_V", () => {
    assert.throws(() => tok.decode([65, 66, 259]), (e: Error) => e instanceof InputError && /ids\[2\]=259/.test(e.message) && /N_V=259/.test(e.message));
    assert.throws(() => tok.decode([-1]), /ids\[0\]=-1 .*N_V=259/);
    assert.throws(() => tok.decode([1.5]), /ids\[0\]=1\.5/);
    assert.throws(() => byteTokenizer({ specials: false }).decode([0, 256]), /ids\[1\]=256 .*N_V=256/);
  });

  it("refuses bos/eos when the tokenizer has none", () => {
    assert.throws(() => byteTokenizer({ specials: false }).encode("x", { bos: true }), (e: Error) => e instanceof ConfigError && /bos/.test(e.message));
  });
});

describe("gpt2Tokenizer (r50k_base)", () => {
  const tok = gpt2Tokenizer();

  it("has N_V = 50257 and <|endoftext|> = 50256", () => {
    assert.equal(tok.name, "gpt2-bpe");
    assert.equal(tok.vocabSize, 50257);
    assert.equal(tok.special.eos, 50256);
    assert.equal(tok.special.bos, 50256);
  });

  it("gives the known GPT-2 ids", () => {
    assert.deepEqual(tok.encode("Hello world"), [15496, 995]);
    assert.equal(tok.decode([15496, 995]), "Hello world");
    assert.deepEqual(tok.encode("Hello world", { eos: true }), [15496, 995, 50256]);
  });

  it("round-trips ASCII, emoji, CJK, combining marks and the empty string", () => {
    for (const [what, s] of Object.entries(SAMPLES)) {
      const ids = tok.encode(s);
      assert.ok(ids.every((v) => Number.isInteger(v) && v >= 0 && v < 50256), what);
      assert.equal(tok.decode(ids), s, what);
    }
    assert.deepEqual(tok.encode(""), []);
  });

  it("encodes a literal <|endoftext|> in the text as ordinary text; decode drops the special id unless asked", () => {
    const ids = tok.encode("a<|endoftext|>b");
    assert.ok(!ids.includes(50256));
    assert.equal(tok.decode(ids), "a<|endoftext|>b");
    assert.equal(tok.decode([15496, 50256, 995]), "Hello world");
    assert.equal(tok.decode([15496, 50256], { specials: true }), "Hello<|endoftext|>");
  });

  it("rejects ids outside [0, N_V), naming the index, the value and N_V", () => {
    assert.throws(() => tok.decode([15496, 50257]), (e: Error) => e instanceof InputError && /ids\[1\]=50257 .*N_V=50257/.test(e.message));
  });
});

describe("tokenizerFrom", () => {
  it("rebuilds tokenizers from toJSON() and from names", () => {
    for (const t of [byteTokenizer(), byteTokenizer({ specials: false }), gpt2Tokenizer()]) {
      const json = JSON.parse(JSON.stringify(t.toJSON())) as { name: string };
      const back = tokenizerFrom(json);
      assert.equal(back.name, t.name);
      assert.equal(back.vocabSize, t.vocabSize);
      assert.deepEqual({ ...back.special }, { ...t.special });
      assert.deepEqual(back.encode("Hello 🐳"), t.encode("Hello 🐳"));
    }
    assert.equal(tokenizerFrom("gpt2").vocabSize, 50257);
    assert.equal(tokenizerFrom("r50k_base").name, "gpt2-bpe");
    assert.equal(tokenizerFrom("byte").vocabSize, 259);
  });

  it("rejects unknown names and a disagreeing N_V", () => {
    assert.throws(() => tokenizerFrom("sentencepiece"), (e: Error) => e instanceof ConfigError && /unknown tokenizer "sentencepiece"/.test(e.message));
    assert.throws(() => tokenizerFrom({ name: "byte", vocabSize: 300 }), /N_V=300 .*N_V=259/);
    assert.throws(() => tokenizerFrom({} as { name: string }), ConfigError);
  });
});

describe("streamDecoder", () => {
  it("writes a character split over tokens once, complete (byte and GPT-2 BPE)", () => {
    const text = "naïve 😀 café, 鯨 and 🐋.";
    for (const tok of [byteTokenizer(), gpt2Tokenizer()]) {
      const ids = tok.encode(text);
      const d = streamDecoder(tok);
      const pieces = ids.map((id) => d.push(id));
      pieces.push(d.end());
      assert.equal(pieces.join(""), text, tok.name);
      assert.ok(pieces.every((p) => !p.includes("\ufffd")), `${tok.name}: no piece holds U+FFFD`);
      assert.notEqual(ids.map((id) => tok.decode([id])).join(""), text, `${tok.name}: decoding ids one by one splits characters (what this fixes)`);
    }
  });
  it("invalid bytes still come out (as U+FFFD) after at most 3 held tokens; end() flushes", () => {
    const d = streamDecoder(byteTokenizer());
    assert.equal(d.push(0xff), "");
    assert.equal(d.push(0xff), "");
    assert.equal(d.push(0xff), "");
    assert.equal(d.push(0x41), "\ufffd\ufffd\ufffdA");
    assert.equal(d.push(0xe9), "");
    assert.equal(d.end(), "\ufffd");
    assert.equal(d.end(), "");
  });
});
