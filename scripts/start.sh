#!/usr/bin/env bash
# `npm start`: register this checkout's `ctxlab` kernel for the user, then open Jupyter Notebook on
# notebooks/. As root (containers, cloud notebooks) Jupyter refuses to start without --allow-root:
# it is passed, and said once.
set -euo pipefail
cd "$(dirname "$0")/.."
node bin/ctxlab.mjs kernel install --user
extra=()
if [ "$(id -u)" = 0 ]; then
  echo "ctxlab: running as root, so Jupyter gets --allow-root"
  extra+=(--allow-root)
fi
exec jupyter-notebook --notebook-dir=notebooks "${extra[@]}" "$@"
