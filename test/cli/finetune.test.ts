/** `ctxlab finetune` (cli/finetune.ts) on tiny checkpoints in a temporary directory: runs, resume, argument errors. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { FINETUNE_CONFIG_FILE, finetuneArgsFromFlags, finetuneCommand, parseMix, recipeOfArgs } from "../../cli/finetune.js";
import { cli, parseFlags } from "../../cli/main.js";
import { loadCheckpoint, saveCheckpoint } from "../../lib/io/checkpoint.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { learned, rope } from "../../lib/positional/index.js";
import { testBackend } from "../helpers/setup.js";

let tmp = "";
const tiny = { nVocab: 259, lMax: 64, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32 };
const sink = () => {
  let text = "";
  return { out: { write: (s: string) => (text += s), isTTY: false }, text: () => text };
};

before(async () => {
  await testBackend();
  tmp = mkdtempSync(join(tmpdir(), "ctxlab-finetune-cli-"));
  const r = DTransformer.create({ ...tiny, positional: rope() }, 1);
  const l = DTransformer.create({ ...tiny, positional: learned() }, 2);
  await saveCheckpoint(r, join(tmp, "rope"));
  await saveCheckpoint(l, join(tmp, "learned"));
  r.dispose();
  l.dispose();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("ctxlab finetune", () => {
  it("--pe pi:2: trains, writes a loadable checkpoint with the PI encoding, metrics.csv and its config", async () => {
    const s = sink();
    const out = join(tmp, "pi");
    const flags = parseFlags(["--from", join(tmp, "rope"), "--pe", "pi:2", "--length", "128", "--steps", "3", "--batch", "2", "--out", out, "--backend", "wasm"]).flags;
    const r = await finetuneCommand(finetuneArgsFromFlags(flags), s.out);
    assert.equal(r.status, "completed");
    assert.match(s.text(), /recipe finetune: fine-tune at ℓ' under pi:2; base RoPE \(half-split, b=10000\), ℓ_max=64 → ℓ'=128/);
    assert.match(s.text(), /completed: completed 3 steps \(step 3\)/);
    const m = await loadCheckpoint(out);
    assert.deepEqual([m.positional.toJSON().name, m.positional.toJSON().factor, m.positional.toJSON().originalLength], ["pi", 2, 64]);
    m.dispose();
    assert.ok(existsSync(join(out, "metrics.csv")));
    assert.equal(JSON.parse(readFileSync(join(out, FINETUNE_CONFIG_FILE), "utf8")).pe, "pi:2");
    await assert.rejects(finetuneCommand(finetuneArgsFromFlags(flags), sink().out), /already holds a training checkpoint; continue it with --resume/);
  });
  it("--from a Hugging Face Llama directory: fine-tunes, resumes, the checkpoint keeps every architecture option; generate and eval read it", async () => {
    const hf = join(tmp, "llama-hf");
    const m = DTransformer.create({ ...tiny, nKvHeads: 1, norm: "rmsnorm", mlp: "gated-silu", bias: false, tiedEmbeddings: false, positional: rope() }, 3);
    await saveCheckpoint(m, hf, { format: "hf" });
    m.dispose();
    assert.equal(JSON.parse(readFileSync(join(hf, "config.json"), "utf8")).model_type, "llama");
    const out = join(tmp, "llama-pi");
    const r = await finetuneCommand({ from: hf, pe: "pi:2", length: 128, steps: 2, batch: 2, warmup: 1, backend: "wasm", out }, sink().out);
    assert.equal(r.status, "completed");
    const more = await finetuneCommand({ resume: out, steps: 3 }, sink().out);
    assert.equal(more.steps, 3);
    const back = await loadCheckpoint(out);
    assert.deepEqual([back.cfg.norm, back.cfg.mlp, back.cfg.nKvHeads, back.cfg.bias.q, back.positional.toJSON().name, back.positional.toJSON().factor], ["rmsnorm", "gated-silu", 1, false, "pi", 2]);
    back.dispose();
    for (const [cmd, ...rest] of [["generate", "--prompt", "Call me", "--tokens", "4", "--seed", "1"], ["eval", "--task", "perplexity", "--lengths", "32", "--windows", "1"]]) {
      const g = sink();
      assert.equal(await cli([cmd!, "--checkpoint", out, ...rest, "--backend", "wasm"], g.out as never, g.out as never), 0, g.text());
    }
  });
  it("--from a Hugging Face directory with its own tokenizer (N_V 273): trains on text in that tokenizer; --mix and the curriculum are refused", async () => {
    const hf = join(tmp, "llama-tok");
    const special = (content: string, id: number) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    const vocab: Record<string, number> = { "<unk>": 0, "<s>": 1, "</s>": 2 };
    for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`] = 3 + b;
    for (const t of ["▁", "e", "t", "h", "th", "▁th", "▁the", "a", "n", "d", "an", "▁an", "▁and", "▁a"]) vocab[t] = Object.keys(vocab).length;
    const tokenizer = {
      version: "1.0", truncation: null, padding: null, added_tokens: [special("<unk>", 0), special("<s>", 1), special("</s>", 2)],
      normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }, { type: "Replace", pattern: { String: " " }, content: "▁" }] }, pre_tokenizer: null, post_processor: null,
      decoder: { type: "Sequence", decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }, { type: "Strip", content: " ", start: 1, stop: 0 }] },
      model: { type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, vocab, merges: ["t h", "▁ th", "▁th e", "a n", "▁ an", "▁an d", "▁ a"] },
    };
    const m = DTransformer.create({ ...tiny, nVocab: 273, nKvHeads: 1, norm: "rmsnorm", mlp: "gated-silu", bias: false, positional: rope() }, 4);
    await saveCheckpoint(m, hf, { format: "hf" });
    m.dispose();
    writeFileSync(join(hf, "tokenizer.json"), JSON.stringify(tokenizer));
    writeFileSync(join(hf, "tokenizer_config.json"), JSON.stringify({ bos_token: "<s>", eos_token: "</s>", unk_token: "<unk>" }));
    const s = sink();
    const r = await finetuneCommand({ from: hf, pe: "pi:2", length: 128, steps: 2, batch: 2, warmup: 1, backend: "wasm", out: join(tmp, "llama-tok-pi") }, s.out);
    assert.equal(r.status, "completed");
    assert.match(s.text(), /data: windows of 128 tokens of Moby Dick's training split \([\d,]+ tokens in the model's tokenizer\)/);
    const g = sink(); // generate finds the tokenizer through the run's --from
    assert.equal(await cli(["generate", "--checkpoint", join(tmp, "llama-tok-pi"), "--prompt", "the", "--tokens", "3", "--seed", "1", "--backend", "wasm"], g.out as never, g.out as never), 0, g.text());
    assert.match(g.text(), /^the/);
    await assert.rejects(finetuneCommand({ from: hf, pe: "pi:2", length: 128, steps: 1, mix: { text: 1 }, backend: "wasm", out: join(tmp, "llama-tok-mix") }, sink().out), /--mix weights the byte-level retrieval mix; the model from .* has N_V=273/);
    await assert.rejects(finetuneCommand({ from: hf, recipe: "curriculum", length: 128, steps: 1, backend: "wasm", out: join(tmp, "llama-tok-cur") }, sink().out), /the curriculum trains from scratch on byte-level data/);
  });
  it("--resume continues to more steps, to the losses of one uninterrupted run", async () => {
    const a = join(tmp, "ext-a");
    const b = join(tmp, "ext-b");
    const common = { from: join(tmp, "learned"), pe: "extend-learned", length: 96, batch: 2, warmup: 1, backend: "wasm" as const };
    await finetuneCommand({ ...common, steps: 2, out: a }, sink().out);
    const resumed = await finetuneCommand({ resume: a, steps: 4 }, sink().out);
    const whole = await finetuneCommand({ ...common, steps: 4, out: b }, sink().out);
    assert.equal(resumed.steps, 4);
    assert.deepEqual(resumed.log.array("loss"), whole.log.array("loss"));
    const m = await loadCheckpoint(a);
    assert.deepEqual(m.params.get("pos.W_p").shape, [96, 16]);
    m.dispose();
  });
  it("--resume --steps sets the curriculum's last step (its steps otherwise come from --tokens)", async () => {
    const out = join(tmp, "cur");
    const first = await finetuneCommand({ from: join(tmp, "rope"), recipe: "curriculum", length: 128, tokens: 64 * 2 * 8, batchTokens: 128, checkpointEvery: 2, backend: "wasm", out }, sink().out);
    assert.equal(first.steps, 8);
    const more = await finetuneCommand({ resume: out, steps: 10 }, sink().out);
    assert.equal(more.steps, 10);
  });
  it("--mix sets the rows of the training data, is kept in the config for --resume, and is checked", async () => {
    assert.deepEqual(finetuneArgsFromFlags({ mix: "text=0.2,copy=0.8" }).mix, { text: 0.2, copy: 0.8 });
    assert.throws(() => parseMix("txt=1"), /"txt=1" is not kind=weight with kind one of text, passkey, lines, copy/);
    assert.throws(() => parseMix("copy=-1"), /the weight of copy must be a finite number ≥ 0, got "-1"/);
    assert.throws(() => parseMix("copy=1,copy=2"), /copy is given twice/);
    assert.throws(() => parseMix("copy=0"), /at least one weight must be > 0/);
    assert.throws(() => finetuneArgsFromFlags({ mix: true }), /--mix needs a value/);
    const common = { from: join(tmp, "rope"), pe: "keep", length: 64, batch: 2, steps: 2, backend: "wasm" as const };
    const copy = await finetuneCommand({ ...common, out: join(tmp, "mix-copy"), mix: { copy: 1 } }, sink().out);
    const text = await finetuneCommand({ ...common, out: join(tmp, "mix-text"), mix: { text: 1 } }, sink().out);
    const again = await finetuneCommand({ ...common, out: join(tmp, "mix-copy2"), mix: { copy: 1 } }, sink().out);
    assert.deepEqual(copy.log.array("loss"), again.log.array("loss"));
    assert.notDeepEqual(copy.log.array("loss"), text.log.array("loss"));
    assert.deepEqual(JSON.parse(readFileSync(join(tmp, "mix-copy", FINETUNE_CONFIG_FILE), "utf8")).mix, { copy: 1 });
  });
  it("--decay-from S --min-lr η: η constant after the warm-up up to S, then a cosine down to η at the last step; kept for --resume", async () => {
    assert.deepEqual(finetuneArgsFromFlags({ "decay-from": "4", "min-lr": "1e-5" }), { decayFrom: 4, minLr: 1e-5 });
    const common = { from: join(tmp, "rope"), pe: "keep", length: 64, batch: 2, backend: "wasm" as const, lr: 1e-3, warmup: 2 };
    const r = await finetuneCommand({ ...common, steps: 8, decayFrom: 4, minLr: 1e-5, out: join(tmp, "decay") }, sink().out);
    const lr = r.log.array("lr") as number[];
    assert.equal(lr.length, 8);
    assert.deepEqual(lr.slice(2, 4), [1e-3, 1e-3], "stable from the end of the warm-up to step 4");
    for (let i = 4; i < 8; i++) assert.ok(lr[i]! < lr[i - 1]!, `step ${i + 1}: η decays (${lr[i]} < ${lr[i - 1]})`);
    assert.ok(Math.abs(lr[7]! - 1e-5) < 1e-12, `η(8) = minLr, got ${lr[7]}`);
    assert.equal(JSON.parse(readFileSync(join(tmp, "decay", FINETUNE_CONFIG_FILE), "utf8")).decayFrom, 4);
    const plain = await finetuneCommand({ ...common, steps: 8, out: join(tmp, "nodecay") }, sink().out);
    assert.deepEqual(plain.log.array("lr").slice(0, 4), lr.slice(0, 4), "the same run without decay shares the prefix");
    assert.equal(plain.log.array("lr")[7], 1e-3);
    await assert.rejects(finetuneCommand({ ...common, steps: 8, decayFrom: 8, out: join(tmp, "bad-decay") }, sink().out), /decayFrom must be an integer step in \[warmup=2, total=8\), got 8/);
    await assert.rejects(finetuneCommand({ ...common, steps: 8, minLr: 1e-5, out: join(tmp, "bad-decay2") }, sink().out), /minLr=0.00001 needs decayFrom/);
  });
  it("argument errors name the flag, value and rule; exit code 2 from the command line", async () => {
    assert.throws(() => finetuneArgsFromFlags({ from: "x", lenght: "5" }), /unknown flag --lenght; known: --from, --pe/);
    assert.throws(() => finetuneArgsFromFlags({ steps: "1.5" }), /--steps 1.5 is not an integer/);
    assert.throws(() => recipeOfArgs({ pe: "pi:4", recipe: "pi-ft" }), /give --recipe or --pe, not both/);
    assert.throws(() => recipeOfArgs({ recipe: "ntk" }), /recipe "ntk" is zero-shot \(nothing to train\); training recipes: pi-ft, yarn-ft, ft, learned-extend-ft, curriculum/);
    assert.throws(() => recipeOfArgs({ recipe: "pii" }), /unknown extension recipe "pii"/);
    await assert.rejects(finetuneCommand({ length: 128, out: "o" }, sink().out), /give --from <checkpoint dir>/);
    await assert.rejects(finetuneCommand({ from: "x", out: "o" }, sink().out), /give --length <ℓ'>/);
    await assert.rejects(finetuneCommand({ resume: join(tmp, "nothing") }, sink().out), /cannot read finetune-config.json/);
    await assert.rejects(finetuneCommand({ resume: join(tmp, "pi"), pe: "ntk:2" }, sink().out), /only --steps, --workers and --backend may be given/);
    await assert.rejects(finetuneCommand({ from: join(tmp, "learned"), length: 128, out: join(tmp, "bad"), backend: "wasm" }, sink().out), /cannot fine-tune at ℓ'=128: the learned W_p \(Alg 2\) has ℓ_max=64; extend the table first/);
    await assert.rejects(finetuneCommand({ from: join(tmp, "rope"), pe: "pi:x", length: 128, out: join(tmp, "bad2"), backend: "wasm" }, sink().out), /argument "x" is not recognised/);
    const err = sink();
    assert.equal(await cli(["finetune", "--from", join(tmp, "rope"), "--length", "-3", "--out", join(tmp, "bad3"), "--backend", "wasm"], sink().out as never, err.out as never), 2);
    assert.match(err.text(), /ctxlab finetune: ConfigError: .*targetLength ℓ'=-3 must be an integer ≥ 2/);
  });
});
