#!/usr/bin/env python3
"""Events that leave the journal without being delivered are accounted for,
never missing:
1. --overflow drop_oldest with a small journal: the oldest events are dropped,
   /v1/status counts them, the collector learns the dropped ranges
   (dropped == the agent's count, missing 0, contiguous_seq == high_seq).
2. --overflow reject: a full journal answers 507 with Retry-After and stores
   nothing of that request.
3. An event the collector rejects (timestamp an hour in the future) goes to
   dead-letter; the collector counts its seq as dropped, not missing."""
from ferry_harness import *


def pad_events(n, prefix, start, base):
    evs = make_events(n, prefix=prefix, start=start, base_ms=base)
    for e in evs:
        e["attributes"] = {"blob": "z" * 3000}   # ~3.3 KB per event: fills 1 MiB fast
    return evs


def phase_drop_oldest(h, base):
    cport = free_port()
    agent = h.start_agent(cport, agent_id="ov-drop",
                          extra=["--max-journal-bytes", "1MiB", "--max-dead-letter-bytes", "0",
                                 "--overflow", "drop_oldest"])
    epoch = agent_status(agent)["epoch"]
    total = 0
    for i in range(0, 3000, 100):
        post_events_ok(agent, pad_events(100, "ovd", i, base), expect_accepted=100)
        total += 100
    st = agent_status(agent)
    log("drop_oldest: %s" % {k: st.get(k) for k in ("backlog", "dropped", "journal_bytes", "next_seq")})
    check_eq(st.get("next_seq"), total + 1, "next_seq (every accepted event got a seq)")
    check(st.get("dropped", 0) > 0, "3,000 events of 3 KB in a 1 MiB journal but nothing dropped: %r" % st)
    check_eq(st.get("backlog", 0) + st.get("dropped", 0), total, "backlog + dropped")
    check(st.get("journal_bytes", 0) <= 1024 * 1024, "journal_bytes %r over --max-journal-bytes 1MiB"
          % st.get("journal_bytes"))
    dropped = st["dropped"]

    coll = h.start_collector(port=cport)
    wait_backlog(agent, 0, timeout=60)
    a = collector_agent(coll, "ov-drop")
    check(a is not None, "collector does not list ov-drop")
    check_eq(a.get("epoch"), epoch, "collector epoch")
    check_eq(a.get("high_seq"), total, "collector high_seq")
    check_eq(a.get("dropped"), dropped, "collector dropped == the agent's dropped")
    check_eq(a.get("received"), total - dropped, "collector received")
    check_eq(a.get("missing"), 0, "collector missing")
    check_eq(a.get("contiguous_seq"), total, "collector contiguous_seq")
    check_eq(agent.stop(), 0, "agent exit code")
    return coll


def phase_reject(h, base):
    agent = h.start_agent(free_port(), agent_id="ov-reject",
                          extra=["--max-journal-bytes", "1MiB", "--max-dead-letter-bytes", "0",
                                 "--overflow", "reject"])
    stored = 0
    got507 = None
    for i in range(0, 5000, 100):
        r = post_events(agent, pad_events(100, "ovr", i, base))
        if r.status == 202:
            check_eq(r.json.get("accepted"), 100, "accepted before the journal is full")
            stored += 100
            continue
        got507 = r
        break
    check(got507 is not None, "5,000 events of 3 KB fit in a 1 MiB journal under --overflow reject?")
    check_error_body(got507, 507, "post to a full journal")
    check("retry-after" in got507.headers, "507 without Retry-After: %r" % got507.headers)
    st = agent_status(agent)
    check_eq(st.get("backlog"), stored, "backlog: the refused request stored nothing")
    check_eq(st.get("dropped"), 0, "dropped under --overflow reject")
    check_eq(st.get("next_seq"), stored + 1, "next_seq: a refused request uses no seq")
    r = http_request(agent.url("/healthz"))
    check(r.status == 200, "/healthz with a full journal: %r" % r)
    check_eq(agent.stop(), 0, "agent exit code")


def phase_dead_letter(h, coll, base):
    agent = h.start_agent(coll.port, agent_id="ov-dead")
    epoch = agent_status(agent)["epoch"]
    evs = make_events(20, prefix="ovx", base_ms=base)
    evs[7]["timestamp"] = fmt_ts(now_ms() + 3600 * 1000)
    post_events_ok(agent, evs, expect_accepted=20)
    st = wait_backlog(agent, 0, timeout=30)
    check_eq(st.get("dead_letter"), 1, "dead_letter after the collector rejected one event")
    check_eq(st.get("acked_seq"), 20, "acked_seq moves past the dead-lettered seq")

    def settled():
        a = collector_agent(coll, "ov-dead")
        return a if a and a.get("dropped") == 1 else None
    a = wait_until(settled, 20, "the collector to learn the dead-lettered seq (dropped 1)")
    check_eq(a.get("epoch"), epoch, "collector epoch")
    check_eq(a.get("high_seq"), 20, "collector high_seq")
    check_eq(a.get("received"), 19, "collector received")
    check_eq(a.get("missing"), 0, "collector missing")
    check_eq(a.get("contiguous_seq"), 20, "collector contiguous_seq")
    check_eq(agent.stop(), 0, "agent exit code")


def main(h):
    base = now_ms() - 2 * 3600 * 1000
    log("-- drop_oldest")
    coll = phase_drop_oldest(h, base)
    log("-- reject")
    phase_reject(h, base)
    log("-- dead letter")
    phase_dead_letter(h, coll, base)
    check_eq(coll.stop(), 0, "collector exit code")


if __name__ == "__main__":
    run(main)
