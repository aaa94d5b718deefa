/**
 * lib/extend — context extension: the recipe registry (recipes.ts), one call that applies
 * a recipe (run-recipe.ts), its fine-tuning data (recipeSource: lib/pretrain/retrieval-mix.ts) and the headline experiment with
 * its report (experiment.ts, report.ts).
 */
export { RECIPES, recipeNames, recipeFrom, finetuneRecipe, recipeApplies, checkApplies, scaleOf, scaledRotary, adaptPositional, type Recipe, type RecipePe, type RecipeTraining } from "./recipes.js";
export { runRecipe, adaptModel, cloneModel, recipeSource, type RecipeOptions, type RecipeResult } from "./run-recipe.js";
export { contextExtension, experimentSettings, methodLabel, weightsHash, DEFAULT_PLAN, TABLE4_RECIPES, type ExperimentOptions, type ExperimentResult, type ExperimentRun } from "./experiment.js";
export { readReport } from "./read-report.js";
export { summaryTable, fillerTable, seedTable, spreadTable, comparisons, table4, methodPanels, reportFigures, accuracyLengthFigure, perplexityFigure, depthFigure, fillerFigure, seedFigure, table4Figure, trainingFigure, pctCell, pplCell, htmlTable, markdownTable, reportMarkdown, tablesMarkdown, writeReport, type ReportOptions } from "./report.js";
