/**
 * Safetensors reader and writer: parse and validate a `.safetensors` byte buffer (8-byte LE
 * header length, JSON header, little-endian data section), serialize tensors back, convert
 * F16/BF16/ints to Float32, and write files atomically (temp file, fsync, rename).
 *
 * Every malformed input raises a CheckpointError naming the file, the tensor, the value and the
 * limit; sizes are checked before anything proportional to them is allocated.
 * Choices: holes between tensors and trailing bytes after the last one are accepted (the format
 * recommends contiguity, real files vary); duplicate JSON keys keep the last one (JSON.parse).
 */
import { open, readFile, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { endianness } from "node:os";
import { randomBytes } from "node:crypto";
import { CheckpointError } from "../errors.js";

/** Element types of the safetensors format supported here. */
export type SafeDType = "F32" | "F16" | "BF16" | "F64" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

/** The typed arrays that hold tensor data. */
export type SafeTensorData =
  | Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | BigInt64Array | Uint16Array;

/**
 * One tensor. F16 and BF16 data are kept as raw bits in a Uint16Array; BOOL and U8 as Uint8Array;
 * I64 as BigInt64Array. `data.length` equals the product of `shape` (1 for a scalar, shape `[]`).
 */
export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: SafeTensorData;
}

/** A parsed safetensors file: tensors in header order, and the `__metadata__` strings ({} if absent). */
export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** Options for {@link parseSafetensors}. */
export interface ParseOptions {
  /** Name used in error messages (usually the file path). */
  source?: string;
  /** Largest accepted JSON header, in bytes (default 100 MiB). */
  maxHeaderBytes?: number;
}

type DataCtor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => SafeTensorData;
interface DTypeInfo { size: number; ctor: DataCtor; }

const DTYPES: ReadonlyMap<string, DTypeInfo> = new Map<SafeDType, DTypeInfo>([
  ["F32", { size: 4, ctor: Float32Array }], ["F16", { size: 2, ctor: Uint16Array }],
  ["BF16", { size: 2, ctor: Uint16Array }], ["F64", { size: 8, ctor: Float64Array }],
  ["I64", { size: 8, ctor: BigInt64Array }], ["I32", { size: 4, ctor: Int32Array }],
  ["I16", { size: 2, ctor: Int16Array }], ["I8", { size: 1, ctor: Int8Array }],
  ["U8", { size: 1, ctor: Uint8Array }], ["BOOL", { size: 1, ctor: Uint8Array }],
]);
const KNOWN = [...DTYPES.keys()].join(", ");
const DEFAULT_MAX_HEADER = 100 * 1024 * 1024;
const METADATA_KEY = "__metadata__";

function checkLittleEndian(): void {
  if (endianness() !== "LE") throw new CheckpointError(`safetensors: this machine is big-endian; only little-endian hosts are supported`);
}

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);
const isPlainObject = (v: unknown): v is Record<string, unknown> => kind(v) === "object";
const fmt = (v: unknown): string => {
  try { const s = JSON.stringify(v); return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s; }
  catch { return String(v); }
};

/** Byte size of shape×itemsize, or Infinity once it exceeds `limit` (so huge products never overflow silently). */
function byteSize(shape: number[], itemSize: number, limit: number): number {
  if (shape.some((d) => d === 0)) return 0;
  let bytes = itemSize;
  for (const d of shape) {
    bytes *= d;
    if (bytes > limit) return Infinity;
  }
  return bytes;
}

/** Reads the 8-byte header length and returns the header length N as a number, or throws. */
function readHeaderLength(bytes: Uint8Array, src: string, maxHeader: number): number {
  if (bytes.length < 8) throw new CheckpointError(`${src}: file is ${bytes.length} bytes, shorter than the 8-byte header length prefix`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n === 0n) throw new CheckpointError(`${src}: header length is 0; expected a JSON object`);
  if (n > BigInt(maxHeader)) throw new CheckpointError(`${src}: header length ${n} bytes exceeds the limit maxHeaderBytes=${maxHeader}`);
  const avail = bytes.length - 8;
  if (n > BigInt(avail)) throw new CheckpointError(`${src}: header length ${n} bytes exceeds the ${avail} bytes after the 8-byte prefix (truncated file?)`);
  return Number(n);
}

/** Decodes and JSON-parses the header, which must be a JSON object. */
function parseHeaderJson(raw: Uint8Array, src: string): Record<string, unknown> {
  let text: string;
  try { text = new TextDecoder("utf-8", { fatal: true }).decode(raw); }
  catch { throw new CheckpointError(`${src}: header (${raw.length} bytes) is not valid UTF-8`); }
  let value: unknown;
  try { value = JSON.parse(text); }
  catch (e) { throw new CheckpointError(`${src}: header is not valid JSON: ${(e as Error).message}`); }
  if (!isPlainObject(value)) throw new CheckpointError(`${src}: header is a JSON ${kind(value)}, expected an object`);
  return value;
}

function parseMetadata(value: unknown, src: string): Record<string, string> {
  if (!isPlainObject(value)) throw new CheckpointError(`${src}: ${METADATA_KEY} is a ${kind(value)}, expected an object of strings`);
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") throw new CheckpointError(`${src}: ${METADATA_KEY}[${fmt(k)}] is a ${kind(v)} (${fmt(v)}), expected a string`);
  }
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

interface Entry { name: string; dtype: SafeDType; shape: number[]; begin: number; end: number; }

const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Validates one header entry against the data section length. */
function parseEntry(name: string, value: unknown, dataLen: number, src: string): Entry {
  const at = `${src}: tensor ${fmt(name)}`;
  if (!isPlainObject(value)) throw new CheckpointError(`${at} entry is a ${kind(value)}, expected an object with dtype, shape, data_offsets`);
  const { dtype, shape, data_offsets: off } = value;
  if (typeof dtype !== "string") throw new CheckpointError(`${at} dtype is ${dtype === undefined ? "missing" : `a ${kind(dtype)} (${fmt(dtype)})`}, expected a string`);
  const info = DTYPES.get(dtype);
  if (!info) throw new CheckpointError(`${at} has unknown dtype ${fmt(dtype)}; known dtypes: ${KNOWN}`);
  if (!Array.isArray(shape)) throw new CheckpointError(`${at} shape is ${shape === undefined ? "missing" : `a ${kind(shape)} (${fmt(shape)})`}, expected an array of non-negative integers`);
  const bad = shape.findIndex((d) => !isIndex(d));
  if (bad >= 0) throw new CheckpointError(`${at} shape ${fmt(shape)} has shape[${bad}]=${fmt(shape[bad])}, expected a non-negative safe integer`);
  if (!Array.isArray(off)) throw new CheckpointError(`${at} data_offsets is ${off === undefined ? "missing" : `a ${kind(off)} (${fmt(off)})`}, expected [begin, end]`);
  if (off.length !== 2 || !isIndex(off[0]) || !isIndex(off[1])) throw new CheckpointError(`${at} data_offsets ${fmt(off)} must be two non-negative safe integers [begin, end]`);
  const [begin, end] = off as [number, number];
  if (begin > end) throw new CheckpointError(`${at} data_offsets [${begin}, ${end}] has begin > end`);
  if (end > dataLen) throw new CheckpointError(`${at} data_offsets [${begin}, ${end}] end past the data section (${dataLen} bytes)`);
  const span = end - begin;
  const need = byteSize(shape as number[], info.size, dataLen);
  if (need !== span) {
    const needText = need === Infinity ? `more than the data section (${dataLen})` : String(need);
    throw new CheckpointError(`${at} shape ${fmt(shape)} × ${info.size} bytes (${dtype}) = ${needText} bytes but data_offsets [${begin}, ${end}] span ${span} bytes`);
  }
  return { name, dtype: dtype as SafeDType, shape: [...(shape as number[])], begin, end };
}

/** Throws if two non-empty byte ranges overlap, naming both tensors. */
function checkOverlaps(entries: Entry[], src: string): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (prev && e.begin < prev.end) {
      throw new CheckpointError(`${src}: tensors ${fmt(prev.name)} data_offsets [${prev.begin}, ${prev.end}] and ${fmt(e.name)} data_offsets [${e.begin}, ${e.end}] overlap`);
    }
    if (!prev || e.end > prev.end) prev = e;
  }
}

/** Copies a tensor's bytes into a fresh (aligned) buffer and views it with the dtype's typed array. */
function decodeEntry(bytes: Uint8Array, dataStart: number, e: Entry): SafeTensor {
  const info = DTYPES.get(e.dtype)!;
  const copy = new Uint8Array(e.end - e.begin);
  copy.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
  return { dtype: e.dtype, shape: e.shape, data: new info.ctor(copy.buffer, 0, copy.length / info.size) };
}

/**
 * Parses and validates a safetensors buffer. Tensor data is copied (the result does not alias
 * `bytes`). Throws CheckpointError on any malformed input (message prefixed with `opts.source`).
 */
export function parseSafetensors(bytes: Uint8Array, opts: ParseOptions = {}): SafetensorsFile {
  checkLittleEndian();
  const src = opts.source ?? "safetensors";
  if (!(bytes instanceof Uint8Array)) throw new CheckpointError(`${src}: expected a Uint8Array, got ${kind(bytes)}`);
  const maxHeader = opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER;
  if (!isIndex(maxHeader)) throw new CheckpointError(`${src}: maxHeaderBytes=${maxHeader} must be a non-negative safe integer`);
  const n = readHeaderLength(bytes, src, maxHeader);
  const header = parseHeaderJson(bytes.subarray(8, 8 + n), src);
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, src);
    else entries.push(parseEntry(name, value, dataLen, src));
  }
  checkOverlaps(entries, src);
  const tensors = new Map<string, SafeTensor>();
  for (const e of entries) tensors.set(e.name, decodeEntry(bytes, dataStart, e));
  return { tensors, metadata };
}

/** Checks that a tensor's dtype, shape and data agree; returns the dtype info. */
function checkTensor(t: SafeTensor, name: string, where: string): DTypeInfo {
  const at = `${where}: tensor ${fmt(name)}`;
  if (!isPlainObject(t)) throw new CheckpointError(`${at} is a ${kind(t)}, expected {dtype, shape, data}`);
  const info = DTYPES.get(t.dtype);
  if (!info) throw new CheckpointError(`${at} has unknown dtype ${fmt(t.dtype)}; known dtypes: ${KNOWN}`);
  if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) throw new CheckpointError(`${at} shape ${fmt(t.shape)} must be an array of non-negative safe integers`);
  if (!(t.data instanceof info.ctor)) throw new CheckpointError(`${at} dtype ${t.dtype} needs a ${info.ctor.name}, got ${t.data?.constructor?.name ?? kind(t.data)}`);
  const count = t.shape.reduce((a, d) => a * d, 1);
  if (count !== t.data.length) throw new CheckpointError(`${at} shape ${fmt(t.shape)} holds ${count} elements but data has ${t.data.length}`);
  return info;
}

/**
 * Serializes tensors (in Map/insertion order, laid out contiguously) and optional metadata into
 * safetensors bytes. The header is padded with spaces so that 8+N is a multiple of 8.
 * Throws CheckpointError for inconsistent tensors, the reserved name `__metadata__`, or non-string metadata.
 */
export function serializeSafetensors(
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  checkLittleEndian();
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(parseMetadata(metadata, "serializeSafetensors"))}`);
  let offset = 0;
  for (const [name, t] of list) {
    if (name === METADATA_KEY) throw new CheckpointError(`serializeSafetensors: tensor name ${fmt(name)} is reserved for metadata`);
    checkTensor(t, name, "serializeSafetensors");
    const entry = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(entry)}`);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  const n = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let pos = 8 + n;
  for (const [, t] of list) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Converts IEEE half-precision bits to a number (subnormals, ±0, ±inf and NaN included). */
export function f16BitsToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Converts a number to IEEE half-precision bits, rounding to nearest even (overflow → ±inf, NaN → quiet NaN). */
export function float32ToF16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: rounds to ±0
    const m = mant | 0x800000;
    const shift = 14 - e;
    const r = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && r & 1) ? r + 1 : r);
  }
  const r = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  return sign | (rem > 0x1000 || (rem === 0x1000 && r & 1) ? r + 1 : r); // a carry into the exponent gives inf, as it should
}

/** Converts a number to bfloat16 bits (the top 16 bits of float32), rounding to nearest even; NaN stays NaN. */
export function float32ToBF16Bits(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

const I64_LIMIT = 2n ** 53n;

function int64ToFloat32(data: BigInt64Array, name: string): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v > I64_LIMIT || v < -I64_LIMIT) throw new CheckpointError(`toFloat32: tensor ${fmt(name)} I64 value ${v} at index ${i} is outside ±2^53`);
    out[i] = Number(v);
  }
  return out;
}

/**
 * Returns a fresh Float32Array with the tensor's values: F16 and BF16 are decoded, F64 and
 * integers rounded to float32. I64 values outside ±2^53 raise CheckpointError.
 */
export function toFloat32(t: SafeTensor, name = "<unnamed>"): Float32Array {
  checkTensor(t, name, "toFloat32");
  const n = t.data.length;
  if (t.dtype === "I64") return int64ToFloat32(t.data as BigInt64Array, name);
  if (t.dtype === "F16") {
    const src = t.data as Uint16Array;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = f16BitsToFloat32(src[i]!);
    return out;
  }
  if (t.dtype === "BF16") {
    const src = t.data as Uint16Array;
    const out = new Float32Array(n);
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
    return out;
  }
  return Float32Array.from(t.data as Exclude<SafeTensorData, BigInt64Array>);
}

/** Wraps Float32 data as an F32 tensor (no copy). Throws CheckpointError if data.length ≠ product(shape). */
export function fromFloat32(data: Float32Array, shape: number[]): SafeTensor {
  const t: SafeTensor = { dtype: "F32", shape: [...shape], data };
  checkTensor(t, "<fromFloat32>", "fromFloat32");
  return t;
}

/** Reads and parses a safetensors file; every error message starts with the path. */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try { bytes = await readFile(path); }
  catch (e) { throw new CheckpointError(`${path}: cannot read file: ${(e as Error).message}`, { cause: e }); }
  return parseSafetensors(bytes, { source: path });
}

/** Best-effort fsync of a directory so a rename inside it is durable (unsupported on some platforms). */
async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, "r");
    try { await fh.sync(); } finally { await fh.close(); }
  } catch { /* directories cannot be fsynced everywhere (e.g. Windows); the rename already happened */ }
}

/**
 * Atomically replaces `path`: writes `${path}.tmp-<pid>-<random>` in the same directory, fsyncs
 * it, renames it over `path`, then fsyncs the directory. On failure the temp file is removed,
 * the error rethrown, and any old file at `path` is left untouched.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(tmp, "wx");
    await fh.writeFile(bytes);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (fh) await fh.close().catch(() => undefined);
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fsyncDir(dirname(path));
}

/** Serializes tensors and metadata, then writes them atomically to `path` (nothing is touched if serialization fails). */
export async function writeSafetensorsFile(
  path: string,
  tensors: Map<string, SafeTensor> | Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/** Hugging Face's names for single-file and sharded weights. */
export const SAFETENSORS_FILE = "model.safetensors";
export const SAFETENSORS_INDEX_FILE = "model.safetensors.index.json";

/**
 * Reads the weights of a Hugging Face model directory: `model.safetensors`, or the shards listed in
 * `model.safetensors.index.json` ({"weight_map": {tensor: shard file}}). Every tensor named by the
 * index must be in its shard, no tensor may appear in two shards, and shard names must be plain file
 * names inside `dir`. Returns all tensors in one map (metadata of the single file, or of the index).
 */
export async function readSafetensorsDir(dir: string): Promise<SafetensorsFile & { files: string[] }> {
  const { join, basename } = await import("node:path");
  const { stat } = await import("node:fs/promises");
  const single = join(dir, SAFETENSORS_FILE);
  const indexPath = join(dir, SAFETENSORS_INDEX_FILE);
  const exists = (p: string) => stat(p).then((s) => s.isFile(), () => false);
  if (await exists(single)) return { ...(await readSafetensorsFile(single)), files: [single] };
  if (!(await exists(indexPath))) {
    throw new CheckpointError(`${dir}: no ${SAFETENSORS_FILE} and no ${SAFETENSORS_INDEX_FILE} (sharded weights); .bin/.pt weights are not read: convert them to safetensors`);
  }
  let index: unknown;
  try { index = JSON.parse(await readFile(indexPath, "utf8")); }
  catch (e) { throw new CheckpointError(`${indexPath}: cannot read or parse: ${(e as Error).message}`, { cause: e }); }
  const wm = isPlainObject(index) ? index.weight_map : undefined;
  if (!isPlainObject(wm)) throw new CheckpointError(`${indexPath}: expected {"weight_map": {tensor name: shard file}}, got ${fmt(index)}`);
  const byFile = new Map<string, string[]>();
  for (const [name, file] of Object.entries(wm)) {
    if (typeof file !== "string" || file !== basename(file) || file === "" || file === "." || file === "..") {
      throw new CheckpointError(`${indexPath}: weight_map[${fmt(name)}] = ${fmt(file)} must be a file name inside the model directory`);
    }
    (byFile.get(file) ?? byFile.set(file, []).get(file)!).push(name);
  }
  if (byFile.size === 0) throw new CheckpointError(`${indexPath}: weight_map is empty`);
  const tensors = new Map<string, SafeTensor>();
  const files: string[] = [];
  for (const [file, names] of byFile) {
    const path = join(dir, file);
    const shard = await readSafetensorsFile(path);
    files.push(path);
    for (const n of names) if (!shard.tensors.has(n)) throw new CheckpointError(`${path}: tensor ${fmt(n)} is listed in ${SAFETENSORS_INDEX_FILE} but not in this shard`);
    for (const [n, t] of shard.tensors) {
      if (tensors.has(n)) throw new CheckpointError(`${path}: tensor ${fmt(n)} appears in two shards`);
      if (wm[n] !== file) throw new CheckpointError(`${path}: tensor ${fmt(n)} is in this shard but ${SAFETENSORS_INDEX_FILE} maps it to ${fmt(wm[n])}`);
      tensors.set(n, t);
    }
  }
  const meta = isPlainObject(index) && isPlainObject(index.metadata) ? Object.fromEntries(Object.entries(index.metadata).map(([k, v]) => [k, String(v)])) : {};
  return { tensors, metadata: meta, files };
}
