#!/usr/bin/env python3
"""PostgreSQL schema upgrade: a database at schema version 1 (the committed
fixture fixtures/pg_schema_v1.sql: ingest tables and one agent's first batch)
is opened by the current collector, which migrates it to the current version
(5) by itself, one step after the other. Checks: schema_version is 5, the
metrics tables, the registry (version 3) and the model tables (version 4)
exist and the old events count in the metrics and in the model figures
(filled from their bodies), delivery figures and the stored Idempotency-Key are
unchanged (a replay of the old batch is answered as duplicates), new batches
are stored; a schema newer than the collector knows is refused (exit 1).
Then a database at version 4 (fixtures/pg_schema_v4.sql: model rows written
at ingest, one hour still marked for the upkeep) is upgraded to 5 (model rows
rebuilt in the upkeep): /v1/metrics/models answers what the version-4
collector answered, before and after the upkeep, the rebuilt rows equal the
old ones, and a late event is counted once the upkeep has run again.
Skipped unless FERRY_TEST_PG_URL is set (scripts/ci-postgres.sh sets it)."""
import sys

from ferry_harness import *

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pg_schema_v1.sql")
FIXTURE_V4 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "pg_schema_v4.sql")
# what the version-4 collector answered for the fixture's day (the low threshold 0.5)
V4_MODELS = [
    {"camera_id": None, "model_version": None, "events": 1, "with_confidence": 0, "confidence_mean": None,
     "confidence_p10": None, "low_confidence_rate": None,
     "event_mix": {"working": 1, "idle": 0, "absent": 0, "product_count": 0}},
    {"camera_id": "cam-a", "model_version": "m1", "events": 3, "with_confidence": 2, "confidence_mean": 0.55,
     "confidence_p10": 0.2, "low_confidence_rate": 0.5,
     "event_mix": {"working": 0.6667, "idle": 0.3333, "absent": 0, "product_count": 0}},
    {"camera_id": "cam-a", "model_version": "m2", "events": 1, "with_confidence": 1, "confidence_mean": 0.45,
     "confidence_p10": 0.45, "low_confidence_rate": 1,
     "event_mix": {"working": 0, "idle": 0, "absent": 0, "product_count": 1}},
    {"camera_id": "cam-b", "model_version": None, "events": 1, "with_confidence": 1, "confidence_mean": 0.7,
     "confidence_p10": 0.7, "low_confidence_rate": 0,
     "event_mix": {"working": 0, "idle": 0, "absent": 1, "product_count": 0}}]
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
    check_eq(pg_sql(url, "SELECT max(version) FROM schema_version").strip(), "5", "schema_version after start")
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

    # version 4 → 5: the model rows move from ingest to the upkeep
    d = h.mkdir("v4")
    url = h.db_url(d)
    p = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", FIXTURE_V4],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    check(p.returncode == 0, "loading the v4 fixture: %s" % p.stdout.decode())
    check_eq(pg_sql(url, "SELECT max(version) FROM schema_version").strip(), "4", "v4 fixture schema_version")
    rows_sql = ("SELECT hour, camera, model, events, with_conf, conf_micro, n_working, n_idle, n_absent,"
                " n_product, last_ms, hist::text FROM model_hour ORDER BY 1, 2, 3")
    day_sql = rows_sql.replace("hour,", "day,", 1).replace("model_hour", "model_day")
    old_rows, old_days = pg_sql(url, rows_sql), pg_sql(url, day_sql)
    coll = h.start_collector(db_dir=d)
    check_eq(pg_sql(url, "SELECT max(version) FROM schema_version").strip(), "5", "schema_version after v4")
    day_q = "/v1/metrics/models?from=%s&to=%s" % (fmt_ts(DAY0), fmt_ts(DAY0 + 86400000))

    def models():
        r = http_request(coll.url(day_q), headers=read_auth(), timeout=30)
        check_eq(r.status, 200, "models of the v4 fixture's day: %r" % r)
        return [{k: v for k, v in m.items() if k != "drift"} for m in r.json["models"]]
    check_eq(models(), V4_MODELS, "models after the upgrade")
    wait_until(lambda: pg_sql(url, "SELECT count(*) FROM dirty_hours").strip() == "0", 60, "the upkeep ran")
    check_eq(models(), V4_MODELS, "models once the upkeep rebuilt the marked hour")
    check_eq(pg_sql(url, rows_sql), old_rows, "model_hour rows rebuilt as version 4 wrote them")
    check_eq(pg_sql(url, day_sql), old_days, "model_day rows rebuilt as version 4 wrote them")
    # a late event in the fixture's first hour: counted before and after its upkeep
    late = {"event_id": "v5-late", "timestamp": fmt_ts(DAY0 + 10 * 3600000 + 30000), "event_type": "idle",
            "worker_id": "W-V4", "workstation_id": "WS-V4", "camera_id": "cam-a", "model_version": "m1",
            "confidence": 0.1, "seq": 7, "ingested_at": fmt_ts(now_ms())}
    body = {"agent_id": "v4-agent", "epoch": "00000000000000a4", "events": [late], "dropped": [],
            "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())}
    r = post(coll, body, "v4-agent:00000000000000a4:7-7")
    check(r.status == 200 and r.json.get("accepted") == 1, "a late event after the upgrade: %r" % r)
    want = [dict(m) for m in V4_MODELS]
    want[1] = dict(want[1], events=4, with_confidence=3, confidence_mean=0.4, confidence_p10=0.1,
                   low_confidence_rate=0.6667, event_mix={"working": 0.5, "idle": 0.5, "absent": 0,
                                                          "product_count": 0})
    check_eq(models(), want, "models with the late event")
    wait_until(lambda: pg_sql(url, "SELECT count(*) FROM dirty_hours").strip() == "0", 60, "the upkeep ran again")
    check_eq(models(), want, "models with the late event, at rest")
    coll.stop()


if __name__ == "__main__":
    if not PG_URL:
        print("test_pg_migrate: SKIP: FERRY_TEST_PG_URL is not set (scripts/ci-postgres.sh runs it "
              "against a throwaway PostgreSQL)")
        sys.exit(0)
    run(main)
