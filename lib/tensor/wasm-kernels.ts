/**
 * Kernels that @tensorflow/tfjs-backend-wasm 4.22.0 lacks but ctxlab's training needs, written in
 * plain JavaScript over the wasm heap and registered for backend "wasm".
 *
 * The wasm backend has no `UnsortedSegmentSum`, so the gradient of `tf.gather` (token embeddings,
 * unembedding by index, positional tables) fails there with
 * "Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'". Importing this module registers a
 * correct implementation (TensorFlow semantics). It only touches the kernel registry, never the wasm
 * backend itself, so it is safe to import before the backend is initialised, and importing it twice
 * is harmless. A probe of the gradients of the common ops (gather, matMul, softmax, logSoftmax, erf,
 * tanh, pow, mean, sum, sub, mul, div, sqrt, rsqrt, where, concat, slice, transpose, reshape, oneHot,
 * cumsum, sin, cos, maximum, exp, log, …) found no other kernel missing on wasm.
 */

import * as tf from "@tensorflow/tfjs";
import { BackendError, ShapeError } from "../errors.js";

/** The kernels this module adds to backend "wasm". */
export const WASM_EXTRA_KERNELS: readonly string[] = Object.freeze(["UnsortedSegmentSum"]);

/** What a kernel sees of a tensor: the engine's `TensorInfo`. */
interface TensorInfoLike {
  dataId: object;
  shape: number[];
  dtype: string;
}

/** The part of `BackendWasm` (tfjs-backend-wasm/dist/backend_wasm.js) these kernels use. */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string, memoryOffset?: number, values?: ArrayLike<number>): TensorInfoLike;
  typedArrayFromHeap(info: TensorInfoLike): Float32Array | Int32Array | Uint8Array;
}

/**
 * Segment sum over plain arrays (TensorFlow's `UnsortedSegmentSum`): `out[s, …] = Σ x[i, …]` over
 * all `i` with `segmentIds[i] = s`. `x` is viewed as `[segmentIds.length, inner]`; `out` must have
 * `numSegments * inner` elements and is overwritten. Ids outside `[0, numSegments)` are dropped.
 *
 * @param x - the values, row-major, `segmentIds.length * inner` elements.
 * @param segmentIds - one id per row of `x` (any rank flattened).
 * @param numSegments - the number of output rows.
 * @param inner - the number of elements per row (product of x's trailing dims).
 * @param out - the output buffer, `numSegments * inner` elements.
 */
export function unsortedSegmentSumInto(
  x: ArrayLike<number>,
  segmentIds: ArrayLike<number>,
  numSegments: number,
  inner: number,
  out: Float32Array | Int32Array,
): void {
  out.fill(0);
  const n = segmentIds.length;
  for (let i = 0; i < n; i++) {
    const s = Math.trunc(segmentIds[i]!);
    if (!(s >= 0 && s < numSegments)) continue; // TF drops out-of-range (incl. negative) ids
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) out[dst + j] += x[src + j]!;
  }
}

/** Checks the inputs and returns the output shape `[numSegments, ...x.shape.slice(ids.rank)]`. */
function segmentSumShape(xShape: number[], idsShape: number[], numSegments: unknown): number[] {
  if (typeof numSegments !== "number" || !Number.isInteger(numSegments) || numSegments < 0) {
    throw new BackendError(
      `UnsortedSegmentSum (wasm): numSegments=${String(numSegments)} must be a non-negative integer`,
    );
  }
  const lead = xShape.slice(0, idsShape.length);
  if (idsShape.length > xShape.length || lead.some((d, i) => d !== idsShape[i])) {
    throw new ShapeError(
      `UnsortedSegmentSum (wasm): segmentIds has shape [${idsShape}] but it must equal the leading dims of x's shape [${xShape}]`,
    );
  }
  return [numSegments, ...xShape.slice(idsShape.length)];
}

/**
 * Kernel function for `UnsortedSegmentSum` on backend "wasm". Inputs `x` (float32 or int32,
 * shape `[...S, ...rest]`) and `segmentIds` (int32, shape `S`, usually `[N]`), attr `numSegments`;
 * output `[numSegments, ...rest]` with x's dtype.
 */
function unsortedSegmentSumWasm(args: {
  inputs: { [name: string]: TensorInfoLike | undefined };
  backend: unknown;
  attrs?: { [name: string]: unknown };
}): TensorInfoLike {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs["x"];
  const ids = args.inputs["segmentIds"];
  if (x === undefined || ids === undefined) {
    throw new BackendError("UnsortedSegmentSum (wasm): inputs x and segmentIds are required");
  }
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new BackendError(`UnsortedSegmentSum (wasm): x has dtype ${x.dtype}; only float32 and int32 are supported`);
  }
  if (ids.dtype !== "int32" && ids.dtype !== "float32") {
    throw new BackendError(`UnsortedSegmentSum (wasm): segmentIds has dtype ${ids.dtype}; it must be int32`);
  }
  const outShape = segmentSumShape(x.shape, ids.shape, args.attrs?.["numSegments"]);
  const inner = outShape.slice(1).reduce((a, b) => a * b, 1);
  // Allocate first: malloc may grow the wasm memory and detach earlier heap views.
  const out = backend.makeOutput(outShape, x.dtype);
  const outView = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xView = backend.typedArrayFromHeap(x);
  const idView = backend.typedArrayFromHeap(ids);
  unsortedSegmentSumInto(xView, idView, outShape[0]!, inner, outView);
  return out;
}

let registered: string[] | undefined;

/**
 * Registers the kernels in {@link WASM_EXTRA_KERNELS} for backend "wasm" unless a kernel of that
 * name is already registered there (by an earlier call, another copy of this module, or a future
 * tfjs-backend-wasm that ships its own). Runs on import; calling it again is a no-op.
 *
 * @returns the names of the kernels this module registered (empty where all already existed).
 */
export function registerWasmKernels(): string[] {
  if (registered !== undefined) return [...registered];
  const added: string[] = [];
  if (tf.getKernel("UnsortedSegmentSum", "wasm") === undefined) {
    tf.registerKernel({
      kernelName: "UnsortedSegmentSum",
      backendName: "wasm",
      kernelFunc: unsortedSegmentSumWasm as unknown as tf.KernelFunc,
    });
    added.push("UnsortedSegmentSum");
  }
  registered = added;
  return [...added];
}

registerWasmKernels();
