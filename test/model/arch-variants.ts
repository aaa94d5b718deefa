/**
 * The architecture-option variants the tests of test/model/arch-options*.test.ts run on: each option
 * alone and the published combinations (Llama, Qwen2, GPT-NeoX, multi-query, free head width), at
 * micro sizes (H = 4 so that H_kv can be 2 or 1; init std 0.3 so that every path carries signal).
 */
import type { DTransformerOptions } from "../../lib/config.js";
import { none } from "../../lib/positional/none.js";
import { rope } from "../../lib/positional/rope.js";

export const ARCH_BASE = { nVocab: 13, lMax: 16, nLayers: 2, nHeads: 4, dE: 16, dMlp: 24, initStd: 0.3 } as const;

export interface Variant {
  name: string;
  opts: DTransformerOptions;
}

const v = (name: string, o: Partial<DTransformerOptions>): Variant => ({ name, opts: { ...ARCH_BASE, ...o } as DTransformerOptions });

const llama = { norm: "rmsnorm", mlp: "gated-silu", nKvHeads: 2, bias: false, tiedEmbeddings: false, positional: rope() } as const;

export const VARIANTS: readonly Variant[] = [
  v("rmsnorm", { norm: "rmsnorm" }),
  v("gated-silu", { mlp: "gated-silu" }),
  v("gated-silu without mlp biases", { mlp: "gated-silu", bias: { mlp: false } }),
  v("grouped-query (H_kv = 2)", { nKvHeads: 2 }),
  v("biases off", { bias: false }),
  v("only q/k/v biases", { bias: { o: false, mlp: false } }),
  v("parallel residual", { residual: "parallel" }),
  v("llama-like", llama),
  v("qwen2-like", { ...llama, bias: { q: true, k: true, v: true, o: false, mlp: false } }),
  v("neox-like", { residual: "parallel", positional: rope({ rotaryFraction: 0.5 }), tiedEmbeddings: false }),
  v("multi-query (H_kv = 1)", { nKvHeads: 1, positional: rope() }),
  v("free head width (H·d_attn ≠ d_e) with H_kv = 2", { dAttn: 6, dMid: 3, nKvHeads: 2, positional: rope() }),
  v("llama-like without positions (fused layout)", { ...llama, positional: none() }),
];

/** ids [B, ℓ] used by the gradient and layout tests. */
export const SEQS = [
  [1, 5, 2, 7, 3, 9, 4, 11, 0, 6],
  [12, 3, 3, 8, 1, 0, 10, 2, 5, 4],
];
