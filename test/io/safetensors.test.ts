// Tests for lib/io/safetensors.ts: round trips, a hand-built file, F16/BF16 conversions, every
// malformed-input case, a seeded fuzz loop, atomic file writes and an optional python cross-check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { CheckpointError } from "../../lib/errors.js";
import {
  type SafeTensor, f16BitsToFloat32, float32ToBF16Bits, float32ToF16Bits, fromFloat32, parseSafetensors,
  readSafetensorsFile, serializeSafetensors, toFloat32, writeFileAtomic, writeSafetensorsFile,
} from "../../lib/io/safetensors.js";

const enc = new TextEncoder();

/** Builds a safetensors file by hand: 8-byte LE length (or `len` if given), raw header text, data. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), len?: bigint): Uint8Array {
  const json = enc.encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, len ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function throwsCkpt(fn: () => unknown, pattern: RegExp, label = ""): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `${label}: expected CheckpointError, got ${String(e)}`);
    assert.match(e.message, pattern, label);
    return true;
  });
}

test("round trip of every dtype, empty tensors, scalars and metadata", () => {
  const tensors = new Map<string, SafeTensor>([
    ["f32", { dtype: "F32", shape: [2, 3], data: new Float32Array([1, -2.5, 0, Infinity, -0, 3.25]) }],
    ["f64", { dtype: "F64", shape: [2], data: new Float64Array([Math.PI, -1e300]) }],
    ["f16", { dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0xc000, 0x7bff]) }],
    ["bf16", { dtype: "BF16", shape: [1, 2], data: new Uint16Array([0x3f80, 0xbf80]) }],
    ["i64", { dtype: "I64", shape: [2], data: new BigInt64Array([-(2n ** 62n), 7n]) }],
    ["i32", { dtype: "I32", shape: [3], data: new Int32Array([-1, 2 ** 31 - 1, -(2 ** 31)]) }],
    ["i16", { dtype: "I16", shape: [2], data: new Int16Array([-32768, 32767]) }],
    ["i8", { dtype: "I8", shape: [2], data: new Int8Array([-128, 127]) }],
    ["u8", { dtype: "U8", shape: [3], data: new Uint8Array([0, 128, 255]) }],
    ["bool", { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) }],
    ["empty", { dtype: "F32", shape: [0], data: new Float32Array(0) }],
    ["empty2d", { dtype: "I64", shape: [4, 0], data: new BigInt64Array(0) }],
    ["scalar", { dtype: "F32", shape: [], data: new Float32Array([42]) }],
    ["__proto__", { dtype: "U8", shape: [1], data: new Uint8Array([9]) }],
  ]);
  const bytes = serializeSafetensors(tensors, { format: "pt", note: "ünïcode" });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + n) % 8, 0);
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(headerText, /^\{"__metadata__":.*\} *$/);
  const back = parseSafetensors(bytes);
  assert.deepEqual(back.metadata, { format: "pt", note: "ünïcode" });
  assert.deepEqual([...back.tensors.keys()], [...tensors.keys()]);
  for (const [name, t] of tensors) assert.deepEqual(back.tensors.get(name), t, name);
  assert.deepEqual(parseSafetensors(serializeSafetensors({})), { tensors: new Map(), metadata: {} });
});

test("parses a hand-built file with an unaligned data section and a subarray source", () => {
  const header = '{"__metadata__":{"k":"v"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"i":{"dtype":"I16","shape":[2],"data_offsets":[8,12]},"b":{"dtype":"BF16","shape":[],"data_offsets":[12,14]},' +
    '"h":{"dtype":"F16","shape":[1,1],"data_offsets":[14,16]}}'; // 191 bytes: data starts at an odd offset
  const data = [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0, 0xff, 0xff, 0x02, 0x01, 0x80, 0x3f, 0x00, 0xc0];
  const file = [header.length, 0, 0, 0, 0, 0, 0, 0, ...[...header].map((c) => c.charCodeAt(0)), ...data];
  const padded = new Uint8Array(file.length + 3);
  padded.set(file, 3);
  const f = parseSafetensors(padded.subarray(3), { source: "hand.safetensors" });
  assert.deepEqual(f.metadata, { k: "v" });
  assert.deepEqual(f.tensors.get("w"), { dtype: "F32", shape: [2], data: new Float32Array([1, -2.5]) });
  assert.deepEqual(f.tensors.get("i"), { dtype: "I16", shape: [2], data: new Int16Array([-1, 258]) });
  assert.deepEqual(toFloat32(f.tensors.get("b")!), new Float32Array([1]));
  assert.deepEqual(toFloat32(f.tensors.get("h")!), new Float32Array([-2]));
  assert.equal(f.tensors.get("w")!.data.byteOffset, 0);
});

test("F16 and BF16 known values, rounding and special cases", () => {
  const known: [number, number][] = [[1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [2 ** -24, 0x0001], [Infinity, 0x7c00],
    [-Infinity, 0xfc00], [0, 0x0000], [-0, 0x8000], [2 ** -14, 0x0400], [0.5, 0x3800], [2 ** -14 - 2 ** -24, 0x03ff]];
  for (const [x, bits] of known) {
    assert.equal(float32ToF16Bits(x), bits, `f16(${x})`);
    assert.ok(Object.is(f16BitsToFloat32(bits), x), `f16 bits 0x${bits.toString(16)}`);
  }
  assert.equal(float32ToF16Bits(1 + 2 ** -11), 0x3c00); // tie → even
  assert.equal(float32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie → even (up)
  assert.equal(float32ToF16Bits(65520), 0x7c00); // rounds to inf
  assert.equal(float32ToF16Bits(2 ** -25), 0x0000); // tie with 0 → even
  assert.equal(float32ToF16Bits(2 ** -25 * 1.5), 0x0001);
  assert.equal(float32ToF16Bits(1e-10), 0);
  assert.ok(Number.isNaN(f16BitsToFloat32(float32ToF16Bits(NaN))));
  assert.ok(Number.isNaN(f16BitsToFloat32(0x7e00)));
  assert.equal(float32ToBF16Bits(1), 0x3f80);
  assert.equal(float32ToBF16Bits(-2), 0xc000);
  assert.equal(float32ToBF16Bits(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(float32ToBF16Bits(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(float32ToBF16Bits(Infinity), 0x7f80);
  assert.ok(Number.isNaN(toFloat32({ dtype: "BF16", shape: [], data: new Uint16Array([float32ToBF16Bits(NaN)]) })[0]));
  for (let b = 0; b < 0x10000; b++) { // every non-NaN half and bfloat16 survives bits → float → bits
    if ((b & 0x7c00) !== 0x7c00 || (b & 0x3ff) === 0) assert.equal(float32ToF16Bits(f16BitsToFloat32(b)), b);
    const bf = toFloat32({ dtype: "BF16", shape: [], data: new Uint16Array([b]) })[0]!;
    if (!Number.isNaN(bf)) assert.equal(float32ToBF16Bits(bf), b);
  }
});

test("toFloat32 converts every dtype and rejects I64 outside ±2^53", () => {
  const cases: [SafeTensor, number[]][] = [
    [{ dtype: "F64", shape: [2], data: new Float64Array([0.1, 1e300]) }, [Math.fround(0.1), Infinity]],
    [{ dtype: "I64", shape: [2], data: new BigInt64Array([2n ** 53n, -(2n ** 53n)]) }, [2 ** 53, -(2 ** 53)]],
    [{ dtype: "I32", shape: [1], data: new Int32Array([-7]) }, [-7]],
    [{ dtype: "U8", shape: [1], data: new Uint8Array([200]) }, [200]],
    [{ dtype: "F16", shape: [2], data: new Uint16Array([0x0001, 0xfc00]) }, [2 ** -24, -Infinity]],
  ];
  for (const [t, want] of cases) assert.deepEqual(toFloat32(t), new Float32Array(want), t.dtype);
  throwsCkpt(() => toFloat32({ dtype: "I64", shape: [2], data: new BigInt64Array([0n, 2n ** 53n + 1n]) }, "ids"),
    /tensor "ids" I64 value 9007199254740993 at index 1 is outside ±2\^53/);
  throwsCkpt(() => toFloat32({ dtype: "F16", shape: [1], data: new Float32Array([1]) }, "x"), /"x" dtype F16 needs a Uint16Array, got Float32Array/);
  assert.deepEqual(fromFloat32(new Float32Array(6), [2, 3]).shape, [2, 3]);
  throwsCkpt(() => fromFloat32(new Float32Array(5), [2, 3]), /shape \[2,3\] holds 6 elements but data has 5/);
});

test("serializer rejects inconsistent tensors and metadata", () => {
  const f = (d: number) => new Float32Array(d);
  throwsCkpt(() => serializeSafetensors({ a: { dtype: "F32", shape: [3], data: f(2) } }), /tensor "a" shape \[3\] holds 3 elements but data has 2/);
  throwsCkpt(() => serializeSafetensors({ a: { dtype: "I32", shape: [2], data: f(2) } }), /"a" dtype I32 needs a Int32Array/);
  throwsCkpt(() => serializeSafetensors({ a: { dtype: "Q4" as "F32", shape: [2], data: f(2) } }), /unknown dtype "Q4"/);
  throwsCkpt(() => serializeSafetensors({ a: { dtype: "F32", shape: [-2], data: f(2) } }), /"a" shape \[-2\]/);
  throwsCkpt(() => serializeSafetensors({ __metadata__: { dtype: "F32", shape: [], data: f(1) } }), /reserved/);
  throwsCkpt(() => serializeSafetensors({}, { n: 3 as unknown as string }), /__metadata__\["n"\] is a number/);
});

const T = (dtype: string, shape: unknown, off: unknown) => ({ dtype, shape, data_offsets: off });

test("every malformed file raises a CheckpointError naming the field", () => {
  const d16 = new Uint8Array(16);
  const cases: [string, Uint8Array, RegExp, number?][] = [
    ["short", new Uint8Array(5), /m\.st: file is 5 bytes, shorter than the 8-byte/],
    ["N=0", build("", d16), /header length is 0/],
    ["N>avail", build("{}", d16, 1000n), /header length 1000 bytes exceeds the 18 bytes after the 8-byte prefix/],
    ["N>max", build({ a: T("U8", [1], [0, 1]) }, d16), /exceeds the limit maxHeaderBytes=10/, 10],
    ["N=2^64-1", build("{}", d16, 2n ** 64n - 1n), /header length 18446744073709551615 bytes exceeds/],
    ["N=2^53+1", build("{}", d16, 2n ** 53n + 1n), /header length 9007199254740993 bytes/],
    ["utf8", build('{"a":1}', d16).map((b, i) => (i === 10 ? 0xff : b)), /not valid UTF-8/],
    ["json", build("{\"a\":", d16), /header is not valid JSON/],
    ["array", build("[1,2]", d16), /header is a JSON array, expected an object/],
    ["null", build("null", d16), /header is a JSON null/],
    ["entry", build({ w: "x" }, d16), /tensor "w" entry is a string, expected an object/],
    ["entry null", build({ w: null }, d16), /tensor "w" entry is a null/],
    ["no dtype", build({ w: { shape: [1], data_offsets: [0, 4] } }, d16), /tensor "w" dtype is missing/],
    ["dtype num", build({ w: T(7 as unknown as string, [1], [0, 4]) }, d16), /tensor "w" dtype is a number \(7\)/],
    ["dtype", build({ w: T("F8", [1], [0, 1]) }, d16), /tensor "w" has unknown dtype "F8"; known dtypes: F32, F16, BF16/],
    ["no shape", build({ w: { dtype: "F32", data_offsets: [0, 4] } }, d16), /tensor "w" shape is missing/],
    ["shape obj", build({ w: T("F32", { 0: 1 }, [0, 4]) }, d16), /tensor "w" shape is a object/],
    ["shape neg", build({ w: T("F32", [1, -1], [0, 4]) }, d16), /tensor "w" shape \[1,-1\] has shape\[1\]=-1/],
    ["shape frac", build({ w: T("F32", [1.5], [0, 4]) }, d16), /shape\[0\]=1.5/],
    ["shape str", build({ w: T("F32", ["2"], [0, 8]) }, d16), /shape\[0\]="2"/],
    ["shape 2^53", build({ w: T("F32", [2 ** 53], [0, 4]) }, d16), /shape\[0\]=9007199254740992/],
    ["no offsets", build({ w: { dtype: "F32", shape: [1] } }, d16), /tensor "w" data_offsets is missing/],
    ["offsets len", build({ w: T("F32", [1], [0, 4, 8]) }, d16), /tensor "w" data_offsets \[0,4,8\] must be two/],
    ["offsets neg", build({ w: T("F32", [1], [-4, 0]) }, d16), /data_offsets \[-4,0\] must be two non-negative/],
    ["offsets frac", build({ w: T("F32", [1], [0, 4.5]) }, d16), /data_offsets \[0,4.5\]/],
    ["begin>end", build({ w: T("F32", [1], [8, 4]) }, d16), /tensor "w" data_offsets \[8, 4\] has begin > end/],
    ["past end", build({ "h.0.attn.c_attn.weight": T("F32", [100], [0, 400]) }, new Uint8Array(300)),
      /^m\.st: tensor "h\.0\.attn\.c_attn\.weight" data_offsets \[0, 400\] end past the data section \(300 bytes\)$/],
    ["size", build({ w: T("F32", [2, 2], [0, 12]) }, d16), /tensor "w" shape \[2,2\] × 4 bytes \(F32\) = 16 bytes but data_offsets \[0, 12\] span 12 bytes/],
    ["huge", build({ w: T("F64", [2 ** 40, 2 ** 40, 2 ** 40], [0, 8]) }, d16), /\[1099511627776,1099511627776,1099511627776\] × 8 bytes \(F64\) = more than the data section \(16\) bytes but data_offsets \[0, 8\] span 8/],
    ["overlap", build({ a: T("F32", [2], [0, 8]), b: T("U8", [4], [6, 10]) }, d16),
      /tensors "a" data_offsets \[0, 8\] and "b" data_offsets \[6, 10\] overlap/],
    ["overlap nested", build({ a: T("U8", [16], [0, 16]), b: T("U8", [2], [10, 12]), c: T("U8", [2], [2, 4]) }, d16),
      /tensors "a" .* and "c" .* overlap/],
    ["meta", build({ __metadata__: ["x"] }, d16), /__metadata__ is a array, expected an object of strings/],
    ["meta val", build({ __metadata__: { epoch: 3 } }, d16), /__metadata__\["epoch"\] is a number \(3\), expected a string/],
  ];
  for (const [label, bytes, pattern, max] of cases) {
    throwsCkpt(() => parseSafetensors(bytes, { source: "m.st", ...(max ? { maxHeaderBytes: max } : {}) }), pattern, label);
  }
  throwsCkpt(() => parseSafetensors(new Uint8Array(3)), /^safetensors: file is 3 bytes/);
});

test("holes, trailing bytes and zero-length tensors at shared offsets are accepted", () => {
  const data = new Uint8Array(32).map((_, i) => i);
  const f = parseSafetensors(build({ a: T("U8", [2], [4, 6]), e1: T("F32", [0], [5, 5]), e2: T("I8", [0, 3], [5, 5]), b: T("U8", [1], [20, 21]) }, data));
  assert.deepEqual([...f.tensors.get("a")!.data], [4, 5]);
  assert.deepEqual([...f.tensors.get("b")!.data], [20]);
  assert.equal(f.tensors.get("e2")!.data.length, 0);
});

/** mulberry32: small deterministic PRNG. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function mutate(base: Uint8Array, r: () => number): Uint8Array {
  const pick = <X>(xs: X[]): X => xs[Math.floor(r() * xs.length)]!;
  const int = (n: number) => Math.floor(r() * n);
  const kind = int(5);
  if (kind === 0) return base.slice(0, int(base.length));
  if (kind === 1) {
    const b = base.slice();
    for (let k = 0, m = 1 + int(4); k < m; k++) { const i = int(b.length); b[i]! ^= 1 << int(8); }
    return b;
  }
  if (kind === 2) {
    const b = base.slice();
    new DataView(b.buffer).setBigUint64(0, pick([0n, 7n, 2n ** 32n, 2n ** 53n, 2n ** 64n - 1n, BigInt(int(b.length + 16))]), true);
    return b;
  }
  const n = Number(new DataView(base.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(base.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;
  const names = Object.keys(header);
  const values = [-1, 0, 1, 3, 7, 1.5, 2 ** 53, 2 ** 40, 1e308, "4", null, true, [], [1, 2], {}, pick([[0, 4], [4, 0], [0, 1e9]])];
  for (let k = 0, m = 1 + int(3); k < m; k++) {
    const entry = header[pick(names)]!;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) continue;
    const field = pick(["dtype", "shape", "data_offsets", "extra"]);
    if (r() < 0.15) delete entry[field];
    else if (field === "dtype") entry.dtype = pick(["F32", "F16", "BF16", "F64", "I64", "I32", "I8", "U8", "BOOL", "X", 5]);
    else if (field === "shape") entry.shape = r() < 0.5 ? pick(values) : Array.from({ length: int(4) }, () => pick([0, 1, 2, 3, 2 ** 30, -1]));
    else if (field === "data_offsets") entry.data_offsets = r() < 0.3 ? pick(values) : [int(base.length), int(base.length)];
    else header[pick(names)] = pick(values) as Record<string, unknown>;
  }
  const lie = kind === 4 && r() < 0.5 ? BigInt(int(base.length)) : undefined;
  return build(JSON.stringify(header), base.subarray(8 + n), lie);
}

test("fuzz: 2,000 seeded mutations either parse or raise CheckpointError", () => {
  const base = serializeSafetensors({
    a: fromFloat32(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]),
    b: { dtype: "I64", shape: [2], data: new BigInt64Array([1n, 2n ** 60n]) },
    c: { dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0x7c00, 0x0001]) },
    d: { dtype: "U8", shape: [], data: new Uint8Array([7]) },
  }, { note: "fuzz" });
  const r = rng(12345);
  let ok = 0;
  let rejected = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = mutate(base, r);
    try {
      const f = parseSafetensors(bytes);
      for (const [name, t] of f.tensors) {
        assert.equal(t.data.length, t.shape.reduce((a, d) => a * d, 1), name);
        try { toFloat32(t, name); } catch (e) { if (!(e instanceof CheckpointError)) throw e; }
      }
      ok++;
    } catch (e) {
      if (!(e instanceof CheckpointError)) assert.fail(`mutation ${i}: ${String(e)}`);
      rejected++;
    }
  }
  assert.ok(ok > 50 && rejected > 500, `ok=${ok} rejected=${rejected}`);
});

test("files: atomic writes, failures leave the old content and no temp files", async () => {
  const dir = await mkdtemp(join(tmpdir(), "ctxlab-st-"));
  try {
    const p = join(dir, "model.safetensors");
    const w = fromFloat32(new Float32Array([1, 2]), [2]);
    await writeSafetensorsFile(p, { w }, { step: "1" });
    await writeSafetensorsFile(p, { w: fromFloat32(new Float32Array([3]), [1]) }, { step: "2" });
    const f = await readSafetensorsFile(p);
    assert.deepEqual(f.metadata, { step: "2" });
    assert.deepEqual(f.tensors.get("w")!.data, new Float32Array([3]));
    assert.deepEqual(await readdir(dir), ["model.safetensors"]);
    const before = await readFile(p);
    await assert.rejects(writeSafetensorsFile(p, { w: { dtype: "F32", shape: [5], data: new Float32Array(1) } }), CheckpointError);
    await assert.rejects(writeFileAtomic(join(dir, "missing", "x.bin"), "data"), { code: "ENOENT" });
    const sub = join(dir, "sub");
    await mkdir(sub);
    await writeFile(join(sub, "keep.txt"), "keep");
    await assert.rejects(writeFileAtomic(sub, "would replace a directory"), (e: NodeJS.ErrnoException) => /EISDIR|ENOTEMPTY|EEXIST/.test(e.code ?? ""));
    assert.equal(await readFile(join(sub, "keep.txt"), "utf8"), "keep");
    assert.deepEqual(await readFile(p), before);
    assert.deepEqual((await readdir(dir)).sort(), ["model.safetensors", "sub"]);
    await writeFileAtomic(join(dir, "t.txt"), "text");
    assert.equal(await readFile(join(dir, "t.txt"), "utf8"), "text");
    await writeFile(join(dir, "bad.safetensors"), build({ w: T("F32", [4], [0, 16]) }, new Uint8Array(8)));
    await assert.rejects(readSafetensorsFile(join(dir, "bad.safetensors")), (e: Error) =>
      e instanceof CheckpointError && e.message.startsWith(`${join(dir, "bad.safetensors")}: tensor "w" data_offsets [0, 16] end past`));
    await assert.rejects(readSafetensorsFile(join(dir, "nope.safetensors")), (e: Error) =>
      e instanceof CheckpointError && e.message.startsWith(`${join(dir, "nope.safetensors")}: cannot read file`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

const PY = "/usr/bin/python3";
const pyMissing = existsSync(PY) ? false : `${PY} not found`;

test("python cross-check: json+struct read our header and F32 data", { skip: pyMissing }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "ctxlab-st-py-"));
  try {
    const p = join(dir, "x.safetensors");
    await writeSafetensorsFile(p, { x: fromFloat32(new Float32Array([1.5, -2, 0.25]), [3]) }, { who: "ctxlab" });
    const script = [
      "import json, struct, sys",
      "b = open(sys.argv[1], 'rb').read()",
      "n, = struct.unpack('<Q', b[:8]); h = json.loads(b[8:8+n]); s, e = h['x']['data_offsets']",
      "print(json.dumps({'aligned': (8+n) % 8 == 0, 'meta': h['__metadata__'], 'shape': h['x']['shape'],",
      "  'x': list(struct.unpack('<3f', b[8+n+s:8+n+e]))}))",
    ].join("\n");
    const r = spawnSync(PY, ["-c", script, p], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { aligned: true, meta: { who: "ctxlab" }, shape: [3], x: [1.5, -2, 0.25] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
