#!/usr/bin/env bash
# Builds a target sysroot for cross-compiling ferry: the Debian :arm64 / :armhf
# -dev packages ferry links against, with their whole dependency closure,
# downloaded through a private apt state (the host's dpkg database, foreign
# architectures and installed packages are left untouched) and unpacked with
# dpkg-deb -x. A private state also avoids multiarch's requirement that the
# host and target versions of every Multi-Arch: same package be identical,
# which fails whenever the mirror's per-architecture indexes are out of step.
#
#   cross/make-sysroot.sh arm64|armhf DIR
#
# DIR/sysroot is the result; DIR/apt holds the private apt state and the
# downloaded .debs. Idempotent: a sysroot whose package list is unchanged is
# reused (delete DIR to force a refresh). Extra packages: FERRY_CROSS_EXTRA_PKGS.
set -euo pipefail

debarch=${1:?usage: make-sysroot.sh arm64|armhf DIR}
dir=${2:?usage: make-sysroot.sh arm64|armhf DIR}
case "$debarch" in
  arm64 | armhf) ;;
  *) echo "make-sysroot: unknown architecture $debarch (arm64 or armhf)" >&2; exit 2 ;;
esac

# What ferry links against (keep in step with scripts/install-deps.sh and the
# pkg_check_modules calls in CMakeLists.txt), plus the C library itself.
PKGS=(
  libc6-dev
  libuv1-dev libcurl4-gnutls-dev libsqlite3-dev libcjson-dev
  libmicrohttpd-dev zlib1g-dev libzstd-dev libsystemd-dev nettle-dev
  libgnutls28-dev libpq-dev libmosquitto-dev
)
# shellcheck disable=SC2206
PKGS+=(${FERRY_CROSS_EXTRA_PKGS:-})

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
sysroot="$dir/sysroot"
apt="$dir/apt"
stamp="$sysroot/.ferry-sysroot"
want="$debarch ${PKGS[*]}"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "make-sysroot: $sysroot is up to date"
  exit 0
fi

mkdir -p "$apt/state/lists/partial" "$apt/cache/archives/partial" "$apt/etc/preferences.d"
: >"$apt/state/status"
APT=(apt-get -q
  -o "APT::Architecture=$debarch" -o "APT::Architectures=$debarch"
  -o "Dir::State=$apt/state" -o "Dir::State::status=$apt/state/status"
  -o "Dir::Cache=$apt/cache" -o "Dir::Etc::preferencesparts=$apt/etc/preferences.d"
  -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root"
  -o "APT::Install-Recommends=false" -o "APT::Install-Suggests=false")

# The mirror may be mid-sync: retry, then go on with whatever indexes arrived
# (the resolver below fails loudly if something needed is missing).
for attempt in 1 2 3; do
  if "${APT[@]}" update >"$apt/update.log" 2>&1; then break; fi
  echo "make-sysroot: apt-get update for $debarch failed (attempt $attempt):" >&2
  grep -E '^(E|W|Err):' "$apt/update.log" >&2 || tail -5 "$apt/update.log" >&2
  sleep $((attempt * 5))
done

# With an empty status file the resolver pulls in the complete closure.
echo "make-sysroot: downloading ${PKGS[*]} for $debarch"
"${APT[@]}" install -y --download-only "${PKGS[@]}" >"$apt/install.log" 2>&1 || {
  cat "$apt/install.log" >&2
  exit 1
}

rm -rf "$sysroot.tmp"
mkdir -p "$sysroot.tmp"
n=0
for deb in "$apt"/cache/archives/*.deb; do
  dpkg-deb -x "$deb" "$sysroot.tmp"
  n=$((n + 1))
done

# Absolute symlinks (e.g. libfoo.so -> /lib/<triplet>/libfoo.so.1) would point
# at the host: make them relative to the sysroot.
while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  case "$target" in
    /*)
      rel=$(realpath -m --relative-to="$(dirname "$link")" "$sysroot.tmp$target")
      ln -sfn "$rel" "$link"
      ;;
  esac
done < <(find "$sysroot.tmp" -type l -print0)

rm -rf "$sysroot"
mv "$sysroot.tmp" "$sysroot"
echo "$want" >"$stamp"
echo "make-sysroot: $n packages unpacked into $sysroot"
