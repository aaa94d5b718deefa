/**
 * Learning-rate schedules of Algorithm 13 (lib/train/schedule.ts) against their closed forms.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../lib/errors.js";
import { lrAt, resolveSchedule, schedule } from "../../lib/train/schedule.js";

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-15 + 1e-12 * Math.abs(b), `${what}: ${a} vs ${b}`);

describe("schedules", () => {
  it("constant: η(s) = lr for every s; a number is a constant schedule", () => {
    for (const s of [1, 2, 100, 10_000]) {
      assert.equal(lrAt({ kind: "constant", lr: 3e-4 }, s), 3e-4);
      assert.equal(lrAt(0.01, s), 0.01);
    }
  });

  it("linear-warmup-constant: lr·(f + (1−f)·s/W) up to W, then lr", () => {
    const spec = { kind: "linear-warmup-constant", lr: 2e-5, warmup: 20, warmupFrom: 0.1 } as const; // the PI recipe
    for (let s = 1; s <= 20; s++) close(lrAt(spec, s), 2e-5 * (0.1 + (0.9 * s) / 20), `s=${s}`);
    close(lrAt(spec, 20), 2e-5, "end of warm-up");
    for (const s of [21, 500, 1000]) assert.equal(lrAt(spec, s), 2e-5);
    close(lrAt({ kind: "linear-warmup-constant", lr: 1, warmup: 4 }, 1), 0.25, "f = 0: step 1 gets lr/W, not 0");
  });

  it("cosine: warm-up, then minLr + (lr − minLr)(1 + cos πp)/2 with p = (s−W)/(T−W), minLr after T", () => {
    const lr = 1e-3, minLr = 1e-4, W = 10, T = 110;
    const f = schedule({ kind: "cosine", lr, warmup: W, total: T, minLr });
    for (let s = 1; s <= W; s++) close(f(s), (lr * s) / W, `warm-up s=${s}`);
    for (let s = W; s <= T; s += 7) close(f(s), minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * (s - W)) / (T - W)))) / 2, `s=${s}`);
    close(f(60), (lr + minLr) / 2, "half-way is the mean of lr and minLr");
    close(f(T), minLr, "η(T) = minLr");
    assert.equal(f(T + 1), minLr);
    assert.equal(f(10 * T), minLr);
  });

  it("cosine defaults: T = the run's steps, minLr = lr/10, no warm-up", () => {
    const r = resolveSchedule({ kind: "cosine", lr: 0.5 }, 40);
    assert.deepEqual(r, { kind: "cosine", lr: 0.5, warmup: 0, warmupFrom: 0, total: 40, minLr: 0.05, decayFrom: 0 });
    close(lrAt(r, 40), 0.05, "end");
    close(lrAt(r, 1), 0.05 + 0.45 * (1 + Math.cos(Math.PI / 40)) / 2, "step 1");
  });

  it("cosine with decayFrom D (warm-up–stable–decay): warm-up, lr until D, then the half cosine over (D, T]", () => {
    const lr = 2e-3, minLr = 2e-4, W = 30, D = 2000, T = 2500;
    const wsd = schedule({ kind: "cosine", lr, warmup: W, total: T, minLr, decayFrom: D });
    const constant = schedule({ kind: "linear-warmup-constant", lr, warmup: W });
    for (let s = 1; s <= D; s += 37) assert.equal(wsd(s), constant(s), `s=${s}: the prefix up to D is the constant schedule's`);
    assert.equal(wsd(D), lr);
    for (let s = D + 1; s <= T; s += 29) close(wsd(s), minLr + ((lr - minLr) * (1 + Math.cos((Math.PI * (s - D)) / (T - D)))) / 2, `s=${s}`);
    close(wsd((D + T) / 2), (lr + minLr) / 2, "half-way through the decay is the mean");
    close(wsd(T), minLr, "η(T) = minLr");
    assert.ok(wsd(D + 1) < lr && wsd(D + 1) > 0.99 * lr, "the decay starts right after D");
    const plain = resolveSchedule({ kind: "cosine", lr, warmup: W, total: T });
    assert.equal(plain.kind === "cosine" && plain.decayFrom, W, "default D = W: the plain cosine");
    assert.throws(() => resolveSchedule({ kind: "cosine", lr, warmup: W, total: T, decayFrom: 10 }), /decayFrom must be an integer step in \[warmup=30, total=2500\), got 10/);
    assert.throws(() => resolveSchedule({ kind: "cosine", lr, warmup: W, total: T, decayFrom: T }), /decayFrom must be an integer step in \[warmup=30, total=2500\), got 2500/);
    assert.throws(() => resolveSchedule({ kind: "cosine", lr, total: T, decayFrom: 1.5 }), (e: Error) => e instanceof ConfigError && /decayFrom/.test(e.message));
  });

  it("rejects bad values with ConfigError naming the field", () => {
    assert.throws(() => resolveSchedule({ kind: "cosine", lr: 1e-3 }), (e: Error) => e instanceof ConfigError && /total/.test(e.message));
    assert.throws(() => resolveSchedule({ kind: "cosine", lr: 1e-3, total: 10, minLr: 1 }), /minLr must be in \[0, lr=0.001\]/);
    assert.throws(() => resolveSchedule({ kind: "linear-warmup-constant", lr: 1 } as never), /warmup \(steps\) is required/);
    assert.throws(() => resolveSchedule(-1), /lr must be a finite number ≥ 0/);
    assert.throws(() => resolveSchedule({ kind: "step", lr: 1 } as never), /kind must be/);
    assert.throws(() => lrAt(1e-3, 0), /step=0 must be an integer ≥ 1/);
  });
});
