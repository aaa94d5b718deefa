/**
 * The built-in formatters of the ctxlab kernel (see display.ts for the registry):
 *
 * - Plotly figures `{ data: [...], layout: {...} }` → `application/vnd.plotly.v1+json` (JupyterLab /
 *   VS Code renderers) + self-contained `text/html` (lib/viz/figure.ts `toHtml`; plotly.js from
 *   plotly.js-dist-min is inlined ONCE per kernel session, in the first figure's output; later
 *   figures use the page's `Plotly` global and say so if it is missing) + a text/plain summary.
 * - tf.Tensor (duck-typed: no tfjs import at kernel start) → shape, dtype, backend, min/mean/max, a
 *   corner preview table, and a heatmap for 2-D tensors.
 * - ActivationCache (lib/hooks/cache.ts) → its rows(): name, layer, Alg 10 line, symbol, shape.
 * - anything with `toHTML()` (arquero tables) → text/html + a markdown/plain preview.
 */
import { plotlyBundle, toHtml, withNotation, type Figure } from "../lib/viz/figure.js";
import { escapeHtml, plainText, type Formatter, type MimeBundle } from "./display.js";

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object";

// ---------------------------------------------------------------- Plotly

export function isFigure(v: unknown): v is Figure {
  return isObject(v) && Array.isArray(v.data) && v.data.every(isObject) && isObject(v.layout) && !Array.isArray(v.layout);
}

/** Typed arrays → plain arrays, so the figure is valid JSON for the mime bundle. */
function plainFigure(fig: Figure): Figure {
  return JSON.parse(JSON.stringify(fig, (_k, v) => (ArrayBuffer.isView(v) && !(v instanceof DataView) ? Array.from(v as unknown as ArrayLike<number>) : v)));
}

/**
 * plotly.js as a plain <script>: AMD/CommonJS hidden so the bundle always sets `window.Plotly`
 * (the classic notebook's require.js would otherwise capture it), and skipped when already loaded.
 */
function plotlyLoader(): string {
  return `<script type="text/javascript">if(typeof window.Plotly==="undefined"){(function(define,exports,module){\n${plotlyBundle()}\n})(undefined,undefined,undefined);}</script>\n`;
}

function figureSummary(fig: Figure): string {
  const kinds = fig.data.map((t) => String(t.type ?? "scatter"));
  const title = (fig.layout.title as { text?: unknown } | string | undefined) ?? "";
  const text = typeof title === "string" ? title : String(title.text ?? "");
  return `Plotly figure: ${fig.data.length} trace(s) [${[...new Set(kinds)].join(", ")}]${text ? ` "${text.replace(/<[^>]*>/g, "")}"` : ""}`;
}

export const plotlyFormatter: Formatter = {
  name: "plotly figure",
  format(v, ctx) {
    if (!isFigure(v)) return undefined;
    const fig = withNotation(plainFigure(v)); // the paper's notation (λ_j, s^{…}) as Plotly's sub/superscripts
    const n = ((ctx.session.get("plotly.figures") as number | undefined) ?? 0) + 1;
    ctx.session.set("plotly.figures", n);
    const first = !ctx.session.get("plotly.inlined");
    ctx.session.set("plotly.inlined", true);
    const fragment = toHtml(fig, { plotlyScript: "none", fullPage: false, divId: `ctxlab-plot-${process.pid}-${n}` });
    return {
      data: { "application/vnd.plotly.v1+json": fig, "text/html": (first ? plotlyLoader() : "") + fragment, "text/plain": figureSummary(fig) },
      metadata: {},
    };
  },
};

// ---------------------------------------------------------------- tensors

interface TensorLike {
  shape: number[];
  dtype: string;
  size: number;
  isDisposed: boolean;
  dataSync(): ArrayLike<number> | string[];
}

export function isTensor(v: unknown): v is TensorLike {
  return isObject(v) && Array.isArray(v.shape) && typeof v.dtype === "string" && typeof v.dataSync === "function" && "isDisposedInternal" in v;
}

function backendName(): string {
  const engine = (globalThis as { _tfengine?: { backendName?: string } })._tfengine;
  return engine?.backendName ?? "?";
}

const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : Math.abs(x) >= 1e4 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : x.toFixed(4));

function stats(values: ArrayLike<number>): { min: number; mean: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    if (x < min) min = x;
    if (x > max) max = x;
    sum += x;
  }
  return { min, mean: sum / Math.max(values.length, 1), max };
}

/** Viridis, by linear interpolation between 5 stops. */
function viridis(t: number): string {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(Math.max(Number.isFinite(t) ? t : 0, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  const c = stops[i]!.map((a, k) => Math.round(a + f * (stops[i + 1]![k]! - a)));
  return `rgb(${c.join(",")})`;
}

/** The trailing 2-D slice [0, …, 0, :, :] as rows (a 1-D tensor is one row), cropped to r×c. */
function corner(values: ArrayLike<number> | string[], shape: number[], r: number, c: number): { rows: (number | string)[][]; R: number; C: number } {
  const C = shape.length ? shape[shape.length - 1]! : 1;
  const R = shape.length >= 2 ? shape[shape.length - 2]! : 1;
  const rows: (number | string)[][] = [];
  for (let i = 0; i < Math.min(R, r); i++) rows.push(Array.from({ length: Math.min(C, c) }, (_, j) => values[i * C + j]!));
  return { rows, R, C };
}

function previewTable(values: ArrayLike<number> | string[], shape: number[]): string {
  const { rows, R, C } = corner(values, shape, 8, 8);
  const cell = (x: number | string): string => `<td style="text-align:right;font-family:monospace">${escapeHtml(typeof x === "number" ? fmt(x) : JSON.stringify(x))}</td>`;
  const body = rows.map((row) => `<tr>${row.map(cell).join("")}${C > 8 ? "<td>…</td>" : ""}</tr>`).join("");
  const more = R > 8 ? `<tr><td colspan="${Math.min(C, 8) + 1}">…</td></tr>` : "";
  const label = shape.length > 2 ? `<caption style="caption-side:bottom;font-size:smaller">slice [${shape.slice(0, -2).map(() => "0").join(", ")}, :, :]</caption>` : "";
  return `<table style="border-collapse:collapse">${label}<tbody>${body}${more}</tbody></table>`;
}

function heatmap(values: ArrayLike<number>, shape: number[], lo: number, hi: number): string {
  const [R, C] = shape as [number, number];
  const sr = Math.ceil(R / 64);
  const sc = Math.ceil(C / 64);
  const px = Math.max(3, Math.min(16, Math.floor(320 / Math.max(R / sr, C / sc))));
  const rows: string[] = [];
  for (let i = 0; i < R; i += sr) {
    const cells: string[] = [];
    for (let j = 0; j < C; j += sc) {
      const x = values[i * C + j]!;
      cells.push(`<td title="[${i},${j}] ${fmt(x)}" style="width:${px}px;height:${px}px;padding:0;background:${viridis((x - lo) / (hi - lo || 1))}"></td>`);
    }
    rows.push(`<tr>${cells.join("")}</tr>`);
  }
  const note = sr > 1 || sc > 1 ? ` (every ${sr}th row, ${sc}th column)` : "";
  return `<div style="margin-top:4px"><table style="border-collapse:collapse;border-spacing:0">${rows.join("")}</table><div style="font-size:smaller">heatmap ${fmt(lo)} … ${fmt(hi)}${note}</div></div>`;
}

export const tensorFormatter: Formatter = {
  name: "tf.Tensor",
  format(v) {
    if (!isTensor(v)) return undefined;
    const head = `tf.Tensor ${v.dtype} [${v.shape.join(", ")}] on ${backendName()}`;
    if (v.isDisposed) return { data: { "text/plain": `${head} (disposed)`, "text/html": `<code>${escapeHtml(head)} (disposed)</code>` }, metadata: {} };
    const values = v.dataSync();
    const numeric = v.dtype !== "string" && v.dtype !== "complex64";
    const s = numeric && v.size > 0 ? stats(values as ArrayLike<number>) : undefined;
    const line = s ? `${head}  min ${fmt(s.min)}  mean ${fmt(s.mean)}  max ${fmt(s.max)}` : head;
    const { rows } = corner(values, v.shape, 6, 8);
    const text = `${line}\n${rows.map((r) => r.map((x) => (typeof x === "number" ? fmt(x) : JSON.stringify(x))).join("  ")).join("\n")}${v.size > rows.length * (rows[0]?.length ?? 0) ? "\n…" : ""}`;
    const map = s && v.shape.length === 2 && v.size > 1 ? heatmap(values as ArrayLike<number>, v.shape, s.min, s.max) : "";
    const htmlOut = `<div class="ctxlab-tensor"><code>${escapeHtml(line)}</code>${v.size > 0 ? previewTable(values, v.shape) : ""}${map}</div>`;
    return { data: { "text/plain": text, "text/html": htmlOut }, metadata: {} };
  },
};

// ---------------------------------------------------------------- ActivationCache

interface CacheLike {
  rows(): { name: string; layer: number | null; line: string; symbol: string; shape: string; description: string }[];
}

export const activationCacheFormatter: Formatter = {
  name: "ActivationCache",
  format(v) {
    if (!isObject(v) || (v.constructor as { name?: string } | undefined)?.name !== "ActivationCache" || typeof v.rows !== "function") return undefined;
    const rows = (v as unknown as CacheLike).rows();
    const cols = ["name", "layer", "line", "symbol", "shape", "description"] as const;
    const th = cols.map((c) => `<th style="text-align:left">${c}</th>`).join("");
    const body = rows.map((r) => `<tr>${cols.map((c) => `<td style="text-align:left">${escapeHtml(String(r[c] ?? ""))}</td>`).join("")}</tr>`).join("");
    const text = [`ActivationCache: ${rows.length} activations`, ...rows.slice(0, 40).map((r) => `  ${r.name.padEnd(34)} ${r.line.padEnd(8)} ${r.symbol.padEnd(10)} ${r.shape}`), ...(rows.length > 40 ? ["  …"] : [])].join("\n");
    return { data: { "text/plain": text, "text/html": `<table><caption>ActivationCache (${rows.length} activations)</caption><thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>` }, metadata: {} };
  },
};

// ---------------------------------------------------------------- toHTML() (arquero tables)

export const htmlMethodFormatter: Formatter = {
  name: "toHTML()",
  format(v) {
    if (!isObject(v) || typeof v.toHTML !== "function") return undefined;
    const t = v as { toHTML(o?: object): string; toMarkdown?(o?: object): string; numRows?(): number; numCols?(): number };
    const rows = typeof t.numRows === "function" ? t.numRows() : undefined;
    const size = rows !== undefined && typeof t.numCols === "function" ? `${rows} rows × ${t.numCols!()} columns` : "";
    const html = rows !== undefined && rows > PAGE_ROWS ? pagedTable(t, rows) : t.toHTML({ limit: PAGE_ROWS });
    const data: MimeBundle["data"] = { "text/html": (size ? `<div style="font-size:smaller">${size}</div>` : "") + html };
    data["text/plain"] = typeof t.toMarkdown === "function" ? `${size}\n${t.toMarkdown({ limit: 20 })}`.trim() : plainText(v);
    return { data, metadata: {} };
  },
};

const PAGE_ROWS = 50;
const MAX_PAGED_ROWS = 2000;

/**
 * A long table as pages of 50 rows with ◀ ▶ buttons (inline handlers, no script tag, so it also works
 * in nbconvert HTML); at most the first 2,000 rows are embedded, and the page says so.
 */
function pagedTable(t: { toHTML(o?: object): string }, rows: number): string {
  const shown = Math.min(rows, MAX_PAGED_ROWS);
  const pages = Math.ceil(shown / PAGE_ROWS);
  const body = Array.from({ length: pages }, (_, i) =>
    `<div class="ctxlab-page"${i ? ' style="display:none"' : ""}>${t.toHTML({ limit: PAGE_ROWS, offset: i * PAGE_ROWS })}</div>`).join("");
  const go = (d: number) =>
    `var r=this.closest('.ctxlab-paged'),p=r.querySelectorAll('.ctxlab-page'),i=+r.dataset.page+${d};if(i<0||i>=p.length)return;p[r.dataset.page].style.display='none';p[i].style.display='';r.dataset.page=i;r.querySelector('.ctxlab-pos').textContent='page '+(i+1)+' of '+p.length;`;
  const more = rows > shown ? ` (first ${shown.toLocaleString("en-US")} of ${rows.toLocaleString("en-US")} rows embedded; use .slice() or .filter() to see others)` : "";
  return `<div class="ctxlab-paged" data-page="0"><div style="font-size:smaller"><button onclick="${go(-1)}">◀</button> <span class="ctxlab-pos">page 1 of ${pages}</span> <button onclick="${go(1)}">▶</button>${more}</div>${body}</div>`;
}

export const builtinFormatters: Formatter[] = [plotlyFormatter, tensorFormatter, activationCacheFormatter, htmlMethodFormatter];
