#!/usr/bin/env python3
"""An agent with a wrong token: the collector refuses it (401), the agent goes
to state auth_error and keeps every event; restarted with the right token on
the same journal (same epoch) it delivers everything exactly once."""
from ferry_harness import *

TOTAL = 1500
AGENT_ID = "test-agent-1"


def main(h):
    coll = h.start_collector()
    agent = h.start_agent(coll.port, agent_id=AGENT_ID, token="not-the-right-token")
    epoch = agent_status(agent).get("epoch")

    base = now_ms() - 3 * 3600 * 1000
    for i in range(0, TOTAL, 500):
        post_events_ok(agent, make_events(500, prefix="au", start=i, base_ms=base),
                       expect_accepted=500, expect_duplicates=0)

    wait_until(lambda: collector_state(agent) == "auth_error", 20, "collector.state == auth_error")
    # keep retrying (at --retry-max) without losing or dead-lettering anything
    f0 = agent_status(agent)["collector"].get("consecutive_failures", 0)
    wait_until(lambda: agent_status(agent)["collector"].get("consecutive_failures", 0) > f0, 15,
               "another failed attempt while in auth_error (retries go on)")
    st = agent_status(agent)
    check_eq(st.get("collector", {}).get("state"), "auth_error", "collector.state after more retries")
    check_eq(st.get("backlog"), TOTAL, "backlog while auth_error")
    check_eq(st.get("dead_letter"), 0, "dead_letter while auth_error")
    check_eq(st.get("dropped"), 0, "dropped while auth_error")
    a = collector_agent(coll, AGENT_ID)
    check(a is None or a.get("received", 0) == 0,
          "collector stored events from an agent with a wrong token: %r" % a)

    check_eq(agent.stop(), 0, "agent exit code on SIGTERM")
    agent2 = h.restart_agent(agent, token=AGENT_TOKEN)
    st = agent_status(agent2)
    check_eq(st.get("epoch"), epoch, "epoch after a clean restart on the same journal")
    # (it may already be uploading: the right token works at once)
    check_eq(st.get("next_seq"), TOTAL + 1, "next_seq after restart")
    check_eq(st.get("acked_seq", 0) + st.get("backlog", 0), TOTAL, "acked_seq + backlog after restart")
    wait_backlog(agent2, 0, timeout=90)
    wait_until(lambda: collector_state(agent2) == "ok", 20, "collector.state == ok")
    check_delivered(coll, AGENT_ID, TOTAL, epoch=epoch)
    n = factory_events(coll, base - 1000, base + TOTAL * 100 + 1000)
    if n is not None:
        check_eq(n, TOTAL, "collector factory events")
    check_eq(agent2.stop(), 0, "agent exit code on SIGTERM")


if __name__ == "__main__":
    run(main)
