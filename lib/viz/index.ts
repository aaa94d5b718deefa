/**
 * lib/viz: pure figure builders, data or tables in, Plotly spec `{ data, layout }` out. The kernel
 * displays them; `toHtml` embeds them. Nothing here draws, reads the clock or uses randomness
 * without a seed.
 */
export { theme, toHtml, plotlyBundle, plotlyText, subplotGrid, axisNames, type Figure, type Trace, type Layout, type HtmlOptions } from "./figure.js";
export { downsample, blockAverage, strideIndices, strideNote, LINE_CAP, HEATMAP_CAP, type Downsampled, type Blocked } from "./sample.js";
export { pca, cosineSimilarity, blockCosine, consecutiveDistances, leastSquares, jacobiEigen, pcaPairs, type Pca, type PairLoading } from "./linalg.js";
export { positionVectors, modelContext, pcaTrajectory, similarityHeatmap, consecutiveDistance, normCurve, type VectorContext, type VectorSet, type PcaOptions } from "./geometry.js";
export { rotarySpectra, rotaryScaleFactors, encodingSpectra, spectraOf, wavelengths, ropeTheta, type RotarySpectrum, type SpectraOptions } from "./spectra.js";
export { ropeRelativeBound, ropeDecayCurve, rotaryScoreCurve, fitScoreCoefficients, extrapolationVsInterpolation, type ScoreCoefficients, type ExtrapolationOptions } from "./relative.js";
export { attentionGrid, attentionByDistance, attentionEntropy, readPattern, patternLayers, meanByDistance, rowEntropy, type AttentionOptions } from "./attention.js";
export { lossCurve, accuracyVsLength, accuracyVsDepth, depthLengthHeatmap, meanBy, rowsOf, type TableLike, type MeanPoint, type LossCurveOptions, type AccuracyOptions } from "./curves.js";
export { linesBy, traceDiffBars, costVsLength, accuracyVsPerplexity, type LinesByOptions, type CostOptions, type AccuracyPerplexityOptions } from "./compare.js";
export { stepRatio, stepRatios, type StepRatioOptions } from "./step-ratio.js";
export { methodStyle, methodLine, ENCODING_COLORS, SCALING_COLORS, type MethodStyle } from "./methods.js";
export { scoreZoom, offsetMass, strongestOffsetHead, positionBins, positionCurve, styleByMethod, withReferenceLine, type ScoreZoomOptions, type PositionBinOptions, type PositionBin, type PositionCurveOptions } from "./extension.js";
export { accuracyPanels, perplexityPanels, type AccuracyPanelsOptions } from "./accuracy-panels.js";
