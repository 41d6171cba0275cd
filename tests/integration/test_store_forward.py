#!/usr/bin/env python3
"""Store and forward: with the collector down the agent keeps every event
(backlog, state unreachable); when the collector comes up the backlog drains
and the collector holds every event exactly once, with no gap.

Then re-posting events that were already delivered (and so deleted from the
journal) stores them again with new seqs, and the collector still counts each
(agent_id, event_id) once."""
from ferry_harness import *

TOTAL = 20000
BATCH = 500
AGENT_ID = "test-agent-1"


def main(h):
    cport = free_port()
    agent = h.start_agent(cport, agent_id=AGENT_ID)
    st0 = agent_status(agent)
    check_eq(st0.get("agent_id"), AGENT_ID, "status agent_id")
    epoch = st0.get("epoch")
    check(isinstance(epoch, str) and re.fullmatch(r"[0-9a-f]{16}", epoch),
          "status epoch is not 16 hex chars: %r" % epoch)
    check_eq(st0.get("backlog"), 0, "initial backlog")
    check_eq(st0.get("next_seq"), 1, "initial next_seq")

    base = now_ms() - 2 * 3600 * 1000
    log("posting %d events in batches of %d, collector down" % (TOTAL, BATCH))
    for i in range(0, TOTAL, BATCH):
        evs = make_events(BATCH, prefix="sf", start=i, base_ms=base, step_ms=50)
        post_events_ok(agent, evs, expect_accepted=BATCH, expect_duplicates=0)

    st = agent_status(agent)
    check_eq(st.get("backlog"), TOTAL, "backlog with the collector down")
    check_eq(st.get("next_seq"), TOTAL + 1, "next_seq after %d events" % TOTAL)
    check_eq(st.get("acked_seq"), 0, "acked_seq with the collector down")
    check_eq(st.get("dropped"), 0, "dropped")
    wait_until(lambda: collector_state(agent) == "unreachable", 20, "collector.state == unreachable")
    st = agent_status(agent)
    check(st["collector"].get("consecutive_failures", 0) >= 1,
          "collector.consecutive_failures should count the failed attempts: %r" % st["collector"])
    check(isinstance(st.get("oldest_pending_s"), (int, float)) and st["oldest_pending_s"] >= 0,
          "oldest_pending_s: %r" % st.get("oldest_pending_s"))

    # a duplicate of a pending event is counted, not stored again
    post_events_ok(agent, make_events(3, prefix="sf", start=100, base_ms=base, step_ms=50),
                   expect_accepted=0, expect_duplicates=3)
    check_eq(agent_status(agent).get("backlog"), TOTAL, "backlog after re-posting pending events")

    log("starting the collector on port %d" % cport)
    coll = h.start_collector(port=cport)
    st = wait_backlog(agent, 0, timeout=150, desc="backlog to drain to 0")
    check_eq(st.get("acked_seq"), TOTAL, "acked_seq after drain")
    wait_until(lambda: collector_state(agent) == "ok", 20, "collector.state == ok")

    a = check_delivered(coll, AGENT_ID, TOTAL, epoch=epoch)
    log("collector: %s" % {k: a.get(k) for k in ("received", "high_seq", "contiguous_seq", "missing")})
    n = factory_events(coll, base - 1000, base + TOTAL * 50 + 1000)
    check(n is not None, "GET /v1/metrics/factory is missing")
    check_eq(n, TOTAL, "collector factory events (distinct stored events)")

    # Re-post 500 delivered events: new seqs at the agent, no new events at the collector.
    evs = make_events(500, prefix="sf", start=0, base_ms=base, step_ms=50)
    post_events_ok(agent, evs, expect_accepted=500, expect_duplicates=0)
    wait_backlog(agent, 0, timeout=60)
    a = check_delivered(coll, AGENT_ID, TOTAL + 500, epoch=epoch)
    check_eq(factory_events(coll, base - 1000, base + TOTAL * 50 + 1000), TOTAL,
             "collector factory events after re-posting delivered events (exactly once)")

    check(isinstance(a.get("clock_skew_s"), (int, float)) and abs(a["clock_skew_s"]) < 30,
          "clock_skew_s on one host should be about 0: %r" % a.get("clock_skew_s"))
    check(a.get("version") in ("0.1.0", "ferry-agent/0.1.0"), "collector: agent version %r" % a.get("version"))
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(a.get("last_seen"))),
          "last_seen is not RFC 3339 UTC with milliseconds: %r" % a.get("last_seen"))
    # idle with an empty backlog: heartbeats keep last_seen moving
    seen = a["last_seen"]
    wait_until(lambda: collector_agent(coll, AGENT_ID)["last_seen"] > seen, 15,
               "a heartbeat to advance last_seen (--heartbeat-interval 1)", interval=0.2)
    check_delivered(coll, AGENT_ID, TOTAL + 500, epoch=epoch)

    # the other upload encodings end to end (zstd is the default, used above)
    for comp in ("gzip", "none"):
        aid = "sf-" + comp
        ag = h.start_agent(coll.port, agent_id=aid, extra=["--compression", comp, "--batch-max-events", "300"])
        ep = agent_status(ag)["epoch"]
        for i in range(0, 2000, 500):
            post_events_ok(ag, make_events(500, prefix=aid, start=i, base_ms=base), expect_accepted=500)
        wait_backlog(ag, 0, timeout=60, desc="%s backlog to drain with --compression %s" % (aid, comp))
        check_delivered(coll, aid, 2000, epoch=ep)
        check_eq(ag.stop(), 0, "agent (%s) exit code" % comp)

    rc = agent.stop()
    check_eq(rc, 0, "agent exit code on SIGTERM")
    rc = coll.stop()
    check_eq(rc, 0, "collector exit code on SIGTERM")


if __name__ == "__main__":
    run(main)
