#!/usr/bin/env python3
"""PostgreSQL going away and coming back under a running collector (on a
cluster of the test's own, so other tests are not disturbed): while the
server is down /readyz answers 503, /v1/ingest answers 503 with Retry-After
(so the agent keeps its journal), and after the restart the collector
reconnects by itself, turns ready, and the agent's backlog drains — every
event stored once. Skipped unless FERRY_TEST_PG_URL is set and the test runs
as root (runuser); scripts/ci-postgres.sh does both."""
import sys

from ferry_harness import *

N1, N2 = 300, 200


def main(h):
    pg = PgCluster(h)
    pg.start()
    pg_sql(pg.url(), "CREATE DATABASE ferry")
    coll = h.start_collector(db=pg.url("ferry"))
    agent = h.start_agent(coll.port, agent_id="pgr-agent")
    base = now_ms() - 3600 * 1000
    post_events_ok(agent, make_events(N1, prefix="pgr", base_ms=base), expect_accepted=N1)
    wait_backlog(agent, 0, desc="first events uploaded")
    check_eq(http_request(coll.url("/readyz")).status, 200, "/readyz with the database up")

    log("stopping PostgreSQL")
    pg.stop("fast")
    wait_until(lambda: http_request(coll.url("/readyz"), timeout=10).status == 503, 30,
               "/readyz 503 while PostgreSQL is down")
    r = http_request(coll.url("/readyz"), timeout=10)
    check_error_body(r, 503, "/readyz while PostgreSQL is down")
    check("retry-after" in r.headers, "/readyz 503 without Retry-After: %r" % r.headers)

    # a batch sent straight to the collector: 503 + Retry-After, not stored
    evs = make_events(3, prefix="direct", base_ms=base)
    for i, e in enumerate(evs):
        e["seq"] = i + 1
        e["ingested_at"] = fmt_ts(base + 5)
    body = {"agent_id": "pgr-direct", "epoch": "00000000000000d1", "events": evs, "dropped": [],
            "stats": {"backlog": 3, "oldest_pending_s": 1}, "sent_at": fmt_ts(now_ms())}
    hdrs = {"Content-Type": "application/json", "Authorization": "Bearer %s" % AGENT_TOKEN,
            "Idempotency-Key": "pgr-direct:00000000000000d1:1-3"}
    r = http_request(coll.url("/v1/ingest"), "POST", body=dumps(body), headers=hdrs, timeout=60)
    check_error_body(r, 503, "/v1/ingest while PostgreSQL is down")
    check("retry-after" in r.headers, "/v1/ingest 503 without Retry-After: %r" % r.headers)

    # the agent keeps what it gets meanwhile
    post_events_ok(agent, make_events(N2, prefix="pgr", start=N1, base_ms=base), expect_accepted=N2)
    time.sleep(2)
    st = agent_status(agent)
    check(st.get("backlog", 0) > 0, "the agent's backlog should stay while PostgreSQL is down: %r" % st)
    check(coll.alive(), "the collector exited while PostgreSQL was down:\n%s" % coll.log_tail())

    log("starting PostgreSQL again")
    pg.start()
    wait_until(lambda: http_request(coll.url("/readyz"), timeout=10).status == 200, 60,
               "/readyz 200 after PostgreSQL is back")
    wait_backlog(agent, 0, timeout=120, desc="backlog drained after the restart")
    check_delivered(coll, "pgr-agent", N1 + N2)
    ev = factory_events(coll, base - 3600 * 1000, now_ms() + 60000)
    check_eq(ev, N1 + N2, "events stored once")
    r = http_request(coll.url("/v1/ingest"), "POST", body=dumps(body), headers=hdrs, timeout=60)
    check(r.status == 200 and r.json.get("accepted") == 3, "the direct batch after the restart: %r" % r)
    check_eq(coll.stop(), 0, "collector exit code")


if __name__ == "__main__":
    if not PG_URL or os.geteuid() != 0 or not pg_bin_dir():
        print("test_pg_restart: SKIP: needs FERRY_TEST_PG_URL, root and the PostgreSQL server binaries "
              "(scripts/ci-postgres.sh provides them)")
        sys.exit(0)
    run(main)
