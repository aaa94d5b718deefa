/**
 * lib/hf/tokenizer.ts on tokenizer.json files built here: a Llama-style BPE with merges and byte
 * fallback (Prepend/Replace "▁" normalizer, TemplateProcessing BOS), a GPT-2-style byte-level BPE,
 * and GPT-2's own tokenizer.json rebuilt from gpt-tokenizer's r50k ranks — which must encode exactly
 * as ctxlab's gpt2Tokenizer. Round trips, BOS/EOS from tokenizer_config.json, loading from a directory.
 */
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { gpt2Tokenizer } from "../../lib/data/tokenizer.js";
import { hfTokenizer, loadTokenizer } from "../../lib/hf/tokenizer.js";

const tmp = mkdtempSync(join(tmpdir(), "ctxlab-tok-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });

function llamaStyle() {
  const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
  for (const t of ["▁", "h", "e", "l", "o", "w", "r", "d", "he", "ll", "▁he", "▁hell", "▁hello", "▁w"]) vocab[t] = Object.keys(vocab).length;
  return {
    version: "1.0", truncation: null, padding: null,
    added_tokens: [special("<unk>", 0), special("<s>", 1), special("</s>", 2)],
    normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }] },
    pre_tokenizer: null,
    post_processor: { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }], pair: [], special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } } },
    decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }] },
    model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: ["h e", "l l", "▁ he", "▁he ll", "▁hell o", "▁ w"] },
  };
}

/** GPT-2's byte → printable character map (bytes_to_unicode). */
function byteChars(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const out = new Array<string>(256);
  bs.forEach((b) => (out[b] = String.fromCharCode(b)));
  let n = 0;
  for (let b = 0; b < 256; b++) if (out[b] === undefined) out[b] = String.fromCharCode(256 + n++);
  return out;
}

function byteLevel(vocab: Record<string, number>, merges: string[], added: { id: number; content: string }[]) {
  const bl = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0", truncation: null, padding: null, added_tokens: added.map((a) => special(a.content, a.id)),
    normalizer: null, pre_tokenizer: bl, post_processor: bl, decoder: bl,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "", fuse_unk: false, byte_fallback: false, vocab, merges },
  };
}

const SAMPLES = [
  "hello", "hello world", "Hello, World!", " leading and trailing  ", "é😀 naïve café 北京", "numbers 12345 and 3.14159",
  "newlines\n\nand\ttabs\r\n", "it's they're we've I'm you'll he'd", "code: for (let i = 0; i < n; i++) { x += y[i]; }",
  "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse,", "<|endoftext|> is text here", "",
];

describe("tokenizer.json through @huggingface/tokenizers", () => {
  it("Llama-style BPE: merges, byte fallback for unknown characters, BOS from tokenizer_config, round trips", () => {
    const tok = hfTokenizer(llamaStyle(), { add_bos_token: true, bos_token: "<s>", eos_token: { content: "</s>" }, unk_token: "<unk>" });
    const id = (t: string) => (llamaStyle().model.vocab as Record<string, number>)[t]!;
    assert.deepEqual(tok.encode("hello"), [id("▁hello")]);
    assert.deepEqual(tok.encode("hello world"), [id("▁hello"), id("▁w"), id("o"), id("r"), id("l"), id("d")]);
    assert.deepEqual(tok.encode("é"), [id("▁"), id("<0xC3>"), id("<0xA9>")], "é is not in the vocabulary: its UTF-8 bytes");
    assert.deepEqual(tok.encode("hello", { bos: true, eos: true }), [1, id("▁hello"), 2]);
    assert.deepEqual(tok.special, { bos: 1, eos: 2, unk: 0 });
    assert.equal(tok.addBos, true);
    assert.equal(hfTokenizer(llamaStyle(), { bos_token: "<s>" }).addBos, true, "the TemplateProcessing post-processor starts with <s>");
    assert.equal(hfTokenizer(llamaStyle(), { bos_token: "<s>", add_bos_token: false }).addBos, false);
    assert.equal(tok.vocabSize, 273);
    for (const s of SAMPLES) if (s.trim() === s && !s.includes("  ")) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
    assert.equal(tok.decode([1, id("▁hello"), 2]), "hello");
    assert.equal(tok.decode([1, id("▁hello"), 2], { specials: true }), "<s> hello</s>");
    assert.throws(() => tok.decode([273]), /ids\[0\]=273 is outside \[0, N_V\) with N_V=273/);
    assert.throws(() => hfTokenizer(llamaStyle(), { bos_token: "<bos>" }), /bos_token "<bos>" is not in the vocabulary/);
  });

  it("byte-level BPE (GPT-2 style, tiny merges): every string round-trips, including emoji and control characters", () => {
    const chars = byteChars();
    const vocab: Record<string, number> = {};
    chars.forEach((c, i) => (vocab[c] = i));
    const merges = ["Ġ t", "h e", "Ġt he", "l l", "he ll", "hell o", "Ġ w", "o r"];
    for (const m of merges) vocab[m.replace(" ", "")] = Object.keys(vocab).length;
    const eot = Object.keys(vocab).length;
    const tok = hfTokenizer(byteLevel(vocab, merges, [{ id: eot, content: "<|endoftext|>" }]), { bos_token: "<|endoftext|>", eos_token: "<|endoftext|>" });
    assert.deepEqual(tok.encode("hello the"), [vocab.hello, vocab["Ġthe"]]);
    assert.deepEqual(tok.encode("hello", { eos: true }), [vocab.hello, eot]);
    for (const s of SAMPLES.filter((x) => !x.includes("<|"))) assert.equal(tok.decode(tok.encode(s)), s, JSON.stringify(s));
    // as in Hugging Face, a special token written in the text is that token
    assert.deepEqual(tok.encode("<|endoftext|> is").slice(0, 1), [eot]);
  });
});

describe("GPT-2 stays on ctxlab's gpt2Tokenizer, which equals GPT-2's tokenizer.json", () => {
  it("a GPT-2 tokenizer.json built from r50k's ranks encodes every sample exactly as gpt2Tokenizer", () => {
    const req = createRequire(import.meta.url);
    const m = req("gpt-tokenizer/bpeRanks/r50k_base") as { default?: unknown };
    const table = (m.default ?? m) as (string | number[])[];
    const chars = byteChars();
    const enc = new TextEncoder();
    const keyOf = (bytes: Uint8Array | number[]) => Array.from(bytes, (b) => chars[b]).join("");
    const vocab: Record<string, number> = {};
    const bytesOf: Uint8Array[] = table.map((v) => (typeof v === "string" ? enc.encode(v) : Uint8Array.from(v)));
    bytesOf.forEach((b, r) => (vocab[keyOf(b)] = r));
    // a token of rank r is made by merging any split (left, right) of its bytes whose parts are tokens of lower rank
    const merges: [number, string][] = [];
    bytesOf.forEach((b, r) => {
      for (let i = 1; i < b.length; i++) {
        const l = vocab[keyOf(b.subarray(0, i))];
        const rr = vocab[keyOf(b.subarray(i))];
        if (l !== undefined && rr !== undefined && l < r && rr < r) merges.push([r, `${keyOf(b.subarray(0, i))} ${keyOf(b.subarray(i))}`]);
      }
    });
    merges.sort((a, b) => a[0] - b[0]);
    const tj = byteLevel(vocab, merges.map(([, s]) => s), [{ id: 50256, content: "<|endoftext|>" }]);
    const dir = join(tmp, "gpt2");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "tokenizer.json"), JSON.stringify(tj));
    const ours = gpt2Tokenizer();
    const theirs = hfTokenizer(tj, { bos_token: "<|endoftext|>", eos_token: "<|endoftext|>" });
    assert.equal(theirs.vocabSize, 50257);
    for (const s of SAMPLES.filter((x) => !x.includes("<|endoftext|>"))) {
      assert.deepEqual(theirs.encode(s), ours.encode(s), JSON.stringify(s));
      assert.equal(theirs.decode(ours.encode(s)), s);
    }
  });

  it("loadTokenizer(dir): gpt2 directories use gpt2Tokenizer; others read tokenizer.json + tokenizer_config.json", async () => {
    const g = join(tmp, "g2");
    const l = join(tmp, "ll");
    for (const d of [g, l]) mkdirSync(d, { recursive: true });
    writeFileSync(join(g, "config.json"), JSON.stringify({ model_type: "gpt2", vocab_size: 50257 }));
    assert.equal((await loadTokenizer(g)).name, "gpt2-bpe");
    writeFileSync(join(l, "config.json"), JSON.stringify({ model_type: "llama", vocab_size: 273 }));
    writeFileSync(join(l, "tokenizer.json"), JSON.stringify(llamaStyle()));
    writeFileSync(join(l, "tokenizer_config.json"), JSON.stringify({ add_bos_token: true, bos_token: "<s>", eos_token: "</s>", tokenizer_class: "LlamaTokenizer", chat_template: "{{ ignored }}" }));
    const t = await loadTokenizer(l);
    assert.equal(t.name, "hf:LlamaTokenizer");
    assert.deepEqual(t.encode("hello", { bos: true }), [1, 271]);
    await assert.rejects(loadTokenizer(join(tmp, "nope")), /not a directory and not a hub id/);
  });
});


