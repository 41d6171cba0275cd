#!/usr/bin/env bash
# CI step for the dashboard: installs Debian's chromium and node, the pinned
# npm dependencies of tests/browser (playwright-core, no browser download),
# builds ferry and runs the browser test (CTest label "browser"). Screenshots
# land in build/browser-artifacts/. Idempotent; bounded by CTest's timeout.
#   scripts/ci-browser.sh [BUILD_DIR]     (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
dpkg-query -W -f='${Status}' fonts-dejavu-core 2>/dev/null | grep -q "install ok installed" || need+=(fonts-dejavu-core)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "ci-browser: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y --no-install-recommends "${need[@]}" >/dev/null; }
fi

echo "== npm ci (tests/browser)"
(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)

echo "== build"
scripts/install-deps.sh >/dev/null
cmake -S . -B "$build" -DFERRY_WERROR=ON >/dev/null
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null

echo "== browser test"
ctest --test-dir "$build" -L browser --output-on-failure
test -s "$build/browser-artifacts/dashboard-24h.png"
echo "screenshots: $build/browser-artifacts/"
