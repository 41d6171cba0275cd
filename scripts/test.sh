#!/usr/bin/env bash
# The whole test suite: installs the Debian build dependencies, builds ferry
# with warnings as errors, runs every CTest (unit, fuzz smoke, integration),
# then builds again with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# the suite once more. Exit status is the suite's.
#   scripts/test.sh            both builds
#   FERRY_TEST_QUICK=1 ...     skip the sanitizer build
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test

jobs=$(nproc 2>/dev/null || echo 2)

echo "== C formatting (.clang-format)"
scripts/check-format.sh

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRY_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== systemd units (verify, security exposure)"
scripts/ci-systemd.sh

echo "== dashboard in headless Chromium"
scripts/ci-browser.sh build

echo "== libFuzzer targets, ${FERRY_FUZZ_SECONDS:-15} s each"
FERRY_FUZZ_SECONDS=${FERRY_FUZZ_SECONDS:-15} scripts/ci-fuzz.sh

if [ "$(id -u)" -eq 0 ]; then
  echo "== collector tests against PostgreSQL"
  scripts/ci-postgres.sh build
else
  echo "== PostgreSQL tests skipped: scripts/ci-postgres.sh needs root (runuser)"
fi

if [ "$(id -u)" -eq 0 ]; then
  echo "== ARM: cross builds, unit and end-to-end tests under qemu"
  scripts/ci-arm.sh
else
  echo "== ARM tests skipped: scripts/ci-arm.sh installs cross compilers (needs root)"
fi

if [ "${FERRY_TEST_QUICK:-0}" != "1" ]; then
  echo "== build (ASan + UBSan)"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFERRY_WERROR=ON -DFERRY_SANITIZE=ON >/dev/null
  cmake --build build-asan -j"$jobs"
  echo "== tests under ASan + UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs"
fi
