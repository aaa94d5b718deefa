/**
 * The context-extension report: the experiment's tables rolled up (results table, PI-style Table 4),
 * its Plotly figures, and a folder with index.html, the CSVs and env.json (writeReport).
 *
 *   summaryTable      one row per method: passkey accuracy at each ℓ, perplexity at each ℓ, k_max
 *   table4            PI Table 4's shape: k_max after N fine-tuning steps, PI vs direct fine-tuning
 *   reportFigures     accuracy vs ℓ (LongChat), accuracy vs depth at ℓ_max and ℓ' (Lost in the
 *                     Middle), perplexity vs ℓ, Table 4 as curves, training loss, depth × ℓ heatmaps
 *
 * index.html loads plotly.js from the repository's node_modules by a relative path (the committed
 * report stays small; it renders offline after `npm run setup`), or inlines it (selfContained).
 */
import * as aq from "arquero";
import { createRequire } from "node:module";
import { copyFile, mkdir, rename, rm } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { accuracyBy, kMax, kMaxOf, perplexityByLength } from "../eval/rollup.js";
import { writeFileAtomic } from "../io/safetensors.js";
import { accuracyVsDepth, accuracyVsLength, depthLengthHeatmap } from "../viz/curves.js";
import { plotlyText, theme, toHtml, type Figure, type Trace } from "../viz/figure.js";
import type { ExperimentResult } from "./experiment.js";

type Row = Record<string, unknown>;
const rows = (t: aq.ColumnTable): Row[] => t.objects() as Row[];
const methodsOf = (r: ExperimentResult): string[] => [...new Set(rows(r.runs).map((x) => String(x.method)))];
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** One row per method: recipe, base, acc_ℓ…, ppl_ℓ…, k_max (over the evaluation lengths). */
export function summaryTable(r: ExperimentResult): aq.ColumnTable {
  const lengths = r.settings.lengths as number[];
  const acc = rows(accuracyBy(r.passkey, ["length"]));
  const ppl = rows(perplexityByLength(r.perplexity));
  const km = new Map(rows(kMax(r.passkey)).map((x) => [x.method, x.k_max]));
  return aq.from(rows(r.runs).map((run) => {
    const m = run.method;
    const a = (l: number) => num(acc.find((x) => x.method === m && x.length === l)?.accuracy);
    const p = (l: number) => num(ppl.find((x) => x.method === m && x.length === l)?.perplexity);
    return {
      method: m, recipe: run.recipe, base: run.base, steps: run.steps,
      ...Object.fromEntries(lengths.map((l) => [`acc_${l}`, a(l)])),
      ...Object.fromEntries(lengths.map((l) => [`ppl_${l}`, p(l)])),
      k_max: km.get(m) ?? null,
    };
  }));
}

/** PI Table 4's shape: one row per recipe, k_max after each number of fine-tuning steps (and accuracy at ℓ'). */
export function table4(r: ExperimentResult): aq.ColumnTable {
  const all = rows(r.table4Rows);
  const steps = [...new Set(all.map((x) => Number(x.step)))].sort((a, b) => a - b);
  const target = r.settings.targetLength as number;
  const out = [...new Set(all.map((x) => String(x.method)))].map((method) => {
    const cells: Row = { method, target_length: target };
    for (const s of steps) {
      const pts = rows(accuracyBy(all.filter((x) => x.method === method && Number(x.step) === s).map((x) => ({ length: x.length, correct: x.correct })), ["length"])) as { length: number; accuracy: number | null }[];
      cells[`k_max@${s}`] = kMaxOf(pts);
      cells[`acc_${target}@${s}`] = pts.find((p) => p.length === target)?.accuracy ?? null;
    }
    return cells;
  });
  return aq.from(out);
}

/** Perplexity (log scale) against ℓ, one line per method; ℓ_max and ℓ' marked. */
export function perplexityFigure(r: ExperimentResult): Figure {
  const ppl = rows(perplexityByLength(r.perplexity));
  const data: Trace[] = methodsOf(r).map((m, i) => {
    const pts = ppl.filter((x) => x.method === m && num(x.perplexity) !== null);
    return { type: "scatter", mode: "lines+markers", name: plotlyText(m), x: pts.map((x) => x.length), y: pts.map((x) => x.perplexity), line: { color: theme.color(i), width: 2, dash: theme.dashes[Math.floor(i / theme.palette.length) % theme.dashes.length] }, hovertemplate: `${plotlyText(m)}<br>ℓ = %{x}<br>perplexity = %{y:.3g}<extra></extra>` };
  });
  const lMax = r.settings.lMax as number;
  const xs = r.settings.lengths as number[];
  return {
    data,
    layout: theme.layout("Perplexity against evaluation length (held-out Moby Dick)", {
      xaxis: theme.axis("context length ℓ (tokens)", { type: "log", tickmode: "array", tickvals: xs, ticktext: xs.map(String) }),
      yaxis: theme.axis("perplexity (bytes, log scale)", { type: "log" }),
      shapes: [theme.marker("v", lMax)],
      annotations: [theme.note(`ℓ<sub>max</sub> = ${lMax}`, { x: Math.log10(lMax), xanchor: "left", yref: "y domain", y: 0.98 })],
    }),
  };
}

/** Table 4 as curves: k_max against fine-tuning steps, one line per recipe. */
export function table4Figure(r: ExperimentResult): Figure {
  const t = rows(table4(r));
  const steps = Object.keys(t[0] ?? {}).filter((k) => k.startsWith("k_max@")).map((k) => Number(k.slice(6)));
  const data: Trace[] = t.map((row, i) => ({ type: "scatter", mode: "lines+markers", name: plotlyText(String(row.method)), x: steps, y: steps.map((s) => row[`k_max@${s}`] ?? 0), line: { color: theme.color(i), width: 2 } }));
  return {
    data,
    layout: theme.layout(`Effective context window k<sub>max</sub> after N fine-tuning steps at ℓ' = ${r.settings.targetLength} (PI Table 4)`, {
      xaxis: theme.axis("fine-tuning steps"),
      yaxis: theme.axis("k_max (tokens; 0 = none)"),
    }),
  };
}

/** Training loss of every trained run against step. */
export function trainingFigure(r: ExperimentResult): Figure {
  const log = rows(r.training);
  const data: Trace[] = [...new Set(log.map((x) => String(x.method)))].map((m, i) => {
    const pts = log.filter((x) => x.method === m);
    return { type: "scatter", mode: "lines", name: plotlyText(m), x: pts.map((x) => x.step), y: pts.map((x) => x.loss), line: { color: theme.color(i), width: 2 } };
  });
  return { data, layout: theme.layout("Training loss (nats/token) of the fine-tunes and the curriculum", { xaxis: theme.axis("step"), yaxis: theme.axis("loss") }) };
}

/** Many methods: the legend goes to the right of the plot, one entry per line. */
function sideLegend(fig: Figure): Figure {
  return { ...fig, layout: { ...fig.layout, legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top", bgcolor: "rgba(0,0,0,0)" }, margin: { l: 70, r: 240, t: 60, b: 60 } } };
}

/** Every figure of the report, by id. */
export function reportFigures(r: ExperimentResult): { id: string; title: string; fig: Figure }[] {
  const lMax = r.settings.lMax as number;
  const target = r.settings.targetLength as number;
  const pk = rows(r.passkey);
  const trained = new Set(rows(r.runs).filter((x) => x.training !== "none").map((x) => x.method));
  const heat = pk.filter((x) => trained.has(x.method) || x.recipe === "extrapolate");
  const figs = [
    { id: "accuracy-length", title: "Passkey accuracy against context length", fig: accuracyVsLength(r.passkey, { by: "method", lMax, logX: true, title: "Passkey retrieval (compact) against context length ℓ" }) },
    { id: "accuracy-depth-target", title: `Accuracy against needle depth at ℓ' = ${target}`, fig: accuracyVsDepth(pk.filter((x) => x.length === target), { by: "method", title: `Passkey accuracy against needle depth at ℓ = ${target} (lost in the middle?)` }) },
    { id: "accuracy-depth-lmax", title: `Accuracy against needle depth at ℓ_max = ${lMax}`, fig: accuracyVsDepth(pk.filter((x) => x.length === lMax), { by: "method", title: `Passkey accuracy against needle depth at ℓ = ℓ_max = ${lMax}` }) },
    { id: "perplexity-length", title: "Perplexity against evaluation length", fig: perplexityFigure(r) },
    { id: "table4", title: "k_max after N fine-tuning steps", fig: table4Figure(r) },
    { id: "training", title: "Training loss", fig: trainingFigure(r) },
    { id: "depth-length", title: "Accuracy by depth and length", fig: depthLengthHeatmap(heat, { by: "method", title: "Passkey accuracy by needle depth and ℓ (trained recipes and zero-shot bases)" }) },
  ];
  return figs.map((f) => (f.id === "depth-length" ? f : { ...f, fig: sideLegend(f.fig) }));
}

const esc = (s: unknown) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (v: unknown) => (v === null || v === undefined ? "—" : typeof v === "number" ? (Number.isInteger(v) ? String(v) : Math.abs(v) >= 100 ? v.toExponential(2) : v.toFixed(3)) : String(v));

/** An HTML <table> of a table. */
export function htmlTable(t: aq.ColumnTable): string {
  const cols = t.columnNames();
  const body = rows(t).map((r) => `<tr>${cols.map((c) => `<td>${esc(fmt(r[c]))}</td>`).join("")}</tr>`).join("\n");
  return `<table>\n<thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}

/** A markdown table (for the README / closing note). */
export function markdownTable(t: aq.ColumnTable): string {
  const cols = t.columnNames();
  return [`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`, ...rows(t).map((r) => `| ${cols.map((c) => fmt(r[c])).join(" | ")} |`)].join("\n");
}

export interface ReportOptions {
  /** inline plotly.js (~4.8 MB) instead of loading it from node_modules by a relative path */
  selfContained?: boolean;
  /** free text placed under the title (e.g. the findings) */
  notes?: string;
  /** extra entries of env.json (command, base checkpoints, machine) */
  env?: Record<string, unknown>;
}

/** Writes the report folder (atomically: a temporary sibling, then a rename). Returns the files written. */
export async function writeReport(r: ExperimentResult, dir: string, o: ReportOptions = {}): Promise<string[]> {
  const out = resolve(dir);
  const tmp = `${out}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const summary = summaryTable(r);
  const t4 = table4(r);
  const csv: Record<string, aq.ColumnTable> = { "summary.csv": summary, "table4.csv": t4, "runs.csv": r.runs, "passkey.csv": r.passkey, "perplexity.csv": r.perplexity, "table4-examples.csv": r.table4Rows, "training.csv": r.training };
  for (const [name, t] of Object.entries(csv)) await writeFileAtomic(join(tmp, name), t.toCSV());
  const env = { ...o.env, status: r.status, wall_s: Number(r.wallS.toFixed(1)), settings: r.settings };
  await writeFileAtomic(join(tmp, "env.json"), JSON.stringify(env, null, 2) + "\n");
  const plotly = createRequire(import.meta.url).resolve("plotly.js-dist-min");
  const script = o.selfContained ? "" : `<script src="${esc(relative(out, plotly).split("\\").join("/"))}"></script>\n`;
  const figs = reportFigures(r).map((f, i) => `<h3 id="${f.id}">${esc(f.title)}</h3>\n${toHtml(f.fig, { plotlyScript: o.selfContained && i === 0 ? "inline" : "none", fullPage: false, height: f.id === "depth-length" ? "420px" : "480px" })}`);
  const html = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>ctxlab — context extension</title>
${script}<style>body{font-family:Inter,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#f3f3f3}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}</style>
</head><body>
<h1>Context extension: ${esc(r.settings.lMax)} → ${esc(r.settings.targetLength)} tokens</h1>
<p>Status: ${esc(r.status)}; wall time ${(r.wallS / 60).toFixed(1)} min. Method labels are "recipe (base)"; passkey = compact format, logit scorer, ${esc(r.settings.n)} examples per (ℓ, depth) cell. Files: ${Object.keys(csv).map((n) => `<a href="${n}">${n}</a>`).join(", ")}, <a href="env.json">env.json</a>.</p>
${o.notes ? `<div class="notes">${o.notes}</div>` : ""}
<h2>Results</h2>
${htmlTable(summary)}
<h2>Table 4: effective context window after N fine-tuning steps</h2>
${htmlTable(t4)}
<h2>Figures</h2>
${figs.join("\n")}
<h2>Environment</h2>
<pre>${esc(JSON.stringify(env, null, 2))}</pre>
</body></html>
`;
  await writeFileAtomic(join(tmp, "index.html"), html);
  await mkdir(dirname(out), { recursive: true });
  // a README.md the user wrote beside an earlier report (the write-up) is kept; everything else is replaced
  await copyFile(join(out, "README.md"), join(tmp, "README.md")).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw e;
  });
  await rm(out, { recursive: true, force: true });
  await rename(tmp, out);
  return [...Object.keys(csv), "env.json", "index.html"].map((f) => join(out, f));
}
