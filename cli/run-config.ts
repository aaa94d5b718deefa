/**
 * Run configs for `ctxlab train`: one JSON file holding the model, positional encoding, tokenizer,
 * data, optimiser, schedule and seed. `resolveRunConfig` checks every key and value and fills the
 * defaults; errors name the key path, the value and what is expected, and suggest the nearest valid
 * key for a typo ("unknown key run.optimzer — did you mean optimizer?").
 */
import { ConfigError } from "../lib/errors.js";
import { show } from "../lib/util/show.js";

export interface RunConfig {
  seed: number;
  backend: "auto" | "node-gpu" | "node" | "wasm" | "cpu";
  /** a checkpoint directory to start from (fine-tuning); the model section then only may change lMax */
  init: string | null;
  model: { nVocab: number | null; lMax: number; nLayers: number; nHeads: number; dE: number; dMlp: number | null; gelu: "tanh" | "exact"; lnEps: number; tiedEmbeddings: boolean };
  /** a registry name ("rope", "rope:pi:4", "alibi") or a spec object */
  positional: string | Record<string, unknown>;
  tokenizer: "byte" | "gpt2";
  data: { corpus: "moby-dick" | string[]; valFraction: number; batch: number | null; batchTokens: number | null; length: number | null; mixture: "doubling" | { length: number; weight: number }[] | null; maxLength: number | null; jitter: number };
  optimizer: { kind: "adamw" | "sgd"; betas: [number, number]; eps: number; weightDecay: number; momentum: number; freeze: string[] };
  schedule: { kind: "constant" | "linear-warmup-constant" | "cosine"; lr: number; warmup: number; warmupFrom: number; minLr: number | null; decayFrom: number | null };
  steps: number;
  /** gradient workers (data-parallel threads; 2 uses both cores on wasm) — an execution setting */
  workers: number;
  accumulate: number;
  clip: number | null;
  valEvery: number;
  valBatches: number;
  checkpointEvery: number;
}

export const RUN_DEFAULTS: RunConfig = {
  seed: 0,
  backend: "auto",
  init: null,
  model: { nVocab: null, lMax: 128, nLayers: 2, nHeads: 4, dE: 64, dMlp: null, gelu: "tanh", lnEps: 1e-5, tiedEmbeddings: true },
  positional: "learned",
  tokenizer: "byte",
  data: { corpus: "moby-dick", valFraction: 0.1, batch: 16, batchTokens: null, length: null, mixture: null, maxLength: null, jitter: 0 },
  optimizer: { kind: "adamw", betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0.1, momentum: 0, freeze: [] },
  schedule: { kind: "cosine", lr: 1e-3, warmup: 20, warmupFrom: 0, minLr: null, decayFrom: null },
  steps: 200,
  workers: 1,
  accumulate: 1,
  clip: 1,
  valEvery: 50,
  valBatches: 4,
  checkpointEvery: 100,
};

type Check = (v: unknown, path: string) => void;
const fail = (path: string, v: unknown, want: string): never => {
  throw new ConfigError(`run config: ${path || "the top level"} = ${show(v)} is invalid: expected ${want}`);
};
const int = (min: number, nullable = false): Check => (v, p) => {
  if (v === null && nullable) return;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) fail(p, v, `an integer ≥ ${min}${nullable ? " or null" : ""}`);
};
const num = (min: number, max = Infinity, nullable = false): Check => (v, p) => {
  if (v === null && nullable) return;
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max) fail(p, v, `a number in [${min}, ${max}]${nullable ? " or null" : ""}`);
};
const oneOf = (...xs: unknown[]): Check => (v, p) => {
  if (!xs.includes(v)) fail(p, v, `one of ${xs.map((x) => JSON.stringify(x)).join(", ")}`);
};
const str = (nullable = false): Check => (v, p) => {
  if (v === null && nullable) return;
  if (typeof v !== "string" || !v) fail(p, v, `a non-empty string${nullable ? " or null" : ""}`);
};
const bool: Check = (v, p) => void (typeof v !== "boolean" && fail(p, v, "true or false"));

const SCHEMA: Record<string, Check | Record<string, Check>> = {
  seed: int(0),
  backend: oneOf("auto", "node-gpu", "node", "wasm", "cpu"),
  init: str(true),
  model: { nVocab: int(1, true), lMax: int(1), nLayers: int(1), nHeads: int(1), dE: int(1), dMlp: int(1, true), gelu: oneOf("tanh", "exact"), lnEps: num(0, 1), tiedEmbeddings: bool },
  positional: (v, p) => void (typeof v !== "string" && (typeof v !== "object" || v === null || Array.isArray(v)) && fail(p, v, `a positional name like "rope:pi:4" or a spec object`)),
  tokenizer: oneOf("byte", "gpt2"),
  data: {
    corpus: (v, p) => void (v !== "moby-dick" && !(Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "string")) && fail(p, v, `"moby-dick" or a list of text file / directory paths`)),
    valFraction: num(0.001, 0.5),
    batch: int(1, true),
    batchTokens: int(1, true),
    length: int(2, true),
    mixture: (v, p) => void (v !== null && v !== "doubling" && !(Array.isArray(v) && v.length > 0 && v.every((c) => c && typeof c === "object" && Number.isInteger(c.length) && c.length >= 2 && typeof c.weight === "number" && c.weight > 0)) && fail(p, v, `null, "doubling" or [{length, weight}, …]`)),
    maxLength: int(2, true),
    jitter: num(0, 0.99),
  },
  optimizer: {
    kind: oneOf("adamw", "sgd"),
    betas: (v, p) => void (!(Array.isArray(v) && v.length === 2 && v.every((b) => typeof b === "number" && b >= 0 && b < 1)) && fail(p, v, "[β1, β2] with 0 ≤ β < 1")),
    eps: num(0, 1),
    weightDecay: num(0, 10),
    momentum: num(0, 0.9999),
    freeze: (v, p) => void (!(Array.isArray(v) && v.every((x) => typeof x === "string")) && fail(p, v, `a list of parameter names or prefixes like "blocks.0." or "pos."`)),
  },
  schedule: { kind: oneOf("constant", "linear-warmup-constant", "cosine"), lr: num(0, 10), warmup: int(0), warmupFrom: num(0, 1), minLr: num(0, 10, true), decayFrom: int(0, true) },
  steps: int(1),
  workers: int(1),
  accumulate: int(1),
  clip: num(0, Infinity, true),
  valEvery: int(1),
  valBatches: int(1),
  checkpointEvery: int(1),
};

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

export function nearest(key: string, valid: readonly string[]): string | undefined {
  let best: string | undefined;
  let bd = Infinity;
  for (const v of valid) {
    const dd = distance(key.toLowerCase(), v.toLowerCase());
    if (dd < bd) [best, bd] = [v, dd];
  }
  return bd <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined;
}

function checkSection(obj: unknown, schema: Record<string, Check | Record<string, Check>>, path: string): void {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) fail(path, obj, "an object");
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const p = path ? `${path}.${k}` : k;
    const rule = Object.hasOwn(schema, k) ? schema[k] : undefined; // not "toString", "__proto__", … from Object.prototype
    if (!rule) {
      const near = k.length <= 64 ? nearest(k, Object.keys(schema)) : undefined; // distance() is O(|k|·|valid key|)
      const shown = p.length > 200 ? `${p.slice(0, 197)}...` : p;
      throw new ConfigError(`run config: unknown key ${shown}${near ? ` — did you mean ${path ? `${path}.` : ""}${near}?` : `; valid keys: ${Object.keys(schema).join(", ")}`}`);
    }
    if (typeof rule === "function") rule(v, p);
    else checkSection(v, rule, p);
  }
}

/** Validate a parsed run config and merge it over the defaults. */
export function resolveRunConfig(json: unknown): RunConfig {
  checkSection(json, SCHEMA, "");
  const j = json as Partial<Record<keyof RunConfig, unknown>>;
  const merged = { ...RUN_DEFAULTS } as Record<string, unknown>;
  for (const [k, v] of Object.entries(j)) {
    const d = (RUN_DEFAULTS as unknown as Record<string, unknown>)[k];
    merged[k] = d && typeof d === "object" && !Array.isArray(d) && v && typeof v === "object" && !Array.isArray(v) ? { ...d, ...v } : v;
  }
  const cfg = merged as unknown as RunConfig;
  const { dE, nHeads } = cfg.model;
  if (dE % nHeads !== 0) throw new ConfigError(`run config: model.dE = ${dE} is not divisible by model.nHeads = ${nHeads} (d_e must be a multiple of H)`);
  if (cfg.data.batch !== null && cfg.data.batchTokens !== null) throw new ConfigError("run config: give data.batch or data.batchTokens, not both");
  if (cfg.data.batch === null && cfg.data.batchTokens === null) throw new ConfigError("run config: give data.batch (sequences per batch) or data.batchTokens");
  if (cfg.schedule.kind !== "constant" && cfg.schedule.warmup >= cfg.steps) throw new ConfigError(`run config: schedule.warmup = ${cfg.schedule.warmup} must be smaller than steps = ${cfg.steps}`);
  const d = cfg.schedule.decayFrom;
  if (d !== null && (cfg.schedule.kind !== "cosine" || d < cfg.schedule.warmup || d >= cfg.steps)) throw new ConfigError(`run config: schedule.decayFrom = ${d} needs kind "cosine" and warmup = ${cfg.schedule.warmup} ≤ decayFrom < steps = ${cfg.steps} (η is held at lr until decayFrom, then decays)`);
  return cfg;
}
