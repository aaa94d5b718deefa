/**
 * The readers of outside data, as fuzz specs (fuzz.ts): each builds valid seeds, mutates them, runs
 * the reader and says which error class a malformed input must raise and what an accepted one must
 * satisfy.
 *
 *   safetensors          parseSafetensors on bytes (seeds: every dtype, scalars, empty tensors, metadata)
 *   config.json          configFromGpt2Json on parsed values (seeds: ctxlab checkpoints of several
 *                        encodings, a plain Hugging Face GPT-2 config)
 *   config.json text     the same after JSON.parse of mutated text, as loadCheckpoint reads it
 *   run config           resolveRunConfig on parsed values; run config text (JSON.parse as `ctxlab train` does)
 *   jsonl                parseJsonl on mutated evaluation sets
 *   byte decode/encode   byteTokenizer().decode(ids) with bad ids; encode(text) of any string (round trip)
 *   gpt2 decode/encode   gpt2Tokenizer() likewise
 *   tokenizerFrom        tokenizer specs as checkpoints store them
 *   loadCheckpoint       a checkpoint directory on disk with a mutated model.safetensors or config.json
 *   readJsonl            a JSONL file on disk (invalid UTF-8 bytes included)
 */
import * as tf from "@tensorflow/tfjs";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeConfig, presets, validateConfig } from "../../lib/config.js";
import { CheckpointError, ConfigError, InputError } from "../../lib/errors.js";
import { configFromGpt2Json, gpt2JsonFromConfig, loadCheckpoint, saveCheckpoint } from "../../lib/io/checkpoint.js";
import { parseSafetensors, serializeSafetensors, type SafeTensor, type SafetensorsFile } from "../../lib/io/safetensors.js";
import { resolveRunConfig, RUN_DEFAULTS, type RunConfig } from "../../cli/run-config.js";
import { parseJsonl, readJsonl, type JsonlItem } from "../../lib/eval/jsonl.js";
import { byteTokenizer, gpt2Tokenizer, tokenizerFrom, type TextTokenizer } from "../../lib/data/tokenizer.js";
import { DTransformer } from "../../lib/model/dtransformer.js";
import { alibi, learned, none, positionalFrom, rope } from "../../lib/positional/index.js";
import type { DTransformerConfig } from "../../lib/config.js";
import {
  deepArray, describe, FuzzRng, mutateBytes, mutateJsonText, mutateValueN, nastyString, nastyValue, NASTY_NUMBERS, randomText, toJsonText,
  type FuzzCase, type ReaderSpec,
} from "./fuzz.js";

const enc = new TextEncoder();
/** String.prototype.isWellFormed / toWellFormed (Node 20; not in the ES2022 lib typings). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const isWellFormed = (s: string): boolean => !new RegExp(LONE_SURROGATE.source).test(s);
const toWellFormed = (s: string): string => s.replace(LONE_SURROGATE, "\uFFFD");
const utf8Size = (s: string): number => Buffer.byteLength(s, "utf8");

/** Approximate size in bytes of a JSON-like value (its JSON text, or an estimate when too deep to print). */
function valueSize(v: unknown): number {
  try {
    return utf8Size(toJsonText(v));
  } catch {
    return 1_000_000;
  }
}

// ---------------------------------------------------------------- safetensors

function safetensorsSeeds(): Uint8Array[] {
  const r = new FuzzRng(11);
  const f32 = (n: number) => Float32Array.from({ length: n }, () => r.float() * 2 - 1);
  const seeds: Map<string, SafeTensor>[] = [
    new Map([["w", { dtype: "F32", shape: [3, 4], data: f32(12) }], ["b", { dtype: "F32", shape: [4], data: f32(4) }]]),
    new Map<string, SafeTensor>([
      ["h", { dtype: "F16", shape: [2, 3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff, 0, 0x8000, 0x7c00]) }],
      ["bf", { dtype: "BF16", shape: [5], data: new Uint16Array([0x3f80, 0xbf80, 0x7f80, 0xffc0, 1]) }],
      ["d", { dtype: "F64", shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
    ]),
    new Map<string, SafeTensor>([
      ["i64", { dtype: "I64", shape: [3], data: new BigInt64Array([1n, -(2n ** 60n), 7n]) }],
      ["i32", { dtype: "I32", shape: [2, 2], data: new Int32Array([1, -2, 3, 2 ** 31 - 1]) }],
      ["i16", { dtype: "I16", shape: [3], data: new Int16Array([1, -2, 3]) }],
      ["i8", { dtype: "I8", shape: [4], data: new Int8Array([1, -2, 3, -128]) }],
      ["u8", { dtype: "U8", shape: [2], data: new Uint8Array([0, 255]) }],
      ["bool", { dtype: "BOOL", shape: [3], data: new Uint8Array([0, 1, 1]) }],
    ]),
    new Map<string, SafeTensor>([
      ["scalar", { dtype: "F32", shape: [], data: new Float32Array([42]) }],
      ["empty", { dtype: "F32", shape: [0, 5], data: new Float32Array(0) }],
      ["transformer.wte.weight", { dtype: "F32", shape: [8, 4], data: f32(32) }],
    ]),
    new Map<string, SafeTensor>(Array.from({ length: 40 }, (_, i) => [`h.${i}.ln_1.weight`, { dtype: "F32", shape: [3], data: f32(3) }] as [string, SafeTensor])),
  ];
  return seeds.map((m, i) => serializeSafetensors(m, i % 2 === 0 ? { format: "pt", note: "seed ✓" } : undefined));
}

function headerOf(b: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))) as Record<string, unknown>;
  return { header, data: b.subarray(8 + n) };
}

function withHeader(text: string | Uint8Array, data: Uint8Array, len?: bigint): Uint8Array {
  const json = typeof text === "string" ? enc.encode(text) : text;
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const LIE_NUMBERS = [...NASTY_NUMBERS.filter((x) => Number.isFinite(x)), -5, 7, 13];
/** Rewrites one tensor entry of a header: lying data_offsets, shapes and dtypes. */
function lieEntry(h: Record<string, unknown>, r: FuzzRng, dataLen: number): string {
  const names = Object.keys(h).filter((k) => k !== "__metadata__");
  if (!names.length) return "no tensors";
  const name = r.pick(names);
  if (h[name] === null || typeof h[name] !== "object" || Array.isArray(h[name])) h[name] = { dtype: "F32", shape: [1], data_offsets: [0, 4] }; // replaced by an earlier lie
  const e = h[name] as { dtype: unknown; shape: unknown; data_offsets: unknown };
  const [b0, e0] = (Array.isArray(e.data_offsets) ? e.data_offsets : [0, 0]) as number[];
  switch (r.int(0, 12)) {
    case 0: e.data_offsets = [e0, b0]; return `${name}: data_offsets swapped`;
    case 1: e.data_offsets = [b0, dataLen + r.int(1, 1 << 20)]; return `${name}: end past the data`;
    case 2: e.data_offsets = [r.pick(LIE_NUMBERS), r.pick(LIE_NUMBERS)]; return `${name}: data_offsets ${describe(e.data_offsets)}`;
    case 3: e.data_offsets = [b0, e0, 0]; return `${name}: three offsets`;
    case 4: e.data_offsets = [0, Math.min(dataLen, e0! - b0! + r.int(-4, 5))]; return `${name}: offsets moved to overlap`;
    case 5: e.shape = Array.from({ length: r.int(1, 5) }, () => r.pick(LIE_NUMBERS)); return `${name}: shape ${describe(e.shape)}`;
    case 6: e.shape = [2 ** 31, 2 ** 31, 2 ** 31, 2 ** 31]; return `${name}: shape overflowing 2^124 elements`;
    case 7: e.shape = Array.isArray(e.shape) ? [...(e.shape as number[])].reverse().concat(r.chance(0.5) ? [1] : [0]) : []; return `${name}: shape reshaped`;
    case 8: e.dtype = r.pick(["f32", "F8", "Q4", "", "F32 ", "I128", 5, null, ["F32"]]); return `${name}: dtype ${describe(e.dtype)}`;
    case 9: e.dtype = r.pick(["F32", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL"]); return `${name}: dtype changed to ${String(e.dtype)}`;
    case 10: h[name] = nastyValue(r); return `${name} entry = ${describe(h[name])}`;
    default: delete (e as Record<string, unknown>)[r.pick(["dtype", "shape", "data_offsets"])]; return `${name}: a field removed`;
  }
}

export function safetensorsSpec(): ReaderSpec<Uint8Array, SafetensorsFile> {
  const seeds = safetensorsSeeds();
  return {
    name: "safetensors (parseSafetensors)",
    errors: [CheckpointError],
    generate(r): FuzzCase<Uint8Array> {
      const seed = r.pick(seeds);
      const kind = r.int(0, 20);
      let bytes: Uint8Array;
      let how: string;
      if (kind < 7) ({ bytes, how } = mutateBytes(seed, r));
      else if (kind < 9) {
        const { header, data } = headerOf(seed);
        const text = JSON.stringify(header);
        const n = BigInt(enc.encode(text).length);
        const len = r.pick([0n, 1n, 7n, n - 1n, n + 1n, n + BigInt(data.length), n + BigInt(data.length) + 1n, 2n ** 31n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(r.u32())]);
        bytes = withHeader(text, data, len < 0n ? 0n : len);
        how = `header length prefix ${len} (real ${n})`;
      } else if (kind < 15) {
        const { header, data } = headerOf(seed);
        const hows: string[] = [];
        for (let k = 1 + r.int(0, 3); k > 0; k--) hows.push(lieEntry(header, r, data.length));
        bytes = withHeader(toJsonText(header), data);
        how = hows.join("; ");
      } else if (kind < 17) {
        const { header, data } = headerOf(seed);
        const m = r.chance(0.5) ? mutateValueN(header, r) : { value: { ...header, __metadata__: nastyValue(r) }, how: "__metadata__ replaced" };
        bytes = withHeader(toJsonText(m.value), data);
        how = `header value: ${m.how}`;
      } else if (kind === 17) {
        const { header, data } = headerOf(seed);
        const t = mutateJsonText(JSON.stringify(header), r);
        bytes = withHeader(t.text, data);
        how = `header text: ${t.how}`;
      } else if (kind === 18) {
        const n = r.pick([1_000, 10_000, 50_000]);
        const h: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) h[`t${i}`] = { dtype: "F32", shape: [0], data_offsets: [0, 0] };
        if (r.chance(0.5)) h.big = { dtype: "F32", shape: [1], data_offsets: [0, 4] };
        bytes = withHeader(JSON.stringify(h), new Uint8Array(r.chance(0.5) ? 4 : 0));
        how = `${n} tensors in the header`;
      } else {
        bytes = r.chance(0.5) ? r.bytes(r.size(4096)) : new Uint8Array(r.int(0, 9));
        how = `${bytes.length} random bytes`;
      }
      return { input: bytes, how, size: bytes.length };
    },
    run: (b) => parseSafetensors(b, { source: "fuzz.safetensors" }),
    check(f, b) {
      let total = 0;
      for (const [name, t] of f.tensors) {
        const n = t.shape.reduce((a, d) => a * d, 1);
        if (t.data.length !== n) return `tensor ${name}: ${t.data.length} values for shape [${t.shape}]`;
        total += t.data.byteLength;
      }
      if (total > b.length) return `tensors hold ${total} bytes, more than the ${b.length}-byte file`;
      return Object.values(f.metadata).every((v) => typeof v === "string") ? undefined : "non-string metadata";
    },
  };
}

// ---------------------------------------------------------------- config.json

function configSeeds(): Record<string, unknown>[] {
  const cfgs: DTransformerConfig[] = [
    makeConfig({ ...presets.micro }),
    makeConfig({ ...presets.micro, positional: rope(), tiedEmbeddings: false }),
    makeConfig({ ...presets.micro, positional: alibi(), dAttn: 3, dMid: 5, gelu: "exact", lnEps: 0 }),
    makeConfig({ ...presets.tiny, positional: none() }),
    makeConfig({ ...presets.micro, positional: positionalFrom("yarn:4") }),
    makeConfig({ ...presets.micro, positional: positionalFrom("sinusoidal") }),
  ];
  const hf = {
    activation_function: "gelu_new", architectures: ["GPT2LMHeadModel"], attn_pdrop: 0.1, bos_token_id: 50256, embd_pdrop: 0.1, eos_token_id: 50256,
    initializer_range: 0.02, layer_norm_epsilon: 1e-5, model_type: "gpt2", n_ctx: 1024, n_embd: 768, n_head: 12, n_layer: 12, n_positions: 1024,
    resid_pdrop: 0.1, summary_activation: null, summary_first_dropout: 0.1, summary_proj_to_labels: true, summary_type: "cls_index", summary_use_proj: true,
    task_specific_params: { "text-generation": { do_sample: true, max_length: 50 } }, vocab_size: 50257,
  };
  return [...cfgs.map((c) => JSON.parse(JSON.stringify(gpt2JsonFromConfig(c))) as Record<string, unknown>), hf, { vocab_size: 11, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2 }];
}

const checkConfig = (cfg: DTransformerConfig): string | undefined => {
  try {
    validateConfig(cfg);
  } catch (e) {
    return `the config fails validateConfig: ${(e as Error).message}`;
  }
  return undefined;
};

export function configSpec(): ReaderSpec<unknown, DTransformerConfig> {
  const seeds = configSeeds();
  return {
    name: "config.json (configFromGpt2Json)",
    errors: [CheckpointError],
    generate(r) {
      const m = r.chance(0.05) ? { value: nastyValue(r), how: "whole value replaced" } : mutateValueN(r.pick(seeds), r);
      return { input: m.value, how: m.how, size: valueSize(m.value) };
    },
    run: (v) => configFromGpt2Json(v, "fuzz/config.json"),
    check: checkConfig,
  };
}

/** config.json text → JSON.parse → configFromGpt2Json, the way loadCheckpoint reads it. */
export function parseConfigText(text: string, path = "fuzz/config.json"): DTransformerConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path}: invalid JSON: ${(e as Error).message}`);
  }
  return configFromGpt2Json(json, path);
}

export function configTextSpec(): ReaderSpec<string, DTransformerConfig> {
  const seeds = configSeeds().map((s) => JSON.stringify(s, null, 2));
  return {
    name: "config.json text (JSON.parse + config)",
    errors: [CheckpointError],
    generate(r) {
      let text = r.pick(seeds);
      const hows: string[] = [];
      for (let k = 1 + r.int(0, 2); k > 0; k--) {
        const m = mutateJsonText(text, r);
        text = m.text;
        hows.push(m.how);
      }
      return { input: text, how: hows.join("; "), size: utf8Size(text) };
    },
    run: (t) => parseConfigText(t),
    check: checkConfig,
  };
}

// ---------------------------------------------------------------- run configs

function runSeeds(): Record<string, unknown>[] {
  return [
    {},
    JSON.parse(JSON.stringify(RUN_DEFAULTS)) as Record<string, unknown>,
    { seed: 3, backend: "wasm", model: { lMax: 256, dE: 128, nHeads: 4, nLayers: 4, tiedEmbeddings: false }, positional: "rope:pi:4", tokenizer: "gpt2", steps: 1000, workers: 2 },
    { data: { corpus: ["data/a.txt", "data/dir"], batch: null, batchTokens: 4096, mixture: [{ length: 64, weight: 1 }, { length: 256, weight: 0.5 }], maxLength: 512, jitter: 0.1 }, schedule: { kind: "linear-warmup-constant", lr: 3e-4, warmup: 10, warmupFrom: 0.1, minLr: null } },
    { init: "runs/base", positional: { name: "yarn", args: ["8"] }, optimizer: { kind: "sgd", momentum: 0.9, freeze: ["blocks.0.", "pos."] }, clip: null, accumulate: 4, valEvery: 10, valBatches: 2, checkpointEvery: 50, data: { mixture: "doubling" } },
  ];
}

const RUN_KEYS = new Set(Object.keys(RUN_DEFAULTS));
function checkRun(c: RunConfig): string | undefined {
  if (Object.getPrototypeOf(c) !== Object.prototype) return "the result has a replaced prototype";
  if (Object.keys(Object.prototype).length || ({} as Record<string, unknown>).polluted !== undefined) return "Object.prototype was polluted";
  for (const k of Object.keys(c)) if (!RUN_KEYS.has(k)) return `unknown key ${describe(k)} accepted`;
  for (const [k, d] of Object.entries(RUN_DEFAULTS)) {
    const v = (c as unknown as Record<string, unknown>)[k];
    if (d && typeof d === "object" && !Array.isArray(d)) {
      if (!v || typeof v !== "object") return `section ${k} is ${describe(v)}`;
      for (const kk of Object.keys(v)) if (!(kk in d) || !Object.hasOwn(d, kk)) return `unknown key ${k}.${describe(kk)} accepted`;
    }
  }
  if (c.model.dE % c.model.nHeads !== 0) return "d_e not divisible by H";
  return undefined;
}

export function runConfigSpec(): ReaderSpec<unknown, RunConfig> {
  const seeds = runSeeds();
  return {
    name: "run config (resolveRunConfig)",
    errors: [ConfigError],
    generate(r) {
      const m = r.chance(0.05) ? { value: nastyValue(r), how: "whole value replaced" } : mutateValueN(r.pick(seeds), r);
      return { input: m.value, how: m.how, size: valueSize(m.value) };
    },
    run: (v) => resolveRunConfig(v),
    check: checkRun,
  };
}

/** Run-config text → JSON.parse → resolveRunConfig, the way `ctxlab train --config` reads it. */
export function parseRunConfigText(text: string, path = "fuzz/run.json"): RunConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  return resolveRunConfig(json);
}

export function runConfigTextSpec(): ReaderSpec<string, RunConfig> {
  const seeds = runSeeds().map((s) => JSON.stringify(s, null, 2));
  return {
    name: "run config text (JSON.parse + resolve)",
    errors: [ConfigError],
    generate(r) {
      let text = r.pick(seeds);
      const hows: string[] = [];
      for (let k = 1 + r.int(0, 2); k > 0; k--) {
        const m = mutateJsonText(text, r);
        text = m.text;
        hows.push(m.how);
      }
      return { input: text, how: hows.join("; "), size: utf8Size(text) };
    },
    run: (t) => parseRunConfigText(t),
    check: checkRun,
  };
}

// ---------------------------------------------------------------- JSONL

function jsonlSeedItems(r: FuzzRng): Record<string, unknown>[] {
  const n = 1 + r.int(0, 12);
  return Array.from({ length: n }, (_, i) => {
    const o: Record<string, unknown> = { prompt: `The pass key is ${10000 + i}. ${randomText(r, r.size(300))} What is the pass key?`, answer: String(10000 + i) };
    if (r.chance(0.5)) Object.assign(o, { id: `passkey-${i}`, length: 128 * (1 + i), depth: r.float(), task: "passkey", variant: "standard", needle_pos: r.int(0, 100) });
    if (r.chance(0.3)) o.target = ` ${o.answer}`;
    return o;
  });
}

function jsonlText(items: unknown[], r: FuzzRng): string {
  const nl = r.chance(0.2) ? "\r\n" : "\n";
  const lines = items.map((x) => toJsonText(x));
  if (r.chance(0.2)) lines.splice(r.int(0, lines.length + 1), 0, "");
  return (r.chance(0.1) ? "\ufeff" : "") + lines.join(nl) + (r.chance(0.5) ? nl : "");
}

function checkJsonl(items: JsonlItem[]): string | undefined {
  let last = 0;
  for (const it of items) {
    if (typeof it.prompt !== "string" || typeof it.answer !== "string" || it.answer.trim() === "") return `line ${it.line}: prompt/answer not strings`;
    if (!(it.line > last)) return "line numbers not increasing";
    last = it.line;
    for (const k of ["length", "depth", "needle_pos"] as const) if (it[k] !== undefined && !Number.isFinite(it[k])) return `line ${it.line}: ${k} = ${it[k]}`;
    if (it.depth !== undefined && !(it.depth >= 0 && it.depth <= 1)) return `depth ${it.depth}`;
  }
  return items.length ? undefined : "no items";
}

export function jsonlSpec(): ReaderSpec<string, JsonlItem[]> {
  return {
    name: "JSONL eval set (parseJsonl)",
    errors: [InputError],
    generate(r) {
      const items: unknown[] = jsonlSeedItems(r);
      let how: string;
      let text: string;
      const kind = r.int(0, 10);
      if (kind < 4) {
        const i = r.int(0, items.length);
        const m = mutateValueN(items[i], r, 2);
        items[i] = m.value;
        how = `line ${i + 1}: ${m.how}`;
        text = jsonlText(items, r);
      } else if (kind < 5) {
        const i = r.int(0, items.length + 1);
        const junk = r.pick<unknown>([nastyValue(r), "not json", deepArray(100_000), [1, 2], null, "", "{}"]);
        items.splice(i, 0, junk);
        how = `line ${i + 1} = ${describe(junk)}`;
        text = jsonlText(items, r);
        if (junk === "not json") text = text.replace('"not json"', "not json");
      } else if (kind < 8) {
        text = jsonlText(items, r);
        const hows: string[] = [];
        for (let k = 1 + r.int(0, 2); k > 0; k--) {
          const m = mutateJsonText(text, r);
          text = m.text;
          hows.push(m.how);
        }
        how = `text: ${hows.join("; ")}`;
      } else if (kind < 9) {
        text = r.pick(["", "\n\n\n", "\ufeff", " \r\n \t", "\u0000", "[]", "null", "{}", "1"]);
        how = `text ${JSON.stringify(text)}`;
      } else {
        text = jsonlText(items, r);
        how = "valid";
      }
      return { input: text, how, size: utf8Size(text) };
    },
    run: (t) => parseJsonl(t, "fuzz.jsonl"),
    check: checkJsonl,
  };
}

// ---------------------------------------------------------------- tokenizers

const BAD_IDS: readonly unknown[] = [-1, -0.5, 0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 53, 1e308, -(2 ** 31), "1", null, undefined, true, {}, [], 3n];

function idArray(r: FuzzRng, nVocab: number, maxLen: number): { ids: unknown[]; how: string } {
  const n = r.size(maxLen);
  const ids: unknown[] = Array.from({ length: n }, () => (r.chance(0.1) ? r.pick([0, nVocab - 1, nVocab - 2, 256, 255]) : r.int(0, nVocab)));
  const kind = r.int(0, 10);
  if (kind < 5 && n > 0) {
    const k = 1 + r.size(4);
    const bads: unknown[] = [];
    for (let j = 0; j < k; j++) {
      const bad = r.chance(0.5) ? r.pick(BAD_IDS) : r.pick([nVocab, nVocab + 1, nVocab * 2, -nVocab]);
      ids[r.int(0, n)] = bad;
      bads.push(bad);
    }
    return { ids, how: `${n} ids with ${bads.map(describe).join(", ")}` };
  }
  return { ids, how: `${n} valid ids` };
}

export function decodeSpec(which: "byte" | "gpt2"): ReaderSpec<{ ids: unknown[]; specials: boolean; tok: TextTokenizer }, string> {
  const toks: TextTokenizer[] = which === "byte" ? [byteTokenizer(), byteTokenizer({ specials: false })] : [gpt2Tokenizer()];
  return {
    name: `${which} tokenizer decode`,
    errors: [InputError],
    generate(r) {
      const tok = r.pick(toks);
      if (r.chance(0.05)) {
        // a long run of byte-level tokens (partial UTF-8: the halves of "😀" in GPT-2, raw bytes ≥ 0x80 in byte), maybe cut mid-character
        const n = r.pick([1_001, 20_000, 128_001]);
        const [a, b] = which === "gpt2" ? [47249, 222] : [0xf0, 0x9f];
        const ids = Array.from({ length: n }, (_, i) => (i % 2 ? b : a));
        return { input: { ids, specials: false, tok }, how: `${tok.name}: ${n} byte-level tokens`, size: 8 * n + 8 };
      }
      const { ids, how } = idArray(r, tok.vocabSize, which === "byte" ? 5000 : 2000);
      return { input: { ids, specials: r.chance(0.3), tok }, how: `${tok.name}/${tok.vocabSize}: ${how}`, size: 8 * ids.length + 8 };
    },
    run: ({ ids, specials, tok }) => tok.decode(ids as number[], { specials }),
    check: (s) => (typeof s === "string" && isWellFormed(s) ? undefined : "decode returned an ill-formed string"),
  };
}

function encodeInput(r: FuzzRng, maxLen: number): { text: string; how: string } {
  switch (r.int(0, 8)) {
    case 0: {
      const c = r.pick(["a", "7", " ", "\ud800", "😀", "=", "\n", "é", "!"]);
      const n = r.pick([600, 5_000, 20_000, 64_000]);
      return { text: c.repeat(n), how: `${JSON.stringify(c)} × ${n}` };
    }
    case 1: return { text: nastyString(r), how: "nasty string" };
    case 2: {
      const n = r.size(maxLen);
      return { text: Array.from({ length: n }, () => String.fromCharCode(r.int(0, 0x10000))).join(""), how: `${n} random UTF-16 units` };
    }
    default: {
      const n = r.size(maxLen);
      return { text: randomText(r, n), how: `random text of ${n}` };
    }
  }
}

export function encodeSpec(which: "byte" | "gpt2"): ReaderSpec<{ text: string; bos: boolean; eos: boolean; tok: TextTokenizer }, number[]> {
  const toks: TextTokenizer[] = which === "byte" ? [byteTokenizer(), byteTokenizer({ specials: false })] : [gpt2Tokenizer()];
  return {
    name: `${which} tokenizer encode`,
    errors: [ConfigError],
    generate(r) {
      const tok = r.pick(toks);
      const { text, how } = encodeInput(r, which === "byte" ? 20_000 : 8_000);
      const special = tok.special.bos !== undefined;
      return { input: { text, bos: special && r.chance(0.2), eos: special && r.chance(0.2), tok }, how: `${tok.name}: ${how}`, size: utf8Size(text) + 8 };
    },
    run: ({ text, bos, eos, tok }) => tok.encode(text, { bos, eos }),
    check(ids, { text, bos, eos, tok }) {
      if (!Array.isArray(ids)) return "not an array";
      for (let i = 0; i < ids.length; i++) if (!Number.isInteger(ids[i]) || ids[i]! < 0 || ids[i]! >= tok.vocabSize) return `ids[${i}]=${ids[i]} outside [0, ${tok.vocabSize})`;
      const body = ids.slice(bos ? 1 : 0, eos ? ids.length - 1 : ids.length);
      const back = tok.decode(body);
      return back === toWellFormed(text) ? undefined : `round trip lost text (${text.length} → ${back.length} units)`;
    },
  };
}

export function tokenizerFromSpec(): ReaderSpec<unknown, TextTokenizer> {
  const seeds: unknown[] = [byteTokenizer().toJSON(), byteTokenizer({ specials: false }).toJSON(), { name: "gpt2-bpe", vocabSize: 50257, encoding: "r50k_base" }, { name: "byte" }];
  return {
    name: "tokenizerFrom (checkpoint spec)",
    errors: [ConfigError],
    generate(r) {
      const m = r.chance(0.15) ? { value: r.chance(0.5) ? nastyString(r) : nastyValue(r), how: "replaced" } : mutateValueN(r.pick(seeds), r, 2);
      return { input: m.value, how: m.how, size: valueSize(m.value) };
    },
    run: (v) => tokenizerFrom(v as string),
    check: (t) => (t && typeof t.encode === "function" && Number.isInteger(t.vocabSize) ? undefined : "not a tokenizer"),
  };
}

// ---------------------------------------------------------------- on disk

/** A checkpoint directory to mutate: config.json + model.safetensors of small models. */
export interface DiskFixture {
  dir: string;
  checkpoints: { config: string; weights: Uint8Array }[];
  close(): void;
}

export async function diskFixture(): Promise<DiskFixture> {
  const dir = mkdtempSync(join(tmpdir(), "ctxlab-fuzz-"));
  const models = [
    DTransformer.create({ ...presets.micro }, 1),
    DTransformer.create({ ...presets.micro, positional: rope(), tiedEmbeddings: false, nLayers: 1 }, 2),
    DTransformer.create({ ...presets.micro, positional: alibi(), dAttn: 3, dMid: 5 }, 3),
    DTransformer.create({ ...presets.micro, positional: learned(), nLayers: 3 }, 4),
  ];
  const checkpoints: DiskFixture["checkpoints"] = [];
  for (const [i, m] of models.entries()) {
    const d = join(dir, `seed${i}`);
    await saveCheckpoint(m, d);
    checkpoints.push({ config: readFileSync(join(d, "config.json"), "utf8"), weights: new Uint8Array(readFileSync(join(d, "model.safetensors"))) });
    m.dispose();
  }
  return { dir, checkpoints, close: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Header rewrites that keep the file well-formed but disagree with the config. */
function semanticLie(b: Uint8Array, r: FuzzRng): { bytes: Uint8Array; how: string } {
  const { header, data } = headerOf(b);
  const names = Object.keys(header).filter((k) => k !== "__metadata__");
  const name = r.pick(names);
  const e = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
  let how: string;
  switch (r.int(0, 7)) {
    case 0: delete header[name]; header[`${name}x`] = e; how = `${name} renamed`; break;
    case 1: e.dtype = r.pick(["I32", "U8", "BOOL", "I8"]); if (e.dtype !== "I32") e.shape = [e.data_offsets[1] - e.data_offsets[0]]; how = `${name} as ${e.dtype}`; break;
    case 2: e.shape = [...e.shape].reverse(); how = `${name} shape reversed [${e.shape}]`; break;
    case 3: header["h.99.ln_1.weight"] = { ...e }; how = "extra layer h.99"; break;
    case 4: header["lm_head.weight"] = { ...(header["wte.weight"] as object) }; how = "lm_head = wte (same bytes)"; break;
    case 5: header[`transformer.${name}`] = { ...e }; how = `${name} also with the transformer. prefix`; break;
    default: e.shape = [e.shape.reduce((a, x) => a * x, 1)]; how = `${name} flattened`;
  }
  return { bytes: withHeader(JSON.stringify(header), data), how };
}

export function loadCheckpointSpec(fx: DiskFixture): ReaderSpec<{ dir: string }, DTransformer> {
  let n = 0;
  return {
    name: "loadCheckpoint (disk)",
    errors: [CheckpointError],
    generate(r) {
      const seed = r.pick(fx.checkpoints);
      const dir = join(fx.dir, `case${n++ % 4}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      let config = seed.config;
      let weights = seed.weights;
      let how: string;
      const kind = r.int(0, 10);
      if (kind < 4) ({ bytes: weights, how } = mutateBytes(weights, r));
      else if (kind < 6) ({ bytes: weights, how } = semanticLie(weights, r));
      else if (kind < 8) {
        const m = mutateValueN(JSON.parse(config), r, 2);
        config = toJsonText(m.value);
        how = `config: ${m.how}`;
      } else if (kind < 9) {
        const m = mutateJsonText(config, r);
        config = m.text;
        how = `config text: ${m.how}`;
      } else {
        const other = r.pick(fx.checkpoints);
        weights = other.weights;
        how = "weights of another checkpoint";
      }
      if (!r.chance(0.02)) writeFileSync(join(dir, "config.json"), config);
      else how += "; no config.json";
      if (!r.chance(0.02)) writeFileSync(join(dir, "model.safetensors"), weights);
      else how += "; no model.safetensors";
      return { input: { dir }, how, size: weights.length + utf8Size(config) };
    },
    run: ({ dir }) => loadCheckpoint(dir),
    check: (m) => checkConfig(m.cfg) ?? (m.numParams() > 0 ? undefined : "no parameters"),
    release: (m) => m.dispose(),
    live: () => tf.memory().numTensors,
    timeLimitMs: 1000,
  };
}

export function readJsonlSpec(fx: DiskFixture): ReaderSpec<string, JsonlItem[]> {
  const inner = jsonlSpec();
  let n = 0;
  return {
    name: "readJsonl (disk)",
    errors: [InputError],
    generate(r, i) {
      const c = inner.generate(r, i);
      let bytes: Uint8Array = enc.encode(c.input);
      let how = c.how;
      if (r.chance(0.3)) {
        const m = mutateBytes(bytes, r, 2);
        bytes = m.bytes;
        how += `; bytes: ${m.how}`;
      }
      const path = join(fx.dir, `eval${n++ % 4}.jsonl`);
      writeFileSync(path, bytes);
      return { input: path, how, size: bytes.length };
    },
    run: (p) => readJsonl(p),
    check: checkJsonl,
  };
}

/** Every in-memory reader spec (the disk ones need a fixture). */
export function memorySpecs(): ReaderSpec<any, any>[] {
  return [
    safetensorsSpec(), configSpec(), configTextSpec(), runConfigSpec(), runConfigTextSpec(), jsonlSpec(),
    decodeSpec("byte"), encodeSpec("byte"), decodeSpec("gpt2"), encodeSpec("gpt2"), tokenizerFromSpec(),
  ];
}
