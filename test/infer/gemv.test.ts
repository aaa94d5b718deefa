/** The decode step's product y += x·W: the hand-assembled WebAssembly SIMD module against plain JS. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gemvHeap, gemvJs, gemvModuleBytes } from "../../lib/infer/gemv.js";

describe("gemv", () => {
  it("the module validates and the heap uses it (Node ≥ 20 has WebAssembly SIMD)", () => {
    const wasm = (globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly;
    assert.equal(wasm.validate(gemvModuleBytes()), true);
    assert.equal(gemvHeap(16).kind, "wasm-simd");
    assert.equal(gemvHeap(16, "js").kind, "js");
  });
  for (const [nIn, nOut, stride] of [[1, 1, 1], [3, 4, 4], [37, 131, 140], [32, 1029, 2048], [128, 512, 512], [5, 0, 3], [0, 8, 8]] as const) {
    it(`equals the JS loop: nIn=${nIn}, nOut=${nOut}, stride=${stride} (tails, strided rows, empty)`, () => {
      const n = 64 + nIn * stride + nOut + 16;
      const h = gemvHeap(n);
      for (let i = 0; i < n; i++) h.f32[i] = Math.sin(i * 1.3 + 0.5) * 2;
      const ref = Float32Array.from(h.f32.subarray(0, n));
      const [x, w, y] = [0, 64, 64 + nIn * stride];
      h.gemv(x, w, y, nIn, nOut, stride);
      gemvJs(ref, x, w, y, nIn, nOut, stride);
      for (let j = 0; j < n; j++) assert.ok(Math.abs(h.f32[j]! - ref[j]!) <= 1e-5 * (1 + Math.abs(ref[j]!)), `element ${j}: ${h.f32[j]} vs ${ref[j]}`);
      if (nIn > 0 && nOut > 0) assert.notEqual(h.f32[y], Math.fround(Math.sin(y * 1.3 + 0.5) * 2), "y changed");
      assert.equal(h.f32[y + nOut], ref[y + nOut], "nothing written past y[nOut − 1]");
    });
  }
});
