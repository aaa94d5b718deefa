/**
 * Canonical hook names for Algorithm 10, TransformerLens-style dotted paths, each tied to the line
 * of the algorithm it records, the paper's symbol and its shape in code.
 *
 * A hook point is an identity on the forward path: a hook may read the value or return a
 * replacement of the same shape.
 */

export interface HookPointInfo {
  /** canonical name, with {l} for the layer index */
  pattern: string;
  /** Algorithm 10 line (or "4:n" for Alg 4 line n inside line 6) */
  line: string;
  /** the paper's symbol */
  symbol: string;
  /** shape in code (row-major) */
  shape: string;
  description: string;
  /** recorded only under this architecture option (lib/config.ts); absent: always */
  only?: "gated-silu" | "sequential";
}

/** Every hook point, in the order a forward pass visits them. */
export const HOOK_POINTS: readonly HookPointInfo[] = [
  { pattern: "hook_embed", line: "2", symbol: "W_e[:, x[t]]", shape: "[B, ℓ, d_e]", description: "token embeddings (Alg 1)" },
  { pattern: "hook_pos_embed", line: "2", symbol: "W_p[:, t]", shape: "[ℓ, d_e]", description: "positional embeddings added at line 2 (only for encodings with that seam)" },
  { pattern: "blocks.{l}.hook_resid_pre", line: "3", symbol: "X", shape: "[B, ℓ, d_e]", description: "residual stream entering layer l (for l = 0: e_t, line 3)" },
  { pattern: "blocks.{l}.ln1.hook_normalized", line: "5", symbol: "X̃", shape: "[B, ℓ, d_e]", description: "layer_norm(X | γ¹_l, β¹_l) (RMSNorm(X | γ¹_l) under norm \"rmsnorm\")" },
  { pattern: "blocks.{l}.attn.hook_q", line: "6 (4:1)", symbol: "Q", shape: "[B, H, ℓ, d_attn]", description: "queries W_q X̃ + b_q, per head" },
  { pattern: "blocks.{l}.attn.hook_k", line: "6 (4:2)", symbol: "K", shape: "[B, H_kv, ℓ_z, d_attn]", description: "keys, per key/value head (H_kv = H unless grouped-query)" },
  { pattern: "blocks.{l}.attn.hook_v", line: "6 (4:3)", symbol: "V", shape: "[B, H_kv, ℓ_z, d_mid]", description: "values, per key/value head" },
  { pattern: "blocks.{l}.attn.hook_rot_q", line: "6 (4:1)", symbol: "R(t)Q", shape: "[B, H, ℓ, d_attn]", description: "queries after the positional rotation (rotary encodings only)" },
  { pattern: "blocks.{l}.attn.hook_rot_k", line: "6 (4:2)", symbol: "R(t)K", shape: "[B, H_kv, ℓ_z, d_attn]", description: "keys after the positional rotation (rotary encodings only)" },
  { pattern: "blocks.{l}.attn.hook_scores", line: "6 (4:4–5)", symbol: "S/√d_attn", shape: "[B, H, ℓ, ℓ_z]", description: "scaled scores with positional bias, masked positions set to −1e9 (rows = queries)" },
  { pattern: "blocks.{l}.attn.hook_pattern", line: "6 (4:6)", symbol: "softmax(S/√d_attn)", shape: "[B, H, ℓ, ℓ_z]", description: "attention pattern; each row sums to 1" },
  { pattern: "blocks.{l}.attn.hook_z", line: "6 (5)", symbol: "Y^h", shape: "[B, H, ℓ, d_mid]", description: "per-head attention outputs V·softmax(S)" },
  { pattern: "blocks.{l}.hook_attn_out", line: "6", symbol: "W_o Y + b_o", shape: "[B, ℓ, d_e]", description: "multi-head attention output (Alg 5)" },
  { pattern: "blocks.{l}.hook_resid_mid", line: "6", symbol: "X", shape: "[B, ℓ, d_e]", description: "residual stream after attention (not under the parallel residual)", only: "sequential" },
  { pattern: "blocks.{l}.ln2.hook_normalized", line: "7", symbol: "X̃", shape: "[B, ℓ, d_e]", description: "layer_norm(X | γ²_l, β²_l)" },
  { pattern: "blocks.{l}.mlp.hook_pre", line: "8", symbol: "W_mlp1 X̃ + b_mlp1", shape: "[B, ℓ, d_mlp]", description: "MLP pre-activation (gated MLP: the gate W_gate X̃ + b_gate)" },
  { pattern: "blocks.{l}.mlp.hook_pre_linear", line: "8", symbol: "W_mlp1 X̃ + b_mlp1", shape: "[B, ℓ, d_mlp]", description: "gated MLP: the up projection", only: "gated-silu" },
  { pattern: "blocks.{l}.mlp.hook_post", line: "8", symbol: "GELU(·)", shape: "[B, ℓ, d_mlp]", description: "MLP post-activation (gated MLP: SiLU(gate) ⊙ up)" },
  { pattern: "blocks.{l}.hook_mlp_out", line: "8", symbol: "W_mlp2 GELU(·) + b_mlp2", shape: "[B, ℓ, d_e]", description: "MLP output" },
  { pattern: "blocks.{l}.hook_resid_post", line: "8", symbol: "X", shape: "[B, ℓ, d_e]", description: "residual stream leaving layer l" },
  { pattern: "ln_final.hook_normalized", line: "10", symbol: "layer_norm(X | γ, β)", shape: "[B, ℓ, d_e]", description: "final layer norm" },
  { pattern: "hook_logits", line: "11", symbol: "W_u X", shape: "[B, ℓ, N_V]", description: "pre-softmax logits" },
  { pattern: "hook_probs", line: "11", symbol: "P", shape: "[B, ℓ, N_V]", description: "P = softmax(W_u X); row t = P̂(x[t+1] | x[1:t])" },
];

/**
 * Expand {l} for each layer: all concrete hook names of a model with `nLayers` layers, in visiting
 * order, for the architecture `arch` (default: Algorithm 10's GELU MLP and sequential residual).
 */
export function hookNames(nLayers: number, arch: { mlp?: string; residual?: string } = {}): string[] {
  const on = (h: HookPointInfo) => h.only === undefined || (h.only === "gated-silu" ? arch.mlp === "gated-silu" : (arch.residual ?? "sequential") === "sequential");
  const points = HOOK_POINTS.filter(on);
  const out: string[] = [];
  for (const h of points) if (!h.pattern.includes("{l}")) out.push(h.pattern);
  const global = out.splice(0);
  const [embed, pos] = [global[0]!, global[1]!];
  out.push(embed, pos);
  for (let l = 0; l < nLayers; l++) {
    for (const h of points) if (h.pattern.includes("{l}")) out.push(h.pattern.replace("{l}", String(l)));
  }
  out.push(...global.slice(2));
  return out;
}

/** Metadata of a concrete name ("blocks.2.attn.hook_pattern" → its HookPointInfo and layer 2). */
export function hookInfo(name: string): (HookPointInfo & { layer?: number }) | undefined {
  const m = /^blocks\.(\d+)\.(.*)$/.exec(name);
  if (m) {
    const info = HOOK_POINTS.find((h) => h.pattern === `blocks.{l}.${m[2]}`);
    return info && { ...info, layer: Number(m[1]) };
  }
  return HOOK_POINTS.find((h) => h.pattern === name);
}
