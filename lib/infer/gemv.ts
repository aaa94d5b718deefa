/**
 * y += x·W for one row vector x: the only product of a decode step (lib/infer/js-decoder.ts), as a
 * 4-lane SIMD WebAssembly function with a plain-JavaScript fallback of the same signature.
 *
 *   gemv(x, w, y, nIn, nOut, stride):  for i < nIn, j < nOut:  y[j] += x[i] · w[i·stride + j]
 *
 * Arguments are float32 element offsets into one shared buffer (`GemvHeap.f32`); W's rows are
 * `stride` floats apart, so a block of a larger matrix (one head's cached keys) needs no copy.
 * The wasm module is assembled below from its opcodes (no toolchain, nothing downloaded): 83 bytes
 * of code whose text form is
 *
 *   (func (param $x $w $y $nIn $nOut $stride i32) (local $i $j $wrow $n4 $p $q $r i32) (local $a v128) (local $s f32)
 *     n4 = nOut & −4
 *     for i < nIn:  s = x[i];  a = f32x4.splat(s);  wrow = w + 4·i·stride
 *       for j < n4 step 4:  y[j:j+4] = y[j:j+4] + a · wrow[j:j+4]     (v128.load/store, f32x4.mul/add)
 *       for j < nOut:       y[j] = y[j] + s · wrow[j]                  (the tail)
 *
 * with x, w, y in bytes. Sums are float32, as TF.js's own kernels.
 */

/** One buffer for weights, caches and activations, with the product that works on it. */
export interface GemvHeap {
  f32: Float32Array;
  /** y += x·W (float offsets); see the module comment */
  gemv(x: number, w: number, y: number, nIn: number, nOut: number, stride: number): void;
  /** "wasm-simd" or "js" */
  kind: "wasm-simd" | "js";
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};
const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
const str = (s: string): number[] => [...leb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

// opcodes
const [BLOCK, LOOP, END, BR, BR_IF] = [0x02, 0x03, 0x0b, 0x0c, 0x0d];
const [GET, SET] = [0x20, 0x21];
const [I32_CONST, I32_ADD, I32_MUL, I32_SHL, I32_AND, I32_GE_U] = [0x41, 0x6a, 0x6c, 0x74, 0x71, 0x4f];
const [F32_LOAD, F32_STORE, F32_ADD, F32_MUL] = [0x2a, 0x38, 0x92, 0x94];
const V128_LOAD = [0xfd, 0x00];
const V128_STORE = [0xfd, 0x0b];
const F32X4_SPLAT = [0xfd, 0x13];
const F32X4_ADD = [0xfd, 0xe4, 0x01];
const F32X4_MUL = [0xfd, 0xe6, 0x01];
const MEM = [0x00, 0x00]; // memarg: alignment hint 2^0, offset 0 (any address)
const VOID = 0x40;

/** The gemv module's bytes (exported for tests). */
export function gemvModuleBytes(): Uint8Array {
  // params 0 x, 1 w, 2 y, 3 nIn, 4 nOut, 5 stride; locals 6 i, 7 j, 8 wrow, 9 n4, 10 p, 11 q, 12 (spare), 13 a (v128), 14 s (f32)
  const [x, w, y, nIn, nOut, stride, i, j, wrow, n4, p, q, a, s] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14];
  const byteOf = (base: number, idx: number) => [GET, base, GET, idx, I32_CONST, 2, I32_SHL, I32_ADD]; // base + 4·idx
  const code = [
    GET, nOut, I32_CONST, ...sleb(-4), I32_AND, SET, n4,
    I32_CONST, 0, SET, i,
    BLOCK, VOID, LOOP, VOID,
    GET, i, GET, nIn, I32_GE_U, BR_IF, 1,
    ...byteOf(x, i), F32_LOAD, 2, 0, SET, s,
    GET, s, ...F32X4_SPLAT, SET, a,
    GET, w, GET, i, GET, stride, I32_MUL, I32_CONST, 2, I32_SHL, I32_ADD, SET, wrow,
    I32_CONST, 0, SET, j,
    BLOCK, VOID, LOOP, VOID,
    GET, j, GET, n4, I32_GE_U, BR_IF, 1,
    ...byteOf(y, j), SET, p,
    ...byteOf(wrow, j), SET, q,
    GET, p, GET, p, ...V128_LOAD, ...MEM, GET, a, GET, q, ...V128_LOAD, ...MEM, ...F32X4_MUL, ...F32X4_ADD, ...V128_STORE, ...MEM,
    GET, j, I32_CONST, 4, I32_ADD, SET, j,
    BR, 0, END, END,
    BLOCK, VOID, LOOP, VOID,
    GET, j, GET, nOut, I32_GE_U, BR_IF, 1,
    ...byteOf(y, j), SET, p,
    ...byteOf(wrow, j), SET, q,
    GET, p, GET, p, F32_LOAD, 2, 0, GET, s, GET, q, F32_LOAD, 2, 0, F32_MUL, F32_ADD, F32_STORE, 2, 0,
    GET, j, I32_CONST, 1, I32_ADD, SET, j,
    BR, 0, END, END,
    GET, i, I32_CONST, 1, I32_ADD, SET, i,
    BR, 0, END, END,
    END,
  ];
  const locals = [0x03, 0x07, 0x7f, 0x01, 0x7b, 0x01, 0x7d]; // 7 i32, 1 v128, 1 f32
  const body = [...locals, ...code];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x06, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x00]), // type: (6 × i32) → ()
    ...section(2, [0x01, ...str("env"), ...str("mem"), 0x02, 0x00, 0x01]), // import env.mem, ≥ 1 page
    ...section(3, [0x01, 0x00]), // one function of type 0
    ...section(7, [0x01, ...str("gemv"), 0x00, 0x00]), // export "gemv"
    ...section(10, [0x01, ...leb(body.length), ...body]),
  ]);
}

/** The part of the WebAssembly global used here (tsconfig has no DOM lib, @types/node does not declare it). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (mod: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: object | null | undefined;

/** The compiled module, or null where WebAssembly SIMD is unavailable. */
function gemvModule(): object | null {
  if (compiled === undefined) {
    try {
      const bytes = gemvModuleBytes();
      compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** The same product in plain JavaScript (float64 sums; the fallback and the tests' reference). */
export function gemvJs(h: Float32Array, x: number, w: number, y: number, nIn: number, nOut: number, stride: number): void {
  for (let i = 0; i < nIn; i++) {
    const a = h[x + i]!;
    const off = w + i * stride;
    for (let j = 0; j < nOut; j++) h[y + j] += a * h[off + j]!;
  }
}

/** A zeroed heap of `floats` float32 values with gemv on it (`prefer: "js"` skips the wasm module). */
export function gemvHeap(floats: number, prefer: "auto" | "js" = "auto"): GemvHeap {
  const mod = prefer === "js" ? null : gemvModule();
  if (mod) {
    const memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil((floats * 4) / 65536)) });
    const inst = new WebAssembly.Instance(mod, { env: { mem: memory } });
    const f = inst.exports.gemv as (x: number, w: number, y: number, nIn: number, nOut: number, stride: number) => void;
    return { f32: new Float32Array(memory.buffer), gemv: (x, w, y, nIn, nOut, stride) => f(4 * x, 4 * w, 4 * y, nIn, nOut, stride), kind: "wasm-simd" };
  }
  const f32 = new Float32Array(floats);
  return { f32, gemv: (x, w, y, nIn, nOut, stride) => gemvJs(f32, x, w, y, nIn, nOut, stride), kind: "js" };
}
