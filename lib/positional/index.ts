/**
 * Positional encodings: the strategy interface, the schemes (each registers itself by name on
 * import), and the registry ("learned", "none", …).
 */
export type { PositionalEncoding, PositionalSpec, PositionRange, PeContext } from "./types.js";
export { positionalFrom, registerPositional, positionalNames, positionalForms } from "./registry.js";
export { learned, positionalEmbedding, W_P } from "./learned.js";
export { none } from "./none.js";
export { rope, ropePI, ropeNTK, ropeDynamicNTK, yarn, llama3, RotaryEncoding, applyRotary, applyRotaryArray, rotaryTables } from "./rope.js";
export { ropeInverseFrequencies, ntkBase, dynamicNtkBase, dynamicNtkScale, yarnInverseFrequencies, yarnGamma, yarnCorrectionDim, yarnCorrectionRange, yarnMscale, llama3InverseFrequencies, llama3Bands, rotaryFromSpec, ROTARY_FORMS, type RopeOptions, type ScaledRopeOptions, type YarnOptions, type Llama3Options, type RotaryLayout, type RotaryKind, type RotarySettings, type YarnRamp, type Llama3Band } from "./rope-scaling.js";
export { sinusoidal, sinusoidTable, SINUSOID_VARIANTS, type SinusoidalOptions, type SinusoidVariant } from "./sinusoidal.js";
export { bounded, boundedTable, boundedRadius, type BoundedOptions } from "./bounded.js";
export { alibi, alibiSlopes, alibiBias, type AlibiOptions } from "./alibi.js";
export { extendLearned, resampleRows, type ExtendOptions, type ExtendMethod } from "./extend.js";
