#!/usr/bin/env bash
# One setup command for a fresh Debian machine with Node 20 (idempotent): installs the npm dependencies,
# builds the TypeScript, and links node_modules/ctxlab to this checkout so that `import … from "ctxlab"`
# resolves with types in notebooks (tslab's TypeScript uses node10 resolution, which ignores "exports").
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
node node_modules/typescript/bin/tsc -p tsconfig.json
# self-link (npm ci removes it; recreate every time)
if [ ! -e node_modules/ctxlab ]; then ln -s .. node_modules/ctxlab; fi
echo "ctxlab setup done: $(node -e 'console.log(require("./package.json").version)') built into dist/"
