/**
 * safetensors as Hugging Face ships it: F16 and BF16 from hand-made little-endian bytes decoded to
 * float32 exactly (subnormals, ±0, ±inf, NaN), and sharded weights (model.safetensors.index.json).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CheckpointError } from "../../lib/errors.js";
import { fromFloat32, parseSafetensors, readSafetensorsDir, serializeSafetensors, toFloat32 } from "../../lib/io/safetensors.js";

const tmp = mkdtempSync(join(tmpdir(), "ctxlab-st-hf-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file from a header object and raw data bytes (written by hand, not by our serializer). */
function fileOf(header: Record<string, unknown>, data: number[]): Uint8Array {
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeUInt32LE(json.length, 0); // high 4 bytes stay 0
  json.copy(out, 8);
  Buffer.from(data).copy(out, 8 + json.length);
  return new Uint8Array(out);
}
const le16 = (bits: number[]) => bits.flatMap((b) => [b & 0xff, b >> 8]);

describe("F16 / BF16 → float32, exactly", () => {
  it("hand-made bytes: normals, subnormals, ±0, ±inf, NaN", () => {
    const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x3555];
    const bf16 = [0x3f80, 0xc000, 0x0001, 0x007f, 0x0080, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x3eab];
    const bytes = fileOf({
      a: { dtype: "F16", shape: [f16.length], data_offsets: [0, 2 * f16.length] },
      b: { dtype: "BF16", shape: [bf16.length], data_offsets: [2 * f16.length, 2 * (f16.length + bf16.length)] },
    }, [...le16(f16), ...le16(bf16)]);
    const t = parseSafetensors(bytes).tensors;
    const a = Array.from(toFloat32(t.get("a")!));
    // 0x0001 = 2^-24 (smallest subnormal), 0x03ff = 1023·2^-24 (largest), 0x0400 = 2^-14; 0x3555 = 2^-2·(1 + 0x155/1024)
    const wantA = [1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, -0, Infinity, -Infinity, NaN, 0.333251953125];
    a.forEach((v, i) => assert.ok(Object.is(v, wantA[i]) || (Number.isNaN(v) && Number.isNaN(wantA[i]!)), `F16 [${i}] ${v} vs ${wantA[i]}`));
    const b = Array.from(toFloat32(t.get("b")!));
    // BF16 is float32's top half: 0x0001 → 2^-133 (a float32 subnormal), 0x007f → 127·2^-133, 0x0080 → 2^-126 (smallest normal)
    const wantB = [1, -2, 2 ** -133, 127 * 2 ** -133, 2 ** -126, -0, Infinity, -Infinity, NaN, 0.333984375];
    b.forEach((v, i) => assert.ok(Object.is(v, wantB[i]) || (Number.isNaN(v) && Number.isNaN(wantB[i]!)), `BF16 [${i}] ${v} vs ${wantB[i]}`));
  });
});

describe("sharded weights (model.safetensors.index.json)", () => {
  const shard = (name: string, tensors: Record<string, number[]>) =>
    writeFileSync(name, serializeSafetensors(Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, fromFloat32(new Float32Array(v), [v.length])]))));
  const index = (dir: string, map: Record<string, string>) => writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: 20 }, weight_map: map }));
  let n = 0;
  const dirWith = (a: Record<string, number[]>, b: Record<string, number[]>, map: Record<string, string>) => {
    const d = mkdtempSync(join(tmp, `s${++n}-`));
    shard(join(d, "model-00001-of-00002.safetensors"), a);
    shard(join(d, "model-00002-of-00002.safetensors"), b);
    index(d, map);
    return d;
  };
  const S1 = "model-00001-of-00002.safetensors";
  const S2 = "model-00002-of-00002.safetensors";

  it("reads every shard into one map", async () => {
    const d = dirWith({ x: [1, 2], y: [3] }, { z: [4, 5] }, { x: S1, y: S1, z: S2 });
    const r = await readSafetensorsDir(d);
    assert.deepEqual([...r.tensors.keys()].sort(), ["x", "y", "z"]);
    assert.deepEqual(Array.from(toFloat32(r.tensors.get("z")!)), [4, 5]);
    assert.equal(r.files.length, 2);
    assert.equal(r.metadata.total_size, "20");
  });
  it("inconsistent indexes are errors naming the tensor and the shard", async () => {
    await assert.rejects(readSafetensorsDir(dirWith({ x: [1] }, { z: [4] }, { x: S1, y: S1, z: S2 })), (e: Error) => e instanceof CheckpointError && /tensor "y" is listed in model.safetensors.index.json but not in this shard/.test(e.message));
    await assert.rejects(readSafetensorsDir(dirWith({ x: [1] }, { z: [4], x: [4] }, { x: S1, z: S2 })), /tensor "x" appears in two shards/);
    await assert.rejects(readSafetensorsDir(dirWith({ x: [1], z: [2] }, { z: [4] }, { x: S1, z: S2 })), /tensor "z" is in this shard but model.safetensors.index.json maps it to "model-00002/);
    await assert.rejects(readSafetensorsDir(dirWith({ x: [1] }, { z: [4] }, { x: S1, z: "../evil.safetensors" })), /must be a file name inside the model directory/);
    const empty = mkdtempSync(join(tmp, "e-"));
    await assert.rejects(readSafetensorsDir(empty), /no model.safetensors and no model.safetensors.index.json/);
  });
});
