#!/usr/bin/env bash
# Cross-builds ferry for ARM on a Debian 12 x86_64 host:
#
#   cross/build.sh aarch64|armhf [BUILD_DIR]
#
# installs the cross compiler and qemu-user from Debian, builds the target
# sysroot (cross/make-sysroot.sh), configures with the toolchain file in
# cross/ and -Werror, builds into BUILD_DIR (default build-ARCH), strips copies
# of the programs into BUILD_DIR/stripped and, when the tree has the CPack
# setup, makes the .deb packages. CTest in BUILD_DIR runs the tests under qemu:
#   ctest --test-dir build-aarch64 -L 'unit|fuzz|emulated'
# FERRY_CROSS_TEST=1 runs exactly that at the end. Environment:
#   FERRY_CROSS_CACHE  where sysroots are kept (default /var/cache/ferry-cross
#                      as root, else ~/.cache/ferry-cross)
#   FERRY_CROSS_EXTRA_PKGS  more target -dev packages for the sysroot
# See docs/arm.md.
set -euo pipefail

arch=${1:-}
case "$arch" in
  aarch64 | arm64) arch=aarch64 debarch=arm64 triplet=aarch64-linux-gnu qemu=qemu-aarch64 ;;
  armhf | arm) arch=armhf debarch=armhf triplet=arm-linux-gnueabihf qemu=qemu-arm ;;
  *)
    echo "usage: cross/build.sh aarch64|armhf [BUILD_DIR]" >&2
    exit 2
    ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${2:-$root/build-$arch}
jobs=$(nproc 2>/dev/null || echo 2)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if [ -z "${FERRY_CROSS_CACHE:-}" ]; then
  if [ "$(id -u)" -eq 0 ]; then FERRY_CROSS_CACHE=/var/cache/ferry-cross; else FERRY_CROSS_CACHE=$HOME/.cache/ferry-cross; fi
fi

# --- host tools ----------------------------------------------------------------
host_pkgs=(cmake make pkg-config python3 ca-certificates "gcc-$triplet" "binutils-$triplet" qemu-user)
missing=()
for p in "${host_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "cross/build.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq || echo "cross/build.sh: apt-get update reported errors; trying anyway" >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- target libraries ----------------------------------------------------------
"$here/make-sysroot.sh" "$debarch" "$FERRY_CROSS_CACHE/$debarch"
sysroot="$FERRY_CROSS_CACHE/$debarch/sysroot"

# --- configure and build -------------------------------------------------------
echo "== cross build for $arch ($triplet) in $build"
cmake -S "$root" -B "$build" -DCMAKE_TOOLCHAIN_FILE="$here/$triplet.cmake" \
  -DFERRY_SYSROOT="$sysroot" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRY_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs"

mkdir -p "$build/stripped"
for prog in ferry-agent ferry-collector ferry-camsim; do
  "$triplet-strip" -o "$build/stripped/$prog" "$build/$prog"
done
echo "== stripped sizes ($arch, bytes)"
for prog in ferry-agent ferry-collector ferry-camsim; do
  printf '%-16s %s\n' "$prog" "$(stat -c %s "$build/stripped/$prog")"
done

# --- packages (once the tree has the CPack setup) ---------------------------------
if [ -f "$build/CPackConfig.cmake" ]; then
  echo "== packages"
  (cd "$build" && cpack -G DEB)
  ls -l "$build"/*.deb
else
  echo "== no CPack configuration in this tree: no .deb packages made"
fi

if [ "${FERRY_CROSS_TEST:-0}" = "1" ]; then
  echo "== tests under $qemu (unit, fuzz smoke, emulated integration)"
  # the power-loss simulation's default 1 000 crash points take minutes under
  # qemu; a tenth keeps every kind of crash point (docs/arm.md)
  export FERRY_POWERLOSS_POINTS=${FERRY_POWERLOSS_POINTS:-100}
  ctest --test-dir "$build" -L 'unit|fuzz|emulated' --output-on-failure -j"$jobs"
fi
