// The environment of the benchmarks' measured child processes (bench/run.mjs, bench/scale-135m.mjs).
//
// Some machines of this project set OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE for old OpenBLAS
// builds: they halve a current OpenBLAS (PyTorch's 1024² matMul 165 → 294 GFLOP/s on this machine class).
// The benches unset them in the environment of their measured children, PyTorch's and ctxlab's (whose
// native matMul uses the same OpenBLAS), and nowhere else (never in tests or CI); `keep` keeps them.

export const OPENBLAS_VARS = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];

/** process.env for a measured child: wasm backend, the OpenBLAS variables unset unless `keep`, plus `extra`. */
export function measuredEnv({ keep = false, extra = {} } = {}) {
  const env = { ...process.env, CTXLAB_BACKEND: "wasm", ...extra };
  if (!keep) for (const k of OPENBLAS_VARS) delete env[k];
  return env;
}
