#!/usr/bin/env bash
# CI steps for the security work (TLS, client certificates, limits, tokens):
# makes sure GnuTLS headers and the openssl command (the TLS test makes its
# own CA with it) are installed, builds with -Werror and runs the security
# tests. Idempotent; about 15 s after the build on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for p in libgnutls28-dev openssl; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

BUILD="${FERRY_CI_BUILD:-build-ci-issue8}"
cmake -S . -B "$BUILD" -DFERRY_WERROR=ON >/dev/null
cmake --build "$BUILD" -j2
timeout 300 ctest --test-dir "$BUILD" --output-on-failure \
  -R 'test_tls|test_limits|test_collector_ratelimit|test_agent_tls|test_collector_tokens|test_replay|test_cli'
