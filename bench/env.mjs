// The environment of the benchmarks' measured child processes (bench/run.mjs, bench/scale-135m.mjs).
//
// Some machines of this project set OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE for old OpenBLAS
// builds: they halve a current OpenBLAS (PyTorch's 1024² matMul 165 → 294 GFLOP/s on this machine class).
// The benches unset them in the environment of their measured children, PyTorch's and ctxlab's (whose
// native matMul uses the same OpenBLAS), and nowhere else (never in tests or CI); `keep` keeps them.
//
// glibc's malloc serves every allocation above its mmap threshold (128 KiB, rising to at most 32 MiB)
// with a fresh mmap and returns it with munmap on free, so a program that allocates large temporaries
// in a loop pays a page fault per 4 KiB page each time it touches a new one: PyTorch's attention scores
// ([9, 2,048, 2,048] floats, 151 MB, at SmolLM-135M's shape) cost more to fault in than to compute
// (a forward at ℓ = 2,048 took 49 s, 8 s without the faults; docs/performance.md, "The allocator").
// PyTorch's CPU tuning guides answer with jemalloc or tcmalloc (not installed here); the same effect with
// glibc alone: no mmap for allocations (mmap_max=0) and no trimming of the heap's top, so freed memory
// is reused. The benches set this for every measured child (both implementations: ctxlab's large
// buffers live in the wasm heap, which V8 maps once, so it changes little there); `keepMalloc` leaves
// glibc's defaults, to reproduce the faulting reference.

export const OPENBLAS_VARS = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];
export const MALLOC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295";

/**
 * process.env for a measured child: wasm backend, the OpenBLAS variables unset unless `keep`, glibc's
 * malloc without mmap unless `keepMalloc` (appended to any GLIBC_TUNABLES already set), plus `extra`.
 */
export function measuredEnv({ keep = false, keepMalloc = false, extra = {} } = {}) {
  const env = { ...process.env, CTXLAB_BACKEND: "wasm", ...extra };
  if (!keep) for (const k of OPENBLAS_VARS) delete env[k];
  if (!keepMalloc) env.GLIBC_TUNABLES = env.GLIBC_TUNABLES ? `${env.GLIBC_TUNABLES}:${MALLOC_TUNABLES}` : MALLOC_TUNABLES;
  return env;
}

/** One line for a report: what the measured children's environment changed. */
export function envNote({ keep = false, keepMalloc = false } = {}) {
  const blas = keep ? "OpenBLAS variables as given" : `${OPENBLAS_VARS.join(", ")} unset`;
  const malloc = keepMalloc ? "glibc malloc defaults (large blocks mmap'd per allocation)" : `GLIBC_TUNABLES=${MALLOC_TUNABLES} (freed memory reused, no page faults per allocation)`;
  return `${blas}; ${malloc}`;
}
