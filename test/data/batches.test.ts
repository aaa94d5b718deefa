/** Batch sources: determinism, windows are corpus substrings, shapes, the doubling mixture, batchTokens, realised counts, errors. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError } from "../../lib/errors.js";
import { Rng } from "../../lib/tensor/random.js";
import { lengthMixtureSource, mixedSource, textTokens, windowSource } from "../../lib/data/batches.js";
import { mobyDick } from "../../lib/data/corpus.js";
import { byteTokenizer } from "../../lib/data/tokenizer.js";
import type { Batch, BatchSource } from "../../lib/data/types.js";

/** tokens[i] = i: a window's content reveals its start. */
const arange = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

/** Row b of a batch. */
const row = (x: Batch, b: number) => Array.from(x.tokens.subarray(b * x.length, (b + 1) * x.length));

/** Asserts every row is a run of consecutive ids from an arange corpus of n tokens. */
function assertWindowsOfArange(x: Batch, n: number): void {
  assert.equal(x.tokens.length, x.batch * x.length);
  for (let b = 0; b < x.batch; b++) {
    const r = row(x, b);
    assert.ok(r[0]! >= 0 && r[0]! + x.length <= n, `row ${b} start ${r[0]}`);
    r.forEach((v, t) => assert.equal(v, r[0]! + t));
  }
}

const draw = (src: BatchSource, seed: number, n: number) => {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => src.next(rng));
};

describe("textTokens", () => {
  it("encodes to an Int32Array", () => {
    const t = textTokens("Hi 🐳", byteTokenizer());
    assert.ok(t instanceof Int32Array);
    assert.deepEqual(Array.from(t), byteTokenizer().encode("Hi 🐳"));
  });
});

describe("windowSource", () => {
  it("gives [B, ℓ] windows that are actual substrings of the corpus", () => {
    const tok = byteTokenizer();
    const text = mobyDick().slice(0, 200_000);
    const src = windowSource(textTokens(text, tok), { batch: 8, length: 64 });
    const rng = new Rng(7);
    for (let i = 0; i < 20; i++) {
      const x = src.next(rng);
      assert.deepEqual([x.batch, x.length, x.tokens.length], [8, 64, 512]);
      for (let b = 0; b < x.batch; b++) {
        const bytes = Buffer.from(Uint8Array.from(row(x, b)));
        assert.ok(Buffer.from(text).includes(bytes), `batch ${i} row ${b} is in the corpus`);
      }
    }
    assertWindowsOfArange(windowSource(arange(1000), { batch: 16, length: 50 }).next(rng), 1000);
  });

  it("is deterministic in the Rng: same seed → identical batches, different seed → different", () => {
    const src = windowSource(Array.from(arange(5000)), { batch: 4, length: 32 });
    assert.deepEqual(draw(src, 1, 10), draw(src, 1, 10));
    assert.notDeepEqual(draw(src, 1, 10), draw(src, 2, 10));
    const rng = new Rng(3);
    src.next(rng);
    const saved = rng.state();
    const x = src.next(rng);
    assert.deepEqual(src.next(Rng.fromState(saved)), x, "resume from a saved Rng state");
  });

  it("reaches every start position, including the last (N − ℓ)", () => {
    const src = windowSource(arange(12), { batch: 50, length: 10 });
    const starts = new Set<number>();
    const x = src.next(new Rng(0));
    for (let b = 0; b < x.batch; b++) starts.add(row(x, b)[0]!);
    assert.deepEqual([...starts].sort(), [0, 1, 2]);
    assertWindowsOfArange(windowSource(arange(10), { batch: 2, length: 10 }).next(new Rng(0)), 10);
  });

  it("names ℓ and the corpus length when the corpus is too short; checks B and ℓ", () => {
    assert.throws(() => windowSource(arange(100), { batch: 2, length: 128 }), (e: Error) => e instanceof ConfigError && /ℓ=128/.test(e.message) && /100 tokens/.test(e.message));
    assert.throws(() => windowSource(arange(100), { batch: 0, length: 8 }), /batch \(B\)=0 must be a positive integer/);
    assert.throws(() => windowSource(arange(100), { batch: 2, length: 2.5 }), /length \(ℓ\)=2\.5/);
  });
});

describe("lengthMixtureSource", () => {
  const corpus = arange(20_000);

  it("doubling: lengths ℓ_max·2^k to 8ℓ_max, weights 8/15, 4/15, 2/15, 1/15; frequencies over 4,000 batches within ±2%", () => {
    const src = lengthMixtureSource(corpus, { mixture: "doubling", lMax: 8, batch: 1 });
    const expected = [8, 16, 32, 64].map((length, k) => ({ length, weight: 2 ** (3 - k) / 15 }));
    src.mixture.forEach((c, i) => assert.ok(c.length === expected[i]!.length && Math.abs(c.weight - expected[i]!.weight) < 1e-12));
    assert.equal(src.mixture.length, 4);
    const d = src.describe();
    assert.deepEqual([d.kind, d.spec, d.lMax, d.maxLength, d.jitter, d.batch], ["length-mixture", "doubling", 8, 64, 0, 1]);
    const rng = new Rng(2024);
    const seen = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      const x = src.next(rng);
      assertWindowsOfArange(x, corpus.length);
      seen.set(x.length, (seen.get(x.length) ?? 0) + 1);
    }
    for (const e of expected) {
      const f = (seen.get(e.length) ?? 0) / 4000;
      assert.ok(Math.abs(f - e.weight) < 0.02, `ℓ=${e.length}: ${f} vs ${e.weight}`);
    }
    const real = src.realised();
    assert.deepEqual(real.map((r) => [r.length, r.count]), expected.map((e) => [e.length, seen.get(e.length)]));
    assert.ok(Math.abs(real.reduce((s, r) => s + r.fraction, 0) - 1) < 1e-12);
    src.resetRealised();
    assert.deepEqual(src.realised(), []);
  });

  it("doubling truncates at maxLength and renormalises (1/2, 1/4, 1/8 → 4/7, 2/7, 1/7)", () => {
    const src = lengthMixtureSource(corpus, { mixture: "doubling", lMax: 100, maxLength: 500, batch: 2 });
    assert.deepEqual(src.mixture.map((c) => c.length), [100, 200, 400]);
    src.mixture.forEach((c, k) => assert.ok(Math.abs(c.weight - 2 ** (2 - k) / 7) < 1e-12));
    assert.deepEqual(lengthMixtureSource(corpus, { mixture: "doubling", lMax: 100, maxLength: 100, batch: 2 }).mixture, [{ length: 100, weight: 1 }]);
  });

  it("batchTokens: B = max(1, floor(batchTokens / ℓ)); sequence counts follow", () => {
    const src = lengthMixtureSource(corpus, { mixture: [{ length: 8, weight: 1 }, { length: 30, weight: 1 }, { length: 200, weight: 1 }], batchTokens: 100 });
    const want: Record<number, number> = { 8: 12, 30: 3, 200: 1 };
    const rng = new Rng(5);
    let rows = 0;
    for (let i = 0; i < 300; i++) {
      const x = src.next(rng);
      assert.equal(x.batch, want[x.length]);
      assertWindowsOfArange(x, corpus.length);
      rows += x.batch;
    }
    const real = src.realised();
    assert.equal(real.reduce((s, r) => s + r.count, 0), 300);
    assert.equal(real.reduce((s, r) => s + r.sequences, 0), rows);
    for (const r of real) assert.equal(r.sequences, r.count * want[r.length]!);
    assert.equal(src.describe().batchTokens, 100);
  });

  it("jitter: realised lengths lie in round(ℓ(1 ± j)); counts by component add up", () => {
    const src = lengthMixtureSource(corpus, { mixture: "doubling", lMax: 20, maxLength: 40, jitter: 0.25, batch: 3 });
    const rng = new Rng(11);
    const lengths = new Set<number>();
    for (let i = 0; i < 500; i++) {
      const x = src.next(rng);
      assert.ok((x.length >= 15 && x.length <= 25) || (x.length >= 30 && x.length <= 50), `ℓ=${x.length}`);
      assertWindowsOfArange(x, corpus.length);
      lengths.add(x.length);
    }
    assert.ok(lengths.size > 10);
    const comp = src.realised({ by: "component" });
    assert.deepEqual(comp.map((c) => c.length), [20, 40]);
    assert.equal(comp[0]!.count + comp[1]!.count, 500);
    assert.equal(src.realised().reduce((s, r) => s + r.count, 0), 500);
  });

  it("is deterministic in the Rng", () => {
    const src = lengthMixtureSource(corpus, { mixture: "doubling", lMax: 16, jitter: 0.1, batchTokens: 256 });
    assert.deepEqual(draw(src, 9, 20), draw(src, 9, 20));
    assert.notDeepEqual(draw(src, 9, 20), draw(src, 10, 20));
  });

  it("errors name the option and value", () => {
    const mk = (o: Record<string, unknown>) => () => lengthMixtureSource(corpus, { mixture: "doubling", lMax: 8, batch: 1, ...o } as never);
    assert.throws(mk({ batchTokens: 100 }), /exactly one of batch \(B\) and batchTokens/);
    assert.throws(mk({ batch: undefined }), /exactly one of batch/);
    assert.throws(mk({ lMax: undefined }), /"doubling" needs lMax/);
    assert.throws(mk({ mixture: "halving" }), /unknown mixture "halving"/);
    assert.throws(mk({ maxLength: 4 }), /maxLength=4 is shorter than ℓ_max=8/);
    assert.throws(mk({ jitter: 1 }), /jitter=1 must be in \[0, 1\)/);
    assert.throws(mk({ mixture: [{ length: 8, weight: 1 }, { length: 8, weight: 2 }] }), /mixture\[1\]\.length=8 appears twice/);
    assert.throws(mk({ mixture: [{ length: 8, weight: -1 }] }), /mixture\[0\]\.weight=-1/);
    assert.throws(mk({ mixture: [{ length: 8, weight: 0 }] }), /sum to 0/);
    assert.throws(mk({ mixture: [] }), ConfigError);
    assert.throws(mk({ lMax: 4096 }), (e: Error) => e instanceof ConfigError && /ℓ=32768/.test(e.message) && /20000 tokens/.test(e.message));
  });
});

describe("mixedSource", () => {
  const a = windowSource(arange(1000), { batch: 2, length: 8 });
  const b = lengthMixtureSource(arange(1000), { mixture: [{ length: 16, weight: 1 }], batch: 1 });

  it("picks a sub-source per batch by weight, deterministically", () => {
    const src = mixedSource([{ source: a, weight: 3 }, { source: b, weight: 1 }]);
    const rng = new Rng(4);
    let fromA = 0;
    for (let i = 0; i < 4000; i++) {
      const x = src.next(rng);
      assert.ok((x.batch === 2 && x.length === 8) || (x.batch === 1 && x.length === 16));
      if (x.length === 8) fromA++;
    }
    assert.ok(Math.abs(fromA / 4000 - 0.75) < 0.02, `${fromA / 4000}`);
    assert.deepEqual(src.realised().map((r) => r.count), [fromA, 4000 - fromA]);
    assert.deepEqual(draw(src, 1, 10), draw(src, 1, 10));
    const d = src.describe() as { kind: string; sources: { name: string; weight: number }[] };
    assert.deepEqual(d.sources.map((s) => [s.name, s.weight]), [["window", 0.75], ["length-mixture", 0.25]]);
  });

  it("rejects empty lists and bad weights", () => {
    assert.throws(() => mixedSource([]), ConfigError);
    assert.throws(() => mixedSource([{ source: a, weight: Number.NaN }]), /parts\[0\]\.weight=NaN/);
    assert.throws(() => mixedSource([{ source: a, weight: 0 }]), /sum to 0/);
  });
});
