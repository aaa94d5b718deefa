/**
 * Rotary spectra: the wavelength λ_j = 2π/θ_j of each pair j (YaRN §2.2) for RoPE and its
 * context-extension scalings (PI, NTK, YaRN, Llama 3; docs/literature.md, "RoPE" to "Llama 3 scaling"), on a log axis, with
 * the original context L marked. Pairs above the L line never complete a rotation within the
 * training context; those are the ones PI/NTK/YaRN rescale. A second view plots θ_j/θ'_j, the
 * factor each scheme divides pair j by. Lines take their method's colour (lib/viz/methods.ts) when
 * the label names one (RoPE, PI, NTK, dynamic NTK, YaRN).
 */
import type { DTransformerConfig } from "../config.js";
import { InputError } from "../errors.js";
import type { PositionalEncoding } from "../positional/types.js";
import { theme, type Figure, type Trace } from "./figure.js";
import { groupLines } from "./methods.js";

/** One rotary scheme's inverse frequencies θ'_j, j = 0…d/2−1. */
export interface RotarySpectrum {
  label: string;
  invFreq: ArrayLike<number>;
}

export interface SpectraOptions {
  /** L: the original (pre-training) context, drawn as a horizontal line λ = L */
  originalLength: number;
  /** L′: the extended context, drawn as a second line if given */
  extendedLength?: number;
  title?: string;
}

/** Plain RoPE θ_j = b^{−2j/d}, j = 0…d/2−1 (RoFormer; docs/literature.md, "RoPE"), float64. */
export function ropeTheta(d: number, base = 10000): Float64Array {
  return Float64Array.from({ length: Math.floor(d / 2) }, (_, j) => Math.pow(base, (-2 * j) / d));
}

/** λ_j = 2π/θ_j. */
export function wavelengths(invFreq: ArrayLike<number>): number[] {
  return Array.from(invFreq, (t) => (2 * Math.PI) / t);
}


function lengthMarkers(o: SpectraOptions): { shapes: unknown[]; annotations: unknown[] } {
  const marks: [number, string][] = [[o.originalLength, `L = ${o.originalLength}: the training context (pairs above never turn once in it)`]];
  if (o.extendedLength) marks.push([o.extendedLength, `L′ = ${o.extendedLength}: the extended context`]);
  return {
    shapes: marks.map(([v]) => theme.marker("h", v)),
    annotations: marks.map(([v, text]) => theme.note(text, { xref: "x domain", x: 0.01, xanchor: "left", yref: "y", y: Math.log10(v), yanchor: "bottom" })),
  };
}

/**
 * λ_j = 2π/θ_j against pair index j, one line per scheme, log y, with λ = L (and L′) marked.
 * @example rotarySpectra([{ label: "RoPE", invFreq: ropeInverseFrequencies(128, 1e4) }], { originalLength: 2048 })
 */
export function rotarySpectra(encodings: readonly RotarySpectrum[], opts: SpectraOptions): Figure {
  const lineOf = groupLines(encodings.map((e) => e.label));
  const data: Trace[] = encodings.map((e, i) => ({
    type: "scatter",
    mode: "lines+markers",
    name: e.label,
    x: Array.from(e.invFreq, (_, j) => j),
    y: wavelengths(e.invFreq),
    customdata: Array.from(e.invFreq),
    line: lineOf(e.label, i),
    marker: { size: 4 },
    hovertemplate: `${e.label}<br>j = %{x}<br>λ<sub>j</sub> = %{y:.4g}<br>θ<sub>j</sub> = %{customdata:.4g}<extra></extra>`,
  }));
  return {
    data,
    layout: theme.layout(opts.title ?? "Rotary wavelengths λ<sub>j</sub> = 2π/θ<sub>j</sub>", {
      xaxis: theme.axis("pair index j"),
      yaxis: theme.axis("wavelength λ<sub>j</sub> (positions, log)", { type: "log", exponentformat: "power", dtick: 1 }),
      ...lengthMarkers(opts),
    }),
  };
}

/**
 * θ_j / θ'_j: how much each scheme slows pair j down relative to `reference` (plain RoPE). PI is
 * flat at s; NTK goes from 1 to s; YaRN/Llama 3 keep high frequencies (1) and interpolate low ones (s).
 */
export function rotaryScaleFactors(reference: ArrayLike<number>, encodings: readonly RotarySpectrum[], opts: { title?: string } = {}): Figure {
  const lineOf = groupLines(encodings.map((e) => e.label));
  const data: Trace[] = encodings.map((e, i) => ({
    type: "scatter",
    mode: "lines+markers",
    name: e.label,
    x: Array.from(e.invFreq, (_, j) => j),
    y: Array.from(e.invFreq, (t, j) => reference[j]! / t),
    line: lineOf(e.label, i),
    marker: { size: 4 },
    hovertemplate: `${e.label}<br>j = %{x}<br>θ<sub>j</sub>/θ′<sub>j</sub> = %{y:.4g}<extra></extra>`,
  }));
  return {
    data,
    layout: theme.layout(opts.title ?? "Per-pair scale factor θ<sub>j</sub>/θ′<sub>j</sub> (1 = unchanged, s = interpolated)", {
      xaxis: theme.axis("pair index j"),
      yaxis: theme.axis("θ<sub>j</sub> / θ′<sub>j</sub>", { rangemode: "tozero" }),
    }),
  };
}

/** The spectra of PositionalEncoding objects (those with `inverseFrequencies`) for `cfg`. */
export function spectraOf(encodings: readonly PositionalEncoding[], cfg: DTransformerConfig, seqLen?: number): RotarySpectrum[] {
  return encodings.map((pe) => {
    if (!pe.inverseFrequencies) throw new InputError(`spectraOf: the ${pe.label} is not rotary (it has no inverseFrequencies); only RoPE-family encodings have a spectrum`);
    return { label: pe.label, invFreq: pe.inverseFrequencies(cfg, seqLen) };
  });
}

/**
 * rotarySpectra for encoding objects: their θ'_j for `cfg` at sequence length `seqLen`.
 * @example encodingSpectra([rope(), pi({ factor: 4 })], cfg, { originalLength: cfg.lMax })
 */
export function encodingSpectra(encodings: readonly PositionalEncoding[], cfg: DTransformerConfig, opts: SpectraOptions & { seqLen?: number }): Figure {
  return rotarySpectra(spectraOf(encodings, cfg, opts.seqLen), opts);
}
