#!/usr/bin/env bash
# Install the pinned Node-distributed tools (anvil, cast, forge, solcjs,
# OpenZeppelin contracts, snapshot.js, ethers) into tools/node_modules.
#
# Runs `npm ci` only when tools/package.json or tools/package-lock.json changed
# since the last successful install (sha256 stamp kept inside node_modules).
# Install scripts are disabled: the foundry binaries come from the
# platform packages (@foundry-rs/*-linux-amd64), nothing is downloaded at
# install time beyond the locked registry tarballs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/tools"
NM="$TOOLS/node_modules"
STAMP="$NM/.steward-install-stamp"
BINS=(anvil cast forge)

log() { printf 'setup-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm not found (Node.js >= 20 required)"
command -v node >/dev/null 2>&1 || die "node not found (Node.js >= 20 required)"

want="$(cat "$TOOLS/package.json" "$TOOLS/package-lock.json" | sha256sum | cut -d' ' -f1)"

bins_ok() {
  local b
  for b in "${BINS[@]}"; do
    [[ -x "$NM/.bin/$b" ]] || return 1
  done
  [[ -f "$NM/solc/package.json" ]]
}

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && bins_ok; then
  log "tools up to date (tools/node_modules, lock ${want:0:12})"
  exit 0
fi

log "installing pinned tools with npm ci into tools/node_modules ..."
start=$SECONDS
rm -f "$STAMP"
(cd "$TOOLS" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 \
  || die "npm ci failed in tools/"

for b in "${BINS[@]}"; do
  [[ -x "$NM/.bin/$b" ]] || die "$b missing after install (only linux x86_64 is supported: @foundry-rs/$b-linux-amd64)"
  "$NM/.bin/$b" --version >/dev/null 2>&1 || die "$b does not run: $NM/.bin/$b"
done
(cd "$TOOLS" && node -e "require('solc').version(); require('ethers'); require('@snapshot-labs/snapshot.js')") \
  || die "node packages failed to load from tools/node_modules"

printf '%s\n' "$want" >"$STAMP"
log "done in $((SECONDS - start))s: $("$NM/.bin/anvil" --version | head -n1); solc $(cd "$TOOLS" && node -p "require('solc').version()")"
