// Tests for lib/io/checkpoint.ts: Hugging Face GPT-2 directories built here (plain, "transformer."
// prefix, F16/BF16, erf GELU, untied) against the independent reference forward pass; round trips
// of ctxlab models; every malformed checkpoint → CheckpointError naming the field or tensor; atomic save.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { presets, type DTransformerConfig } from "../../lib/config.js";
import { CheckpointError } from "../../lib/errors.js";
import { configFromGpt2Json, gpt2JsonFromConfig, loadCheckpoint, saveCheckpoint } from "../../lib/io/checkpoint.js";
import { float32ToBF16Bits, float32ToF16Bits, readSafetensorsFile, serializeSafetensors, toFloat32, type SafeTensor } from "../../lib/io/safetensors.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { learned, none } from "../../lib/positional/index.js";
import { backendInfo, ensureBackend, useBackend } from "../../lib/tensor/backend.js";
import { referenceGpt2Logits, type RefHyper, type RefTensor } from "../helpers/reference.js";

const root = mkdtempSync(join(tmpdir(), "ctxlab-ckpt-"));
let dirCount = 0;
const freshDir = (tag = "d") => join(root, `${tag}${++dirCount}`);
before(async () => void (await ensureBackend()));
after(() => rmSync(root, { recursive: true, force: true }));

/** mulberry32: a tiny seeded generator, uniform in [−1, 1). */
function rand(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

const HP = { V: 13, P: 10, E: 8, H: 2, L: 2, M: 32 };
const IDS = [3, 0, 12, 7, 7, 1, 5, 9, 2, 11];

/** Random GPT-2 weights with HF names (no prefix), Conv1D orientation. */
function gpt2Weights(seed: number, untied = false): Record<string, RefTensor> {
  const r = rand(seed);
  const { V, P, E, L, M } = HP;
  const out: Record<string, RefTensor> = {};
  const add = (name: string, shape: number[], scale: number, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    out[name] = { shape, data: Float32Array.from({ length: n }, () => offset + scale * r()) };
  };
  add("wte.weight", [V, E], 0.5);
  add("wpe.weight", [P, E], 0.3);
  for (let l = 0; l < L; l++) {
    const h = `h.${l}`;
    add(`${h}.ln_1.weight`, [E], 0.2, 1);
    add(`${h}.ln_1.bias`, [E], 0.1);
    add(`${h}.attn.c_attn.weight`, [E, 3 * E], 0.5);
    add(`${h}.attn.c_attn.bias`, [3 * E], 0.1);
    add(`${h}.attn.c_proj.weight`, [E, E], 0.3);
    add(`${h}.attn.c_proj.bias`, [E], 0.1);
    add(`${h}.ln_2.weight`, [E], 0.2, 1);
    add(`${h}.ln_2.bias`, [E], 0.1);
    add(`${h}.mlp.c_fc.weight`, [E, M], 0.4);
    add(`${h}.mlp.c_fc.bias`, [M], 0.1);
    add(`${h}.mlp.c_proj.weight`, [M, E], 0.2);
    add(`${h}.mlp.c_proj.bias`, [E], 0.1);
  }
  add("ln_f.weight", [E], 0.2, 1);
  add("ln_f.bias", [E], 0.1);
  if (untied) add("lm_head.weight", [V, E], 0.5);
  return out;
}

function gpt2Config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ["GPT2LMHeadModel"], model_type: "gpt2", vocab_size: HP.V, n_positions: HP.P, n_ctx: HP.P, n_embd: HP.E,
    n_layer: HP.L, n_head: HP.H, n_inner: null, activation_function: "gelu_new", layer_norm_epsilon: 1e-5, ...extra,
  };
}

type DType = "F32" | "F16" | "BF16";
function encode(t: RefTensor, dtype: DType): SafeTensor {
  if (dtype === "F32") return { dtype, shape: t.shape, data: t.data };
  const f = dtype === "F16" ? float32ToF16Bits : float32ToBF16Bits;
  return { dtype, shape: t.shape, data: Uint16Array.from(t.data, (v) => f(v)) };
}

/** Write a GPT-2 directory; returns the dir and the weights as stored (decoded back to F32). */
function writeGpt2(w: Record<string, RefTensor>, o: { config?: unknown; prefix?: boolean; dtype?: DType; extra?: Record<string, SafeTensor> } = {}) {
  const dir = freshDir("hf");
  mkdirSync(dir);
  const map = new Map<string, SafeTensor>();
  const stored: Record<string, RefTensor> = {};
  for (const [name, t] of Object.entries(w)) {
    const st = encode(t, o.dtype ?? "F32");
    map.set(o.prefix && name !== "lm_head.weight" ? `transformer.${name}` : name, st);
    stored[name] = { shape: t.shape, data: toFloat32(st) };
  }
  for (const [name, t] of Object.entries(o.extra ?? {})) map.set(name, t);
  writeFileSync(join(dir, "config.json"), JSON.stringify(o.config ?? gpt2Config()));
  writeFileSync(join(dir, "model.safetensors"), serializeSafetensors(map, { format: "pt" }));
  return { dir, stored };
}

function maxDiff(model: DTransformer, expected: number[][], ids = IDS): number {
  const got = tf.tidy(() => model.logits(ids).arraySync() as number[][]);
  assert.equal(got.length, expected.length);
  let m = 0;
  got.forEach((row, t) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - expected[t]![j]!)))));
  return m;
}

const refHp: RefHyper = { nLayers: HP.L, nHeads: HP.H, eps: 1e-5, gelu: "tanh" };

async function checkAgainstReference(dir: string, stored: Record<string, RefTensor>, hp = refHp): Promise<void> {
  const before = tf.memory().numTensors;
  const model = await loadCheckpoint(dir);
  try {
    const d = maxDiff(model, referenceGpt2Logits(stored, hp, IDS));
    assert.ok(d <= 1e-4, `max |Δ| = ${d} on ${tf.getBackend()}`);
  } finally {
    model.dispose();
  }
  assert.equal(tf.memory().numTensors, before, "loading leaks no tensors");
}

test("HF GPT-2 directory (no prefix) matches the reference forward pass", async () => {
  const { dir, stored } = writeGpt2(gpt2Weights(1));
  await checkAgainstReference(dir, stored);
  const m = await loadCheckpoint(dir);
  assert.equal(m.positional.name, "learned");
  assert.deepEqual([m.cfg.dMlp, m.cfg.dAttn, m.cfg.dMid, m.cfg.gelu, m.cfg.lnEps, m.cfg.tiedEmbeddings], [32, 4, 4, "tanh", 1e-5, true]);
  m.dispose();
});

test("transformer. prefix, old attn.bias/masked_bias buffers and a tied lm_head copy are accepted", async () => {
  const w = gpt2Weights(2);
  const extra: Record<string, SafeTensor> = {
    "lm_head.weight": { dtype: "F32", shape: w["wte.weight"]!.shape, data: w["wte.weight"]!.data.slice() },
    "transformer.unrelated.thing": { dtype: "I64", shape: [1], data: new BigInt64Array([1n]) },
  };
  for (let l = 0; l < HP.L; l++) {
    extra[`transformer.h.${l}.attn.bias`] = { dtype: "U8", shape: [1, 1, HP.P, HP.P], data: new Uint8Array(HP.P * HP.P) };
    extra[`transformer.h.${l}.attn.masked_bias`] = { dtype: "F32", shape: [], data: new Float32Array([-1e4]) };
  }
  const { dir, stored } = writeGpt2(w, { prefix: true, extra });
  await checkAgainstReference(dir, stored);
});

test("F16 and BF16 checkpoints load (values decoded exactly)", async () => {
  for (const dtype of ["F16", "BF16"] as const) {
    const { dir, stored } = writeGpt2(gpt2Weights(3), { dtype, prefix: dtype === "BF16" });
    await checkAgainstReference(dir, stored);
  }
});

test("erf GELU (\"gelu\"), custom ε and an untied lm_head match the reference", async () => {
  const cfg = gpt2Config({ activation_function: "gelu", layer_norm_epsilon: 1e-3, tie_word_embeddings: false });
  const { dir, stored } = writeGpt2(gpt2Weights(4, true), { config: cfg });
  await checkAgainstReference(dir, stored, { ...refHp, eps: 1e-3, gelu: "exact" });
});

test("the cpu backend gives the same logits", async () => {
  const prev = backendInfo()?.active ?? "wasm";
  await useBackend("cpu");
  try {
    assert.equal(tf.getBackend(), "cpu");
    const { dir, stored } = writeGpt2(gpt2Weights(5));
    await checkAgainstReference(dir, stored);
  } finally {
    await useBackend(prev);
  }
});

const cfgJson = (c: DTransformerConfig) => ({ ...c, positional: c.positional.toJSON() });

async function roundTrip(model: DTransformer, ids: number[]): Promise<DTransformer> {
  const dir = freshDir("rt");
  await saveCheckpoint(model, dir, { metadata: { note: "round trip" } });
  const back = await loadCheckpoint(dir);
  assert.deepEqual(cfgJson(back.cfg), cfgJson(model.cfg));
  const a = model.logits(ids);
  const b = back.logits(ids);
  assert.equal(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]), 0, "max |Δ| = 0");
  tf.dispose([a, b]);
  assert.equal((await readSafetensorsFile(join(dir, "model.safetensors"))).metadata.note, "round trip");
  return back;
}

test("round trip: micro preset (tied, learned), untied, NoPE, non-GPT-2 widths, paper-exact", async () => {
  const ids = [1, 4, 0, 10, 3, 3, 7, 2];
  const cases = [
    DTransformer.create({ ...presets.micro }, 7),
    DTransformer.create({ ...presets.micro, tiedEmbeddings: false, positional: learned({ initStd: 0.05 }) }, 8),
    DTransformer.create({ ...presets.micro, positional: none() }, 9),
    DTransformer.create({ ...presets.micro, nHeads: 3, dAttn: 3, dMid: 5 }, 10),
    DTransformer.create({ ...presets.micro, gelu: "exact", lnEps: 0, initStd: 0.1 }, 11),
  ];
  for (const m of cases) {
    const back = await roundTrip(m, ids);
    back.dispose();
    m.dispose();
  }
});

test("saved layout: GPT-2 names and shapes, no wpe for NoPE, and the reference reads it", async () => {
  for (const untied of [false, true]) {
    const m = DTransformer.create({ nVocab: HP.V, lMax: HP.P, nLayers: HP.L, nHeads: HP.H, dE: HP.E, initStd: 0.4, tiedEmbeddings: !untied }, 12);
    const dir = freshDir("layout");
    await saveCheckpoint(m, dir);
    const file = await readSafetensorsFile(join(dir, "model.safetensors"));
    assert.equal(file.metadata.format, "pt");
    assert.deepEqual(file.tensors.get("h.1.attn.c_attn.weight")!.shape, [8, 24]);
    assert.equal(file.tensors.has("lm_head.weight"), untied);
    const json = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    assert.deepEqual([json.model_type, json.architectures, json.n_inner, json.activation_function, json.tie_word_embeddings], ["gpt2", ["GPT2LMHeadModel"], 32, "gelu_new", !untied]);
    assert.deepEqual(json.ctxlab.positional, { name: "learned" });
    const stored = Object.fromEntries([...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: toFloat32(t) }]));
    assert.ok(maxDiff(m, referenceGpt2Logits(stored, refHp, IDS)) <= 1e-4);
    m.dispose();
  }
  const nope = DTransformer.create({ ...presets.micro, positional: none() }, 1);
  const dir = freshDir("nope");
  await saveCheckpoint(nope, dir);
  assert.equal((await readSafetensorsFile(join(dir, "model.safetensors"))).tensors.has("wpe.weight"), false);
  nope.dispose();
});

test("opts.positional overrides the stored encoding; a missing wpe is an error only when needed", async () => {
  const { dir } = writeGpt2(gpt2Weights(6));
  const m = await loadCheckpoint(dir, { positional: none() });
  assert.equal(m.positional.name, "none");
  assert.equal(m.params.has("pos.W_p"), false);
  m.dispose();
  const nope = DTransformer.create({ ...presets.micro, positional: none() }, 2);
  const nd = freshDir("nope");
  await saveCheckpoint(nope, nd);
  nope.dispose();
  (await loadCheckpoint(nd)).dispose();
  await rejects(loadCheckpoint(nd, { positional: learned() }), /missing tensor "wpe\.weight" \[8, 8\].*ℓ_max=8 from n_positions/);
});

test("configFromGpt2Json defaults and gpt2JsonFromConfig round trip", () => {
  const c = configFromGpt2Json({ vocab_size: 5, n_positions: 4, n_embd: 6, n_layer: 1, n_head: 3 });
  assert.deepEqual([c.dMlp, c.dAttn, c.dMid, c.gelu, c.lnEps, c.tiedEmbeddings, c.positional.name], [24, 2, 2, "tanh", 1e-5, true, "learned"]);
  const odd = configFromGpt2Json(gpt2Config({ n_embd: 10, n_head: 3, ctxlab: { format: 1, d_attn: 4, d_mid: 2, positional: { name: "none" }, gelu: "exact", ln_eps: 0, tied: false } }));
  assert.deepEqual(cfgJson(configFromGpt2Json(gpt2JsonFromConfig(odd))), cfgJson(odd));
  assert.deepEqual([odd.dAttn, odd.dMid, odd.gelu, odd.lnEps, odd.tiedEmbeddings, odd.positional.name], [4, 2, "exact", 0, false, "none"]);
});

async function rejects(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

test("missing directory, files and invalid JSON", async () => {
  const missing = join(root, "nope");
  await rejects(loadCheckpoint(missing), new RegExp(`${missing}.*does not exist`));
  const file = join(root, "afile");
  writeFileSync(file, "x");
  await rejects(loadCheckpoint(file), /not a directory/);
  const empty = freshDir("empty");
  mkdirSync(empty);
  await rejects(loadCheckpoint(empty), /has no config\.json \(expected .*config\.json/);
  writeFileSync(join(empty, "config.json"), JSON.stringify(gpt2Config()));
  await rejects(loadCheckpoint(empty), /has no model\.safetensors \(expected .*model\.safetensors/);
  writeFileSync(join(empty, "config.json"), "{vocab_size: 13");
  await rejects(loadCheckpoint(empty), /config\.json: invalid JSON/);
});

test("bad config fields are named with their values", async () => {
  const w = gpt2Weights(7);
  const drop = (k: string) => { const c = gpt2Config(); delete c[k]; return c; };
  const cases: [unknown, RegExp][] = [
    [[1, 2], /expected a JSON object.*array/],
    [drop("n_embd"), /"n_embd" \(d_e\) is missing/],
    [gpt2Config({ n_head: 0 }), /"n_head" \(H\) must be a positive integer, got 0/],
    [gpt2Config({ n_layer: 2.5 }), /"n_layer" \(L\) must be a positive integer, got 2\.5/],
    [gpt2Config({ vocab_size: "13" }), /"vocab_size" \(N_V\) must be a positive integer, got "13"/],
    [gpt2Config({ n_inner: -4 }), /"n_inner" \(d_mlp\).*-4/],
    [gpt2Config({ n_head: 3 }), /n_embd=8 \(d_e\) is not divisible by n_head=3 \(H\)/],
    [gpt2Config({ activation_function: "relu" }), /activation_function "relu" is not supported/],
    [gpt2Config({ model_type: "llama" }), /model_type "llama"/],
    [gpt2Config({ layer_norm_epsilon: -1 }), /layer_norm_epsilon.*-1/],
    [gpt2Config({ tie_word_embeddings: "yes" }), /tie_word_embeddings must be a boolean, got "yes"/],
    [gpt2Config({ ctxlab: { format: 2 } }), /ctxlab\.format is 2/],
    [gpt2Config({ ctxlab: { format: 1, positional: { name: "warp" } } }), /ctxlab\.positional.*unknown positional encoding "warp"/],
    [gpt2Config({ ctxlab: { format: 1, d_attn: 0 } }), /"ctxlab\.d_attn" \(d_attn\).*got 0/],
    [gpt2Config({ vocab_size: 2 ** 30 }), /N_V=1073741824 exceeds/],
  ];
  for (const [config, re] of cases) await rejects(loadCheckpoint(writeGpt2(w, { config }).dir), re);
});

test("missing, misshapen, mistyped and extra tensors are named with shapes and config fields", async () => {
  const base = () => gpt2Weights(8);
  const without = (n: string) => { const w = base(); delete w[n]; return w; };
  const reshaped = (n: string, shape: number[]) => { const w = base(); w[n] = { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) }; return w; };
  const cases: [ReturnType<typeof writeGpt2>, RegExp][] = [
    [writeGpt2(without("h.1.mlp.c_fc.bias")), /missing tensor "h\.1\.mlp\.c_fc\.bias" \[32\] \(d_mlp=32 from n_inner.*blocks\.1\.mlp\.b_mlp1/],
    [writeGpt2(without("wpe.weight")), /missing tensor "wpe\.weight" \[10, 8\] \(ℓ_max=10 from n_positions, d_e=8 from n_embd/],
    [writeGpt2(reshaped("wte.weight", [13, 9])), /"wte\.weight" has shape \[13, 9\] but the config implies \[13, 8\]: dim 1 is 9, expected d_e=8 from n_embd/],
    [writeGpt2(reshaped("h.0.attn.c_attn.weight", [8, 16])), /"h\.0\.attn\.c_attn\.weight" has shape \[8, 16\].*3·d_e=24 from n_embd/],
    [writeGpt2(reshaped("ln_f.weight", [2, 4])), /"ln_f\.weight" has shape \[2, 4\].*rank 2 instead of 1/],
    [writeGpt2(base(), { config: gpt2Config({ vocab_size: 14 }) }), /"wte\.weight" has shape \[13, 8\].*N_V=14 from vocab_size/],
    [writeGpt2(base(), { config: gpt2Config({ n_positions: 2 ** 40 }) }), /"wpe\.weight".*ℓ_max=1099511627776 from n_positions/],
    [writeGpt2({ ...base(), "h.2.ln_1.weight": { shape: [8], data: new Float32Array(8) } }), /"h\.2\.ln_1\.weight": checkpoint has layer 2 but n_layer=2/],
    [writeGpt2(base(), { config: gpt2Config({ tie_word_embeddings: false }) }), /missing tensor "lm_head\.weight" \[13, 8\]/],
    [writeGpt2(base(), { extra: { "lm_head.weight": { dtype: "F32", shape: [13, 8], data: new Float32Array(104) } } }), /"lm_head\.weight" differs from "wte\.weight"/],
    [writeGpt2(base(), { extra: { "transformer.wte.weight": { dtype: "F32", shape: [13, 8], data: new Float32Array(104) } } }), /"wte\.weight" appears both/],
    [writeGpt2(base(), { extra: { "ln_f.bias": { dtype: "I32", shape: [8], data: new Int32Array(8) } } }), /"ln_f\.bias" has dtype I32/],
  ];
  for (const [{ dir }, re] of cases) await rejects(loadCheckpoint(dir), re);
  const n0 = tf.memory().numTensors;
  await rejects(loadCheckpoint(writeGpt2(base(), { config: gpt2Config({ n_layer: 1e9 }) }).dir), /missing tensors "h\.2\.ln_1\.weight"/);
  assert.equal(tf.memory().numTensors, n0, "absurd n_layer: refused before any layer is built");
});

/** Rewrite a safetensors header (keeping the data section) with `fn`. */
function rewriteHeader(bytes: Uint8Array, fn: (h: Record<string, { data_offsets: number[] }>) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  fn(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

test("truncated, lying and corrupted model.safetensors give CheckpointError, never another error", async () => {
  const { dir } = writeGpt2(gpt2Weights(9));
  const path = join(dir, "model.safetensors");
  const good = new Uint8Array(readFileSync(path));
  const variants: [Uint8Array, RegExp][] = [
    [good.subarray(0, good.length - 100), /model\.safetensors: tensor .*end past the data section/],
    [good.subarray(0, 5), /model\.safetensors: file is 5 bytes/],
    [rewriteHeader(good, (h) => void (h["wte.weight"]!.data_offsets = [0, 16])), /model\.safetensors: tensor "wte\.weight" shape \[13,8\].*span 16 bytes/],
    [rewriteHeader(good, (h) => void (h["ln_f.bias"]!.data_offsets = [0, 32])), /model\.safetensors: tensors .* overlap/],
    [new TextEncoder().encode("not a safetensors file at all"), /model\.safetensors: header length/],
  ];
  for (const [bytes, re] of variants) {
    writeFileSync(path, bytes);
    await rejects(loadCheckpoint(dir), re);
  }
  const r = rand(99);
  for (let i = 0; i < 60; i++) {
    const bad = good.slice();
    for (let k = 0; k < 3; k++) bad[Math.floor(((r() + 1) / 2) * Math.min(bad.length, 900))] = Math.floor(((r() + 1) / 2) * 256);
    writeFileSync(path, bad);
    await loadCheckpoint(dir).then((m) => m.dispose(), (e: unknown) => assert.ok(e instanceof CheckpointError, `fuzz ${i}: ${String(e)}`));
  }
});

test("save is atomic: overwriting leaves only config.json and model.safetensors; nested dirs are created", async () => {
  const dir = join(freshDir("save"), "a", "b");
  const m1 = DTransformer.create({ ...presets.micro }, 1);
  const m2 = DTransformer.create({ ...presets.micro, tiedEmbeddings: false }, 2);
  await saveCheckpoint(m1, dir);
  await saveCheckpoint(m2, dir);
  assert.deepEqual(readdirSync(dir).sort(), ["config.json", "model.safetensors"]);
  const back = await loadCheckpoint(dir);
  assert.equal(back.cfg.tiedEmbeddings, false);
  const file = join(root, "blocker");
  writeFileSync(file, "x");
  await rejects(saveCheckpoint(m1, join(file, "sub")), /saveCheckpoint: cannot create directory/);
  [m1, m2, back].forEach((m) => m.dispose());
});
