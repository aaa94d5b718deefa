#!/usr/bin/env bash
# One setup command for a fresh Debian machine with Node 20 (idempotent):
#  1. npm dependencies (npm ci from the lockfile), 2. build dist/ with the project's TypeScript,
#  3. link node_modules/ctxlab to this checkout so `import … from "ctxlab"` resolves with types in
#     notebooks (tslab's TypeScript uses node10 resolution, which ignores "exports"),
#  4. Jupyter (Debian packages, with jupyter-client's `jupyter kernelspec`) when missing, 5. Chromium
#     (Debian) when missing, 6. register the `ctxlab` kernel for this user, pointing at this checkout —
#     except in a temporary checkout (under /tmp or $TMPDIR, as CI's `.ci/run` clones are) or with
#     CTXLAB_NO_KERNEL_INSTALL=1: the user's kernel must never point at a checkout that will vanish.
#     The tests never need it (they install the kernelspec into temporary prefixes).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
node node_modules/typescript/bin/tsc -p tsconfig.json
if [ ! -e node_modules/ctxlab ]; then ln -s .. node_modules/ctxlab; fi

have_jupyter() { /usr/bin/python3 -c "import jupyter_kernel_test, nbclient, nbconvert, notebook" >/dev/null 2>&1 && [ -x /usr/bin/jupyter-nbconvert ] && [ -x /usr/bin/jupyter-kernelspec ]; }
if ! have_jupyter; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "ctxlab setup: installing Jupyter from Debian (jupyter-notebook jupyter-nbconvert jupyter-client python3-nbclient python3-jupyter-kernel-test)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      jupyter-notebook jupyter-nbconvert jupyter-client python3-nbclient python3-jupyter-kernel-test >/dev/null
  else
    echo "ctxlab setup: Jupyter is missing. Install it, then rerun: sudo apt-get install jupyter-notebook jupyter-nbconvert jupyter-client python3-nbclient python3-jupyter-kernel-test" >&2
    exit 1
  fi
fi
# PyTorch (Debian) for the independent reference of the Hugging Face parity tests and the benchmark
if ! /usr/bin/python3 -c "import torch" >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "ctxlab setup: installing PyTorch from Debian (python3-torch libopenblas0-pthread: the reference of the parity tests)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch libopenblas0-pthread >/dev/null
  else
    echo "ctxlab setup: PyTorch is missing; the Hugging Face parity tests need it: sudo apt-get install python3-torch libopenblas0-pthread" >&2
    exit 1
  fi
fi
# 5. Chromium for the browser check of the exported notebooks (npm test; driven by playwright-core,
#    which never downloads a browser here: it is given /usr/bin/chromium)
if [ ! -x /usr/bin/chromium ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "ctxlab setup: installing Chromium from Debian (headless browser check of the notebook exports)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "ctxlab setup: Chromium is missing. Install it, then rerun: sudo apt-get install chromium" >&2
    exit 1
  fi
fi
# 7. Native matMul for large products on the wasm backend: a small Node-API addon over
#    Debian's OpenBLAS (native/build.mjs). Optional: when it cannot be built, setup says why and goes
#    on, and ctxlab keeps wasm's own single-threaded matMul.
if [ ! -e /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -e /usr/include/cblas.h ] && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "ctxlab setup: installing libopenblas-dev from Debian (native matMul on both cores)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libopenblas-dev build-essential >/dev/null) ||
    echo "ctxlab setup: could not install libopenblas-dev; the wasm matMul stays in use" >&2
fi
node native/build.mjs || true
here="$(pwd -P)"
tmp="$(cd "${TMPDIR:-/tmp}" 2>/dev/null && pwd -P || echo /tmp)"
version="$(node -p 'require("./package.json").version')"
if [ "${CTXLAB_NO_KERNEL_INSTALL:-}" = 1 ]; then
  echo "ctxlab setup done: $version built into dist/; kernel not registered (CTXLAB_NO_KERNEL_INSTALL=1)"
elif [ "${here#"$tmp"/}" != "$here" ] || [ "${here#/tmp/}" != "$here" ]; then
  echo "ctxlab setup done: $version built into dist/; kernel not registered: $here is a temporary checkout (register it with: node bin/ctxlab.mjs kernel install --user)"
else
  node bin/ctxlab.mjs kernel install --user
  echo "ctxlab setup done: $version built into dist/, kernel \"ctxlab\" registered for $here"
fi
