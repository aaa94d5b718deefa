/**
 * ctxlab — the public API, grouped by section. Notebooks import only from here:
 *   import { DTransformer, presets, learned, useBackend } from "ctxlab";
 */

// Errors
export { ShapeError, ConfigError, InputError, CheckpointError, BackendError } from "./errors.js";

// Notation and config
export { NOTATION, type NotationEntry } from "./notation.js";
export { makeConfig, validateConfig, defaults, presets, paperExact, type DTransformerConfig, type DTransformerOptions, type GeluForm, type NormKind, type MlpKind, type ResidualKind, type BiasOptions, resolveBias } from "./config.js";

// Backends (call `await useBackend()` once before computing; CTXLAB_BACKEND=node-gpu|node|wasm|cpu overrides)
export * as tf from "@tensorflow/tfjs";
export { useBackend, ensureBackend, backendInfo, refuseSlowBackend, type BackendName, type BackendInfo, type BackendAttempt } from "./tensor/backend.js";
export { nativeMatMulInfo, NATIVE_MIN_MACS, type NativeMatMulInfo } from "./tensor/native-matmul.js";

// Tensors: typed dims, RNG, memory, ops
export { named, unchecked, assertDims, assertSameDim, describeShape, type Dim, type DimSizes, type Tensor, type Seq, type BSeq, type SeqOrBatch, type Rows, type WithLast } from "./tensor/typed.js";
export { Rng, type RngState } from "./tensor/random.js";
export { scope, memoryInfo, disposeAll, formatBytes, openScopes, type MemoryInfo } from "./tensor/memory.js";
export { mm, mmT, linear, gelu, geluTanh, geluExact, MASK_VALUE } from "./tensor/ops.js";

// The algorithms (Phuong & Hutter)
export { tokenEmbedding, toTokenBatch, type TokenInput } from "./model/token-embedding.js"; // Alg 1
export { positionalEmbedding } from "./positional/learned.js"; // Alg 2
export { singleQueryAttention, attention, type QkvWeights, type MaskOption } from "./model/attention.js"; // Alg 3, 4
export { mhAttention, type MhaWeights } from "./model/mh-attention.js"; // Alg 5
export { layerNorm, rmsNorm } from "./model/layer-norm.js"; // Alg 6
export { unembedding } from "./model/unembedding.js"; // Alg 7
export { maskPaper, maskRows, causalBias } from "./model/mask.js";
export { DTransformer, dTransformer, type ForwardOptions, type LogitsOf } from "./model/dtransformer.js"; // Alg 10
export { ParamStore, paramShapes } from "./model/params.js";
export { DEFAULT_LAYOUT, ATTENTION_MODES, resolveLayout, attentionPath, type AttentionLayout, type AttentionMode } from "./engine/layout-options.js";
export { estimateForwardMemory, forwardMemory, kvCacheMemory, checkFits, WASM_HEAP_LIMIT, type ForwardMemoryEstimate, type ForwardMemoryOptions, type CheckFitsOptions } from "./engine/memory-estimate.js";

// Positional encodings
export { learned, none, positionalFrom, registerPositional, positionalNames, positionalForms, W_P, type PositionalEncoding, type PositionalSpec, type PositionRange, type PeContext } from "./positional/index.js";

export { rope, ropePI, ropeNTK, ropeDynamicNTK, yarn, llama3, RotaryEncoding, applyRotary, applyRotaryArray, ropeInverseFrequencies, ntkBase, dynamicNtkBase, yarnInverseFrequencies, yarnMscale, llama3InverseFrequencies, llama3Bands, type RopeOptions, type ScaledRopeOptions, type YarnOptions, type Llama3Options, type RotaryLayout, type RotarySettings } from "./positional/index.js";

export { sinusoidal, sinusoidTable, SINUSOID_VARIANTS, bounded, boundedTable, boundedRadius, alibi, alibiSlopes, alibiBias, type SinusoidalOptions, type SinusoidVariant, type BoundedOptions, type AlibiOptions, } from "./positional/index.js";
export { extendLearned, resampleRows, type ExtendOptions, type ExtendMethod } from "./model/extend-learned.js";

// Hooks and traces
export { HOOK_POINTS, hookNames, hookInfo, type HookPointInfo } from "./hooks/names.js";
export { HookContext, type HookFn, type HookFilter } from "./hooks/context.js";
export { ActivationCache, type TraceRow } from "./hooks/cache.js";
export { ALGORITHM_10, algorithm10Table, traceDiff, valueStats, type PseudoLine, type WalkthroughOptions, type ValueStats } from "./hooks/walkthrough.js";

// Checkpoints (Hugging Face GPT-2 layout) and safetensors
export { loadCheckpoint, saveCheckpoint, configFromGpt2Json, gpt2JsonFromConfig, toGpt2Tensors, fromGpt2Tensors, CONFIG_FILE, WEIGHTS_FILE } from "./io/checkpoint.js";
export { loadBase, type LoadBaseOptions, type BaseModel } from "./pretrain/base-model.js";
export { BASE_ENCODINGS, BASE_RECIPE, ENCODING_RECIPE, baseRecipe, baseArchitecture, baseSchedule, phaseSpans, recipeCommand, readBaseRecipe, isBaseName, RECIPE_FILE, type BaseName, type BaseRecipe, type Phase, type MixWeights } from "./pretrain/recipes.js";
export { trainBase, copyProbe, type TrainBaseOptions, type TrainedBase, type CurvePoint } from "./pretrain/base-checkpoint.js";
export { makeBaseCheckpoint, writeBase, finalEval, readmeTables, writeReadme, type BaseRecord, type SetEval } from "./pretrain/base-report.js";
export { parseSafetensors, serializeSafetensors, readSafetensorsFile, readSafetensorsDir, writeSafetensorsFile, writeFileAtomic, toFloat32, fromFloat32, type SafeTensor, type SafeDType, type SafetensorsFile } from "./io/safetensors.js";

// Pretrained models (Hugging Face): config.json → architecture spec, the Hub and its cache, tokenizers, export
export { parseHfConfig, parseRopeScaling, positionalFromHf, missingOptions, assertBuildable, hfYarnMscale, HF_MODEL_TYPES, HF_ROPE_TYPES, type HfArchSpec, type HfRopeScaling, type HfPositional, type HfModelType } from "./hf/config.js";
export { hubDownload, resolveCommit, hubCacheDir, repoFolderName, isHubId, defaultModelFiles, HubError, type HubOptions, type HubProgress, type DownloadResult } from "./hf/hub.js";
export { loadPretrained, loadModel, saveHf, pretrainedSource, resolveModelDir, configFromHfSpec, configFromNeoxSpec, neoxJsonFromConfig, hfRopeFromEncoding, hfLayoutOf, type PretrainedSource, type LoadPretrainedOptions } from "./hf/pretrained.js";
export { llamaShapes, fromLlamaTensors, toLlamaTensors, llamaJsonFromConfig, llamaLayoutOf, type LlamaLayout } from "./hf/llama.js";
export { loadTokenizer, hfTokenizer, type HfTextTokenizer } from "./hf/tokenizer.js";

// Data: tokenizers, corpora, seeded batch sources
export type { Tokenizer, Batch, BatchSource } from "./data/types.js";
export { byteTokenizer, gpt2Tokenizer, tokenizerFrom, streamDecoder, BYTE_BOS, BYTE_EOS, BYTE_PAD, GPT2_VOCAB_SIZE, GPT2_EOT, type TextTokenizer } from "./data/tokenizer.js";
export { mobyDick, corpusSplit, loadTextFiles, type CorpusSplit, type LoadTextOptions } from "./data/corpus.js";
export { windowSource, lengthMixtureSource, mixedSource, textTokens, type TokenArray, type LengthMixtureOptions, type LengthMixtureSource, type RealisedLength, type WeightedSource, type MixedSource } from "./data/batches.js";
export { doublingComponents, type MixtureComponent, type MixtureSpec } from "./data/mixture.js";

// Inference (Alg 14)
export { dInference, type GenerateOptions, type GenerateResult } from "./infer/dinference.js";
export { JsDecoder, jsDecoderUnsupported } from "./infer/js-decoder.js";
export { sampleToken, samplingDistribution, type SamplingOptions } from "./infer/sampling.js";
export { KVCache } from "./model/dtransformer.js";

// Runtime host seam (kernel, CLI)
export { setHost, currentSignal, startProgress, type Host, type Progress } from "./runtime/context.js";

// Training (Algorithm 13)
export { dTraining, type TrainingOptions, type TrainingResult, type TrainingStatus } from "./train/dtraining.js"; // Alg 13
export { nextTokenLoss, accumulatedGrads, evaluateLoss, checkBatch } from "./train/loss.js";
export { Optimizer, createOptimizer, optimizerFromState, resolveOptimizer, selector, isNoDecay, optimizerDefaults, type OptimizerOptions, type AdamWOptions, type SGDOptions, type OptimizerHyper, type OptimizerState, type Selector } from "./train/optim.js";
export { schedule, lrAt, resolveSchedule, scheduleDefaults, type ScheduleSpec, type ResolvedSchedule } from "./train/schedule.js";
export { clipByGlobalNorm, globalNorm, clipScale } from "./train/clip.js";
export { saveTrainingState, loadTrainingState, CTXLAB_VERSION, TRAINER_STATE_FILE, OPTIMIZER_FILE, METRICS_FILE, type TrainingState, type LoadedTrainingState } from "./train/state.js";
export { logTable, logCsv, LOG_COLUMNS, type TrainRow } from "./train/log.js";
export { WorkerError, liveGradWorkers } from "./train/parallel.js";

// Figures (Plotly specs) for encodings, attention and run/evaluation tables
export * from "./viz/index.js";

// Evaluations (passkey, LongEval lines, Lost-in-the-Middle kv, perplexity vs ℓ, JSONL exact match) and their rollups
export { runEval, evaluateExamples, evalTable, EVAL_COLUMNS, type EvalTask, type RunEvalOptions } from "./eval/index.js";
export { passkey, lines, kvRetrieval, depthSweep, DEFAULT_DEPTHS, PASSKEY_FILLER, PASSKEY_HEADER, LINES_HEADER, KV_HEADER, OVER_LMAX, type EvalExample, type EvalRow, type TaskOptions, type SweepOptions, type TaskName } from "./eval/index.js";
export { FILLER_NAMES, SOTU_YEARS, fillerText, fillerName, sotuText, describeFiller, wordBoundaries, wilson, bootstrapInterval, spread, Z95, type FillerSpec, type FillerName, type Interval, type Spread } from "./eval/index.js";
export { scoreExample, scoreLogits, scoreLogitsBatch, scoreGreedy, matchAnswer, teacherForced, DEFAULT_SCORER, type ScorerName, type ScoreOptions, type ScoreResult } from "./eval/index.js";
export { perplexityVsLength, tokenLosses, windowsFor, PERPLEXITY_COLUMNS, type PerplexityOptions, type PerplexityMode, type PerplexityRow } from "./eval/index.js";
export { accuracyBy, accuracyByLength, accuracyByDepth, accuracyByLengthDepth, accuracyGrid, kMax, kMaxOf, perplexityByLength, formatTable } from "./eval/index.js";
export { parseJsonl, readJsonl, jsonlExamples, toJsonl, evalSets, writeEvalSets, EVALSET_VERSION, EVALSET_SPEC, type JsonlItem } from "./eval/index.js";
export { retrievalMixSource, retrievalRows, cleanFillerText, retrievalMixDefaults, MIX_KINDS, type MixKind, type MixRow, type RetrievalMixOptions, type RetrievalMixSource } from "./pretrain/retrieval-mix.js";

// Memory and compute of a forward pass against ℓ
export { forwardCost, quadraticFit, powerLawFit, COST_COLUMNS, type ForwardCostOptions, type ForwardCostRow } from "./eval/cost.js";
export { scoreBuffers, trainingCost, kvCacheCost } from "./eval/memory-cost.js";

// Context extension: recipes, one call per recipe, the headline experiment and its report
export { RECIPES, recipeNames, recipeFrom, finetuneRecipe, recipeApplies, checkApplies, scaleOf, scaledRotary, adaptPositional, runRecipe, adaptModel, cloneModel, recipeSource, contextExtension, experimentSettings, methodLabel, weightsHash, DEFAULT_PLAN, TABLE4_RECIPES, summaryTable, fillerTable, seedTable, spreadTable, comparisons, table4, methodPanels, reportFigures, accuracyLengthFigure, perplexityFigure, depthFigure, fillerFigure, seedFigure, table4Figure, trainingFigure, pctCell, pplCell, htmlTable, markdownTable, reportMarkdown, tablesMarkdown, writeReport, readReport, type Recipe, type RecipePe, type RecipeTraining, type RecipeOptions, type RecipeResult, type ExperimentOptions, type ExperimentResult, type ExperimentRun, type ReportOptions } from "./extend/index.js";
