#!/usr/bin/env bash
# CI for the ARM targets: cross-builds ferry for aarch64 and armhf
# (cross/build.sh: Debian cross compilers, a sysroot of the :arm64/:armhf
# libraries, -Werror) and runs under qemu-user the unit tests, the fuzz smoke
# tests and the end-to-end integration tests labelled "emulated" (agent and
# collector over loopback: store-and-forward).
#   scripts/ci-arm.sh              both architectures
#   scripts/ci-arm.sh aarch64      one of them
# Idempotent (sysroots are cached in /var/cache/ferry-cross); each architecture
# is bounded to 15 minutes; exits nonzero on the first failure. Measured on a
# busy 2-core machine with the packages cached: aarch64 2m10s, armhf 2m20s;
# a fresh machine adds about a minute of downloads (docs/arm.md).
set -euo pipefail
cd "$(dirname "$0")/.."

archs=("$@")
[ "${#archs[@]}" -gt 0 ] || archs=(aarch64 armhf)
for arch in "${archs[@]}"; do
  t0=$(date +%s)
  echo "== ARM CI: $arch"
  FERRY_CROSS_TEST=1 timeout 900 cross/build.sh "$arch" "build-$arch"
  echo "== ARM CI: $arch passed in $(($(date +%s) - t0)) s"
done
