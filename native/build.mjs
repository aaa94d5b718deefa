#!/usr/bin/env node
// Builds native/build/ctxlab_blas.node (native/ctxlab_blas.c: cblas_sgemm of the system's OpenBLAS for
// ctxlab's large matMuls on the wasm backend) with the system C compiler, no node-gyp and no download:
//   cc -O2 -shared -fPIC -I<node headers> native/ctxlab_blas.c -lopenblas
// then loads it in a child process and checks a product. Optional by design: when a compiler, Node's
// headers or libopenblas-dev are missing, or the check fails, it says why, leaves no addon behind and
// exits 0, and ctxlab keeps wasm's own matMul (lib/tensor/native-matmul.ts reports which one runs).
//   node native/build.mjs [--strict]   (--strict: exit 1 when the addon could not be built)
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const HERE = resolve(import.meta.dirname);
const OUT = join(HERE, "build", "ctxlab_blas.node");
const strict = process.argv.includes("--strict");

function done(ok, msg) {
  console.log(`ctxlab native matMul: ${msg}`);
  process.exit(ok || !strict ? 0 : 1);
}

const headerDirs = [
  join(dirname(dirname(process.execPath)), "include", "node"), // official tarballs, nvm, /usr/local
  process.config?.variables?.node_prefix ? join(process.config.variables.node_prefix, "include", "node") : null,
  "/usr/include/node", // Debian's nodejs / libnode-dev
].filter(Boolean);
const headers = headerDirs.find((d) => existsSync(join(d, "node_api.h")));
if (!headers) done(false, `not built: Node's headers (node_api.h) not found in ${headerDirs.join(", ")}; wasm's matMul stays in use`);

const cc = process.env.CC || "cc";
const tmp = join(dirname(OUT), `ctxlab_blas.tmp-${process.pid}.node`); // require() needs the .node extension
mkdirSync(dirname(OUT), { recursive: true });
const args = ["-O2", "-shared", "-fPIC", `-I${headers}`, join(HERE, "ctxlab_blas.c"), "-o", tmp, "-lopenblas"];
const r = spawnSync(cc, args, { encoding: "utf8" });
if (r.error || r.status !== 0) {
  rmSync(tmp, { force: true });
  const why = r.error ? `${cc} not found (apt-get install build-essential)` : (r.stderr || "").trim().split("\n").slice(-3).join(" | ");
  const hint = /cblas\.h|lopenblas/.test(why) ? " — install libopenblas-dev (apt-get install libopenblas-dev)" : "";
  done(false, `not built: ${cc} ${args.join(" ")} failed: ${why}${hint}; wasm's matMul stays in use`);
}
// Check it loads and multiplies before putting it in place ([[1, 2], [3, 4]]·[[5, 6], [7, 8]]).
const probe = `const m = require(${JSON.stringify(tmp)}); const c = new Float32Array(4);
m.sgemmBatch(1, false, false, 2, 2, 2, new Float32Array([1, 2, 3, 4]), 4, 2, new Float32Array([5, 6, 7, 8]), 4, 2, c, 4, 2);
if (c.join() !== "19,22,43,50") throw new Error("wrong product " + c.join());
console.log(JSON.stringify(m.info()));`;
const t = spawnSync(process.execPath, ["-e", probe], { encoding: "utf8" });
if (t.status !== 0) {
  rmSync(tmp, { force: true });
  done(false, `built but failed its check: ${(t.stderr || "").trim().split("\n").slice(0, 2).join(" | ")}; wasm's matMul stays in use`);
}
renameSync(tmp, OUT); // atomic: a half-written addon is never loaded
const info = JSON.parse(t.stdout.trim().split("\n").at(-1));
done(true, `built ${OUT} (${info.config}; ${info.threads} threads)`);
