/**
 * Data-movement and reduction helpers for the gradients of the training step on wasm.
 *
 * Why: in a training step (ℓ = 256, batch 16, `node bench/profile.mjs train`) wasm's Transpose
 * kernel took ~22 % of kernel time. Its 2-D transpose writes with a power-of-two stride (e.g. 16 KiB
 * for [4096, 128] → [128, 4096]), so its writes keep evicting each other from the cache: ~7 ms for
 * [4096, 128] and ~25 ms for [4096, 512]. `transpose2d` is a kernel over the wasm heap in 32 × 32
 * tiles (four source rows at a time): ~1 ms and ~5 ms. And tf.sum over rows (the gradient of a
 * broadcast bias) transposes first on wasm (~31 ms for [4096, 512]); `sumRows` is a 1 × m matMul by
 * ones instead (XNNPACK, ~0.6 ms). Values: transpose2d is exact; sumRows differs from tf.sum only
 * in the order of float32 additions. Other backends use tf.transpose and tf.sum.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";

const TRANSPOSE = "CtxlabTranspose2D";
const BLOCK = 32;

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

/**
 * o = sᵀ for s [m, n] row-major (o [n, m]), in BLOCK × BLOCK tiles; within a tile four rows of s
 * at a time, so the reads are four contiguous streams and each write fills four adjacent floats.
 */
export function transposeInto(s: ArrayLike<number>, o: { [i: number]: number }, m: number, n: number): void {
  const m4 = m - (m % 4);
  for (let j0 = 0; j0 < n; j0 += BLOCK) {
    const j1 = Math.min(n, j0 + BLOCK);
    for (let i0 = 0; i0 < m; i0 += BLOCK) {
      const i1 = Math.min(m, i0 + BLOCK);
      const i4 = Math.min(i1, m4);
      let i = i0;
      for (; i < i4; i += 4) {
        const a = i * n;
        const b = a + n;
        const c = b + n;
        const d = c + n;
        for (let j = j0; j < j1; j++) {
          const w = j * m + i;
          o[w] = s[a + j]!;
          o[w + 1] = s[b + j]!;
          o[w + 2] = s[c + j]!;
          o[w + 3] = s[d + j]!;
        }
      }
      for (; i < i1; i++) for (let j = j0; j < j1; j++) o[j * m + i] = s[i * n + j]!;
    }
  }
}

if (!tf.getKernel(TRANSPOSE, "wasm")) {
  tf.registerKernel({
    kernelName: TRANSPOSE,
    backendName: "wasm",
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x!;
      const [m, n] = x.shape as [number, number];
      const be = backend as unknown as HeapBackend;
      const out = be.makeOutput([n, m], x.dtype); // allocate first: growing the heap detaches views
      transposeInto(be.typedArrayFromHeap(x), be.typedArrayFromHeap(out), m, n);
      return out;
    },
  });
  tf.registerGradient({
    kernelName: TRANSPOSE,
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ({ x: () => transpose2d(dy as tf.Tensor) }),
  });
}

/**
 * xᵀ for a 2-D x, differentiably (the gradient is a transpose again).
 * @example transpose2d(tf.tensor2d([[1, 2, 3]]))  // [[1], [2], [3]]
 */
export function transpose2d(x: tf.Tensor): tf.Tensor {
  if (x.rank !== 2) throw new ShapeError(`transpose2d: x must be 2-D, got [${x.shape.join(", ")}]`);
  if (tf.getBackend() !== "wasm" || x.dtype === "complex64" || x.dtype === "string") return tf.transpose(x);
  return tf.engine().runKernel(TRANSPOSE, { x }, {}) as tf.Tensor;
}

/**
 * Column sums of a 2-D x [m, n] → [n] (tf.sum(x, 0)); on wasm as ones[1, m] · x. Not differentiable
 * through the fast path: meant for use inside gradient functions.
 */
export function sumRows(x: tf.Tensor): tf.Tensor {
  if (x.rank !== 2) throw new ShapeError(`sumRows: x must be 2-D, got [${x.shape.join(", ")}]`);
  if (tf.getBackend() !== "wasm" || x.dtype !== "float32") return tf.sum(x, 0);
  return tf.tidy(() => tf.matMul(tf.ones([1, x.shape[0]!]), x).reshape([x.shape[1]!]));
}

const SPLIT_GRID = "CtxlabSplitGrid";
const MERGE_GRID = "CtxlabMergeGrid";

/** Copies block (g, b) of x [B·r, G·c] (row-major, `cols` = G·c) to or from a dense [r, c] block. */
function copyBlock(big: ArrayLike<number> & { [i: number]: number }, small: ArrayLike<number> & { [i: number]: number }, g: number, b: number, r: number, c: number, cols: number, toSmall: boolean): void {
  for (let i = 0; i < r; i++) {
    const s = (b * r + i) * cols + g * c;
    const t = i * c;
    if (toSmall) for (let j = 0; j < c; j++) small[t + j] = big[s + j]!;
    else for (let j = 0; j < c; j++) big[s + j] = small[t + j]!;
  }
}

if (!tf.getKernel(SPLIT_GRID, "wasm")) {
  tf.registerKernel({
    kernelName: SPLIT_GRID,
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const x = inputs.x!;
      const [nB, nG] = [attrs!.B as number, attrs!.G as number];
      const [m, n] = x.shape as [number, number];
      const [r, c] = [m / nB, n / nG];
      const be = backend as unknown as HeapBackend;
      const outs = Array.from({ length: nG * nB }, () => be.makeOutput([r, c], x.dtype)); // allocate first
      const src = be.typedArrayFromHeap(x);
      outs.forEach((o, k) => copyBlock(src, be.typedArrayFromHeap(o), Math.floor(k / nB), k % nB, r, c, n, true));
      return outs;
    },
  });
  tf.registerKernel({
    kernelName: MERGE_GRID,
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const [nB, nG] = [attrs!.B as number, attrs!.G as number];
      const xs = Array.from({ length: nG * nB }, (_, k) => inputs[`x${k}`]!);
      const [r, c] = xs[0]!.shape as [number, number];
      const be = backend as unknown as HeapBackend;
      const out = be.makeOutput([nB * r, nG * c], xs[0]!.dtype); // allocate first
      const dst = be.typedArrayFromHeap(out);
      xs.forEach((x, k) => copyBlock(dst, be.typedArrayFromHeap(x), Math.floor(k / nB), k % nB, r, c, nG * c, false));
      return out;
    },
  });
  tf.registerGradient({
    kernelName: SPLIT_GRID,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs: tf.NamedAttrMap) => ({ x: () => mergeGrid(dy as tf.Tensor[], attrs.B as number, attrs.G as number) }),
  });
  tf.registerGradient({
    kernelName: MERGE_GRID,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], _saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
      const parts = splitGrid(dy as tf.Tensor, attrs.B as number, attrs.G as number);
      return Object.fromEntries(parts.map((p, k) => [`x${k}`, () => p]));
    },
  });
}

/**
 * The G·B blocks [r, c] of x [B·r, G·c], column group g and row block b at index g·B + b
 * (e.g. x = [B·ℓ, H·d] projections, heads side by side: one [ℓ, d] block per (head, sequence)).
 * Differentiable (the gradient is mergeGrid). On wasm one kernel copies every block once.
 * @example splitGrid(tf.tensor2d([[1, 2], [3, 4]]), 2, 2)  // [[1]], [[3]], [[2]], [[4]]
 */
export function splitGrid(x: tf.Tensor, B: number, G: number): tf.Tensor[] {
  if (x.rank !== 2 || !Number.isSafeInteger(B) || !Number.isSafeInteger(G) || B < 1 || G < 1 || x.shape[0]! % B !== 0 || x.shape[1]! % G !== 0) {
    throw new ShapeError(`splitGrid: x must be 2-D [B·r, G·c] with B=${B} and G=${G} dividing its dims, got [${x.shape.join(", ")}]`);
  }
  if (tf.getBackend() === "wasm" && (x.dtype === "float32" || x.dtype === "int32")) {
    return tf.engine().runKernel(SPLIT_GRID, { x }, { B, G }) as unknown as tf.Tensor[];
  }
  const [r, c] = [x.shape[0]! / B, x.shape[1]! / G];
  return tf.split(x.reshape([B, r, G, c]).transpose([2, 0, 1, 3]).reshape([G * B * r, c]), G * B, 0);
}

/** The inverse of splitGrid: G·B blocks [r, c] (index g·B + b) → [B·r, G·c]. Differentiable. */
export function mergeGrid(xs: readonly tf.Tensor[], B: number, G: number): tf.Tensor {
  if (xs.length !== B * G || xs.some((x) => x.rank !== 2 || x.shape[0] !== xs[0]!.shape[0] || x.shape[1] !== xs[0]!.shape[1] || x.dtype !== xs[0]!.dtype)) {
    throw new ShapeError(`mergeGrid: needs B·G=${B * G} tensors [r, c] of one shape and dtype, got ${xs.map((x) => `[${x.shape.join(", ")}]`).join(", ") || "none"}`);
  }
  const [r, c] = xs[0]!.shape as [number, number];
  if (tf.getBackend() === "wasm" && (xs[0]!.dtype === "float32" || xs[0]!.dtype === "int32")) {
    const inputs = Object.fromEntries(xs.map((x, k) => [`x${k}`, x]));
    return tf.engine().runKernel(MERGE_GRID, inputs, { B, G }) as tf.Tensor;
  }
  return tf.stack(xs as tf.Tensor[]).reshape([G, B, r, c]).transpose([1, 2, 0, 3]).reshape([B * r, G * c]);
}
