/**
 * lib/extend — context extension (issue 7): the recipe registry (recipes.ts), one call that applies
 * a recipe (run-recipe.ts), its fine-tuning data (mix-source.ts) and the headline experiment with
 * its report (experiment.ts, report.ts).
 */
export { RECIPES, recipeNames, recipeFrom, finetuneRecipe, recipeApplies, checkApplies, scaleOf, scaledRotary, adaptPositional, type Recipe, type RecipePe, type RecipeTraining } from "./recipes.js";
export { runRecipe, adaptModel, cloneModel, type RecipeOptions, type RecipeResult } from "./run-recipe.js";
export { retrievalMixSource, passkeyRow, fillerPad, type RetrievalMixOptions, type RetrievalMixSource } from "./mix-source.js";
