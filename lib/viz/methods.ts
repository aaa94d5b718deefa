/**
 * One look per context-extension method, the same in every figure of the report and the notebooks:
 * the colour says which encoding or rotary scaling a method uses, the dash whether it was trained
 * (solid: zero-shot; dash: fine-tuned at ℓ'; dot: trained from scratch on the length curriculum).
 * So "pi (rope)" and "pi-ft (rope)" share PI's sky blue, "extrapolate (bounded)" and "ft (bounded)"
 * the bounded encoding's vermillion. Colours are Okabe–Ito (colour-blind safe) where they reach, then
 * four darker hues that stay readable on white and on a dark notebook theme.
 *
 *   methodStyle("yarn-ft (rope)")   → { color: "#7B3294", dash: "dash", … }
 *   methodLine(label)               → a Plotly `line` object
 *
 * Labels are lib/extend's "recipe (base)"; a bare encoding name ("rope", "alibi", "none", …) or
 * recipe name also resolves, and anything unknown gets a stable fallback from the label's hash.
 */
import { hashString } from "./figure.js";

/** Colour of each base encoding (its zero-shot extrapolation and its direct fine-tune "ft"). */
export const ENCODING_COLORS: Readonly<Record<string, string>> = {
  rope: "#0072B2", // blue
  learned: "#E69F00", // orange
  alibi: "#009E73", // bluish green
  nope: "#808080", // grey
  sinusoidal: "#CC79A7", // reddish purple
  bounded: "#D55E00", // vermillion
};

/** Colour of each rotary scaling (zero-shot and fine-tuned share it). */
export const SCALING_COLORS: Readonly<Record<string, string>> = {
  pi: "#56B4E9", // sky blue
  ntk: "#A6761D", // ochre (Okabe–Ito's yellow is unreadable on white)
  "dynamic-ntk": "#66A61E", // olive green
  yarn: "#7B3294", // purple
  curriculum: "#17BECF", // cyan
};

/** The encoding-name aliases of the registry and the experiment's base names. */
const ALIASES: Readonly<Record<string, string>> = { none: "nope", "learned-extend": "learned" };

export interface MethodStyle {
  color: string;
  dash: "solid" | "dash" | "dot";
  /** marker symbol (circle: zero-shot, square: fine-tuned, diamond: curriculum) */
  symbol: "circle" | "square" | "diamond";
}

const FALLBACK = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#808080", "#7B3294"];

/**
 * The style of a method label "recipe (base)" (or a bare recipe / encoding name): colour by the
 * recipe's scaling or, for extrapolate / ft / learned-extend-ft, by the base's encoding; dash and
 * marker by its training.
 */
export function methodStyle(label: string): MethodStyle {
  const m = /^\s*([^()]+?)\s*(?:\(([^()]*)\))?\s*(?:seed.*)?$/.exec(label);
  const recipe = (m?.[1] ?? label).trim().toLowerCase();
  const base = ALIASES[(m?.[2] ?? "").trim().toLowerCase()] ?? (m?.[2] ?? "").trim().toLowerCase();
  const trained = recipe.endsWith("-ft") || recipe === "ft" || recipe === "finetune";
  const scaling = recipe.replace(/-ft$/, "");
  const dash: MethodStyle["dash"] = recipe === "curriculum" ? "dot" : trained ? "dash" : "solid";
  const symbol: MethodStyle["symbol"] = recipe === "curriculum" ? "diamond" : trained ? "square" : "circle";
  const enc = ALIASES[recipe] ?? recipe;
  const color =
    SCALING_COLORS[scaling] ??
    (scaling === "learned-extend" ? ENCODING_COLORS.learned : undefined) ??
    ENCODING_COLORS[base] ??
    ENCODING_COLORS[enc] ??
    FALLBACK[parseInt(hashString(label), 16) % FALLBACK.length]!;
  return { color, dash, symbol };
}

/** A Plotly line for the method (width 2 by default). */
export function methodLine(label: string, width = 2): { color: string; dash: string; width: number } {
  const s = methodStyle(label);
  return { color: s.color, dash: s.dash, width };
}
