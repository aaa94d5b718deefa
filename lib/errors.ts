/**
 * Error classes used across ctxlab. Every message names the function or argument, the value
 * and the limit, in the paper's notation where one exists (N_V, ℓ, ℓ_max, d_e, …).
 */

/** A tensor's shape does not match what an algorithm expects ("mhAttention: X has d_e=64 but W_q expects d_e=128"). */
export class ShapeError extends Error {
  override name = "ShapeError";
}

/** A hyperparameter or option is out of range or inconsistent ("DTransformerConfig: d_e=130 is not divisible by H=4"). */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** A token sequence, position or other input value is invalid ("tokenEmbedding: x[3]=300 is outside [0, N_V) with N_V=256"). */
export class InputError extends Error {
  override name = "InputError";
}

/** A checkpoint or safetensors file is malformed, truncated or disagrees with its config. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

/** The numeric backend cannot be selected or initialised. */
export class BackendError extends Error {
  override name = "BackendError";
}
