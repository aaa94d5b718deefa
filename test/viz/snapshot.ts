/**
 * JSON snapshots for figure specs (Observable Plot's habit): test/viz/snapshots/<name>.json in the
 * source tree (tests run from the repo root). A mismatch writes <name>-changed.json beside it and
 * fails; a missing snapshot is written when UPDATE_SNAPSHOTS=1, else fails. Numbers compare with
 * rtol 2e-3: heatmaps are stored at 4–5 significant digits, and a float32 difference between tfjs
 * backends (wasm, cpu, node) may flip the last one.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const SNAPSHOT_DIR = join(process.cwd(), "test", "viz", "snapshots");

/** Fail on typed arrays, functions or non-finite numbers: a figure must survive JSON as-is. */
export function assertPlainJson(v: unknown, path = "$"): void {
  if (ArrayBuffer.isView(v)) assert.fail(`${path} is a typed array; figures must hold plain arrays`);
  if (typeof v === "function") assert.fail(`${path} is a function`);
  if (typeof v === "number" && !Number.isFinite(v)) assert.fail(`${path} is ${v}; use null for gaps`);
  if (Array.isArray(v)) v.forEach((x, i) => assertPlainJson(x, `${path}[${i}]`));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) assertPlainJson(x, `${path}.${k}`);
}

function normalise(v: unknown): unknown {
  assertPlainJson(v);
  return JSON.parse(JSON.stringify(v));
}

/** The first difference between two JSON values, as "path: a vs b", or null. */
export function jsonDiff(a: unknown, b: unknown, path = "$", rtol = 2e-3, atol = 1e-6): string | null {
  if (typeof a === "number" && typeof b === "number") {
    return Math.abs(a - b) <= atol + rtol * Math.abs(b) ? null : `${path}: ${a} vs ${b}`;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = jsonDiff(a[i], b[i], `${path}[${i}]`, rtol, atol);
      if (d) return d;
    }
    return null;
  }
  if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return `${path}: keys [${ka}] vs [${kb}]`;
    for (const k of ka) {
      const d = jsonDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`, rtol, atol);
      if (d) return d;
    }
    return null;
  }
  return a === b ? null : `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

/** Compare `value` with snapshot `name`; see the file header. */
export function matchSnapshot(name: string, value: unknown): void {
  const file = join(SNAPSHOT_DIR, `${name}.json`);
  const changed = join(SNAPSHOT_DIR, `${name}-changed.json`);
  const actual = normalise(value);
  const text = JSON.stringify(actual, null, 1) + "\n";
  if (!existsSync(file)) {
    if (process.env.UPDATE_SNAPSHOTS === "1") {
      mkdirSync(SNAPSHOT_DIR, { recursive: true });
      writeFileSync(file, text);
      return;
    }
    assert.fail(`snapshot ${file} is missing; run the tests once with UPDATE_SNAPSHOTS=1 to create it`);
  }
  const diff = jsonDiff(actual, JSON.parse(readFileSync(file, "utf8")));
  if (diff) {
    writeFileSync(changed, text);
    assert.fail(`figure "${name}" differs from its snapshot at ${diff}; the new spec is in ${changed} (replace the snapshot with it if the change is intended)`);
  }
  if (existsSync(changed)) rmSync(changed);
}
