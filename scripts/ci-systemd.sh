#!/usr/bin/env bash
# CI for the systemd integration: `systemd-analyze verify` on both units, and
# `systemd-analyze security --offline=true` rating each at exposure <= 2.0
# (the figures are printed); the sysusers.d and tmpfiles.d snippets applied to
# a scratch root. Installs the Debian `systemd` package for the tools if they
# are missing (they work without systemd running as init). Builds ferry in
# build/ if the binaries are not there (verify checks that ExecStart= runs a
# real executable: the units are checked with ExecStart pointed at the build).
# Idempotent, about 10 s after the build, exits nonzero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXPOSURE=${FERRY_MAX_EXPOSURE:-2.0}

if ! command -v systemd-analyze >/dev/null || ! command -v systemd-sysusers >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends systemd
fi

if [ ! -x build/ferry-agent ] || [ ! -x build/ferry-collector ]; then
  cmake -S . -B build -DFERRY_WERROR=ON >/dev/null
  cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target ferry-agent ferry-collector
fi
bin=$(cd build && pwd)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

for unit in ferry-agent ferry-collector; do
  src=systemd/$unit.service
  sed "s|/usr/bin/$unit |$bin/$unit |" "$src" > "$tmp/$unit.service"
  echo "== systemd-analyze verify $src"
  if ! out=$(systemd-analyze verify "$tmp/$unit.service" 2>&1) || [ -n "$out" ]; then
    echo "$out"
    echo "FAIL: verify $src"
    fail=1
  fi
  echo "== systemd-analyze security --offline=true $src"
  report=$(systemd-analyze security --offline=true "$src" 2>&1 || true)
  level=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if [ -z "$level" ]; then
    echo "$report"
    echo "FAIL: no exposure level for $src"
    fail=1
    continue
  fi
  echo "$unit.service exposure: $level (limit $MAX_EXPOSURE)"
  if ! awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l <= m) }'; then
    printf '%s\n' "$report" | grep -F '✗' || true
    echo "FAIL: $src exposure $level > $MAX_EXPOSURE"
    fail=1
  fi

  echo "== sysusers.d / tmpfiles.d snippets of $unit"
  root="$tmp/root-$unit"
  mkdir -p "$root/etc"
  if ! systemd-sysusers --root="$root" "$PWD/systemd/$unit.sysusers.conf" ||
     ! grep -q "^$unit:" "$root/etc/passwd"; then
    echo "FAIL: systemd/$unit.sysusers.conf did not create user $unit"
    fail=1
  fi
  if ! systemd-tmpfiles --root="$root" --create "$PWD/systemd/$unit.tmpfiles.conf" ||
     [ ! -d "$root/var/lib/$unit" ]; then
    echo "FAIL: systemd/$unit.tmpfiles.conf did not create /var/lib/$unit"
    fail=1
  fi
done

if [ "$fail" -ne 0 ]; then
  echo "ci-systemd: FAILED"
  exit 1
fi
echo "ci-systemd: ok"
