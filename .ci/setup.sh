#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine (idempotent, cached):
# Debian's redis-server, prometheus and chromium (the HTML report tests render
# pages in it), npm dependencies (npm ci), and the Go
# builds of the OpenTelemetry Collector and Jaeger (cached under ~/.cache).
# Prints `export VAR=...` lines for the binaries on stdout; progress on stderr.
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v redis-server >/dev/null 2>&1 || ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    log "apt-get install redis-server prometheus chromium"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server prometheus chromium >&2
  else
    log "redis-server/prometheus/chromium missing and not root: install them with apt-get (redis-server prometheus chromium)"
  fi
fi
# Debian's packages start services of their own; the tests start their own instances.
for service in redis-server prometheus; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$service" >/dev/null 2>&1 || true; fi
done

bash .ci/ensure-deps.sh

# Nest 10 for the register entry's Nest 10 test, Nest 12 (ES modules only) for
# the suites' Nest 12 rows: each its own small install, keyed by its lock file.
# (@graphql-yoga/nestjs still declares Nest 11 peers; it runs on Nest 12.)
for fixture in test/fixtures/nest10 test/fixtures/nest12; do
  stamp="$fixture/node_modules/.twenty-sse-lock-$(sha256sum "$fixture/package-lock.json" | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    log "npm ci in $fixture"
    npm ci --prefix "$fixture" --legacy-peer-deps --no-audit --no-fund --loglevel=error >&2
    touch "$stamp"
  fi
done

if command -v go >/dev/null 2>&1 || [ -x /usr/local/go/bin/go ]; then
  log "building (or reusing cached) otelcol and jaeger"
  bins="$(bash .ci/build-otel-binaries.sh)"
  printf '%s\n' "$bins" | sed 's/^/export /'
else
  log "go not found: the collector/Jaeger end-to-end tests will fail"
fi
