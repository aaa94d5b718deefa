#!/usr/bin/env node
/**
 * PNG pictures of an experiment report's figures (for the README and docs):
 *
 *   node scripts/report-png.mjs docs/experiments/context-extension [--only accuracy-length,table4]
 *
 * Opens <dir>/index.html (written by `ctxlab experiment …`; plotly.js from node_modules) in Debian's
 * headless Chromium (/usr/bin/chromium through playwright-core, offline, never a downloaded browser),
 * waits until every Plotly figure has drawn its svg, and screenshots each figure to <dir>/<id>.png,
 * where <id> is the id of the heading above it. Fails if a figure did not render or the page logged
 * an error.
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const CHROMIUM = "/usr/bin/chromium";
const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith("--"));
const only = args.includes("--only") ? args[args.indexOf("--only") + 1].split(",") : null;
if (!dir || !existsSync(join(dir, "index.html"))) {
  console.error(`usage: node scripts/report-png.mjs <report dir with index.html> [--only id,id]${dir ? ` (no ${join(dir, "index.html")})` : ""}`);
  process.exit(2);
}
if (!existsSync(CHROMIUM)) {
  console.error("report-png: /usr/bin/chromium is missing: run `npm run setup` (apt-get install chromium)");
  process.exit(2);
}
const { chromium } = await import("playwright-core");
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(pathToFileURL(resolve(dir, "index.html")).href);
  await page.waitForFunction(() => [...document.querySelectorAll(".js-plotly-plot")].every((d) => d.querySelector("svg.main-svg")), null, { timeout: 60_000 });
  const ids = await page.$$eval("h3[id]", (hs) => hs.map((h) => h.id));
  for (const id of ids) {
    if (only && !only.includes(id)) continue;
    const fig = await page.$(`h3[id="${id}"] + * .js-plotly-plot, h3[id="${id}"] ~ .js-plotly-plot`);
    if (!fig) {
      console.error(`${id}: no rendered figure after its heading`);
      failed++;
      continue;
    }
    const path = join(dir, `${id}.png`);
    await fig.screenshot({ path });
    console.log(`wrote ${path}`);
  }
  if (errors.length) {
    console.error(`the page logged errors:\n  ${errors.join("\n  ")}`);
    failed++;
  }
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
