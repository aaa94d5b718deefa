/**
 * Positional encodings: the strategy interface, the schemes, and the registry of their names
 * ("learned", "none", …; lib/positional/registry.ts lists the built-in ones).
 */
export type { PositionalEncoding, PositionalSpec, PositionRange, PeContext } from "./types.js";
export { positionalFrom, registerPositional, positionalNames, positionalForms } from "./registry.js";
export { learned, positionalEmbedding, W_P } from "./learned.js";
export { none } from "./none.js";
export { rope, ropePI, ropeNTK, ropeDynamicNTK, yarn, llama3, RotaryEncoding, applyRotary, applyRotaryArray, rotaryTables } from "./rope.js";
export { ropeInverseFrequencies, ntkBase, dynamicNtkBase, dynamicNtkScale, yarnInverseFrequencies, yarnGamma, yarnCorrectionDim, yarnCorrectionRange, yarnMscale } from "./rope-scaling.js";
export { llama3InverseFrequencies, llama3Bands, rotaryFromSpec, ROTARY_FORMS } from "./rope-scaling.js";
export type { RopeOptions, ScaledRopeOptions, YarnOptions, Llama3Options, RotaryLayout, RotaryKind, RotarySettings, YarnRamp, Llama3Band } from "./rope-scaling.js";
export { sinusoidal, sinusoidTable, SINUSOID_VARIANTS, type SinusoidalOptions, type SinusoidVariant } from "./sinusoidal.js";
export { bounded, boundedTable, boundedRadius, type BoundedOptions } from "./bounded.js";
export { alibi, alibiSlopes, alibiBias, type AlibiOptions } from "./alibi.js";
