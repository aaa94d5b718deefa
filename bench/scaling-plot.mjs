// The scaling figure of bench/run.mjs: forward time and peak memory vs ℓ (log-log) for ctxlab and
// PyTorch, with reference slopes ∝ ℓ and ∝ ℓ² so the quadratic attention term shows where the curves
// bend from the first to the second. Written as a self-contained Plotly page (lib/viz toHtml, theme)
// and as a PNG (playwright-core driving the system Chromium, /usr/bin/chromium, as
// scripts/render-figures.mjs does; skipped with a note when either is missing).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { theme, toHtml } from "ctxlab";

const GIB_TARGET_MIB = 1536;
const TIME_TICKS = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000];
const MIB_TICKS = [128, 256, 512, 1024, 1536, 2048, 4096, 8192];
const fmtL = (l) => (l >= 1024 ? `${l / 1024}k` : String(l));

/** points: [{ impl, l, forward_s, peak_mib }] (medians). */
export function scalingFigure(points, { title = "Forward pass of the reference model (batch 1, RoPE) vs context length ℓ" } = {}) {
  const impls = [...new Set(points.map((p) => p.impl))];
  const ls = [...new Set(points.map((p) => p.l))].sort((a, b) => a - b);
  const data = [];
  impls.forEach((impl, i) => {
    const ps = points.filter((p) => p.impl === impl).sort((a, b) => a.l - b.l);
    const style = { mode: "lines+markers", line: { color: theme.color(i), dash: theme.dashes[i] }, marker: { size: 8 }, legendgroup: impl };
    data.push({ type: "scatter", name: impl, x: ps.map((p) => p.l), y: ps.map((p) => p.forward_s), xaxis: "x", yaxis: "y", ...style,
      hovertemplate: `${impl}<br>ℓ = %{x}<br>%{y:.3g} s<extra></extra>` });
    data.push({ type: "scatter", name: impl, showlegend: false, x: ps.map((p) => p.l), y: ps.map((p) => p.peak_mib), xaxis: "x2", yaxis: "y2", ...style,
      hovertemplate: `${impl}<br>ℓ = %{x}<br>%{y:.0f} MiB peak RSS<extra></extra>` });
  });
  const ref = (name, dash, anchor, power, axes) => {
    if (!anchor) return;
    const ys = ls.map((l) => anchor.y * (l / anchor.l) ** power);
    data.push({ type: "scatter", mode: "lines", name, x: ls, y: ys, line: { color: theme.fontColor, width: 1.2, dash }, hoverinfo: "skip", legendgroup: name, ...axes });
  };
  const first = impls[0];
  const ofFirst = points.filter((p) => p.impl === first && p.forward_s > 0).sort((a, b) => a.l - b.l);
  const last = ofFirst.at(-1);
  const small = ofFirst[0];
  ref("∝ ℓ² (through ctxlab's longest)", "dash", last && { l: last.l, y: last.forward_s }, 2, { xaxis: "x", yaxis: "y" });
  ref("∝ ℓ (through ctxlab's shortest)", "dot", small && { l: small.l, y: small.forward_s }, 1, { xaxis: "x", yaxis: "y" });
  if (ls.length) {
    data.push({ type: "scatter", mode: "lines", name: "target: 1.5 GiB at ℓ = 16k", x: [ls[0], ls.at(-1)], y: [GIB_TARGET_MIB, GIB_TARGET_MIB],
      line: { color: theme.color(3), width: 1, dash: "dashdot" }, xaxis: "x2", yaxis: "y2", hoverinfo: "skip" });
  }
  const xAxis = (domain, anchor) => theme.axis("context length ℓ (tokens)", { type: "log", tickvals: ls, ticktext: ls.map(fmtL), domain, anchor });
  const layout = theme.layout(title, {
    xaxis: xAxis([0, 0.45], "y"),
    yaxis: theme.axis("forward time (s)", { type: "log", anchor: "x", tickvals: TIME_TICKS, ticktext: TIME_TICKS.map(String) }),
    xaxis2: xAxis([0.55, 1], "y2"),
    yaxis2: theme.axis("peak memory, process RSS (MiB)", { type: "log", anchor: "x2", tickvals: MIB_TICKS, ticktext: MIB_TICKS.map((m) => m.toLocaleString("en")) }),
    legend: { ...theme.layout("").legend, orientation: "h", yanchor: "top", y: -0.2, xanchor: "center", x: 0.5 },
    margin: { l: 70, r: 30, t: 60, b: 120 },
  });
  return { data, layout };
}

/** Write the HTML page and, when Chromium and playwright-core are there, the PNG. Returns notes. */
export async function writeScaling(fig, htmlPath, pngPath) {
  mkdirSync(dirname(htmlPath), { recursive: true });
  const width = 1000;
  const height = 560;
  const sized = { data: fig.data, layout: { ...fig.layout, width, height, paper_bgcolor: "white" } };
  writeFileSync(htmlPath, toHtml(sized, { plotlyScript: "inline", width: `${width}px`, height: `${height}px`, background: "white", config: { displayModeBar: false } }));
  if (!existsSync("/usr/bin/chromium")) return [`PNG skipped: /usr/bin/chromium not installed (apt-get install -y chromium)`];
  let chromium;
  try {
    ({ chromium } = await import("playwright-core"));
  } catch {
    return ["PNG skipped: playwright-core not installed (npm install)"];
  }
  mkdirSync(dirname(pngPath), { recursive: true });
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
  try {
    const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
    await page.goto(pathToFileURL(htmlPath).href);
    await page.waitForSelector(".main-svg", { timeout: 30_000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: pngPath, clip: { x: 0, y: 0, width, height } });
  } finally {
    await browser.close();
  }
  return [];
}
