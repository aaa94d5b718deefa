/**
 * Tests for lib/tensor/backend.ts: automatic and explicit backend selection, CTXLAB_BACKEND,
 * and the classification of failures to load the optional native packages (simulated through the
 * injectable loader, since tfjs-node / tfjs-node-gpu are not installed here).
 */

import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import * as tfjs from "@tensorflow/tfjs";
import { BackendError } from "../../lib/errors.js";
import {
  _setOptionalLoaderForTests,
  backendInfo,
  ensureBackend,
  refuseSlowBackend,
  tf,
  useBackend,
  type BackendInfo,
} from "../../lib/tensor/backend.js";

const BACKEND_JS = fileURLToPath(new URL("../../lib/tensor/backend.js", import.meta.url));
const WASM_PKG = "@tensorflow/tfjs-backend-wasm";
const VALID_NAMES = /"auto", "node-gpu", "node", "wasm", "cpu"/;

/** Runs a snippet in a fresh Node process with `env` added; returns its parsed JSON stdout. */
function child(code: string, env: Record<string, string>): Record<string, unknown> {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", code], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 120_000, // a limit, not a measurement: importing TF.js took > 10 s at load 16
  });
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

/** A loader that imports wasm for real and fails the native packages the given way. */
function simulate(failures: Record<string, unknown>, calls: string[] = []): (pkg: string) => Promise<unknown> {
  return async (pkg: string) => {
    calls.push(pkg);
    if (pkg in failures) throw failures[pkg];
    return import(pkg);
  };
}

function notFound(pkg: string): Error {
  return Object.assign(new Error(`Cannot find package '${pkg}' imported from /work/main/dist/lib/tensor/backend.js`), {
    code: "ERR_MODULE_NOT_FOUND",
  });
}

const savedEnv = process.env["CTXLAB_BACKEND"];
afterEach(async () => {
  if (savedEnv === undefined) delete process.env["CTXLAB_BACKEND"];
  else process.env["CTXLAB_BACKEND"] = savedEnv;
  _setOptionalLoaderForTests(null);
  await useBackend("wasm");
});

test("auto selection picks wasm here and says how to get node-gpu / node", async () => {
  delete process.env["CTXLAB_BACKEND"];
  _setOptionalLoaderForTests(null); // forget any earlier selection
  const info = await useBackend();
  assert.equal(info.active, "wasm");
  assert.equal(info.tfBackend, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.equal(info.requested, "auto");
  assert.equal(info.source, "default");
  assert.deepEqual(info.attempts.map((a) => [a.name, a.ok]), [["node-gpu", false], ["node", false], ["wasm", true]]);
  const [gpu, node, wasm] = info.attempts;
  assert.match(gpu!.reason, /@tensorflow\/tfjs-node-gpu is not installed — npm install @tensorflow\/tfjs-node-gpu/);
  assert.match(gpu!.reason, /CUDA 11\.2 and cuDNN 8\.1/);
  assert.match(node!.reason, /@tensorflow\/tfjs-node is not installed — npm install @tensorflow\/tfjs-node\b/);
  assert.match(wasm!.reason, /SIMD (on|off)/);
  assert.match(wasm!.reason, /single-threaded/);
  assert.equal(info.summary.split("\n").length, 4);
  assert.match(info.summary, /^ctxlab backend: wasm/);
  assert.equal(backendInfo(), info);
  assert.equal(await ensureBackend(), info, "ensureBackend returns the existing selection");
  assert.equal(await useBackend("auto"), info, "same request again is a no-op");
  assert.equal(await useBackend("wasm"), info, "asking for the active backend is a no-op");
});

test("tf is the one @tensorflow/tfjs instance, with the wasm gather-gradient kernel registered", () => {
  assert.equal(tf.engine(), tfjs.engine());
  assert.equal(tf.version_core, "4.22.0");
  assert.ok(tf.getKernel("UnsortedSegmentSum", "wasm") !== undefined);
});

test("CTXLAB_BACKEND=cpu selects cpu (fresh process)", () => {
  const out = child(
    `const m = await import(${JSON.stringify(BACKEND_JS)});
     const info = await m.ensureBackend();
     const again = await m.ensureBackend();
     console.log(JSON.stringify({ ...info, same: info === again, tf: m.tf.getBackend() }));`,
    { CTXLAB_BACKEND: "cpu" },
  );
  assert.equal(out["active"], "cpu");
  assert.equal(out["tf"], "cpu");
  assert.equal(out["requested"], "cpu");
  assert.equal(out["source"], "env");
  assert.equal(out["same"], true);
  assert.equal((out["attempts"] as unknown[]).length, 1);
  assert.match(String(out["summary"]), /CTXLAB_BACKEND=cpu/);
});

test("a bad CTXLAB_BACKEND gives a BackendError listing the valid names", async () => {
  process.env["CTXLAB_BACKEND"] = "gpu";
  const before = backendInfo();
  await assert.rejects(useBackend(), (e: unknown) => {
    assert.ok(e instanceof BackendError);
    assert.match(e.message, /CTXLAB_BACKEND/);
    assert.match(e.message, /"gpu"/);
    assert.match(e.message, VALID_NAMES);
    return true;
  });
  assert.equal(backendInfo(), before, "a rejected request changes nothing");
  assert.equal(tf.getBackend(), "wasm");
  const out = child(
    `const m = await import(${JSON.stringify(BACKEND_JS)});
     try { await m.ensureBackend(); console.log(JSON.stringify({ ok: true })); }
     catch (e) { console.log(JSON.stringify({ name: e.name, message: e.message })); }`,
    { CTXLAB_BACKEND: "tpu" },
  );
  assert.equal(out["name"], "BackendError");
  assert.match(String(out["message"]), VALID_NAMES);
});

test("a bad name as argument gives a BackendError listing the valid names", async () => {
  await assert.rejects(useBackend("GPU!" as "cpu"), (e: unknown) => {
    assert.ok(e instanceof BackendError);
    assert.match(e.message, /useBackend\("GPU!"\)/);
    assert.match(e.message, VALID_NAMES);
    return true;
  });
});

test("half-installed tfjs-node-gpu: reason names the skipped install script; auto falls through to wasm", async () => {
  const calls: string[] = [];
  _setOptionalLoaderForTests(
    simulate(
      {
        "@tensorflow/tfjs-node-gpu": new Error(
          "Cannot find module '/app/node_modules/@tensorflow/tfjs-node-gpu/lib/napi-v8/tfjs_binding.node'",
        ),
        "@tensorflow/tfjs-node": notFound("@tensorflow/tfjs-node"),
      },
      calls,
    ),
  );
  assert.equal(backendInfo(), undefined, "setting the loader forgets the selection");
  const info = await ensureBackend();
  assert.equal(info.active, "wasm");
  assert.deepEqual(calls, ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", WASM_PKG]);
  const gpu = info.attempts[0]!;
  assert.equal(gpu.ok, false);
  assert.match(gpu.reason, /tfjs-node-gpu is installed but its native part is missing — the install script did not run/);
  assert.match(gpu.reason, /npm approve-builds/);
  assert.match(gpu.reason, /could not download libtensorflow/);
  assert.match(info.attempts[1]!.reason, /tfjs-node is not installed/);
});

test("CUDA libraries missing: classified reason, auto falls to wasm, explicit node-gpu rejects", async () => {
  _setOptionalLoaderForTests(
    simulate({
      "@tensorflow/tfjs-node-gpu": new Error("libcudart.so.11.0: cannot open shared object file: No such file or directory"),
      "@tensorflow/tfjs-node": new Error("libtensorflow.so.2: cannot open shared object file: No such file or directory"),
    }),
  );
  const info = await useBackend("auto");
  assert.equal(info.active, "wasm");
  assert.match(info.attempts[0]!.reason, /libcudart\.so\.11\.0 not found — tfjs-node-gpu 4\.x needs CUDA 11\.2 and cuDNN 8\.1/);
  assert.match(info.attempts[1]!.reason, /native part is missing/);
  await assert.rejects(useBackend("node-gpu"), (e: unknown) => {
    assert.ok(e instanceof BackendError);
    assert.match(e.message, /^useBackend\("node-gpu"\): /);
    assert.match(e.message, /CUDA 11\.2/);
    return true;
  });
  assert.equal(backendInfo(), info, "the failed request keeps the previous selection");
  assert.equal(tf.getBackend(), "wasm");
});

test("other load failures report the error's first line and never escape auto selection", async () => {
  const weird: Record<string, unknown> = {
    "@tensorflow/tfjs-node-gpu": new Error("Illegal instruction (AVX required)\n    at Module._load"),
    "@tensorflow/tfjs-node": "a thrown string",
  };
  _setOptionalLoaderForTests(simulate(weird));
  const info = await useBackend();
  assert.equal(info.active, "wasm");
  assert.equal(info.attempts[0]!.reason, "@tensorflow/tfjs-node-gpu failed to load: Illegal instruction (AVX required)");
  assert.equal(info.attempts[1]!.reason, "@tensorflow/tfjs-node failed to load: a thrown string");
});

test("a native package that loads but registers no backend with our tfjs is reported, not used", async () => {
  _setOptionalLoaderForTests(async (pkg) => (pkg === WASM_PKG ? import(pkg) : {}));
  const info = await useBackend();
  assert.equal(info.active, "wasm");
  assert.match(info.attempts[0]!.reason, /registered no "tensorflow" backend.*npm ls @tensorflow\/tfjs-core/);
});

test("wasm unavailable too: auto falls through to cpu", async () => {
  _setOptionalLoaderForTests(
    simulate({
      "@tensorflow/tfjs-node-gpu": notFound("@tensorflow/tfjs-node-gpu"),
      "@tensorflow/tfjs-node": notFound("@tensorflow/tfjs-node"),
      [WASM_PKG]: notFound(WASM_PKG),
    }),
  );
  const info = await useBackend();
  assert.equal(info.active, "cpu");
  assert.equal(tf.getBackend(), "cpu");
  assert.deepEqual(info.attempts.map((a) => a.ok), [false, false, false, true]);
  assert.match(info.attempts[2]!.reason, /tfjs-backend-wasm is not installed/);
});

test("concurrent ensureBackend calls select once and share the result", async () => {
  const calls: string[] = [];
  const loader = simulate(
    { "@tensorflow/tfjs-node-gpu": notFound("@tensorflow/tfjs-node-gpu"), "@tensorflow/tfjs-node": notFound("@tensorflow/tfjs-node") },
    calls,
  );
  _setOptionalLoaderForTests(loader);
  const [a, b] = await Promise.all([ensureBackend(), ensureBackend()]);
  assert.equal(a, b);
  assert.equal(await ensureBackend(), a);
  assert.deepEqual(calls, ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node", WASM_PKG]);
});

test("switching backends keeps existing tensors usable", async () => {
  await useBackend("wasm");
  const x = tf.tensor1d([1, 2, 3]);
  const cpu: BackendInfo = await useBackend("cpu");
  assert.equal(cpu.active, "cpu");
  assert.equal(cpu.source, "argument");
  assert.deepEqual(Array.from(x.mul(2).dataSync()), [2, 4, 6]);
  await useBackend("wasm");
  assert.deepEqual(Array.from(x.add(1).dataSync()), [2, 3, 4]);
  x.dispose();
});

test("refuseSlowBackend: refuses cpu nobody asked for while wasm is available; allows it by name or by option", async () => {
  delete process.env["CTXLAB_BACKEND"];
  await useBackend("cpu"); // asked for by name: allowed
  await refuseSlowBackend("dTraining: 400 steps");
  _setOptionalLoaderForTests(null); // forget the selection: tf stays on cpu, as when nothing selected a backend
  assert.equal(tf.getBackend(), "cpu");
  await assert.rejects(refuseSlowBackend("dTraining: 400 steps"), (e: Error) => {
    assert.ok(e instanceof BackendError);
    assert.match(e.message, /^dTraining: 400 steps would run on TF\.js's plain-JavaScript "cpu" backend \(nothing selected a backend\)/);
    assert.match(e.message, /8× \(a forward pass\) to over 100× \(a training step of 16 × 128 tokens\) slower than wasm and far hungrier for memory, and wasm is available: call `await useBackend\(\)` first/);
    assert.match(e.message, /allowCpu: true/);
    return true;
  });
  await refuseSlowBackend("dTraining: 400 steps", true); // explicit consent
  await useBackend("wasm");
  await refuseSlowBackend("dTraining: 400 steps"); // not on cpu
  _setOptionalLoaderForTests(simulate({ [WASM_PKG]: notFound(WASM_PKG) }));
  await tfjs.setBackend("cpu");
  await refuseSlowBackend("dTraining: 400 steps"); // no wasm to offer: cpu is all there is
});
