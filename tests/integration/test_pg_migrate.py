#!/usr/bin/env python3
"""PostgreSQL schema upgrade: a database at schema version 1 (the committed
fixture fixtures/pg_schema_v1.sql: ingest tables and one agent's first batch)
is opened by the current collector, which migrates it to the current version
(4) by itself, one step after the other. Checks: schema_version is 4, the
metrics tables, the registry (version 3) and the model tables (version 4)
exist and the old events count in the metrics and in the model figures
(filled from their bodies), delivery figures and the stored Idempotency-Key are
unchanged (a replay of the old batch is answered as duplicates), new batches
are stored; a schema newer than the collector knows is refused (exit 1).
Skipped unless FERRY_TEST_PG_URL is set (scripts/ci-postgres.sh sets it)."""
import sys

from ferry_harness import *

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pg_schema_v1.sql")
AGENT = "v1-agent"
EPOCH = "00000000000000a1"
DAY0 = 1772323200000  # 2026-03-01T00:00:00Z


def post(coll, body, key):
    hdrs = {"Content-Type": "application/json", "User-Agent": "ferry-agent/0.1.0",
            "Authorization": "Bearer %s" % AGENT_TOKEN}
    if key:
        hdrs["Idempotency-Key"] = key
    return http_request(coll.url("/v1/ingest"), "POST", body=dumps(body), headers=hdrs)


def main(h):
    d = h.mkdir("v1")
    url = h.db_url(d)
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", FIXTURE],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    check(p.returncode == 0, "loading the v1 fixture: %s" % p.stdout.decode())
    check_eq(pg_sql(url, "SELECT max(version) FROM schema_version").strip(), "1", "fixture schema_version")

    coll = h.start_collector(db_dir=d)
    check_eq(pg_sql(url, "SELECT max(version) FROM schema_version").strip(), "4", "schema_version after start")
    tables = set(pg_sql(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split())
    for t in ("meta", "known_ids", "dirty_hours", "worker_hour", "station_hour", "hour_total",
              "worker_day", "station_day", "day_total", "registry", "model_hour", "model_day"):
        check(t in tables, "table %s missing after the migration (have %s)" % (t, sorted(tables)))
    check(pg_sql(url, "SELECT count(*) FROM pg_indexes WHERE indexname = 'events_ts'").strip() == "1",
          "index events_ts missing after the migration")

    r = http_request(coll.url("/v1/registry"), headers={"Authorization": "Bearer " + READ_TOKEN})
    check_eq((r.status, r.json and r.json.get("version")), (200, 0), "an empty registry after the migration")

    # delivery as before
    a = collector_agent(coll, AGENT)
    check(a is not None, "the fixture's agent is not listed")
    for k, v in (("epoch", EPOCH), ("received", 3), ("high_seq", 3), ("missing", 0), ("contiguous_seq", 3)):
        check_eq(a.get(k), v, "/v1/agents %s.%s" % (AGENT, k))

    # the old events in the metrics (and their ids known)
    check_eq(factory_events(coll, DAY0, DAY0 + 86400000), 3, "factory events of the fixture's day")
    # they belong to no site: site= (none) holds them all, a named site none
    for site, want in (("", 3), ("S1", 0)):
        q = urllib.parse.urlencode({"from": fmt_ts(DAY0), "to": fmt_ts(DAY0 + 86400000), "site": site})
        r = http_request(coll.url("/v1/metrics/factory?" + q), headers=read_auth(), timeout=30)
        check_eq((r.status, r.json and r.json.get("events")), (200, want), "site=%r after the migration" % site)
    w = metrics_workers(coll, DAY0, DAY0 + 86400000)
    check(w is not None and "W-V1" in w, "workers of the fixture's day: %r" % w)
    check_eq(w["W-V1"].get("working_s"), 120.0, "W-V1 working_s")
    check_eq(w["W-V1"].get("idle_s"), 600.0, "W-V1 idle_s")
    check_eq(w["W-V1"].get("units"), 2, "W-V1 units")
    r = http_request(coll.url("/v1/metrics/workers/W-V1?from=2030-01-01T00:00:00Z&to=2030-01-02T00:00:00Z"),
                     headers=read_auth(), timeout=30)
    check_eq(r.status, 200, "a worker named only by v1 events is known (zeros, not 404): %r" % r)

    # the old events in the model figures (version 4 fills them from the stored bodies)
    r = http_request(coll.url("/v1/metrics/models?from=%s&to=%s" % (fmt_ts(DAY0), fmt_ts(DAY0 + 86400000))),
                     headers=read_auth(), timeout=30)
    check_eq(r.status, 200, "models of the fixture's day: %r" % r)
    check_eq(len(r.json["models"]), 1, "one camera and model row")
    m = r.json["models"][0]
    third = 0.3333
    for k, v in (("camera_id", "cam-v1"), ("model_version", "m1"), ("events", 3), ("with_confidence", 2),
                 ("confidence_mean", 0.6), ("confidence_p10", 0.4), ("low_confidence_rate", 0.5),
                 ("event_mix", {"working": third, "idle": third, "absent": 0, "product_count": third})):
        check_eq(m[k], v, "models %s" % k)

    # the stored key still answers a replay; the next batch is stored
    base = now_ms() - 3600 * 1000
    def ev(s):
        e = make_event(s, prefix="v2-ev", base_ms=base)
        e["seq"] = s
        e["ingested_at"] = fmt_ts(base + s * 100 + 5)
        return e
    body = {"agent_id": AGENT, "epoch": EPOCH, "events": [ev(4), ev(5)], "dropped": [],
            "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())}
    r = post(coll, body, "%s:%s:4-5" % (AGENT, EPOCH))
    check(r.status == 200 and r.json.get("accepted") == 2, "a new batch after the migration: %r" % r)
    a = collector_agent(coll, AGENT)
    check_eq(a.get("received"), 5, "received after the new batch")
    coll.stop()

    # a schema newer than this collector: refused, untouched
    pg_sql(url, "UPDATE schema_version SET version = 99")
    bad = h.start_collector(db_dir=d, ready=False, name="collector-newer")
    rc = bad.wait_exit(30)
    check(rc == 1, "a collector on schema version 99 should exit 1, got %r; log:\n%s" % (rc, bad.log_tail()))
    check("newer than this collector knows" in bad.log_tail(), "exit reason: %s" % bad.log_tail())
    check_eq(pg_sql(url, "SELECT max(version) FROM schema_version").strip(), "99", "schema_version untouched")


if __name__ == "__main__":
    if not PG_URL:
        print("test_pg_migrate: SKIP: FERRY_TEST_PG_URL is not set (scripts/ci-postgres.sh runs it "
              "against a throwaway PostgreSQL)")
        sys.exit(0)
    run(main)
