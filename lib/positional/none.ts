/**
 * NoPE: no positional encoding. Alg 10 line 2 becomes e_t = W_e[:, x[t]] and attention adds
 * nothing. Only meaningful for causal models: the mask is what breaks permutation symmetry
 * (Haviv et al. 2022; Kazemnejad et al. 2023). Nothing in the shapes limits ℓ.
 */
import type { PositionalEncoding, PositionalEntry } from "./types.js";

class NoPE implements PositionalEncoding {
  readonly name = "none";
  readonly label = "NoPE (no positional encoding)";
  maxPositions(): undefined {
    return undefined;
  }
  toJSON() {
    return { name: this.name };
  }
}

/** NoPE: no positional information except what the causal mask gives. */
export function none(): PositionalEncoding {
  return new NoPE();
}

/** Its registry entry (lib/positional/registry.ts). */
export const NONE_ENTRY: PositionalEntry = { name: "none", factory: () => none(), help: "none" };
