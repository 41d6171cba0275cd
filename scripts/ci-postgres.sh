#!/usr/bin/env bash
# CI for the PostgreSQL backend (docs/scaling.md): installs Debian's
# postgresql and haproxy, starts a throwaway cluster in a temp directory on a
# free loopback port as the postgres user (initdb + pg_ctl through runuser),
# exports FERRY_TEST_PG_URL, builds, and runs the collector's tests against
# PostgreSQL — the store unit test, every integration test that starts a
# collector (each on its own fresh database), the schema-upgrade, restart
# and scale-out tests. The cluster is stopped and removed on exit, whatever
# happens. Idempotent; must run as root (runuser). Exit status: the tests'.
#   scripts/ci-postgres.sh [BUILD_DIR]     build in BUILD_DIR (default build-pg), run the tests
#   FERRY_PG_KEEP=1 scripts/ci-postgres.sh keep the cluster's directory
set -euo pipefail
cd "$(dirname "$0")/.."
t_start=$(date +%s)

if [ "$(id -u)" -ne 0 ]; then
  echo "ci-postgres: run as root (the cluster runs as the postgres user through runuser)" >&2
  exit 2
fi

scripts/install-deps.sh
need=()
for p in postgresql haproxy; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "ci-postgres: installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

PGBIN=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && PGBIN="$d"
done
if [ -z "$PGBIN" ]; then
  echo "ci-postgres: no initdb under /usr/lib/postgresql/*/bin" >&2
  exit 1
fi

PGTMP=$(mktemp -d /tmp/ferry-ci-pg-XXXXXX)
chown postgres: "$PGTMP"
PGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

stop_cluster() {
  local rc=$?
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  if [ "${FERRY_PG_KEEP:-0}" = "1" ]; then
    echo "ci-postgres: cluster directory kept in $PGTMP"
  else
    rm -rf "$PGTMP"
  fi
  echo "ci-postgres: $(( $(date +%s) - t_start )) s in all, exit $rc"
  exit $rc
}
trap stop_cluster EXIT INT TERM

echo "== PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') in $PGTMP, port $PGPORT"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGTMP/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
# loopback only, no unix socket in /var/run; fsync on (the collector's
# durability is the database's), a few more connections for parallel tests
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PGTMP -c max_connections=300" start >/dev/null

export FERRY_TEST_PG_URL="postgres://postgres@127.0.0.1:$PGPORT/postgres"
export FERRY_TEST_PG_BIN="$PGBIN"

jobs=$(nproc 2>/dev/null || echo 2)
build=${1:-build-pg}
echo "== build ($build, -Werror)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFERRY_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs"

echo "== collector tests against PostgreSQL"
# the store unit test, every integration test that starts a collector, and
# the PostgreSQL-only ones (the agent's own tests do not touch the database)
ctest --test-dir "$build" --output-on-failure -j"$jobs" \
  -R '^(unit\.test_collector_(store|rollup_slices)|integration\.test_(registry|plant_.*|replay|metrics|series|store_forward|kill9|overflow|shutdown|malformed|auth_error|camsim|limits|openapi_routes|service_notify|service_reload|tls|catchup_.*|pg_.*|scaleout|models|export))$'
