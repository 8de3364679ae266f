#!/usr/bin/env bash
# Builds the OpenTelemetry Collector (collector/otelcol) and Jaeger v2
# (collector/jaeger) from their pinned Go modules into a cache outside the repo:
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/twenty-sse-otel/bin/<name>-<sha256>
#
# where <sha256> covers the module's go.mod, go.sum, *.go sources and the build
# settings below. A binary already in the cache is reused, not rebuilt.
#
# stdout: only `OTELCOL_BIN=/abs/path` and `JAEGER_BIN=/abs/path`, so callers can
#   eval "$(bash .ci/build-otel-binaries.sh)"
# stderr: progress.
#
# Usage: build-otel-binaries.sh [--force] [otelcol|jaeger ...]   (default: both)
# Needs Go >= 1.26 and the Go module proxy (GOPROXY as configured); Go's module
# and build caches stay in the default GOMODCACHE/GOCACHE.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/twenty-sse-otel/bin"

log() { printf '[build-otel-binaries] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

force=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    otelcol | jaeger) targets+=("$arg") ;;
    -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument '$arg' (expected --force, otelcol, jaeger)" ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=(otelcol jaeger)

if ! command -v go >/dev/null 2>&1; then
  [ -x /usr/local/go/bin/go ] && PATH="/usr/local/go/bin:$PATH" || die "go not found in PATH"
fi

# Same flags for every build; they are part of the cache key.
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false -mod=readonly"
ldflags_common="-s -w"
jaeger_version="v2.13.0" # the tag that is the same commit as module v1.76.0

# module_hash DIR EXTRA: sha256 over go.mod, go.sum, the *.go files (sorted by
# name, each preceded by its name) and EXTRA (build settings).
module_hash() {
  local dir="$1" extra="$2" f
  {
    for f in go.mod go.sum; do
      printf '== %s\n' "$f"
      cat "$dir/$f"
    done
    while IFS= read -r f; do
      printf '== %s\n' "$f"
      cat "$dir/$f"
    done < <(cd "$dir" && find . -name '*.go' -type f | LC_ALL=C sort)
    printf '== build\n%s\n' "$extra"
  } | sha256sum | cut -d' ' -f1
}

# build NAME MODULE_DIR PACKAGE LDFLAGS -> prints the binary's path on stdout
build() {
  local name="$1" dir="$2" pkg="$3" ldflags="$4"
  local settings key out tmp start
  settings="$(go env GOVERSION GOOS GOARCH) CGO_ENABLED=$CGO_ENABLED GOFLAGS=$GOFLAGS ldflags=$ldflags pkg=$pkg"
  key="$(module_hash "$dir" "$settings")"
  out="$cache_dir/$name-$key"
  if [ "$force" = 0 ] && [ -x "$out" ]; then
    log "$name: cached at $out"
    printf '%s\n' "$out"
    return
  fi
  mkdir -p "$cache_dir"
  tmp="$(mktemp "$cache_dir/.$name.XXXXXX")"
  log "$name: building $pkg (module $dir, $(go env GOVERSION)); this can take several minutes"
  start=$SECONDS
  if ! (cd "$dir" && go build -ldflags="$ldflags" -o "$tmp" "$pkg") >&2; then
    rm -f "$tmp"
    die "$name: go build failed"
  fi
  chmod 0755 "$tmp"
  mv -f "$tmp" "$out" # atomic within the cache dir, so a concurrent reader never sees half a file
  log "$name: built in $((SECONDS - start))s -> $out"
  printf '%s\n' "$out"
}

for t in "${targets[@]}"; do
  case "$t" in
    otelcol)
      bin="$(build otelcol-twenty-sse "$repo_root/collector/otelcol" . "$ldflags_common")"
      printf 'OTELCOL_BIN=%s\n' "$bin"
      ;;
    jaeger)
      bin="$(build jaeger "$repo_root/collector/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger \
        "$ldflags_common -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$jaeger_version")"
      printf 'JAEGER_BIN=%s\n' "$bin"
      ;;
  esac
done
