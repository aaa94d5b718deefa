/**
 * notation(): the paper's notation as Plotly text (sub/superscripts), identifiers left alone; and
 * withNotation() applies it to a figure's titles, axis titles, annotations and trace names.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { notation, withNotation, type Figure } from "../../lib/viz/figure.js";

test("notation: one-letter symbols' subscripts and braced super/subscripts become HTML", () => {
  assert.equal(notation("Wavelength λ_j = 2π/θ′_j per pair"), "Wavelength λ<sub>j</sub> = 2π/θ′<sub>j</sub> per pair");
  assert.equal(notation("NTK-aware ×4 (b' = b·s^{d/(d−2)}; half-split)"), "NTK-aware ×4 (b' = b·s<sup>d/(d−2)</sup>; half-split)");
  assert.equal(notation("ℓ = 4ℓ_max, d_e = 64, learned W_p"), "ℓ = 4ℓ<sub>max</sub>, d<sub>e</sub> = 64, learned W<sub>p</sub>");
  assert.equal(notation("Σ_{j=1}^{d/2}"), "Σ<sub>j=1</sub><sup>d/2</sup>");
  for (const id of ["blocks.0.attn.hook_q", "GELU_tanh(x)", "n_positions", "λ<sub>j</sub> already"]) assert.equal(notation(id), id);
});

test("withNotation: titles, axis titles, annotations, legend entries; the input is not changed", () => {
  const fig: Figure = {
    data: [{ type: "scatter", name: "θ′_j (PI)", x: [0], y: [1] }, { type: "scatter", x: [0], y: [2] }],
    layout: { title: { text: "λ_j per pair" }, xaxis: { title: { text: "pair j" } }, yaxis2: { title: "d_e" }, annotations: [{ text: "ℓ_max" }] },
  };
  const out = withNotation(fig);
  assert.equal(out.data[0]!.name, "θ′<sub>j</sub> (PI)");
  assert.equal(out.data[1]!.name, undefined);
  assert.deepEqual(out.layout.title, { text: "λ<sub>j</sub> per pair" });
  assert.deepEqual(out.layout.xaxis, { title: { text: "pair j" } });
  assert.deepEqual(out.layout.yaxis2, { title: "d<sub>e</sub>" });
  assert.deepEqual(out.layout.annotations, [{ text: "ℓ<sub>max</sub>" }]);
  assert.equal(fig.data[0]!.name, "θ′_j (PI)");
});

test("withNotation: a legend of long entries goes below the plot, short ones stay beside it", async () => {
  const { theme } = await import("../../lib/viz/figure.js");
  const long: Figure = { data: [{ type: "scatter", name: "YaRN ×4 (implementation ramp, α=1, β=32; half-split)" }], layout: theme.layout("t") };
  assert.deepEqual(withNotation(long).layout.legend, { ...(theme.layout("t").legend as object), orientation: "h", x: 0, xanchor: "left", y: -0.18, yanchor: "top" });
  const short: Figure = { data: [{ type: "scatter", name: "layer 0, head 1" }], layout: theme.layout("t") };
  assert.deepEqual(withNotation(short).layout.legend, theme.layout("t").legend);
});
