/**
 * Both cores for large matrix products on the wasm backend: an optional native kernel
 * (native/ctxlab_blas.c, a Node-API addon over the system's OpenBLAS, built by `npm run setup` through
 * native/build.mjs) that takes over wasm's `BatchMatMul` for products of at least
 * {@link NATIVE_MIN_MACS} multiply-adds, reading and writing the wasm heap in place (no copies).
 *
 * Why: tfjs-backend-wasm runs XNNPACK on one thread in Node (~29 GFLOP/s on this project's machines);
 * OpenBLAS does ~150–290 GFLOP/s on the same two cores (docs/performance.md, "Both cores"). Smaller
 * products stay on XNNPACK, where the call and thread start-up would cost more than they save.
 *
 * Never breaks import or install: when the addon is missing, fails to load, is disabled
 * (`CTXLAB_NATIVE=0`) or runs inside a gradient worker (whose sibling already holds the other core),
 * wasm's own kernel stays registered and {@link nativeMatMulInfo} says why. Values: the same products
 * in float32 with a different summation order (tested against wasm's kernel in value and gradient,
 * test/tensor/native-matmul.test.ts).
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";
import * as tf from "@tensorflow/tfjs";

/**
 * Products with fewer multiply-adds (batch·m·n·k) than this stay on wasm's XNNPACK kernel: among them
 * the per-(head, sequence) attention blocks of training at ℓ = 256 ([256, 32]·[32, 256], 2.1 M), which
 * the training path was tuned for and which no measurement here showed faster through OpenBLAS.
 */
export const NATIVE_MIN_MACS = 1 << 23;
/**
 * Products of at least this many multiply-adds use all of OpenBLAS's threads, smaller ones one thread
 * (OpenBLAS's single-threaded AVX2/AVX-512 kernels still beat wasm's 128-bit SIMD). Why not always two:
 * every multi-threaded call waits for its slowest thread, and on a loaded machine (another process
 * holding a core) a call of ~1 ms then waits a scheduler slice: a training gradient with ~1,600
 * products ran 2.5× slower than on wasm alone under load 18 on 2 cores (docs/performance.md).
 * CTXLAB_NATIVE_THREADS=N caps the threads (1: never parallel).
 */
export const NATIVE_PARALLEL_MACS = 1 << 25;

/** What the addon exports (native/ctxlab_blas.c). */
interface Addon {
  sgemmBatch(
    batch: number, transA: boolean, transB: boolean, m: number, n: number, k: number,
    A: Float32Array, strideA: number, lda: number, B: Float32Array, strideB: number, ldb: number,
    C: Float32Array, strideC: number, ldc: number,
  ): void;
  info(): { corename: string; config: string; threads: number };
  setThreads(n: number): void;
}

/** Whether the native matMul is in use, and why (not). */
export interface NativeMatMulInfo {
  /** True when wasm's BatchMatMul runs through OpenBLAS for large products. */
  active: boolean;
  /** One line a user can act on. */
  reason: string;
  /** The addon's path, when found. */
  path?: string;
  /** OpenBLAS's kernel family (e.g. "Haswell", "Cooperlake"), its build line and its thread count. */
  corename?: string;
  config?: string;
  threads?: number;
  /** Products at least this size (batch·m·n·k multiply-adds) run natively. */
  minMacs: number;
  /** How many products ran natively / stayed on wasm since the kernel was installed. */
  calls: { native: number; wasm: number };
}

const ADDON_REL = join("native", "build", "ctxlab_blas.node");
let addon: Addon | undefined;
let state: NativeMatMulInfo = { active: false, reason: "not installed yet (the wasm backend has not been loaded)", minMacs: NATIVE_MIN_MACS, calls: { native: 0, wasm: 0 } };
let installed = false;
let maxThreads = 1; // OpenBLAS's thread count at load (OPENBLAS_NUM_THREADS or the cores), capped by CTXLAB_NATIVE_THREADS
let curThreads = 0;

/** The addon's path: CTXLAB_NATIVE_BLAS, else native/build/ctxlab_blas.node in the first folder above this file that has it. */
function findAddon(): string | undefined {
  const env = process.env["CTXLAB_NATIVE_BLAS"];
  if (env) return env;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const p = join(dir, ADDON_REL);
    if (existsSync(p)) return p;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** Loads the addon (once); returns why not, or undefined. */
function load(): string | undefined {
  if (addon) return undefined;
  const off = (process.env["CTXLAB_NATIVE"] ?? "").trim().toLowerCase();
  if (off === "0" || off === "off" || off === "false") return "disabled by CTXLAB_NATIVE=" + process.env["CTXLAB_NATIVE"];
  if (!isMainThread && process.env["CTXLAB_NATIVE_IN_WORKERS"] !== "1") {
    return "off in worker threads (gradient workers already use both cores; CTXLAB_NATIVE_IN_WORKERS=1 turns it on)";
  }
  const path = findAddon();
  if (!path) return `not built (${ADDON_REL} missing: run \`npm run setup\` or \`node native/build.mjs\`; needs a C compiler and libopenblas-dev)`;
  state.path = path;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
    const i = addon.info();
    const cap = Number(process.env["CTXLAB_NATIVE_THREADS"] ?? "");
    maxThreads = Number.isInteger(cap) && cap >= 1 ? Math.min(cap, i.threads) : i.threads;
    curThreads = i.threads;
    Object.assign(state, { corename: i.corename, config: i.config, threads: maxThreads });
    return undefined;
  } catch (e) {
    addon = undefined;
    return `${path} failed to load: ${String((e as Error).message ?? e).split("\n")[0]}`;
  }
}

interface Info {
  dataId: object;
  shape: number[];
  dtype: string;
}
interface HeapBackend {
  makeOutput(shape: number[], dtype: string): Info;
  typedArrayFromHeap(t: Info): Float32Array | Int32Array | Uint8Array;
}
type KernelArgs = { inputs: { a?: Info; b?: Info }; backend: unknown; attrs?: { transposeA?: boolean; transposeB?: boolean } };

/**
 * The native product for wasm's BatchMatMul inputs, or undefined to leave it to wasm: float32, rank ≥ 2,
 * leading (batch) dims equal or one side's all 1 (broadcast), inner dims matching, size ≥ NATIVE_MIN_MACS.
 */
function nativeBatchMatMul({ inputs, backend, attrs }: KernelArgs): Info | undefined {
  const { a, b } = inputs;
  if (!addon || !a || !b || a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const ta = Boolean(attrs?.transposeA);
  const tb = Boolean(attrs?.transposeB);
  const [ar, ac] = a.shape.slice(-2) as [number, number];
  const [br, bc] = b.shape.slice(-2) as [number, number];
  const [m, k] = ta ? [ac, ar] : [ar, ac];
  const [k2, n] = tb ? [bc, br] : [br, bc];
  if (k !== k2 || m < 1 || n < 1 || k < 1) return undefined; // wasm's kernel reports the error
  const la = a.shape.slice(0, -2);
  const lb = b.shape.slice(0, -2);
  const prod = (s: number[]) => s.reduce((x, y) => x * y, 1);
  const [na, nb] = [prod(la), prod(lb)];
  let lead: number[];
  if (la.length === lb.length && la.every((d, i) => d === lb[i])) lead = la;
  else if (na === 1 && lb.length >= la.length) lead = lb; // a broadcast over b's batch
  else if (nb === 1 && la.length >= lb.length) lead = la;
  else return undefined; // other broadcasting: wasm's kernel
  const batch = Math.max(na, nb);
  if (batch * m * n * k < NATIVE_MIN_MACS) return undefined;
  const be = backend as HeapBackend;
  const out = be.makeOutput([...lead, m, n], "float32"); // allocate first: growing the heap detaches views
  const A = be.typedArrayFromHeap(a) as Float32Array;
  const B = be.typedArrayFromHeap(b) as Float32Array;
  const C = be.typedArrayFromHeap(out) as Float32Array;
  const threads = batch * m * n * k >= NATIVE_PARALLEL_MACS ? maxThreads : 1;
  if (threads !== curThreads) {
    addon.setThreads(threads);
    curThreads = threads;
  }
  addon.sgemmBatch(batch, ta, tb, m, n, k, A, na === 1 ? 0 : m * k, ac, B, nb === 1 ? 0 : k * n, bc, C, m * n, n);
  return out;
}

/**
 * Puts the native kernel in front of wasm's BatchMatMul (large products native, the rest wasm's own
 * kernel). Needs @tensorflow/tfjs-backend-wasm imported (its kernels registered); lib/tensor/backend.ts
 * calls it when it loads the wasm backend. Idempotent; never throws.
 * @returns the state after the attempt.
 */
export function installNativeMatMul(): NativeMatMulInfo {
  if (installed) return nativeMatMulInfo();
  const orig = tf.getKernel("BatchMatMul", "wasm");
  if (!orig) return nativeMatMulInfo();
  const why = load();
  installed = true;
  if (why !== undefined) {
    state = { ...state, active: false, reason: `wasm's single-threaded matMul (native OpenBLAS kernel ${why})` };
    return nativeMatMulInfo();
  }
  const calls = state.calls;
  const wasmFunc = orig.kernelFunc as unknown as (a: KernelArgs) => Info;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "wasm",
    setupFunc: orig.setupFunc,
    disposeFunc: orig.disposeFunc,
    kernelFunc: ((args: KernelArgs) => {
      const out = nativeBatchMatMul(args);
      if (out !== undefined) {
        calls.native++;
        return out;
      }
      calls.wasm++;
      return wasmFunc(args);
    }) as unknown as tf.KernelFunc,
  });
  state = { ...state, active: true, reason: `OpenBLAS (${state.corename}) for matMuls of ≥ ${NATIVE_MIN_MACS.toLocaleString("en")} multiply-adds (${state.threads} threads from ${NATIVE_PARALLEL_MACS.toLocaleString("en")}), wasm below` };
  return nativeMatMulInfo();
}

/** Whether the native matMul is active and why (not); a copy. */
export function nativeMatMulInfo(): NativeMatMulInfo {
  return { ...state, calls: { ...state.calls } };
}

/** The loaded addon (for tests and the benchmark's GFLOP/s probe), or undefined. */
export function _nativeAddon(): Addon | undefined {
  return addon;
}

installNativeMatMul(); // when the wasm backend's kernels are already registered
