#!/usr/bin/env python3
"""Catch-up with live traffic (SPEC 6.2): an agent holds a backlog while the
collector is down; the collector comes back while a simulated camera keeps
posting 100 events/s. Every live event must reach the collector within 2 s of
its 202 while the backlog drains, and in the end every event is stored once,
missing 0.

The delay is read from what the collector stored, not from sleeps: the
camera notes when each live event's 202 came, and the collector stores with
every event the arrival time of the request that brought it
(events.received_at); the delay is received_at - the 202. Each event's
timestamp is the moment it was sent, which tells the events posted while the
collector was up.

Sizes: the contract's scenario is a 1M-event backlog; here the backlog is
BACKLOG events (100k, so the test stays short on a small shared machine) with
--live-window 2 so that the backlog counts as backfill two seconds after it
was posted. tests/bench/bench_catchup.py runs the full 1M."""
import sqlite3
import threading

from ferry_harness import *

BACKLOG = int(os.environ.get("FERRY_TEST_CATCHUP_BACKLOG", "100000"))
LIVE_RATE = 100  # events per second
BOUND_MS = 2000
AGENT_ID = "catchup-1"


def query(coll, sql):
    """Rows of sql on the collector's database (SQLite file, or PostgreSQL)."""
    if PG_URL:
        url = h_pg_url(coll)
        return [tuple(line.split("|")) for line in pg_sql(url, sql).splitlines() if line.strip()]
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(coll.db_dir, "ferry.db"), uri=True, timeout=30)
    try:
        return list(db.execute(sql))
    finally:
        db.close()


def h_pg_url(coll):
    return coll.h.pg_dbs[coll.db_dir][1]


def stored(coll, prefix):
    """{event_id: (ts_ms, received_at)} of the stored events whose id starts with prefix."""
    if PG_URL:
        sql = "SELECT event_id, ts_ms, received_at FROM events WHERE agent_id = '%s' AND event_id LIKE '%s%%'"
    else:  # SQLite schema 7: the ids live in ev_time
        sql = ("SELECT t.event_id, t.ts_ms, e.received_at FROM ev_time t JOIN events e ON e.rseq = t.rseq"
               " WHERE t.agent_id = '%s' AND t.event_id LIKE '%s%%'")
    rows = query(coll, sql % (AGENT_ID, prefix))
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


class Camera(threading.Thread):
    """Posts one event every 1/LIVE_RATE s, each stamped with its send time."""

    def __init__(self, agent):
        super().__init__(daemon=True)
        self.agent = agent
        self.stop = threading.Event()
        self.sent = 0
        self.errors = []
        self.acked = {}  # event_id -> wall-clock ms when its 202 came

    def run(self):
        nxt = time.monotonic()
        while not self.stop.is_set():
            ev = make_event(self.sent, prefix="live", base_ms=now_ms(), step_ms=0)
            r = post_events(self.agent, [ev], timeout=10)
            if r.status != 202:
                self.errors.append(repr(r))
                if len(self.errors) > 20:
                    return
            else:
                self.acked[ev["event_id"]] = now_ms()
                self.sent += 1
            nxt += 1.0 / LIVE_RATE
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                nxt = time.monotonic()


def main(h):
    cport = free_port()
    agent = h.start_agent(cport, agent_id=AGENT_ID, extra=["--live-window", "2"])
    epoch = agent_status(agent)["epoch"]
    base = now_ms() - 6 * 3600 * 1000
    log("posting a backlog of %d events, collector down" % BACKLOG)
    for i in range(0, BACKLOG, 1000):
        post_events_ok(agent, make_events(1000, prefix="old", start=i, base_ms=base, step_ms=10),
                       expect_accepted=1000)
    time.sleep(2.5)  # the backlog leaves the live window
    st = agent_status(agent)
    lanes = st.get("backlog_lanes")
    check(isinstance(lanes, dict), "/v1/status has no backlog_lanes: %r" % st)
    check_eq(lanes["backfill"]["backlog"], BACKLOG, "backfill backlog before the collector starts")
    check_eq(lanes["live"]["backlog"], 0, "live backlog before the camera starts")

    cam = Camera(agent)
    cam.start()
    wait_until(lambda: cam.sent >= LIVE_RATE, 20, "the camera posted for a second")
    st = agent_status(agent)
    check(st["backlog_lanes"]["live"]["backlog"] > 0, "live events pending with the collector down: %r" % st)

    log("starting the collector")
    coll = h.start_collector(port=cport)
    try:
        wait_until(lambda: agent_status(agent)["backlog_lanes"]["backfill"]["backlog"] == 0, 240,
                   "the backfill lane drained")
        time.sleep(1)  # a little live traffic after the drain
    finally:
        cam.stop.set()
        cam.join(15)
    check(not cam.errors, "camera posts failed: %s" % cam.errors[:3])
    total = BACKLOG + cam.sent
    log("camera posted %d live events" % cam.sent)
    wait_backlog(agent, 0, timeout=60)
    a = check_delivered(coll, AGENT_ID, total, epoch=epoch)
    log("collector: %s" % {k: a.get(k) for k in ("received", "missing", "backlog_trend_per_s", "catch_up_s")})
    check("backlog_trend_per_s" in a and "catch_up_s" in a, "/v1/agents lacks the catch-up estimate: %r" % a)
    # drained: the next report (a heartbeat) says backlog 0, caught up
    a = wait_until(lambda: (lambda x: x if x and x.get("backlog") == 0 and x.get("catch_up_s") == 0 else None)(
        collector_agent(coll, AGENT_ID)), 20, "/v1/agents: backlog 0, catch_up_s 0")

    live = stored(coll, "live-")
    old = stored(coll, "old-")
    check_eq(len(live), cam.sent, "live events stored")
    coll_up = min(r for _, r in list(live.values()) + list(old.values()))
    first_live = min(r for _, r in live.values())
    last_old = max(r for _, r in old.values())
    # the live events posted before the collector came back waited for it;
    # the rule is about those posted while it was up. Delay: from the 202
    # (as the camera saw it) to the collector's arrival time of the event
    during = {k: r - cam.acked[k] for k, (t, r) in live.items() if t >= coll_up}
    d = sorted(during.values())
    check(len(d) > LIVE_RATE, "too few live events posted during the drain: %d" % len(d))
    log("live delays while draining (ms): p50 %d, p99 %d, max %d (%d events); first live stored %+d ms "
        "after the collector's first arrival, last backlog event %+d ms"
        % (d[len(d) // 2], d[int(len(d) * 0.99)], d[-1], len(d), first_live - coll_up, last_old - coll_up))
    check(first_live < last_old, "live events were not sent before the backlog finished "
          "(first live at %d, last backlog event at %d)" % (first_live, last_old))
    over = sorted(((v, k) for k, v in during.items() if v > BOUND_MS), reverse=True)
    check(not over, "%d live events took over %d ms from their 202 to the collector: %s"
          % (len(over), BOUND_MS, over[:5]))


if __name__ == "__main__":
    run(main)
