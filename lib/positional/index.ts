/**
 * Positional encodings: the strategy interface, the schemes (each registers itself by name on
 * import), and the registry ("learned", "none", …).
 */
export type { PositionalEncoding, PositionalSpec, PositionRange, PeContext } from "./types.js";
export { positionalFrom, registerPositional, positionalNames, positionalForms } from "./registry.js";
export { learned, positionalEmbedding, W_P } from "./learned.js";
export { none } from "./none.js";
