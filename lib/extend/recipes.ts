/**
 * Context-extension recipes: how a model trained at ℓ_max is made to work at ℓ' = s·ℓ_max.
 * Each recipe is data — which bases it applies to, the positional encoding it swaps in for scale s,
 * and whether it trains (a fine-tune at ℓ', or a fresh model on a length curriculum) — and
 * `runRecipe` (run-recipe.ts) is the one call that applies it. docs/literature.md, "Position Interpolation (PI)" to "Llama 3 scaling", "LongChat and Lost in the Middle".
 *
 *   extrapolate        the base as it is, run past ℓ_max (zero-shot; learned W_p refuses ℓ > ℓ_max)
 *   pi                 Position Interpolation ×s, zero-shot (θ_j → θ_j/s; Chen et al. 2023)
 *   pi-ft              PI ×s + N fine-tuning steps at ℓ' (PI §3.1; Table 3/4)
 *   ntk                NTK-aware ×s, zero-shot (b' = b·s^{d/(d−2)}; bloc97)
 *   dynamic-ntk        dynamic NTK: s = max(1, ℓ/L) per forward pass, zero-shot (emozilla; YaRN §3.4)
 *   yarn               YaRN ×s, zero-shot (NTK-by-parts + temperature; Peng et al. 2023)
 *   yarn-ft            YaRN ×s + N fine-tuning steps at ℓ'
 *   ft                 direct fine-tune at ℓ' with the base's own encoding (PI's "FT" baseline)
 *   learned-extend-ft  learned W_p interpolated to ℓ' rows (extendLearned) + N steps at ℓ'
 *   curriculum         a fresh model with the base's architecture trained on the question's length
 *                      curriculum (½ at ℓ_max, ¼ at 2ℓ_max, ⅛ at 4ℓ_max, … up to ℓ'), token budget given
 *
 * Rotary scalings are built from the base's own rotary settings (base b, layout, rotary fraction)
 * with L = the base's ℓ_max, so an interleaved or b = 5e5 base is scaled as itself.
 */
import { ConfigError } from "../errors.js";
import type { DTransformer } from "../model/dtransformer.js";
import { positionalFrom } from "../positional/registry.js";
import type { PositionalEncoding, PositionalSpec } from "../positional/types.js";

/** What a recipe trains: nothing, a fine-tune of the base at ℓ', or a fresh model on a curriculum. */
export type RecipeTraining = "none" | "finetune" | "scratch";

/** How a recipe sets the positional encoding for scale s = ℓ'/ℓ_max. */
export type RecipePe =
  | { kind: "keep" } // the base's own encoding
  | { kind: "rotary"; scaling: "pi" | "ntk" | "dynamic-ntk" | "yarn" } // a scaling of the base's RoPE
  | { kind: "extend-learned" } // interpolate the learned table to ℓ' rows
  | { kind: "spec"; spec: string | PositionalSpec }; // any registry spec, adapted to the base (adaptPositional)

export interface Recipe {
  name: string;
  description: string;
  /** positional names of the bases it applies to ("rope", "learned", …), "unbounded" (any base without a table) or "any" */
  appliesTo: readonly string[] | "unbounded" | "any";
  pe: RecipePe;
  training: RecipeTraining;
  /** the literature it reproduces (section of docs/literature.md) */
  source: string;
}

const rotary = (scaling: "pi" | "ntk" | "dynamic-ntk" | "yarn"): RecipePe => ({ kind: "rotary", scaling });

/** The recipes, in the order of the report's tables. */
export const RECIPES: readonly Recipe[] = [
  { name: "extrapolate", description: "zero-shot extrapolation: the base model as trained, run past ℓ_max", appliesTo: ["rope", "alibi", "none", "learned", "sinusoidal", "bounded"], pe: { kind: "keep" }, training: "none", source: "§3.1 (PI §2.2), §3.5 (ALiBi)" },
  { name: "pi", description: "Position Interpolation ×s, zero-shot", appliesTo: ["rope"], pe: rotary("pi"), training: "none", source: "§2.4; PI Table 3 step 0" },
  { name: "pi-ft", description: "Position Interpolation ×s plus N fine-tuning steps at ℓ'", appliesTo: ["rope"], pe: rotary("pi"), training: "finetune", source: "§2.4; PI Tables 3–4" },
  { name: "ntk", description: "NTK-aware scaling ×s (b' = b·s^{d/(d−2)}), zero-shot", appliesTo: ["rope"], pe: rotary("ntk"), training: "none", source: "§2.5" },
  { name: "dynamic-ntk", description: "dynamic NTK (s = max(1, ℓ/L) per forward pass), zero-shot", appliesTo: ["rope"], pe: rotary("dynamic-ntk"), training: "none", source: "§2.6" },
  { name: "yarn", description: "YaRN ×s (NTK-by-parts + attention temperature), zero-shot", appliesTo: ["rope"], pe: rotary("yarn"), training: "none", source: "§2.7" },
  { name: "yarn-ft", description: "YaRN ×s plus N fine-tuning steps at ℓ'", appliesTo: ["rope"], pe: rotary("yarn"), training: "finetune", source: "§2.7; YaRN §4" },
  { name: "ft", description: "direct fine-tune at ℓ' with the base's own encoding (no interpolation; PI's FT baseline)", appliesTo: "unbounded", pe: { kind: "keep" }, training: "finetune", source: "§3.1 (PI Table 4, FT rows)" },
  { name: "learned-extend-ft", description: "learned W_p interpolated to ℓ' rows, plus N fine-tuning steps at ℓ'", appliesTo: ["learned"], pe: { kind: "extend-learned" }, training: "finetune", source: "§2.1 (ViT-style table interpolation)" },
  { name: "curriculum", description: "from scratch on the length curriculum ½ ℓ_max, ¼ 2ℓ_max, ⅛ 4ℓ_max, … up to ℓ' (same token budget)", appliesTo: "unbounded", pe: { kind: "keep" }, training: "scratch", source: "the project's question; lengthMixtureSource" },
];

/**
 * A fine-tune at ℓ' under any positional spec (what `ctxlab finetune --pe <spec>` runs): "keep" (the
 * base's own encoding: PI's direct FT), "extend-learned" (the learned-table recipe), or a registry
 * spec such as "pi:4" or "rope:yarn:4", adapted to the base's rotary settings.
 */
export function finetuneRecipe(pe: string | PositionalSpec = "keep"): Recipe {
  if (pe === "keep") return { ...recipeFrom("ft"), appliesTo: "any" };
  if (pe === "extend-learned") return recipeFrom("learned-extend-ft");
  const label = typeof pe === "string" ? pe : JSON.stringify(pe);
  return { name: "finetune", description: `fine-tune at ℓ' under ${label}`, appliesTo: "any", pe: { kind: "spec", spec: pe }, training: "finetune", source: "ctxlab finetune --pe" };
}

/** Recipe names, in order. */
export const recipeNames = (): string[] => RECIPES.map((r) => r.name);

/** The recipe of a name (or the recipe itself); the error lists the known names. */
export function recipeFrom(r: string | Recipe): Recipe {
  if (typeof r !== "string") return r;
  const found = RECIPES.find((x) => x.name === r);
  if (!found) throw new ConfigError(`unknown extension recipe "${r}"; known: ${recipeNames().join(", ")}`);
  return found;
}

/** Whether `recipe` can start from `base` (by its positional encoding). */
export function recipeApplies(recipe: Recipe, base: DTransformer): boolean {
  const pe = base.positional;
  if (recipe.appliesTo === "any") return true;
  if (recipe.appliesTo === "unbounded") return pe.maxPositions?.(base.cfg) === undefined;
  return recipe.appliesTo.includes(pe.name);
}

/** Throws a ConfigError naming the recipe, the base's encoding and what it needs. */
export function checkApplies(recipe: Recipe, base: DTransformer): void {
  if (recipeApplies(recipe, base)) return;
  const needs = recipe.appliesTo === "unbounded" || recipe.appliesTo === "any" ? "an encoding without a position table (rope, alibi, none, …)" : recipe.appliesTo.join(" or ");
  throw new ConfigError(`recipe "${recipe.name}" needs a base with ${needs}; this base uses the ${base.positional.label}`);
}

/** The scale s = ℓ'/ℓ_max of a target length; errors name ℓ', ℓ_max and the rule. */
export function scaleOf(base: DTransformer, targetLength: number): number {
  if (!Number.isSafeInteger(targetLength) || targetLength < 2) throw new ConfigError(`targetLength ℓ'=${targetLength} must be an integer ≥ 2`);
  return Math.max(1, targetLength / base.cfg.lMax);
}

const ROTARY_KEYS = ["base", "layout", "rotaryFraction"] as const;

/**
 * A rotary scaling of the base's own RoPE: its b, layout and rotary fraction, factor s, and
 * L = the base's ℓ_max (so the checkpoint records the original context).
 */
export function scaledRotary(base: DTransformer, scaling: "pi" | "ntk" | "dynamic-ntk" | "yarn", s: number): PositionalEncoding {
  const own = base.positional.toJSON();
  if (own.name !== "rope") throw new ConfigError(`a ${scaling} scaling needs a plain RoPE base; this base uses the ${base.positional.label}`);
  const keep = Object.fromEntries(ROTARY_KEYS.filter((k) => own[k] !== undefined).map((k) => [k, own[k]]));
  const factor = scaling === "dynamic-ntk" ? 1 : s;
  return positionalFrom({ name: scaling, ...keep, factor, originalLength: base.cfg.lMax });
}

/**
 * A user's positional spec adapted to the base (for `ctxlab finetune --pe`): a rotary scaling
 * given by name ("pi:4", "rope:yarn:4") keeps the base's b, layout and rotary fraction unless the
 * spec names a layout, and gets L = the base's ℓ_max unless it names one.
 */
export function adaptPositional(base: DTransformer, spec: string | PositionalSpec): PositionalEncoding {
  const pe = positionalFrom(spec);
  const own = base.positional.toJSON();
  const json = pe.toJSON();
  const isRotary = (j: PositionalSpec) => typeof j.layout === "string" && typeof j.base === "number";
  if (!isRotary(json) || !isRotary(own)) return pe;
  const text = typeof spec === "string" ? spec : JSON.stringify(spec);
  const namesLayout = /interleaved|half-split/.test(text);
  const explicit: Partial<PositionalSpec> = typeof spec === "string" ? {} : spec;
  return positionalFrom({
    ...json,
    base: explicit.base ?? own.base,
    rotaryFraction: explicit.rotaryFraction ?? own.rotaryFraction,
    layout: namesLayout ? json.layout : own.layout,
    ...(json.name !== "rope" ? { originalLength: json.originalLength ?? base.cfg.lMax } : {}),
  });
}
