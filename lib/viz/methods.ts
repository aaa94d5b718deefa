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
 * Labels are lib/extend's "recipe (base)"; a bare encoding or recipe name ("rope", "alibi", "none",
 * "pi-ft", …), a registry name ("rope:pi:4") and an encoding's own label ("PI ×4 (RoPE θ/s; …)",
 * "ALiBi (bias −m_h·(i−j))", the default method column of lib/eval) resolve too; anything unknown
 * gets a stable fallback from the label's hash.
 */
import { hashString, theme } from "./figure.js";

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
  llama3: "#E7298A", // magenta
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
 * How a label starts → the scheme whose colour it takes, tried in order. Covers the experiment's
 * "recipe (base)" labels, the registry's names ("rope:pi:4", "none") and the encodings' own labels
 * ("PI ×4 (RoPE θ/s; …)", "ALiBi (bias −m_h·(i−j))", "learned W_p (Alg 2)", "NoPE (…)").
 */
const HEADS: readonly [RegExp, string][] = [
  [/^(length )?curriculum/, "curriculum"],
  [/^dynamic[- ]ntk/, "dynamic-ntk"],
  [/^ntk/, "ntk"],
  [/^yarn/, "yarn"],
  [/^pi(?![a-z])/, "pi"],
  [/^llama-?3/, "llama3"],
  [/^rope/, "rope"],
  [/^alibi/, "alibi"],
  [/^(nope|none)(?![a-z])/, "nope"],
  [/^learned/, "learned"],
  [/^sinusoid/, "sinusoidal"],
  [/^bounded/, "bounded"],
];

/** Recipes that keep the base's encoding: their colour is the base's (default: RoPE, the experiment's base). */
const KEEPS_BASE = /^(extrapolate|ft|finetune|fine-tune|direct fine-tune|zero-shot)(?![a-z])/;

/** The scheme a method label names (a key of ENCODING_COLORS or SCALING_COLORS), or undefined. */
export function methodScheme(label: string): string | undefined {
  const s = label.toLowerCase().replace(/\s+seed\s*\d+.*$/, "").trim();
  const spec = s.replace(/^rope:(?=(pi|ntk|dynamic-ntk|yarn|llama3)(:|$))/, ""); // registry names: "rope:pi:4"
  const head = spec.split(/[(,;+]/)[0]!.trim();
  const base = /\(([^()]*)\)/.exec(s)?.[1]?.trim();
  if (KEEPS_BASE.test(head)) {
    const b = base === undefined ? undefined : (ALIASES[base] ?? base);
    return b !== undefined && ENCODING_COLORS[b] ? b : "rope";
  }
  return HEADS.find(([re]) => re.test(head))?.[1];
}

/**
 * The style of a method label — the experiment's "recipe (base)", a bare recipe or encoding name, a
 * registry name, or an encoding's label (methodScheme): colour by the rotary scaling or, for
 * extrapolate / ft / learned-extend-ft and bare encodings, by the encoding; dash and marker by the
 * training ("-ft", "ft", "fine-tune": dash; the curriculum: dot). An unknown label gets a stable
 * fallback colour from its hash.
 */
export function methodStyle(label: string): MethodStyle {
  const s = label.toLowerCase();
  const scheme = methodScheme(label);
  const curriculum = scheme === "curriculum";
  const trained = /-ft(?![a-z])|(^|[^a-z])ft(?![a-z])|finetune|fine-tun/.test(s);
  const dash: MethodStyle["dash"] = curriculum ? "dot" : trained ? "dash" : "solid";
  const symbol: MethodStyle["symbol"] = curriculum ? "diamond" : trained ? "square" : "circle";
  const color = (scheme && (SCALING_COLORS[scheme] ?? ENCODING_COLORS[scheme])) ?? FALLBACK[parseInt(hashString(label), 16) % FALLBACK.length]!;
  return { color, dash, symbol };
}

/** Whether every label names a known method (then figures colour them with methodStyle by default). */
export function allMethods(labels: readonly string[]): boolean {
  return labels.length > 0 && labels.every((l) => methodScheme(l) !== undefined);
}

/** A line style per group, as figures take it (`style` options). */
export type GroupStyle = (group: string) => { color: string; dash?: string; width?: number };

/**
 * The line of each group of a figure: `style` when given; else, when every label names a method
 * (methodScheme) and their styles differ, methodLine — so a method has one colour in every figure
 * without asking; else the theme's palette by order (then dashes past its end).
 */
export function groupLines(labels: readonly string[], style?: GroupStyle): (label: string, i: number) => { color: string; dash: string; width: number } {
  if (style) return (g) => ({ width: 2, dash: "solid", ...style(g) });
  const keys = labels.map((l) => `${methodStyle(l).color}/${methodStyle(l).dash}`);
  if (allMethods(labels) && new Set(keys).size === labels.length) return (g) => methodLine(g);
  return (_g, i) => ({ color: theme.color(i), dash: theme.dashes[Math.floor(i / theme.palette.length) % theme.dashes.length]!, width: 2 });
}

/** A Plotly line for the method (width 2 by default). */
export function methodLine(label: string, width = 2): { color: string; dash: string; width: number } {
  const s = methodStyle(label);
  return { color: s.color, dash: s.dash, width };
}
