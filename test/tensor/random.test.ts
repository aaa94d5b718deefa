/** The seeded RNG: determinism, state round trips, distributions. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../lib/errors.js";
import { Rng } from "../../lib/tensor/random.js";

describe("Rng", () => {
  it("the same seed gives the same stream; different seeds differ", () => {
    const a = new Rng(123), b = new Rng(123), c = new Rng(124);
    const xa = Array.from({ length: 100 }, () => a.nextU32());
    const xb = Array.from({ length: 100 }, () => b.nextU32());
    const xc = Array.from({ length: 100 }, () => c.nextU32());
    assert.deepEqual(xa, xb);
    assert.notDeepEqual(xa, xc);
    assert.notDeepEqual(Array.from({ length: 4 }, () => new Rng(2 ** 32 + 5).nextU32()), Array.from({ length: 4 }, () => new Rng(5).nextU32()));
    assert.deepEqual(new Rng("moby").normalArray(5), new Rng("moby").normalArray(5));
  });

  it("state() / fromState resume the stream exactly, including a cached normal", () => {
    const r = new Rng(9);
    r.normal(); // leaves a spare
    const s = JSON.parse(JSON.stringify(r.state()));
    const rest = Array.from({ length: 10 }, () => r.normal());
    const q = Rng.fromState(s);
    assert.deepEqual(Array.from({ length: 10 }, () => q.normal()), rest);
  });

  it("uniform is in [0, 1) with mean ≈ 1/2; normal has mean ≈ 0 and variance ≈ 1", () => {
    const r = new Rng(1);
    const n = 100_000;
    let su = 0, sn = 0, sn2 = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      assert.ok(u >= 0 && u < 1);
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    assert.ok(Math.abs(su / n - 0.5) < 0.005);
    assert.ok(Math.abs(sn / n) < 0.01);
    assert.ok(Math.abs(sn2 / n - 1) < 0.02);
  });

  it("int, shuffle and categorical stay in range and cover it", () => {
    const r = new Rng(2);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const k = r.int(3, 8);
      assert.ok(k >= 3 && k < 8 && Number.isInteger(k));
      seen.add(k);
    }
    assert.equal(seen.size, 5);
    assert.deepEqual(r.shuffle([1, 2, 3, 4, 5]).sort(), [1, 2, 3, 4, 5]);
    const counts = [0, 0, 0];
    for (let i = 0; i < 30_000; i++) counts[r.categorical([1, 0, 3])]!++;
    assert.equal(counts[1], 0);
    assert.ok(Math.abs(counts[2]! / 30_000 - 0.75) < 0.02);
  });

  it("rejects bad arguments with the value named", () => {
    assert.throws(() => new Rng(1.5), (e: Error) => e instanceof ConfigError && /seed=1.5/.test(e.message));
    assert.throws(() => new Rng(0).int(5, 5), /lo=5, hi=5/);
    assert.throws(() => new Rng(0).categorical([-1, 2]), /weight\[0\]=-1/);
    assert.throws(() => Rng.fromState({ s: [0, 0, 0, 0], spare: null }), /all-zero/);
  });
});
