#!/usr/bin/env bash
# Install Debian packages the project needs, only if any is missing.
#
#   scripts/setup-apt.sh                  # default set: libssl-dev pkg-config cmake clang libclang-dev
#                                         #   dovecot-imapd dovecot-submissiond postfix openssl
#                                         #   chromium chromium-driver
#   scripts/setup-apt.sh cmake clang ...  # exactly these packages
#
# Runs `apt-get update` once and `apt-get install --no-install-recommends`
# only when a package is not installed; as root, or through sudo otherwise.
set -euo pipefail

# SQLCipher is built against system OpenSSL; llama-cpp-2 builds its vendored llama.cpp with cmake
# and generates bindings with bindgen (libclang). The IMAP test starts its own Dovecot with a
# certificate made by the openssl CLI. The review desk is tested in a real Chromium over WebDriver.
# Notices by mail are tested through Dovecot's submission service relaying to Postfix's smtp-sink
# (the postfix package is installed unconfigured: no system mail daemon is started).
DEFAULT_PACKAGES=(libssl-dev pkg-config cmake clang libclang-dev dovecot-imapd dovecot-submissiond postfix openssl chromium chromium-driver)

log() { printf 'setup-apt: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if (($# > 0)); then pkgs=("$@"); else pkgs=("${DEFAULT_PACKAGES[@]}"); fi

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found (Debian/Ubuntu required)"

missing=()
for p in "${pkgs[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)"
  [[ "$status" == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  log "all ${#pkgs[@]} packages present (${pkgs[*]})"
  exit 0
fi

if ((EUID == 0)); then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  die "need root or sudo to install: ${missing[*]}"
fi

log "installing ${missing[*]} ..."
# Postfix asks how to configure the system's mail; "No configuration" starts no daemon.
if [[ " ${missing[*]} " == *" postfix "* ]] && command -v debconf-set-selections >/dev/null 2>&1; then
  echo "postfix postfix/main_mailer_type select No configuration" \
    | "${as_root[@]}" debconf-set-selections
fi
start=$SECONDS
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
  || die "apt-get update failed"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "${missing[@]}" >&2 \
  || die "apt-get install failed for: ${missing[*]}"
log "done in $((SECONDS - start))s"
