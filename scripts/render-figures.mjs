// Renders one example of each lib/viz plot kind to docs/figures/*.png (run after `npx tsc`).
//
//   node scripts/render-figures.mjs [--only name,name] [--html-dir DIR]
//
// Builds figures from the compiled library in dist/, writes each as a self-contained HTML page
// (plotly.js inlined) to a temp folder, and screenshots it with playwright-core driving the system
// Chromium (/usr/bin/chromium; `apt-get install -y chromium`, never a downloaded browser). PNGs are
// 900 px wide on a white background. Encodings that are not built yet are skipped with a note.
// Data for the curve plots (loss, accuracy) is synthetic and seeded, and the titles say so.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
const dist = (p) => pathToFileURL(join(root, "dist", p)).href;
const OUT = join(root, "docs", "figures");
const args = process.argv.slice(2);
const only = args.includes("--only") ? args[args.indexOf("--only") + 1].split(",") : null;
const htmlDir = args.includes("--html-dir") ? resolve(args[args.indexOf("--html-dir") + 1]) : null;

const viz = await import(dist("lib/viz/index.js"));
const { presets } = await import(dist("lib/config.js"));
const { makeConfig } = await import(dist("lib/config.js"));
const { DTransformer } = await import(dist("lib/model/dtransformer.js"));
const { learned } = await import(dist("lib/positional/learned.js"));
const { useBackend } = await import(dist("lib/tensor/backend.js"));
const { Rng } = await import(dist("lib/tensor/random.js"));
await useBackend(process.env.CTXLAB_BACKEND ?? "wasm");

/** Import dist/lib/positional/<name>.js if it has been built, else null (and say so). */
const skipped = [];
async function optional(name) {
  const f = join(root, "dist", "lib", "positional", `${name}.js`);
  if (!existsSync(f)) {
    skipped.push(name);
    return null;
  }
  return import(pathToFileURL(f).href);
}
const ropeMod = await optional("rope");
const sinMod = await optional("sinusoidal");
const boundedMod = await optional("bounded");
const alibiMod = await optional("alibi");

const figures = new Map(); // name → [figure, height]
const add = (name, fig, height = 500) => (!only || only.includes(name)) && figures.set(name, [fig, height]);

// ---- encoding geometry: learned (GPT-2 init), sinusoidal, bounded, RoPE over 0…n−1 ----
const geoCfg = makeConfig({ ...presets.ref, lMax: 1024, dE: 64, nHeads: 1 }); // d_e = d_attn = 64
const model = DTransformer.create({ ...presets.ref, lMax: 1024, dE: 64, nHeads: 1, positional: learned() }, 0);
const sets = [{ label: "learned W<sub>p</sub> (init)", method: "learned", vectors: viz.positionVectors(learned(), 1024, viz.modelContext(model)) }];
if (sinMod) sets.push({ label: "sinusoidal", method: "sinusoidal", vectors: viz.positionVectors(sinMod.sinusoidal(), 2048, { cfg: geoCfg }) });
if (boundedMod) sets.push({ label: "bounded", method: "bounded", vectors: viz.positionVectors(boundedMod.bounded(), 2048, { cfg: geoCfg }) });
if (ropeMod) sets.push({ label: "RoPE R(t)·q", method: "rope", vectors: viz.positionVectors(ropeMod.rope(), 2048, { cfg: geoCfg }) });
const pick = (label) => sets.find((s) => s.label.startsWith(label)) ?? sets[0];
add("pca-trajectory", viz.pcaTrajectory(pick("sinusoidal").vectors.slice(0, 512), { dims: 2, title: `${pick("sinusoidal").label}, d<sub>e</sub> = 64` }));
add("pca-trajectory-3d", viz.pcaTrajectory(pick("bounded").vectors, { dims: 3, title: `${pick("bounded").label}, d<sub>e</sub> = 64` }), 600);
add("similarity-heatmap", viz.similarityHeatmap(pick("sinusoidal").vectors.slice(0, 1024), { title: `${pick("sinusoidal").label}, d<sub>e</sub> = 64` }), 600);
add("consecutive-distance", viz.consecutiveDistance(sets, { logY: true, title: "Step length ‖p(t+1) − p(t)‖, d<sub>e</sub> = 64" }));
add("norm-curve", viz.normCurve(sets, { title: "Norm ‖p(t)‖, d<sub>e</sub> = 64" }));
add("step-ratio", viz.stepRatio(sets, { lMax: 1024, title: "Relative step ‖p(t+1) − p(t)‖ / ‖p(t)‖, d<sub>e</sub> = 64 (learned W<sub>p</sub> at initialisation)" }));
model.dispose();

// ---- rotary spectra (d = 128, L = 2048, s = 4) ----
if (ropeMod) {
  const cfg = makeConfig({ nVocab: 256, lMax: 2048, nLayers: 1, nHeads: 1, dE: 128 });
  const L = 2048;
  const schemes = [
    ["RoPE", ropeMod.rope()],
    ["PI ×4", ropeMod.ropePI(4, { originalLength: L })],
    ["NTK-aware ×4", ropeMod.ropeNTK(4, { originalLength: L })],
    ["YaRN ×4", ropeMod.yarn(4, { originalLength: L })],
    ["Llama-3 ×4", ropeMod.llama3({ factor: 4, originalLength: L })],
  ].map(([label, pe]) => ({ label, invFreq: pe.inverseFrequencies(cfg) }));
  add("rotary-spectra", viz.rotarySpectra(schemes, { originalLength: L, extendedLength: 4 * L, title: "Rotary wavelengths λ<sub>j</sub> = 2π/θ<sub>j</sub>, d = 128, b = 10⁴" }));
  add("rotary-scale-factors", viz.rotaryScaleFactors(schemes[0].invFreq, schemes.slice(1), { title: "Per-pair scale θ<sub>j</sub>/θ′<sub>j</sub>, d = 128, L = 2048, s = 4" }));
} else {
  const L = 2048;
  const base = viz.ropeTheta(128);
  const schemes = [{ label: "RoPE", invFreq: base }, { label: "PI ×4", invFreq: base.map((t) => t / 4) }];
  add("rotary-spectra", viz.rotarySpectra(schemes, { originalLength: L, extendedLength: 4 * L }));
  add("rotary-scale-factors", viz.rotaryScaleFactors(base, schemes.slice(1)));
}

// ---- relative position: RoFormer decay, PI Fig. 2 ----
add("rope-decay", viz.ropeDecayCurve([32, 64, 128], 1e4, 512));
add("extrapolation-vs-interpolation", viz.extrapolationVsInterpolation({ d: 128, originalLength: 2048, extendedLength: 4096 }));

// ---- attention from a trace: ALiBi at init already has per-head locality ----
{
  const pe = alibiMod ? alibiMod.alibi() : learned();
  const m = DTransformer.create({ ...presets.tiny, lMax: 512, positional: pe }, 1);
  const text = "the grass is green. the sky is blue. the pass key is 12345. remember it.";
  const short = Array.from(text.slice(0, 16), (c) => c.charCodeAt(0));
  const { cache } = m.trace(short);
  const tokens = Array.from(text.slice(0, 16), (c) => (c === " " ? "␣" : c));
  add("attention-grid", viz.attentionGrid(cache, { tokens, title: `Attention, ${pe.label}, tiny model at init` }), 650);
  cache.dispose();
  const long = Array.from({ length: 512 }, (_, i) => text.charCodeAt(i % text.length));
  const t2 = m.trace(long).cache;
  add("attention-by-distance", viz.attentionByDistance(t2, { layers: [0], logY: true, title: `Attention by distance, ${pe.label}, layer 0, ℓ = 512` }));
  add("attention-entropy", viz.attentionEntropy(t2, { layers: [0], title: `Attention entropy, ${pe.label}, layer 0` }));
  t2.dispose();
  m.dispose();
}

// ---- experiment curves (synthetic, seeded) ----
{
  const rng = new Rng(7);
  const log = Array.from({ length: 3000 }, (_, step) => ({
    step,
    loss: 1.3 + 4.2 * Math.exp(-step / 400) + 0.08 * rng.normal(),
    val_loss: step % 100 === 99 ? 1.42 + 4.1 * Math.exp(-step / 420) : null,
  }));
  add("loss-curve", viz.lossCurve(log, { x: "step", y: ["loss", "val_loss"], title: "Training loss (synthetic example data)" }));
  const rows = [];
  const methods = { RoPE: (r) => (r <= 1 ? 0.97 : 0.05), "PI ×4": (r) => (r <= 4 ? 0.93 - 0.03 * r : 0.1), "YaRN ×4": (r) => (r <= 4 ? 0.96 - 0.01 * r : 0.35) };
  for (const [method, acc] of Object.entries(methods)) {
    for (const length of [128, 256, 512, 1024, 2048]) {
      for (const depth of [0, 0.25, 0.5, 0.75, 1]) {
        const middle = 1 - 0.25 * Math.sin(Math.PI * depth) * (length > 256 ? 1 : 0);
        for (let trial = 0; trial < 20; trial++) rows.push({ method, length, depth, correct: rng.uniform() < acc(length / 256) * middle });
      }
    }
  }
  add("accuracy-vs-length", viz.accuracyVsLength(rows, { by: "method", lMax: 256, logX: true, title: "Passkey accuracy vs context length (synthetic example data)" }));
  add("accuracy-vs-depth", viz.accuracyVsDepth(rows.filter((r) => r.length === 512), { by: "method", title: "Accuracy vs needle depth at ℓ = 512 (synthetic example data)" }));
  add("depth-length-heatmap", viz.depthLengthHeatmap(rows.filter((r) => r.method !== "RoPE"), { by: "method", title: "Accuracy by depth and length (synthetic example data)" }));
}

// ---- render ----
const { chromium } = await import("playwright-core");
mkdirSync(OUT, { recursive: true });
const dir = htmlDir ?? mkdtempSync(join(tmpdir(), "ctxlab-figures-"));
mkdirSync(dir, { recursive: true });
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic",
    // software WebGL (SwiftShader) so scatter3d renders without a GPU
    "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
  ],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 500 }, deviceScaleFactor: 1 });
  for (const [name, [fig, height]] of figures) {
    const sized = { data: fig.data, layout: { ...fig.layout, width: 900, height, paper_bgcolor: "white" } };
    const file = join(dir, `${name}.html`);
    writeFileSync(file, viz.toHtml(sized, { plotlyScript: "inline", width: "900px", height: `${height}px`, background: "white", config: { displayModeBar: false } }));
    await page.setViewportSize({ width: 900, height });
    await page.goto(pathToFileURL(file).href);
    await page.waitForSelector(".main-svg", { timeout: 30_000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(OUT, `${name}.png`), clip: { x: 0, y: 0, width: 900, height } });
    console.log(`docs/figures/${name}.png`);
  }
} finally {
  await browser.close();
  if (!htmlDir) rmSync(dir, { recursive: true, force: true });
}
if (skipped.length) console.log(`not built yet, skipped: ${skipped.map((s) => `lib/positional/${s}.ts`).join(", ")}`);
