/**
 * bench/report.mjs: speed ratios (> 1 = ctxlab faster, times inverted), the modern-PyTorch
 * anchor column and its target, ratios against a refused reference are not printed; bench/gpu.sh
 * refuses bad arguments and a machine without an NVIDIA GPU with clear messages and its exit codes.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
interface Row { case: string; ratio: number | null; anchorRatio: number | null; met: boolean | null; metAnchor: boolean | null; ratioKind: string }
const report = (await import(join(ROOT, "bench", "report.mjs"))) as {
  speedRatio(a: number, b: number, unit: string): number | null;
  summarize(runs: unknown[], cases: { id: string }[]): Row[];
  markdownTable(rows: Row[], refused?: string | null): string;
  ANCHORS: Record<string, { value: number }>;
};

const run = (c: string, impl: string, result: Record<string, number>) => ({ case: c, impl, rep: 0, ok: true, other_cores: 0, result });

describe("bench report", () => {
  it("speed ratios: rates ctxlab ÷ other, times other ÷ ctxlab", () => {
    assert.equal(report.speedRatio(300, 100, "tokens/s"), 3);
    assert.equal(report.speedRatio(2, 1, "s"), 0.5);
    assert.equal(report.speedRatio(1, null as unknown as number, "s"), null);
  });

  it("rows carry the ratio against the reference and the anchor, and the targets", () => {
    const runs = [
      run("forward4k", "ctxlab", { forward_s: 1.48, peak_rss_mib: 300 }),
      run("forward4k", "pytorch", { forward_s: 0.74, peak_rss_mib: 400 }),
      run("decode", "ctxlab", { tokens_per_s: 1100, per_token_ms_start: 1, per_token_ms_end: 1.5 }),
      run("decode", "pytorch", { tokens_per_s: 1000, per_token_ms_start: 1, per_token_ms_end: 1.2 }),
    ];
    const rows = report.summarize(runs, [{ id: "forward4k" }, { id: "decode" }]);
    const f = rows.find((r) => r.case === "forward4k" && r.ratioKind === "speed")!;
    assert.equal(f.ratio, 0.5); // PyTorch twice as fast
    assert.equal(f.met, false);
    assert.equal(f.anchorRatio, Math.round((report.ANCHORS.forward4k!.value / 1.48) * 100) / 100);
    assert.equal(f.metAnchor, false);
    const mem = rows.find((r) => r.case === "forward4k" && r.ratioKind === "memory")!;
    assert.equal(mem.ratio, 0.75);
    const d = rows.find((r) => r.case === "decode" && r.ratio != null)!;
    assert.equal(d.ratio, 1.1);
    assert.equal(d.met, true);
    assert.equal(d.metAnchor, true); // 1,100 ≥ 0.5 × 1,088
    const table = report.markdownTable(rows);
    assert.match(table, /ctxlab ÷ anchor/);
    assert.match(table, /\| 0\.5× \|/);
    const refused = report.markdownTable(rows, "its matMul ran at 20 GFLOP/s");
    assert.doesNotMatch(refused, /\| 0\.5× \|/);
    assert.match(refused, /refused ¹/);
    assert.match(refused, /¹ its matMul ran at 20 GFLOP\/s/);
    assert.match(refused, /\| 0\.75× \(memory\) \|/); // memory ratios are not speed claims: kept
  });
});

describe("bench/gpu.sh", () => {
  const gpu = (...args: string[]) => spawnSync("bash", [join(ROOT, "bench", "gpu.sh"), ...args], { encoding: "utf8", env: { ...process.env, PATH: "/usr/bin:/bin" } });
  it("refuses an unknown backend or argument with exit 64, naming it", () => {
    const r = gpu("--backend", "tpu");
    assert.equal(r.status, 64);
    assert.match(r.stderr, /--backend tpu: must be node-gpu or webgpu/);
    const u = gpu("--fast");
    assert.equal(u.status, 64);
    assert.match(u.stderr, /unknown argument --fast/);
  });
  it("says plainly that there is no GPU and exits 2 where nvidia-smi lists none", { skip: spawnSync("nvidia-smi", ["-L"]).status === 0 ? "an NVIDIA GPU is visible here" : false }, () => {
    const r = gpu("--no-install");
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no NVIDIA GPU visible/);
  });
});
