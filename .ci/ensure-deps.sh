#!/usr/bin/env bash
# npm ci, once per package-lock.json (a stamp in node_modules remembers it), so
# `npm run demo` and `npm test` work on a fresh clone. Output goes to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
stamp="node_modules/.twenty-sse-lock-$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  printf '[setup] npm ci (first run on this clone)\n' >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  touch "$stamp"
fi
