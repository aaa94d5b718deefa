/**
 * Data: tokenizers, corpora and seeded batch sources (barrel for lib/data).
 */
export type { Tokenizer, Batch, BatchSource } from "./types.js";
export {
  byteTokenizer,
  gpt2Tokenizer,
  tokenizerFrom,
  checkIds,
  BYTE_BOS,
  BYTE_EOS,
  BYTE_PAD,
  GPT2_VOCAB_SIZE,
  GPT2_EOT,
  type TextTokenizer,
  type EncodeOptions,
  type DecodeOptions,
} from "./tokenizer.js";
export { mobyDick, mobyDickDataDir, corpusSplit, loadTextFiles, textFilePaths, MAX_TEXT_FILE_BYTES, type CorpusSplit, type LoadTextOptions } from "./corpus.js";
export {
  windowSource,
  lengthMixtureSource,
  mixedSource,
  textTokens,
  type TokenArray,
  type LengthMixtureOptions,
  type LengthMixtureSource,
  type RealisedLength,
  type WeightedSource,
  type MixedSource,
} from "./batches.js";
export { buildMixture, doublingComponents, jitterLength, type MixtureComponent, type MixtureSpec, type Mixture } from "./mixture.js";
