#!/usr/bin/env bash
# Flakiness check: N runs of .ci/run (the README's setup and `npm test`), each on a fresh clone of this
# checkout's HEAD in a new folder; every 3rd run with a 1-core busy loop beside it. One line per run to
# LOG (default ./fresh-clone-loop.log): run, commit, hog, exit status, seconds, test counts, load.
#   bash scripts/fresh-clone-loop.sh [N=10] [LOG] [WORKDIR=$HOME]
# A failing run's clone is kept (its output in WORKDIR/clone.*/run.log); passing clones are removed.
set -u
N=${1:-10}
LOG=$(realpath -m "${2:-fresh-clone-loop.log}")
WORK=${3:-$HOME}   # not /tmp: setup treats checkouts under /tmp as CI's and never registers them anyway
SRC=$(cd "$(dirname "$0")/.." && pwd)
if ! [[ "$N" =~ ^[1-9][0-9]*$ ]]; then echo "fresh-clone-loop: N must be a positive integer, got '$N'" >&2; exit 64; fi
if [ ! -d "$WORK" ]; then echo "fresh-clone-loop: WORKDIR '$WORK' is not a directory" >&2; exit 64; fi
hog=""
trap '[ -n "$hog" ] && kill "$hog" 2>/dev/null' EXIT   # never leave the busy loop behind
for i in $(seq 1 "$N"); do
  d=$(mktemp -d "$WORK/clone.XXXX")
  git clone -q "$SRC" "$d/ctxlab"
  commit=$(git -C "$d/ctxlab" rev-parse --short HEAD)
  hog=""
  if (( i % 3 == 0 )); then node -e 'for(;;){}' & hog=$!; fi
  t0=$(date +%s)
  ( cd "$d/ctxlab" && timeout 3600 .ci/run ) > "$d/run.log" 2>&1
  rc=$?
  t1=$(date +%s)
  hogged=${hog:+yes}
  [ -n "$hog" ] && kill "$hog"
  hog=""
  tests=$(grep -E "^# (pass|fail)" "$d/run.log" | tr '\n' ' ')
  echo "run $i commit $commit hog=${hogged} rc=$rc $((t1 - t0))s $tests load=$(cut -d' ' -f1-3 /proc/loadavg) $(date -u +%H:%M)" >> "$LOG"
  if [ $rc -eq 0 ]; then rm -rf "$d"; fi
done
