#!/usr/bin/env bash
# Installs the Debian packages ferry builds with (and, with --test, the ones
# its test suite needs). Idempotent; run as root (or through sudo). Used by .ci/run and by the README's commands.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git ca-certificates
  libuv1-dev libcurl4-gnutls-dev libsqlite3-dev libcjson-dev
  libmicrohttpd-dev zlib1g-dev libzstd-dev libsystemd-dev nettle-dev
  libgnutls28-dev openssl libpq-dev libmosquitto-dev
  python3 sqlite3 curl procps clang clang-format
)

# Test-only packages (scripts/test.sh passes --test): the browser test, the
# PostgreSQL suite, the systemd unit checks, the libFuzzer build and the MQTT
# source's tests (a real broker; mosquitto_pub from mosquitto-clients).
if [ "${1:-}" = "--test" ]; then
  PKGS+=(chromium fonts-dejavu-core postgresql haproxy systemd mosquitto mosquitto-clients)
  command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
  command -v npm >/dev/null 2>&1 || PKGS+=(npm)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
