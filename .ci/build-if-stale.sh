#!/usr/bin/env bash
# Compiles the repository (tsc -p tsconfig.build.json) only when something tsc
# reads changed since the last compile made here, so `npm run demo` and
# `npm run stack` start at once on the second run. The stamp is a sha256 over
# the content of every .ts/.json file under the build's include directories,
# the two tsconfig files and package-lock.json; it is written to
# dist/.build-stamp after a successful compile. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

stamp_file=dist/.build-stamp
dirs=()
for dir in src demo stack example bench dashboards/generator; do
  [ -d "$dir" ] && dirs+=("$dir")
done

stamp="$(
  {
    find "${dirs[@]}" -type f \( -name '*.ts' -o -name '*.json' \) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum tsconfig.json tsconfig.build.json package-lock.json
  } | sha256sum | cut -d' ' -f1
)"

if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
  exit 0
fi
printf '[build] compiling with tsc (sources changed since the last build)\n' >&2
node_modules/.bin/tsc -p tsconfig.build.json
printf '%s\n' "$stamp" >"$stamp_file"
