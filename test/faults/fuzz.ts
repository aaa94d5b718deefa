/**
 * A seeded fuzzing library for the readers of outside data (safetensors, config.json, run configs,
 * JSONL evaluation sets, tokenizer input).
 *
 *   FuzzRng                 a small deterministic generator (mulberry32): the same seed gives the same inputs
 *   byte mutators           truncation, bit flips, byte insert/delete/overwrite, chunk duplication, invalid UTF-8
 *   value mutators          on parsed JSON: nasty numbers (huge, negative, NaN, ±∞, floats, −0), wrong types,
 *                           deep nesting (up to 10⁵ nested arrays or objects), very long strings and keys, lone
 *                           surrogates, prototype-named keys ("__proto__", "constructor", "toString", …),
 *                           deleted / added / renamed keys
 *   text mutators           on JSON text: truncation, character edits, NaN/Infinity/1e999 literals, duplicate keys
 *   fuzz(spec, n, seed)     applies a reader to n generated inputs and classifies each outcome:
 *     ok     accepted (and `spec.check` found nothing wrong with what was accepted)
 *     clean  threw the expected error class with a non-empty message of at most 4 KB
 *     BAD    any other exception type, a non-Error throw, an empty or huge message, more than `timeLimitMs`
 *            (default 1 s), more than max(32 MB, 20 × input size) of heap + ArrayBuffer growth while the
 *            result is still held, tensors leaked, or an accepted value that `check` rejects
 *            (the floor was 16 MB: a safetensors header of 10,000 empty tensors — 569 kB of JSON — grows
 *            the heap by 13.7–17.1 MB, mostly JSON.parse's garbage, depending on when V8 collects; the
 *            failures this check exists for allocate what a header *claims*, hundreds of MB and up)
 * Allocation is measured as the growth of process.memoryUsage().heapUsed + arrayBuffers across the call
 * (result still referenced); a call over the limit is repeated once after a full GC (when node runs with
 * --expose-gc) so that garbage left by earlier inputs is not blamed on it.
 */

import v8 from "node:v8";
import vm from "node:vm";

/** mulberry32: fast, seedable, good enough for choosing mutations. */
export class FuzzRng {
  private s: number;
  constructor(seed: number) {
    this.s = (seed >>> 0) ^ 0x9e3779b9;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** uniform in [0, 1) */
  float(): number {
    return this.u32() / 2 ** 32;
  }
  /** integer in [lo, hi) */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length)]!;
  }
  /** a length skewed towards small values, up to `max` */
  size(max: number): number {
    return Math.floor(max ** this.float()) - 1 + (this.chance(0.5) ? 1 : 0);
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

// ---------------------------------------------------------------- byte mutators

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x2c, 0x3a, 0x20, 0x2d, 0x30, 0x39, 0x65];
/** invalid UTF-8: lone continuation, overlong NUL, truncated 2/3/4-byte forms, a UTF-16 surrogate in UTF-8, 0xFE/0xFF */
export const INVALID_UTF8: readonly (readonly number[])[] = [[0x80], [0xc0, 0x80], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0xfe], [0xff, 0xff], [0xf8, 0x88, 0x80, 0x80, 0x80]];

function concat(...parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export type Mutated = { bytes: Uint8Array; how: string };
export type ByteMutator = (b: Uint8Array, r: FuzzRng) => Mutated;

export const byteMutators: Record<string, ByteMutator> = {
  truncate: (b, r) => {
    const n = r.int(0, b.length + 1);
    return { bytes: b.slice(0, n), how: `truncate to ${n}/${b.length} bytes` };
  },
  bitFlips: (b, r) => {
    const out = b.slice();
    const k = 1 + r.size(16);
    for (let i = 0; i < k && out.length; i++) out[r.int(0, out.length)]! ^= 1 << r.int(0, 8);
    return { bytes: out, how: `${k} bit flips` };
  },
  insert: (b, r) => {
    const at = r.int(0, b.length + 1);
    const n = 1 + r.size(64);
    const ins = r.chance(0.5) ? r.bytes(n) : Uint8Array.from({ length: n }, () => r.pick(INTERESTING_BYTES));
    return { bytes: concat(b.subarray(0, at), ins, b.subarray(at)), how: `insert ${n} bytes at ${at}` };
  },
  delete: (b, r) => {
    const at = r.int(0, b.length + 1);
    const n = 1 + r.size(64);
    return { bytes: concat(b.subarray(0, at), b.subarray(Math.min(b.length, at + n))), how: `delete ${n} bytes at ${at}` };
  },
  overwrite: (b, r) => {
    const out = b.slice();
    const at = r.int(0, out.length + 1);
    const n = Math.min(out.length - at, 1 + r.size(16));
    for (let i = 0; i < n; i++) out[at + i] = r.chance(0.5) ? r.u32() & 0xff : r.pick(INTERESTING_BYTES);
    return { bytes: out, how: `overwrite ${n} bytes at ${at}` };
  },
  duplicate: (b, r) => {
    const at = r.int(0, b.length + 1);
    const n = Math.min(b.length - at, 1 + r.size(256));
    const to = r.int(0, b.length + 1);
    return { bytes: concat(b.subarray(0, to), b.subarray(at, at + n), b.subarray(to)), how: `duplicate ${n} bytes from ${at} to ${to}` };
  },
  invalidUtf8: (b, r) => {
    const at = r.int(0, b.length + 1);
    const seq = r.pick(INVALID_UTF8);
    return { bytes: concat(b.subarray(0, at), seq, b.subarray(at)), how: `invalid UTF-8 [${seq.map((x) => x.toString(16)).join(" ")}] at ${at}` };
  },
};
const BYTE_MUTATOR_NAMES = Object.keys(byteMutators);

/** 1…`max` random byte mutations in a row. */
export function mutateBytes(b: Uint8Array, r: FuzzRng, max = 3): Mutated {
  let cur = b;
  const hows: string[] = [];
  const k = 1 + r.int(0, max);
  for (let i = 0; i < k; i++) {
    const m = byteMutators[r.pick(BYTE_MUTATOR_NAMES)]!(cur, r);
    cur = m.bytes;
    hows.push(m.how);
  }
  return { bytes: cur, how: hows.join(", ") };
}

// ---------------------------------------------------------------- nasty values

export const NASTY_NUMBERS: readonly number[] = [
  0, -0, -1, 1, 2, 0.5, -0.5, 1.5, 3.7, 1e-320, 5e-324, 1e308, -1e308, 1.7976931348623157e308,
  2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64, 1e21, -(2 ** 53), 255, 256, 257, 50257, 1e-5, 0.99999,
  NaN, Infinity, -Infinity,
];
export const PROTO_KEYS: readonly string[] = ["__proto__", "constructor", "prototype", "toString", "valueOf", "hasOwnProperty", "__defineGetter__", "__lookupGetter__", "isPrototypeOf", "toJSON", "then", "length"];

/** Nested arrays [[[…]]] `depth` deep (iteratively: no recursion). */
export function deepArray(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}
/** Nested objects {"a": {"a": …}} `depth` deep. */
export function deepObject(depth: number, leaf: unknown = 1): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

const LONE = ["\ud800", "\udfff", "\udbff", "\udc00"];
/** A string meant to break things: empty, long, lone surrogates, control characters, numeric-looking, JSON-looking. */
export function nastyString(r: FuzzRng): string {
  switch (r.int(0, 12)) {
    case 0: return "";
    case 1: return "x".repeat(r.pick([1_000, 65_536, 1_000_000]));
    case 2: return r.pick(LONE).repeat(1 + r.size(1000));
    case 3: return "a\u0000b\u0001\u001f\u007f";
    case 4: return r.pick(["NaN", "Infinity", "-1", "1e999", "0x10", "12", " 7 ", "true", "null"]);
    case 5: return r.pick(["{", "[", "\"", "\\", "{\"a\":1}", "[1,2]"]);
    case 6: return r.pick(PROTO_KEYS);
    case 7: return "😀".repeat(1 + r.size(2000));
    case 8: return "\u202e\ufeff\u200b";
    case 9: return `${r.pick(["rope", "learned", "alibi", "yarn", "none", "sinusoidal"])}:${r.pick(["", "pi", "4", "-1", "1e308", "NaN", "x:y:z", "0"])}`;
    case 10: return randomText(r, r.size(200));
    default: return "é".normalize("NFD") + "ß" + "\u0301".repeat(r.size(50));
  }
}

/** Random text of about `n` UTF-16 units: ASCII, Latin, CJK, emoji, whitespace, lone surrogates. */
export function randomText(r: FuzzRng, n: number): string {
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    let s: string;
    switch (r.int(0, 10)) {
      case 0: s = String.fromCharCode(r.int(32, 127)); break;
      case 1: s = " "; break;
      case 2: s = r.pick(["the", " of", "whale", "Ahab", "1234", "\n", "\t", "'s", "'ll", "<|endoftext|>", "...", "--"]); break;
      case 3: s = String.fromCharCode(r.int(0xa0, 0x2000)); break;
      case 4: s = String.fromCharCode(r.int(0x4e00, 0x9fff)); break;
      case 5: s = String.fromCodePoint(r.int(0x1f300, 0x1faff)); break;
      case 6: s = r.pick(LONE); break;
      case 7: s = String.fromCharCode(r.int(0, 32)); break;
      default: s = String.fromCharCode(r.int(97, 123));
    }
    parts.push(s);
    len += s.length;
  }
  return parts.join("");
}

/** One nasty value of any JSON type (and NaN/±∞, which plain JSON cannot hold). */
export function nastyValue(r: FuzzRng): unknown {
  switch (r.int(0, 16)) {
    case 0: case 1: case 2: return r.pick(NASTY_NUMBERS);
    case 3: return r.int(-1000, 100_000);
    case 4: case 5: return nastyString(r);
    case 6: return r.pick([true, false, null]);
    case 7: return [];
    case 8: return {};
    case 9: return deepArray(r.pick([10, 1_000, 10_000, 100_000]));
    case 10: return deepObject(r.pick([10, 1_000, 10_000, 100_000]));
    case 11: return Array.from({ length: r.pick([3, 1_000, 100_000]) }, () => r.pick(NASTY_NUMBERS));
    case 12: return Object.fromEntries(Array.from({ length: r.pick([10, 10_000]) }, (_, i) => [`k${i}`, i]));
    case 13: return JSON.parse(`{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}}`);
    case 14: return [r.pick(NASTY_NUMBERS), nastyString(r), null];
    default: return r.pick([{ name: nastyString(r) }, { name: "rope", args: [nastyString(r)] }, { length: r.pick(NASTY_NUMBERS), weight: r.pick(NASTY_NUMBERS) }]);
  }
}

// ---------------------------------------------------------------- value mutators

type Path = (string | number)[];

/** Every path into `v` (depth-limited, iterative), the root included as []. */
function paths(v: unknown, maxPaths = 2000): Path[] {
  const out: Path[] = [[]];
  const stack: [unknown, Path][] = [[v, []]];
  while (stack.length && out.length < maxPaths) {
    const [x, p] = stack.pop()!;
    if (p.length > 8 || x === null || typeof x !== "object") continue;
    const keys: (string | number)[] = Array.isArray(x) ? x.map((_, i) => i) : Object.keys(x);
    for (const k of keys.slice(0, 200)) {
      const q = [...p, k];
      out.push(q);
      stack.push([(x as Record<string | number, unknown>)[k], q]);
    }
  }
  return out;
}

function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

function getAt(v: unknown, p: Path): unknown {
  let x = v;
  for (const k of p) x = (x as Record<string | number, unknown>)[k];
  return x;
}

/** Sets `obj[key] = value` as a data property (so "__proto__" becomes an own key, as JSON.parse makes it). */
function define(obj: object, key: string | number, value: unknown): void {
  Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
}

const nearTypo = (k: string, r: FuzzRng): string => {
  if (!k) return "x";
  const i = r.int(0, k.length);
  switch (r.int(0, 4)) {
    case 0: return k.slice(0, i) + k.slice(i + 1);
    case 1: return k.slice(0, i) + String.fromCharCode(r.int(97, 123)) + k.slice(i);
    case 2: return k.toUpperCase();
    default: return ` ${k}`;
  }
};

/** One structural mutation of a JSON-like value, in place where it can be (use the returned value). */
export function mutateValue(v: unknown, r: FuzzRng): { value: unknown; how: string } {
  const root = { root: v } as Record<string, unknown>;
  const ps = paths(root.root).map((p) => ["root", ...p] as Path);
  const p = r.pick(ps);
  const parentPath = p.slice(0, -1);
  const key = p[p.length - 1]!;
  const parent = getAt(root, parentPath) as Record<string | number, unknown>;
  const cur = parent[key];
  const at = p.slice(1).join(".") || "<root>";
  const op = r.int(0, 10);
  if (op <= 3) {
    const nv = nastyValue(r);
    define(parent, key, nv);
    return { value: root.root, how: `${at} = ${describe(nv)}` };
  }
  if (op === 4 && p.length > 1) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
    return { value: root.root, how: `delete ${at}` };
  }
  if (op === 5 && cur !== null && typeof cur === "object" && !Array.isArray(cur)) {
    const k = r.chance(0.4) ? r.pick(PROTO_KEYS) : r.chance(0.5) ? nearTypo(r.pick(Object.keys(cur).concat("x")), r) : nastyString(r).slice(0, r.pick([20, 100_000]));
    define(cur, k, r.chance(0.5) ? nastyValue(r) : {});
    return { value: root.root, how: `add key ${describe(k)} to ${at}` };
  }
  if (op === 6 && p.length > 1 && !Array.isArray(parent) && typeof key === "string") {
    const nk = r.chance(0.3) ? r.pick(PROTO_KEYS) : nearTypo(key, r);
    delete parent[key];
    define(parent, nk, cur);
    return { value: root.root, how: `rename ${at} → ${describe(nk)}` };
  }
  if (op === 7) {
    const nv = typeof cur === "number" ? String(cur) : typeof cur === "string" && cur !== "" && Number.isFinite(Number(cur)) ? Number(cur) : [cur];
    define(parent, key, nv);
    return { value: root.root, how: `retype ${at} → ${describe(nv)}` };
  }
  if (op === 8 && typeof cur === "number") {
    const nv = r.pick([cur + 1, cur - 1, -cur, cur * 2 ** r.int(1, 40), cur + 0.5, cur / 3, 0]);
    define(parent, key, nv);
    return { value: root.root, how: `${at}: ${cur} → ${nv}` };
  }
  const nv = r.chance(0.5) ? deepArray(r.pick([100, 100_000]), cur ?? 1) : deepObject(r.pick([100, 100_000]), cur ?? 1);
  define(parent, key, nv);
  return { value: root.root, how: `${at} wrapped in deep nesting` };
}

/** 1…`max` value mutations in a row, applied to a copy of `v` (which must be plain JSON). */
export function mutateValueN(v: unknown, r: FuzzRng, max = 3): { value: unknown; how: string } {
  let cur = clone(v);
  const hows: string[] = [];
  const k = 1 + r.int(0, max);
  for (let i = 0; i < k; i++) {
    const m = mutateValue(cur, r);
    cur = m.value;
    hows.push(m.how);
  }
  return { value: cur, how: hows.join("; ") };
}

/** A short description of a value for reports (never throws, never long). */
export function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  if (typeof v === "bigint") return `${v}n`;
  if (Array.isArray(v)) {
    let d = 0;
    let x: unknown = v;
    while (Array.isArray(x) && x.length === 1 && d < 200_000) [x, d] = [x[0], d + 1];
    return d > 3 ? `[…${d} nested arrays…]` : `array(${v.length})`;
  }
  if (v !== null && typeof v === "object") {
    let d = 0;
    let x: unknown = v;
    while (x !== null && typeof x === "object" && Object.keys(x).length === 1 && "a" in x && d < 200_000) [x, d] = [(x as { a: unknown }).a, d + 1];
    return d > 3 ? `{…${d} nested objects…}` : `object(${Object.keys(v).length} keys)`;
  }
  if (typeof v === "string") return v.length > 40 ? `string(${v.length}) ${JSON.stringify(v.slice(0, 20))}…` : JSON.stringify(v);
  return String(v);
}

// ---------------------------------------------------------------- JSON text

/** JSON text of a value that may hold NaN/±∞ (written as the bare literals, which JSON.parse rejects). */
export function toJsonText(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v, (_k, x: unknown) => (typeof x === "number" && !Number.isFinite(x) ? `@@${x}@@` : x));
  } catch {
    s = "[".repeat(100_000) + "]".repeat(100_000); // too deep for JSON.stringify: the deep text itself
  }
  return (s ?? "null").replace(/"@@(NaN|Infinity|-Infinity)@@"/g, "$1");
}

/** One text-level edit of JSON: truncation, a character edit, a bad number literal, a duplicate key, deep nesting. */
export function mutateJsonText(s: string, r: FuzzRng): { text: string; how: string } {
  const at = r.int(0, s.length + 1);
  switch (r.int(0, 8)) {
    case 0: return { text: s.slice(0, at), how: `truncate at ${at}/${s.length}` };
    case 1: {
      const c = r.pick(["{", "}", "[", "]", '"', ",", ":", "\\", "0", "-", "e", ".", " ", "\n", "\u0000", "\ud800", "💥"]);
      return { text: s.slice(0, at) + c + s.slice(at), how: `insert ${JSON.stringify(c)} at ${at}` };
    }
    case 2: return { text: s.slice(0, at) + s.slice(at + 1 + r.size(20)), how: `delete at ${at}` };
    case 3: {
      const lit = r.pick(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1".repeat(400), "0.1e-400", "-0", "00", "1.", ".5", "+1", "0x1F", "9007199254740993"]);
      const m = [...s.matchAll(/-?\d+(\.\d+)?([eE][-+]?\d+)?/g)];
      if (!m.length) return { text: lit, how: `replace all with ${lit}` };
      const x = r.pick(m);
      return { text: s.slice(0, x.index) + lit + s.slice(x.index! + x[0].length), how: `number ${x[0]} → ${lit.length > 20 ? `${lit.length}-digit literal` : lit}` };
    }
    case 4: {
      const m = [...s.matchAll(/"([A-Za-z_]+)"\s*:/g)];
      if (!m.length) return { text: s + s, how: "doubled text" };
      const x = r.pick(m);
      const dup = `"${x[1]}": ${toJsonText(nastyValue(r))}, `;
      return { text: s.slice(0, x.index) + dup + s.slice(x.index), how: `duplicate key "${x[1]}"` };
    }
    case 5: {
      const d = r.pick([1_000, 100_000]);
      return { text: s.slice(0, at) + "[".repeat(d) + s.slice(at), how: `${d} unclosed "[" at ${at}` };
    }
    case 6: return { text: `${s}${r.pick(["", " ", "x", "}", "\u0000", "{}", "\n\n{"])}`, how: "trailing garbage" };
    default: {
      const d = r.pick([1_000, 100_000]);
      return { text: "[".repeat(d) + s + "]".repeat(d), how: `wrapped in ${d} arrays` };
    }
  }
}

// ---------------------------------------------------------------- the runner

export type Outcome = "ok" | "clean" | "bad";

export interface FuzzCase<I> {
  input: I;
  /** what was done to make it (reported for BAD cases) */
  how: string;
  /** input size in bytes (for the allocation limit) */
  size: number;
}

export interface ReaderSpec<I, R = unknown> {
  name: string;
  /** the error class(es) a malformed input must raise */
  errors: readonly (abstract new (...args: never[]) => Error)[];
  generate(r: FuzzRng, i: number): FuzzCase<I>;
  run(input: I): R | Promise<R>;
  /** for accepted inputs: a reason if what was accepted is wrong */
  check?(result: R, input: I): string | undefined;
  /** release what an accepted input produced (models, tensors) */
  release?(result: R): void;
  /** a resource count that must return to its value after each input (e.g. tf.memory().numTensors) */
  live?(): number;
  /** the time limit per input (default 1,000 ms) */
  timeLimitMs?: number;
}

export interface BadCase {
  i: number;
  how: string;
  reason: string;
  message?: string;
}

export interface FuzzReport {
  name: string;
  tried: number;
  ok: number;
  clean: number;
  bad: number;
  badCases: BadCase[];
  /** how the first few accepted inputs were made (to see that acceptance is plausible) */
  okSamples: string[];
  /** slowest input (ms) and mean time per input */
  maxMs: number;
  meanMs: number;
  /** largest measured allocation (bytes) and its ratio to that input's size */
  maxAllocBytes: number;
  maxAllocRatio: number;
  /** error classes seen among clean errors */
  errorClasses: Record<string, number>;
  seconds: number;
}

export interface FuzzOptions {
  allocFloorBytes?: number;
  allocFactor?: number;
  maxMessageChars?: number;
  /** keep at most this many BAD cases in the report (all are counted) */
  keepBad?: number;
  /** called every `progressEvery` inputs */
  onProgress?: (done: number, report: FuzzReport) => void;
  progressEvery?: number;
  /** judge each input's time against the reader's limit (default true: `npm run faults`); npm test
   *  reports times without judging them (tests never assert wall-clock times) */
  judgeTime?: boolean;
}

/** A full GC: global.gc under --expose-gc, else enabled at run time through v8 flags (undefined if neither works). */
const gcFn: (() => void) | undefined = (() => {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  try {
    v8.setFlagsFromString("--expose-gc");
    return vm.runInNewContext("gc") as () => void;
  } catch {
    return undefined;
  }
})();
const memNow = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};

async function runOnce<I, R>(spec: ReaderSpec<I, R>, input: I): Promise<{ result?: R; error?: unknown; threw: boolean; ms: number; alloc: number }> {
  const m0 = memNow();
  const c0 = process.cpuUsage();
  let result: R | undefined;
  let error: unknown;
  let threw = false;
  try {
    const out = spec.run(input);
    result = out instanceof Promise ? await out : out;
  } catch (e) {
    error = e;
    threw = true;
  }
  // CPU time (user + system) of this process, not wall time: the limit must not depend on how busy
  // the machine's other processes are (on 2 shared cores wall time varied 3× between runs)
  const c = process.cpuUsage(c0);
  const ms = (c.user + c.system) / 1000;
  const alloc = memNow() - m0; // the result (or error) is still referenced here
  return { result, error, threw, ms, alloc };
}

/** Applies `spec.run` to `n` inputs generated from `seed` and classifies each outcome. */
export async function fuzz<I, R>(spec: ReaderSpec<I, R>, n: number, seed: number, o: FuzzOptions = {}): Promise<FuzzReport> {
  const floor = o.allocFloorBytes ?? 32 * 2 ** 20;
  const factor = o.allocFactor ?? 20;
  const maxMsg = o.maxMessageChars ?? 4096;
  const limitMs = spec.timeLimitMs ?? 1000;
  const rep: FuzzReport = { name: spec.name, tried: 0, ok: 0, clean: 0, bad: 0, badCases: [], okSamples: [], maxMs: 0, meanMs: 0, maxAllocBytes: 0, maxAllocRatio: 0, errorClasses: {}, seconds: 0 };
  const r = new FuzzRng(seed);
  const t0 = performance.now();
  let totalMs = 0;
  for (let i = 0; i < n; i++) {
    const c = spec.generate(r, i);
    const limitBytes = Math.max(floor, factor * c.size);
    const live0 = spec.live?.();
    let res = await runOnce(spec, c.input);
    if (res.alloc > limitBytes && gcFn) {
      if (!res.threw && res.result !== undefined) spec.release?.(res.result);
      gcFn();
      res = await runOnce(spec, c.input); // measured again from a collected heap
    }
    let reason: string | undefined;
    let message: string | undefined;
    if (res.threw) {
      const e = res.error;
      message = e instanceof Error ? e.message : String(e);
      if (!(e instanceof Error)) reason = `threw a non-Error (${typeof e})`;
      else if (!spec.errors.some((k) => e instanceof k)) reason = `threw ${e.constructor?.name ?? "?"} instead of ${spec.errors.map((k) => k.name).join("/")}`;
      else if (!/\S/.test(e.message) || e.message.length < 8) reason = "empty or trivial error message";
      else if (e.message.length > maxMsg) reason = `error message of ${e.message.length} characters (limit ${maxMsg})`;
      else rep.errorClasses[e.constructor.name] = (rep.errorClasses[e.constructor.name] ?? 0) + 1;
    } else {
      try {
        reason = spec.check?.(res.result as R, c.input);
      } catch (e) {
        reason = `check threw: ${(e as Error).message}`;
      }
      if (reason) reason = `accepted a bad input: ${reason}`;
      try {
        spec.release?.(res.result as R);
      } catch (e) {
        reason ??= `release threw: ${(e as Error).message}`;
      }
    }
    if (!reason && o.judgeTime !== false && res.ms > limitMs) reason = `took ${res.ms.toFixed(0)} ms (limit ${limitMs} ms)`;
    if (!reason && res.alloc > limitBytes) reason = `allocated ${(res.alloc / 2 ** 20).toFixed(1)} MB for a ${c.size}-byte input (limit ${(limitBytes / 2 ** 20).toFixed(1)} MB)`;
    if (!reason && live0 !== undefined) {
      const live1 = spec.live!();
      if (live1 !== live0) reason = `live resources ${live0} → ${live1} (leak)`;
    }
    rep.tried++;
    totalMs += res.ms;
    rep.maxMs = Math.max(rep.maxMs, res.ms);
    if (res.alloc > rep.maxAllocBytes) rep.maxAllocBytes = res.alloc;
    rep.maxAllocRatio = Math.max(rep.maxAllocRatio, res.alloc / Math.max(1, c.size));
    if (reason) {
      rep.bad++;
      if (rep.badCases.length < (o.keepBad ?? 20)) rep.badCases.push({ i, how: c.how, reason, ...(message !== undefined ? { message: message.slice(0, 300) } : {}) });
    } else if (res.threw) rep.clean++;
    else {
      rep.ok++;
      if (rep.okSamples.length < 10) rep.okSamples.push(c.how.slice(0, 160));
    }
    if (o.onProgress && (i + 1) % (o.progressEvery ?? 1000) === 0) o.onProgress(i + 1, rep);
  }
  rep.meanMs = rep.tried ? totalMs / rep.tried : 0;
  rep.seconds = (performance.now() - t0) / 1000;
  return rep;
}

/** A one-line summary of BAD cases, for assertion messages. */
export function badSummary(rep: FuzzReport): string {
  return rep.badCases.map((b) => `#${b.i} [${b.how}] ${b.reason}${b.message ? `: ${b.message}` : ""}`).join("\n");
}

/** A fixed-width table of rows (first row = header). */
export function table(rows: readonly (readonly (string | number)[])[]): string {
  const w = rows[0]!.map((_, j) => Math.max(...rows.map((r) => String(r[j] ?? "").length)));
  const line = (r: readonly (string | number)[]) => r.map((c, j) => (typeof c === "number" ? String(c).padStart(w[j]!) : String(c).padEnd(w[j]!))).join("  ");
  return [line(rows[0]!), w.map((n) => "-".repeat(n)).join("  "), ...rows.slice(1).map(line)].join("\n");
}
