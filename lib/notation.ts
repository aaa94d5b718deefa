/**
 * The notation table: Phuong & Hutter's symbols ↔ ctxlab identifiers, and the row/column convention.
 *
 * The paper multiplies matrices by column vectors: X ∈ ℝ^{d_e×ℓ} holds one token per column and
 * W_q ∈ ℝ^{d_attn×d_x}. ctxlab is row-major like nanoGPT and GPT-2's Conv1D: X is stored as [ℓ, d_e]
 * (one token per row, an optional batch dim "B" in front) and every weight as the transpose of the
 * paper's matrix, so `Q = X·W_q + b_q` in code is the paper's `Q = W_q X + b_q 1ᵀ` transposed.
 * Transposition happens only at this boundary; the symbols keep their names.
 *
 * Token ids are 0-based in code (x[t] ∈ [0, N_V)) where the paper uses V = [N_V] = {1,…,N_V}.
 * Positions are 0-based in code (row t holds the paper's token t+1).
 *
 * Attention mask: the paper's Mask ∈ {0,1}^{ℓ_z×ℓ_x} has rows = key positions t_z and columns =
 * query positions t_x, and the causal mask is upper-triangular ([[t_z ≤ t_x]]); its softmax is per
 * column. Row-major code uses the transpose: rows = queries, columns = keys, lower-triangular,
 * softmax per row. See `maskPaper` and `maskRows` in lib/model/mask.ts.
 */

export interface NotationEntry {
  /** the paper's symbol */
  symbol: string;
  /** the identifier in ctxlab (config field, parameter name or dim name) */
  id: string;
  /** shape in the paper (column-vector convention) */
  paperShape?: string;
  /** shape in ctxlab (row-major) */
  codeShape?: string;
  meaning: string;
}

/** Hyperparameters, parameters and activations, as named in the paper and in ctxlab. */
export const NOTATION: readonly NotationEntry[] = [
  { symbol: "N_V", id: "nVocab", meaning: "vocabulary size; token ids are 0…N_V−1 in code" },
  { symbol: "ℓ_max", id: "lMax", meaning: "maximum sequence length (rows of W_p)" },
  { symbol: "L", id: "nLayers", meaning: "number of layers" },
  { symbol: "H", id: "nHeads", meaning: "number of attention heads" },
  { symbol: "H_kv", id: "nKvHeads", meaning: "key/value heads (default H; fewer: grouped-query, 1: multi-query)" },
  { symbol: "d_e", id: "dE", meaning: "embedding / residual width" },
  { symbol: "d_mlp", id: "dMlp", meaning: "MLP hidden width" },
  { symbol: "d_attn", id: "dAttn", meaning: "query/key width per head (default d_e/H)" },
  { symbol: "d_mid", id: "dMid", meaning: "value width per head (default d_attn)" },
  { symbol: "W_e", id: "W_e", paperShape: "d_e×N_V", codeShape: "[N_V, d_e]", meaning: "token embedding (Alg 1); row v embeds token v" },
  { symbol: "W_p", id: "pos.W_p", paperShape: "d_e×ℓ_max", codeShape: "[ℓ_max, d_e]", meaning: "learned positional embedding (Alg 2)" },
  { symbol: "W_q, b_q", id: "blocks.{l}.attn.W_q, b_q", paperShape: "H×(d_attn×d_e)", codeShape: "[d_e, H·d_attn], [H·d_attn]", meaning: "query projections of all heads, head h in columns h·d_attn…(h+1)·d_attn−1" },
  { symbol: "W_k, b_k", id: "blocks.{l}.attn.W_k, b_k", paperShape: "H×(d_attn×d_e)", codeShape: "[d_e, H_kv·d_attn], [H_kv·d_attn]", meaning: "key projections (H_kv heads)" },
  { symbol: "W_v, b_v", id: "blocks.{l}.attn.W_v, b_v", paperShape: "H×(d_mid×d_e)", codeShape: "[d_e, H_kv·d_mid], [H_kv·d_mid]", meaning: "value projections (H_kv heads)" },
  { symbol: "W_o, b_o", id: "blocks.{l}.attn.W_o, b_o", paperShape: "d_e×H·d_mid", codeShape: "[H·d_mid, d_e], [d_e]", meaning: "output projection of multi-head attention (Alg 5)" },
  { symbol: "γ¹_l, β¹_l", id: "blocks.{l}.ln1.gamma, beta", codeShape: "[d_e]", meaning: "layer norm before attention (Alg 10 line 5)" },
  { symbol: "γ²_l, β²_l", id: "blocks.{l}.ln2.gamma, beta", codeShape: "[d_e]", meaning: "layer norm before the MLP (line 7)" },
  { symbol: "W_gate, b_gate", id: "blocks.{l}.mlp.W_gate, b_gate", codeShape: "[d_e, d_mlp], [d_mlp]", meaning: "gate projection of the gated SiLU MLP (option mlp: \"gated-silu\")" },
  { symbol: "W_mlp1, b_mlp1", id: "blocks.{l}.mlp.W_mlp1, b_mlp1", paperShape: "d_mlp×d_e", codeShape: "[d_e, d_mlp], [d_mlp]", meaning: "MLP up-projection" },
  { symbol: "W_mlp2, b_mlp2", id: "blocks.{l}.mlp.W_mlp2, b_mlp2", paperShape: "d_e×d_mlp", codeShape: "[d_mlp, d_e], [d_e]", meaning: "MLP down-projection" },
  { symbol: "γ, β", id: "ln_final.gamma, beta", codeShape: "[d_e]", meaning: "final layer norm (line 10)" },
  { symbol: "W_u", id: "W_u (or W_eᵀ when tied)", paperShape: "N_V×d_e", codeShape: "[d_e, N_V]", meaning: "unembedding (Alg 7)" },
  { symbol: "X", id: "resid", paperShape: "d_e×ℓ", codeShape: "[B, ℓ, d_e]", meaning: "residual stream" },
  { symbol: "S", id: "scores", paperShape: "ℓ_z×ℓ_x", codeShape: "[B, H, ℓ, ℓ_z]", meaning: "attention scores KᵀQ/√d_attn (rows = queries in code)" },
  { symbol: "P", id: "probs", paperShape: "N_V×ℓ", codeShape: "[B, ℓ, N_V]", meaning: "row t = P̂(x[t+1] | x[1:t])" },
];
