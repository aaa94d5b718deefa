/** Rollups (lib/eval/rollup.ts): accuracy per length / depth / cell, k_max (PI Table 4), printing; evalsets on disk. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import * as aq from "arquero";
import { accuracyBy, accuracyByDepth, accuracyByLength, accuracyGrid, evalSets, formatTable, kMax, kMaxOf, toJsonl } from "../../lib/eval/index.js";

/** A hand-made sweep: method A is 100% to 128, 20% at 256, 10% at 512, 100% at 1024; B fails at 64. */
function sweep(): Record<string, unknown>[] {
  const acc: Record<string, Record<number, number>> = { A: { 64: 1, 128: 1, 256: 0.2, 512: 0.1, 1024: 1 }, B: { 64: 0.1, 128: 1, 256: 1, 512: 1, 1024: 1 } };
  const rows: Record<string, unknown>[] = [];
  for (const method of ["A", "B"]) {
    for (const length of [64, 128, 256, 512, 1024]) {
      for (let i = 0; i < 10; i++) rows.push({ method, length, depth: i % 2 ? 1 : 0, correct: i < acc[method]![length]! * 10 ? 1 : 0, error: null });
    }
  }
  return rows;
}

describe("rollups", () => {
  it("k_max: the largest ℓ with accuracy ≥ 20% there and at every shorter ℓ (PI Table 4)", () => {
    assert.deepEqual(kMax(aq.from(sweep())).objects(), [{ method: "A", k_max: 256 }, { method: "B", k_max: null }]);
    assert.deepEqual(kMax(sweep(), { threshold: 0.1 }).objects(), [{ method: "A", k_max: 1024 }, { method: "B", k_max: 1024 }]);
    assert.equal(kMaxOf([{ length: 128, accuracy: 0.5 }, { length: 64, accuracy: 0.3 }, { length: 256, accuracy: null }]), 128); // sorted; nothing ran = failure
    assert.equal(kMaxOf([]), null);
    assert.deepEqual(kMax(sweep(), { by: null }).objects(), [{ method: "all", k_max: 1024 }]);
  });
  it("mean accuracy per length, per depth, per cell, with n, errors and standard errors; nulls skipped", () => {
    const rows = [...sweep(), { method: "A", length: 64, depth: 0, correct: null, error: "ℓ > ℓ_max" }];
    const L = accuracyByLength(rows).objects() as Record<string, number>[];
    assert.deepEqual(L.slice(0, 3).map((r) => [r.method, r.length, r.n, r.errors, r.accuracy]), [["A", 64, 10, 1, 1], ["A", 128, 10, 0, 1], ["A", 256, 10, 0, 0.2]]);
    assert.ok(Math.abs(L[2]!.se! - Math.sqrt(0.2 * 0.8 / 10)) < 1e-12);
    const D = accuracyByDepth(sweep()).objects() as Record<string, number>[];
    assert.deepEqual(D.map((r) => [r.method, r.depth, r.n]), [["A", 0, 25], ["A", 1, 25], ["B", 0, 25], ["B", 1, 25]]);
    const C = accuracyBy(sweep(), ["length", "depth"]).objects() as Record<string, unknown>[];
    assert.equal(C.length, 20);
    const cell = C.find((r) => r.method === "A" && r.length === 256 && r.depth === 0)!;
    assert.deepEqual({ ...cell, se: undefined, lo: undefined, hi: undefined }, { method: "A", length: 256, depth: 0, n: 5, errors: 0, accuracy: 0.2, se: undefined, lo: undefined, hi: undefined });
    assert.deepEqual([cell.lo, cell.hi].map((v) => Number((v as number).toFixed(4))), [0.0362, 0.6245], "Wilson 1/5");
    assert.ok(Math.abs((cell.se as number) - Math.sqrt(0.16 / 5)) < 1e-12);
    assert.throws(() => accuracyBy(sweep(), ["position"]), /no column "position"/);
  });
  it("accuracyGrid and formatTable print a length × depth table", () => {
    const g = accuracyGrid(sweep().filter((r) => r.method === "A"));
    assert.deepEqual(g.columnNames(), ["method", "length", "n", "d=0", "d=1", "all", "errors"]);
    const text = formatTable(g);
    const lines = text.split("\n");
    assert.equal(lines.length, 7);
    assert.match(lines[0]!, /^method\s+length\s+n\s+d=0\s+d=1\s+all\s+errors$/);
    assert.match(lines[5]!, /^\s+A\s+512\s+10\s+0.2000\s+0\s+0.1000\s+0$/);
    assert.equal(formatTable([{ a: null, b: 1234.5 }]).split("\n")[2], "—  1235");
  });
});

describe("data/evalsets", () => {
  it("the committed files equal a fresh generation (regenerate with node scripts/make-evalsets.mjs)", () => {
    let bytes = 0;
    for (const s of evalSets()) {
      const committed = readFileSync(`data/evalsets/${s.name}.jsonl`, "utf8");
      assert.equal(committed, toJsonl(s.examples), `${s.name}.jsonl differs from the generator's output`);
      bytes += committed.length;
      assert.ok(s.examples.every((e) => e.ids.length + e.targetIds.length <= e.length));
    }
    assert.ok(bytes < 2_000_000, `${bytes} bytes`);
    const sets = Object.fromEntries(evalSets().map((s) => [s.name, s.skipped]));
    assert.deepEqual(sets, { passkey: [64], "passkey-compact": [], lines: [64, 128], "lines-compact": [] });
  });
});
