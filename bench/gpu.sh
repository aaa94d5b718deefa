#!/usr/bin/env bash
# The GPU path, ready to prove: on a machine with an NVIDIA GPU, install what ctxlab needs for it from
# the npm registry only, select the GPU backend, check numerical parity with wasm on the reference model
# (logits and one training step: bench/gpu-parity.mjs) and print the benchmark rows. UNVERIFIED: no
# NVIDIA GPU was reachable where this was written; only the --dry-run path (cpu against wasm) has run.
#
#   bash bench/gpu.sh                      # tfjs-node-gpu ("tensorflow" backend on CUDA), then webgpu
#   bash bench/gpu.sh --backend node-gpu   # one backend: node-gpu | webgpu
#   bash bench/gpu.sh --dry-run            # no GPU, no install: the parity and bench code on the cpu
#                                          # backend against wasm, small sizes (what CI-like machines can run)
#   bash bench/gpu.sh --no-install         # use what is installed
# Needs `npm run setup` (or npm ci && npm run build) first. Packages are installed with --no-save, so
# package.json and the lockfile stay as they are:
#   node-gpu: @tensorflow/tfjs-node-gpu@4.22.0 — its install script downloads libtensorflow 2.9.1 (GPU
#             build; needs CUDA 11.2 and cuDNN 8.1 libraries on LD_LIBRARY_PATH at run time)
#   webgpu:   webgpu (Dawn's Node bindings, prebuilt in the npm package) and @tensorflow/tfjs-backend-webgpu@4.22.0
# Writes bench/out/gpu-<backend>.json. Exit status: 0 every backend tried holds parity, 1 a parity
# failure, 2 nothing could be tested (no GPU, install or backend failure), 64 bad arguments.
set -uo pipefail
cd "$(dirname "$0")/.."

backends=()
dry=0
install=1
while [ $# -gt 0 ]; do
  case "$1" in
    --backend) [ $# -ge 2 ] || { echo "gpu.sh: --backend needs a value (node-gpu or webgpu)" >&2; exit 64; }
               case "$2" in node-gpu|webgpu) backends+=("$2") ;; *) echo "gpu.sh: --backend $2: must be node-gpu or webgpu" >&2; exit 64 ;; esac
               shift 2 ;;
    --dry-run) dry=1; shift ;;
    --no-install) install=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown argument $1 (try --help)" >&2; exit 64 ;;
  esac
done
[ ${#backends[@]} -gt 0 ] || backends=(node-gpu webgpu)
mkdir -p bench/out
if [ ! -f dist/lib/index.js ]; then echo "gpu.sh: dist/ is missing: run npm run setup (or npm run build) first" >&2; exit 2; fi

if [ "$dry" = 1 ]; then
  echo "gpu.sh: --dry-run: cpu backend against wasm, small sizes (no GPU, nothing installed)"
  node bench/gpu-parity.mjs --backend cpu --quick --out bench/out/gpu-dry-run.json
  exit $?
fi

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu.sh: no NVIDIA GPU visible (nvidia-smi missing or lists none); nothing to test. --dry-run checks the code path on CPU." >&2
  exit 2
fi
echo "gpu.sh: $(nvidia-smi -L | head -1); driver $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"

status=2
for b in "${backends[@]}"; do
  if [ "$install" = 1 ]; then
    case "$b" in
      node-gpu) pkgs=(@tensorflow/tfjs-node-gpu@4.22.0) ;;
      webgpu) pkgs=(webgpu @tensorflow/tfjs-backend-webgpu@4.22.0) ;;
    esac
    echo "gpu.sh: npm install --no-save ${pkgs[*]}"
    if ! npm install --no-save --no-audit --no-fund "${pkgs[@]}"; then
      echo "gpu.sh: $b: npm install failed (see above); skipping $b" >&2
      continue
    fi
  fi
  echo "gpu.sh: parity and benchmark rows on $b"
  node bench/gpu-parity.mjs --backend "$b" --out "bench/out/gpu-$b.json"
  rc=$?
  case "$rc" in
    0) [ "$status" = 1 ] || status=0; echo "gpu.sh: $b: parity holds; rows in bench/out/gpu-$b.json" ;;
    1) status=1; echo "gpu.sh: $b: PARITY FAILED (see the table above)" >&2 ;;
    *) echo "gpu.sh: $b: could not be tested (exit $rc; see above)" >&2 ;;
  esac
done
exit "$status"
