/**
 * splitRows(x, n): cut a 2-D tensor [n·r, c] into n row blocks [r, c], differentiably, for the
 * per-(batch, head) attention products on wasm.
 *
 * Why: tf.unstack on wasm (the Unpack kernel) ran at ~50 ms per [16, 256, 32] split in a training
 * step, a quarter of the step (bench/profile.mjs train; docs/performance.md): wasm's Slice copies its
 * whole input out of the heap for every output. Here one kernel with n outputs copies each block
 * straight from the heap (contiguous rows: one TypedArray.set each), and its gradient is one concat
 * along the rows. Other backends use tf.split (same values, their own fast kernels).
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";

const SPLIT = "CtxlabSplitRows";

interface HeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

if (!tf.getKernel(SPLIT, "wasm")) {
  tf.registerKernel({
    kernelName: SPLIT,
    backendName: "wasm",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const x = inputs.x!;
      const n = attrs!.n as number;
      const [m, c] = x.shape as [number, number];
      const r = m / n;
      const be = backend as unknown as HeapBackend;
      const outs = Array.from({ length: n }, () => be.makeOutput([r, c], x.dtype)); // allocate first: growing the heap detaches views
      const src = be.typedArrayFromHeap(x);
      outs.forEach((o, i) => be.typedArrayFromHeap(o).set(src.subarray(i * r * c, (i + 1) * r * c)));
      return outs;
    },
  });
  tf.registerGradient({
    kernelName: SPLIT,
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => ({ x: () => tf.concat(dy as tf.Tensor[], 0) }),
  });
}

/**
 * The n row blocks of x [n·r, c], in order (block i = rows i·r … (i+1)·r − 1).
 * @example splitRows(tf.tensor2d([[1], [2], [3], [4]]), 2)  // [[1], [2]] and [[3], [4]]
 */
export function splitRows(x: tf.Tensor, n: number): tf.Tensor[] {
  if (x.rank !== 2 || !Number.isSafeInteger(n) || n < 1 || x.shape[0]! % n !== 0) {
    throw new ShapeError(`splitRows: x must be 2-D with a row count divisible by n=${n}, got [${x.shape.join(", ")}]`);
  }
  if (n === 1) return [x];
  if (tf.getBackend() !== "wasm") return tf.split(x, n, 0);
  return tf.engine().runKernel(SPLIT, { x }, { n }) as unknown as tf.Tensor[];
}

/** concat along rows with splitRows as its gradient (tf.concat's gradient is SplitV, slow on wasm). */
const concatRowsOp = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const xs = args.slice(0, -1) as tf.Tensor[];
  return {
    value: tf.concat(xs, 0),
    gradFunc: (dy: tf.Tensor | tf.Tensor[]) => splitRows(dy as tf.Tensor, xs.length),
  };
}) as Parameters<typeof tf.customGrad>[0]);

/**
 * The inverse of splitRows: n tensors [r, c] of equal shape stacked along the rows → [n·r, c].
 * @example concatRows([a, b])  // [2r, c]
 */
export function concatRows(xs: readonly tf.Tensor[]): tf.Tensor {
  if (!xs.length || xs.some((x) => x.rank !== 2 || x.shape[0] !== xs[0]!.shape[0] || x.shape[1] !== xs[0]!.shape[1])) {
    throw new ShapeError(`concatRows: needs ≥ 1 tensors [r, c] of one shape, got ${xs.map((x) => `[${x.shape.join(", ")}]`).join(", ") || "none"}`);
  }
  if (xs.length === 1) return xs[0]!;
  return (concatRowsOp as (...t: tf.Tensor[]) => tf.Tensor)(...xs);
}
