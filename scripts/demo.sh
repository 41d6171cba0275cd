#!/usr/bin/env bash
# ferry's main job on one machine: a collector, an agent and a simulated
# inference box (ferry-camsim), on the embedded SQLite default, printing the
# delivery and factory figures as they arrive. Everything lives in a temporary
# directory and listens on 127.0.0.1 only; Ctrl-C stops it all.
#   scripts/demo.sh [SECONDS]     (default: run until Ctrl-C)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-0}"

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" --target ferry-agent ferry-collector ferry-camsim >/dev/null

dir=$(mktemp -d /tmp/ferry-demo.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(free_port); aport=$(free_port)
token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
read_token=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "demo-machine-id" > "$dir/machine-id"

pids=()
cleanup() {
  # newest first: the camera box stops before the agent it posts to
  for ((i=${#pids[@]}-1; i>=0; i--)); do
    kill "${pids[$i]}" 2>/dev/null || true
    wait "${pids[$i]}" 2>/dev/null || true
  done
  echo "logs and databases kept in $dir"
}
trap cleanup EXIT INT TERM

FERRY_AUTH_TOKEN="$token" FERRY_READ_TOKEN="$read_token" build/ferry-collector \
  --listen "127.0.0.1:$cport" --db "sqlite:$dir/ferry.db" 2>"$dir/collector.log" &
pids+=($!)
FERRY_AUTH_TOKEN="$token" build/ferry-agent --listen "127.0.0.1:$aport" \
  --journal "$dir/journal.db" --collector "http://127.0.0.1:$cport" \
  --agent-id demo-line-1 --machine-id-file "$dir/machine-id" 2>"$dir/agent.log" &
pids+=($!)
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$cport/healthz" >/dev/null && curl -sf "http://127.0.0.1:$aport/healthz" >/dev/null && break
  sleep 0.1
done
build/ferry-camsim --agent "http://127.0.0.1:$aport" --workers 8 --workstations 4 --rate 20 --batch 5 --speed 60 --quiet 2>"$dir/camsim.log" &
pids+=($!)

cat <<MSG
ferry demo running in $dir
  dashboard  http://127.0.0.1:$cport/   (read token: $read_token)
  agent      http://127.0.0.1:$aport/v1/status
  try:       curl -H 'Authorization: Bearer $read_token' http://127.0.0.1:$cport/v1/agents
MSG

start=$(date +%s)
while :; do
  sleep 3
  agents=$(curl -s -H "Authorization: Bearer $read_token" "http://127.0.0.1:$cport/v1/agents" || true)
  factory=$(curl -s -H "Authorization: Bearer $read_token" "http://127.0.0.1:$cport/v1/metrics/factory" || true)
  status=$(curl -s "http://127.0.0.1:$aport/v1/status" || true)
  python3 - "$agents" "$factory" "$status" <<'PY'
import json, sys
def load(s):
    try: return json.loads(s)
    except Exception: return {}
agents, factory, status = (load(a) for a in sys.argv[1:4])
a = (agents.get("agents") or [{}])[0]
line = "agent backlog=%s state=%s | collector received=%s missing=%s" % (
    status.get("backlog"), (status.get("collector") or {}).get("state"),
    a.get("received"), a.get("missing"))
if "workers" in factory:
    line += " | factory 24h: workers=%s events=%s units=%s utilization=%.1f%%" % (
        factory.get("workers"), factory.get("events"), factory.get("units"),
        factory.get("avg_utilization_pct") or 0)
print(line, flush=True)
PY
  if [ "$duration" != "0" ] && [ $(( $(date +%s) - start )) -ge "$duration" ]; then break; fi
done
