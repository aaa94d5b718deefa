/** `ctxlab eval` (cli/eval.ts) end to end on a tiny checkpoint saved in a temporary directory. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as aq from "arquero";
import { evalArgsFromFlags, evalCommand, evalTokenizer } from "../../cli/eval.js";
import { parseFlags } from "../../cli/main.js";
import { EVAL_COLUMNS } from "../../lib/eval/index.js";
import { saveCheckpoint } from "../../lib/io/checkpoint.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { learned } from "../../lib/positional/index.js";
import { testBackend } from "../helpers/setup.js";

let tmp = "";
const ckpt = () => join(tmp, "ckpt");
const sink = () => {
  let text = "";
  return { out: { write: (s: string) => (text += s), isTTY: false }, text: () => text };
};

before(async () => {
  await testBackend();
  tmp = mkdtempSync(join(tmpdir(), "ctxlab-eval-cli-"));
  const m = DTransformer.create({ nVocab: 259, lMax: 64, nLayers: 1, nHeads: 2, dE: 16, dMlp: 32, positional: learned() }, 4);
  await saveCheckpoint(m, ckpt());
  m.dispose();
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("ctxlab eval", () => {
  it("passkey: prints accuracy per length × depth and k_max, writes a per-example CSV that parses back", async () => {
    const s = sink();
    const out = join(tmp, "passkey.csv");
    const flags = parseFlags(["--checkpoint", ckpt(), "--task", "passkey", "--lengths", "64,128", "--depths", "0,1", "--n", "2", "--variant", "compact", "--seed", "3", "--out", out, "--backend", "wasm"], ["header"]).flags;
    const t = await evalCommand(evalArgsFromFlags(flags), s.out);
    assert.equal(t.numRows(), 8);
    assert.match(s.text(), /length\s+n\s+d=0\s+d=1\s+all\s+errors/);
    assert.match(s.text(), /k_max \(accuracy ≥ 0\.2 at ℓ and every shorter ℓ\): /);
    assert.match(s.text(), /wrote 8 rows to /);
    const back = aq.fromCSV(readFileSync(out, "utf8"));
    assert.equal(back.numRows(), 8);
    assert.deepEqual(back.columnNames(), [...EVAL_COLUMNS]);
    assert.deepEqual(back.array("error"), [null, null, null, null, "ℓ > ℓ_max", "ℓ > ℓ_max", "ℓ > ℓ_max", "ℓ > ℓ_max"]);
  });
  it("passkey on several fillers: --filler pi,moby-dick,sotu gives n per (ℓ, depth, filler), a filler column and accuracy per filler", async () => {
    const s = sink();
    const flags = parseFlags(["--checkpoint", ckpt(), "--task", "passkey", "--lengths", "64", "--depths", "0,1", "--n", "2", "--variant", "compact", "--filler", "pi,moby-dick,sotu", "--backend", "wasm"], ["header"]).flags;
    const t = await evalCommand(evalArgsFromFlags(flags), s.out);
    assert.equal(t.numRows(), 12);
    assert.deepEqual([...new Set(t.array("filler") as string[])], ["pi", "moby-dick", "sotu"]);
    assert.match(s.text(), /accuracy per filler \(95 % Wilson\):/);
    for (const f of ["pi", "moby-dick", "sotu"]) assert.match(s.text(), new RegExp(`\\b${f}\\s+64\\s+4\\s`), f);
  });
  it("perplexity and a jsonl set from data/evalsets (filtered by --lengths)", async () => {
    const s = sink();
    const t = await evalCommand({ checkpoint: ckpt(), task: "perplexity", lengths: [32, 128], windows: 2, backend: "wasm", out: join(tmp, "ppl.csv") }, s.out);
    assert.deepEqual(t.array("error"), [null, null, "ℓ > ℓ_max"]);
    assert.match(s.text(), /length\s+windows\s+scored\s+loss\s+perplexity\s+error/);
    assert.equal(aq.fromCSV(readFileSync(join(tmp, "ppl.csv"), "utf8")).numRows(), 3);
    const j = await evalCommand({ checkpoint: ckpt(), task: "jsonl:data/evalsets/passkey-compact.jsonl", lengths: [64], depths: [0.5], backend: "wasm" }, sink().out);
    assert.equal(j.numRows(), 5);
    assert.ok((j.array("error") as unknown[]).every((e) => e === null));
  });
  it("flags: unknown ones, bad lists and a missing task are errors; the tokenizer follows N_V", async () => {
    assert.throws(() => evalArgsFromFlags({ checkpoint: "x", task: "passkey", lenghts: "64" }), /unknown flag --lenghts; known: --checkpoint/);
    assert.throws(() => evalArgsFromFlags({ lengths: "64,abc" }), /--lengths 64,abc must be a comma-separated list of integers/);
    assert.equal(evalArgsFromFlags({ checkpoint: "x", task: "passkey", filler: "sotu" }).filler, "sotu");
    assert.throws(() => evalArgsFromFlags({ checkpoint: "x", task: "passkey", filler: "bible" }), /--filler bible: use one of pi, moby-dick, sotu/);
    assert.deepEqual(evalArgsFromFlags({ checkpoint: "x", task: "passkey", filler: "pi,sotu" }).fillers, ["pi", "sotu"]);
    assert.throws(() => evalArgsFromFlags({ checkpoint: "x", task: "passkey", filler: "pi,bible" }), /--filler pi,bible: use one of pi, moby-dick, sotu, or a comma-separated list of them \("bible" is none\)/);
    assert.throws(() => evalArgsFromFlags({ checkpoint: "x", task: "passkey", filler: "pi,pi" }), /--filler pi,pi: each filler once/);
    assert.throws(() => evalArgsFromFlags({ checkpoint: "x", task: "passkey", filler: true }), /--filler true: use one of/);
    assert.deepEqual(evalArgsFromFlags({ checkpoint: "c", task: "lines", depths: "0,0.5", header: true, scorer: "greedy" }), { checkpoint: "c", task: "lines", depths: [0, 0.5], header: true, scorer: "greedy" });
    await assert.rejects(evalCommand({ checkpoint: ckpt(), task: "", backend: "wasm" }, sink().out), /give --task/);
    assert.equal((await evalTokenizer(ckpt(), 259)).name, "byte");
    assert.equal((await evalTokenizer(ckpt(), 50257)).name, "gpt2-bpe");
    await assert.rejects(evalTokenizer(ckpt(), 1000), /pass --tokenizer byte\|gpt2/);
  });
});
