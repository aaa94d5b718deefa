/**
 * Typed tensors: TensorFlow.js tensors whose TypeScript type carries named dimensions from
 * Phuong & Hutter's notation, so that wiring blocks with mismatched dimensions fails to compile.
 *
 *   const X: Tensor<["ℓ", "d_e"]> = …;          // one sequence, row-major: row t is token t
 *   const H: Tensor<["ℓ", "d_mlp"]> = …;
 *   layerNorm(H, …)                              // compile error: "d_mlp" is not "d_e"
 *
 * Convention (see lib/notation.ts): code is row-major. The paper's X ∈ ℝ^{d_e×ℓ} (one column per
 * token) is stored as its transpose, shape [ℓ, d_e]; a batch dimension "B" may lead.
 * At run time `assertDims` checks ranks and sizes and throws a ShapeError that names the function,
 * the argument, the dimension and both sizes.
 */
import * as tf from "@tensorflow/tfjs";
import { ShapeError } from "../errors.js";

/** Dimension names, from the paper's notation (Appendix B) plus a batch dimension. */
export type Dim =
  | "B" // batch
  | "ℓ" // sequence length (query side ℓ_x in Alg 4)
  | "ℓ_z" // context (key) length in Alg 4
  | "ℓ_max" // maximum sequence length (rows of W_p)
  | "d_e" // residual width
  | "d_x" // primary input width (Alg 4)
  | "d_z" // context input width (Alg 4)
  | "d_attn" // query/key width per head
  | "d_mid" // value width per head
  | "d_out" // attention output width
  | "d_mlp" // MLP hidden width
  | "N_V" // vocabulary size
  | "H" // number of heads
  | "H·d_attn" // all heads' query/key features side by side
  | "H·d_mid"; // all heads' value features side by side

declare const dimsBrand: unique symbol;

/** A tf.Tensor whose dims are named in its type. Assignable to tf.Tensor; the reverse needs `named`/`assertDims`. */
export type Tensor<D extends readonly Dim[]> = tf.Tensor & { readonly [dimsBrand]: Readonly<D> };

/** Sizes known for some dims, used to check and to phrase errors. */
export type DimSizes = Partial<Record<Dim, number>>;

/** Shape aliases used throughout the library (rows are tokens). */
export type Seq<D extends Dim> = Tensor<["ℓ", D]>;
export type BSeq<D extends Dim> = Tensor<["B", "ℓ", D]>;
/** Either one sequence [ℓ, D] or a batch [B, ℓ, D]. */
export type SeqOrBatch<D extends Dim> = Seq<D> | BSeq<D>;
/** One vector [D], one sequence [ℓ, D] or a batch [B, ℓ, D]: what a per-token block (layer norm, unembedding) accepts. */
export type Rows<D extends Dim> = Tensor<[D]> | Seq<D> | BSeq<D>;
/** The same leading dims as T, with the last dim renamed to D (e.g. d_e rows → N_V rows). */
export type WithLast<T, D extends Dim> = T extends Tensor<[Dim]> ? Tensor<[D]> : T extends Tensor<["ℓ", Dim]> ? Seq<D> : T extends Tensor<["B", "ℓ", Dim]> ? BSeq<D> : Rows<D>;

/**
 * Give a tensor named dims without copying it. Checks the rank, and the sizes in `sizes` if given.
 * `where` names the caller and argument for error messages ("mhAttention: X").
 */
export function named<const D extends readonly Dim[]>(t: tf.Tensor, dims: D, sizes: DimSizes = {}, where = "tensor"): Tensor<D> {
  assertDims(where, t, dims, sizes);
  return t as Tensor<D>;
}

/** Cast without any run-time check: for hot inner code whose shapes are already proven. */
export function unchecked<const D extends readonly Dim[]>(t: tf.Tensor, _dims?: D): Tensor<D> {
  return t as Tensor<D>;
}

/** Human form of a named shape: "[ℓ=5, d_e=64]". */
export function describeShape(shape: readonly number[], dims?: readonly Dim[]): string {
  if (!dims || dims.length !== shape.length) return `[${shape.join(", ")}]`;
  return `[${shape.map((n, i) => `${dims[i]}=${n}`).join(", ")}]`;
}

/**
 * Throw a ShapeError unless `t` has rank dims.length and, for each dim with a size in `sizes`,
 * that size. Message example: "mhAttention: X has d_e=64 but d_e=128 is expected (X is [ℓ=5, d_e=64])".
 */
export function assertDims(where: string, t: tf.Tensor, dims: readonly Dim[], sizes: DimSizes = {}): void {
  if (t.rank !== dims.length) {
    throw new ShapeError(`${where} must have ${dims.length} dims [${dims.join(", ")}] but has shape [${t.shape.join(", ")}] (rank ${t.rank})`);
  }
  dims.forEach((d, i) => {
    const want = sizes[d];
    if (want !== undefined && t.shape[i] !== want) {
      throw new ShapeError(`${where} has ${d}=${t.shape[i]} but ${d}=${want} is expected (${where.split(": ").pop()} is ${describeShape(t.shape, dims)})`);
    }
  });
}

/**
 * Check that two tensors agree on a shared dim: "mhAttention: X has d_e=64 but W_q expects d_e=128".
 */
export function assertSameDim(where: string, aName: string, a: tf.Tensor, aAxis: number, bName: string, b: tf.Tensor, bAxis: number, dim: Dim): void {
  const ai = aAxis < 0 ? a.rank + aAxis : aAxis;
  const bi = bAxis < 0 ? b.rank + bAxis : bAxis;
  if (a.shape[ai] !== b.shape[bi]) {
    throw new ShapeError(`${where}: ${aName} has ${dim}=${a.shape[ai]} but ${bName} expects ${dim}=${b.shape[bi]}`);
  }
}
