#!/usr/bin/env bash
# Build and install the OpenAI-compatible llama.cpp server (PyPI `llama-cpp-python[server]`)
# that steward-ml's tests run on loopback against the embedded GGUF.
#
#   venv + cache: $STEWARD_LLAMA_SERVER_DIR, default ~/.cache/steward/llama-server (outside the
#                 repository: the build is slow and shared by every checkout)
#   pins:         scripts/llama-server.lock (versions and sha256 of everything pip installs)
#
# Idempotent and stamp-checked: when $DIR/venv/.steward-stamp holds the lock's sha256 the script
# prints one line and exits. The sdist compiles llama.cpp (about 10 minutes on 2 cores); the
# built wheel is kept in $DIR/wheels and reused by later runs, so only the first run is slow.
# Every install is `pip install --require-hashes`: the build backend and the runtime
# dependencies by the lock's hashes, the built wheel by the hash recorded when it was built.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK="$ROOT/scripts/llama-server.lock"
DIR="${STEWARD_LLAMA_SERVER_DIR:-$HOME/.cache/steward/llama-server}"
VENV="$DIR/venv"
WHEELS="$DIR/wheels"
PY="${PYTHON:-python3}"

log() { printf 'setup-llama-server: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -f "$LOCK" ]] || die "missing $LOCK"
LOCK_SHA="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [[ -f "$VENV/.steward-stamp" && "$(cat "$VENV/.steward-stamp")" == "$LOCK_SHA" ]]; then
  log "ready: $VENV/bin/python -m llama_cpp.server"
  exit 0
fi

started=$SECONDS
mkdir -p "$DIR" "$WHEELS"
TMP="$(mktemp -d "$DIR/tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
grep -E '^#@build ' "$LOCK" | sed 's/^#@build //' >"$TMP/build.txt"
grep -E '^#@sdist ' "$LOCK" | sed 's/^#@sdist //' >"$TMP/sdist.txt"
grep -Ev '^[[:space:]]*(#|$)' "$LOCK" >"$TMP/run.txt"
SDIST_SPEC="$(cut -d' ' -f1 "$TMP/sdist.txt")"
VERSION="${SDIST_SPEC#*==}"
[[ -n "$VERSION" ]] || die "no #@sdist line in $LOCK"

rm -rf "$VENV"
log "creating $VENV"
"$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --require-hashes --only-binary=:all: -r "$TMP/run.txt"

# The wheel: built once from the pinned sdist, then reused while its recorded hash matches.
WHEEL="$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl 2>/dev/null | head -n1 || true)"
if [[ -z "$WHEEL" || ! -f "$WHEEL.sha256" ]] \
  || [[ "$(sha256sum "$WHEEL" | cut -d' ' -f1)" != "$(cat "$WHEEL.sha256")" ]]; then
  log "building llama-cpp-python $VERSION from source (compiles llama.cpp; about 10 minutes on 2 cores)"
  "${PIP[@]}" install --require-hashes --only-binary=:all: -r "$TMP/build.txt"
  "${PIP[@]}" download --no-deps --require-hashes --no-binary=:all: -d "$TMP/sdist" -r "$TMP/sdist.txt"
  rm -f "$WHEELS"/llama_cpp_python-"$VERSION"-*
  CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    "${PIP[@]}" wheel --no-deps --no-build-isolation -w "$WHEELS" "$TMP"/sdist/*.tar.gz
  WHEEL="$(ls "$WHEELS"/llama_cpp_python-"$VERSION"-*.whl | head -n1)"
  sha256sum "$WHEEL" | cut -d' ' -f1 >"$WHEEL.sha256"
  log "built $(basename "$WHEEL") in $((SECONDS - started)) s"
fi
printf 'llama-cpp-python @ file://%s --hash=sha256:%s\n' "$WHEEL" "$(cat "$WHEEL.sha256")" >"$TMP/wheel.txt"
"${PIP[@]}" install --no-deps --require-hashes -r "$TMP/wheel.txt"
"$VENV/bin/python" -c 'import llama_cpp.server.app' || die "llama_cpp.server does not import"
echo "$LOCK_SHA" >"$VENV/.steward-stamp"
log "ready in $((SECONDS - started)) s: $VENV/bin/python -m llama_cpp.server"
