// Opens every exported notebook (NAME.html from scripts/run-notebooks.mjs) in a real browser and
// checks that it rendered: headless Debian Chromium (/usr/bin/chromium, offline, driven by
// playwright-core; never a downloaded browser).
//
//   node scripts/check-notebook-html.mjs [--out DIR] [--figures DIR] [NAME …]
//
// Per page: every Plotly figure (div.ctxlab-plot) must contain a rendered svg.main-svg, their count
// must equal the figures summary.json counted in the executed notebook, and the page may log no
// console error, throw no page error and request nothing outside file:// (the exports must work
// offline). A full-page screenshot goes to DIR/NAME.png; with --figures, the first figure of the
// cell tagged "figure" is also saved alone as FIGURES/NAME.png (the README's pictures).
// checks.json in DIR records the result of each page. Exit status 1 if any page failed.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(import.meta.dirname, "..");
const CHROMIUM = "/usr/bin/chromium";
const args = process.argv.slice(2);
const value = (f, d) => (args.includes(f) ? args[args.indexOf(f) + 1] : d);
const valued = new Set(["--out", "--figures"]);
const names = args.filter((a, i) => !a.startsWith("--") && !valued.has(args[i - 1]));
const out = resolve(value("--out", join(root, "notebooks", "out")));
const figuresDir = value("--figures") ? resolve(value("--figures")) : null;

if (!existsSync(CHROMIUM)) {
  console.error("check-notebook-html: /usr/bin/chromium is missing: run `npm run setup` (apt-get install chromium)");
  process.exit(1);
}
const summaryFile = join(out, "summary.json");
if (!existsSync(summaryFile)) {
  console.error(`check-notebook-html: ${summaryFile} is missing: run scripts/run-notebooks.mjs first`);
  process.exit(1);
}
const pages = JSON.parse(readFileSync(summaryFile, "utf8")).filter((e) => e.html && (names.length === 0 || names.some((n) => e.name.includes(n))));
if (figuresDir) mkdirSync(figuresDir, { recursive: true });

const { chromium } = await import("playwright-core");
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const results = [];
try {
  for (const entry of pages) {
    const result = { name: entry.name, expected: entry.figures, divs: 0, rendered: 0, consoleErrors: [], pageErrors: [], external: [], screenshot: null, figure: null, ok: false };
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
    page.on("console", (m) => m.type() === "error" && result.consoleErrors.push(m.text().slice(0, 300)));
    page.on("pageerror", (e) => result.pageErrors.push(String(e.message ?? e).slice(0, 300)));
    await page.route((url) => url.protocol !== "file:" && url.protocol !== "data:" && url.protocol !== "blob:", (route) => {
      result.external.push(route.request().url());
      return route.abort();
    });
    try {
      await page.goto(pathToFileURL(join(out, entry.html)).href, { waitUntil: "load", timeout: 60_000 });
      result.divs = await page.locator("div.ctxlab-plot").count();
      // Plotly draws synchronously in newPlot for 2-D figures; allow a moment for late layout.
      await page.waitForFunction(() => [...document.querySelectorAll("div.ctxlab-plot")].every((d) => d.querySelector("svg.main-svg")), null, { timeout: 30_000 }).catch(() => {});
      result.rendered = await page.locator("div.ctxlab-plot:has(svg.main-svg)").count();
      result.screenshot = join(out, `${entry.name}.png`);
      await page.screenshot({ path: result.screenshot, fullPage: true });
      if (figuresDir) {
        const fig = page.locator(".celltag_figure div.ctxlab-plot").first();
        if ((await fig.count()) > 0) {
          await fig.scrollIntoViewIfNeeded();
          result.figure = join(figuresDir, `${entry.name}.png`);
          await fig.screenshot({ path: result.figure });
        }
      }
    } catch (e) {
      result.pageErrors.push(`navigation: ${e.message}`);
    } finally {
      await page.close();
    }
    result.ok = result.divs === result.expected && result.rendered === result.divs && result.divs > 0 && !result.consoleErrors.length && !result.pageErrors.length && !result.external.length;
    const why = [
      result.divs !== result.expected && `${result.divs} figure divs, the notebook has ${result.expected} figures`,
      result.rendered !== result.divs && `${result.divs - result.rendered} figures without an svg`,
      result.divs === 0 && "no figure",
      ...result.consoleErrors.map((e) => `console error: ${e}`),
      ...result.pageErrors.map((e) => `page error: ${e}`),
      ...result.external.map((u) => `external request: ${u}`),
    ].filter(Boolean);
    console.log(`${entry.name}.html: ${result.ok ? "ok" : "FAILED"}, ${result.rendered}/${result.divs} figures rendered${why.length ? `\n  ${why.join("\n  ")}` : ""}`);
    results.push(result);
  }
} finally {
  await browser.close();
}
writeFileSync(join(out, "checks.json"), JSON.stringify(results, null, 2) + "\n");
process.exit(results.length > 0 && results.every((r) => r.ok) ? 0 : 1);
