#!/usr/bin/env python3
"""Chaos: for a bounded time (FERRY_CHAOS_SECONDS, default 60) a source
writes events (at most FERRY_CHAOS_RATE a second, default 1000) to the agent while the agent and the collector are killed with
SIGKILL and restarted, over and over, and every upload goes through
tests/tools/faultproxy.py (connection resets, answers lost after the
collector committed, stalls, truncated answers, 503 with Retry-After, 500).

The source behaves like an inference box: a POST whose outcome it did not see
(connection refused or reset, 503) is sent again, same event_ids, until it
gets a 202; the ids of a 202 are "acknowledged".

Afterwards, with the proxy calm and both programs up: the backlog drains;
/v1/agents shows missing 0, dropped 0, received == high_seq == every seq the
agent handed out; and the collector's database (opened read-only after it
stopped) holds every acknowledged event exactly once and nothing else.
Figures (restarts, faults, events acknowledged/lost/duplicated) are printed."""
import random
import sqlite3
import threading

from ferry_harness import *

AGENT = "chaos-agent"


def main(h):
    seconds = float(os.environ.get("FERRY_CHAOS_SECONDS", "60"))
    seed = int(os.environ.get("FERRY_CHAOS_SEED", "4242"))
    rate = float(os.environ.get("FERRY_CHAOS_RATE", "1000"))  # events per second, at most
    rng = random.Random(seed)
    cport, pport = free_port(), free_port()
    calm = h.path("calm")
    proxy = Proc(h, "faultproxy", [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                "..", "tools", "faultproxy.py"),
                                   str(pport), str(cport), "--seed", str(seed), "--pass-only-file", calm],
                 None)
    coll = h.start_collector(port=cport)
    db_dir = coll.db_dir
    extra = ["--batch-max-events", "200", "--durability", "fsync"]
    agent = h.start_agent(pport, agent_id=AGENT, extra=extra)
    aport = agent.port
    epoch = agent_status(agent)["epoch"]

    acked = set()
    posted = set()
    stop = threading.Event()
    stats = {"posts": 0, "retries": 0}
    base = now_ms() - 6 * 3600 * 1000

    def source():
        n = 0
        while not stop.is_set():
            size = 1 + (n * 7919) % 40
            evs = make_events(size, prefix="chaos", start=n, base_ms=base, step_ms=10)
            posted.update(e["event_id"] for e in evs)
            while not stop.is_set():
                try:
                    r = http_request("http://127.0.0.1:%d/v1/events" % aport, "POST",
                                     json_body=evs, timeout=10)
                    if r.status == 202:
                        acked.update(e["event_id"] for e in evs)
                        stats["posts"] += 1
                        break
                except (OSError, http.client.HTTPException):
                    pass
                stats["retries"] += 1
                time.sleep(0.05)
            n += size
            time.sleep(size / rate)  # a camera box's pace, not a flood

    t = threading.Thread(target=source, daemon=True)
    t.start()
    restarts = {"agent": 0, "collector": 0}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(1.0 + rng.random() * 3.0)
        if rng.random() < 0.55:
            agent.kill9()
            time.sleep(rng.random() * 0.5)
            agent = h.restart_agent(agent, extra=extra)
            restarts["agent"] += 1
        else:
            coll.kill9()
            time.sleep(rng.random() * 1.5)
            coll = h.start_collector(port=cport, db_dir=db_dir)
            restarts["collector"] += 1
    stop.set()
    t.join(30)
    check(not t.is_alive(), "the source thread did not stop")

    # calm: everything passes, both up, the backlog drains
    open(calm, "w").close()
    st = wait_backlog(agent, 0, timeout=240, desc="backlog drains after the chaos")
    check_eq(st.get("epoch"), epoch, "agent epoch (kill -9 never starts a new epoch)")
    check_eq(st.get("quarantined", 0), 0, "journal quarantined during the chaos")
    total = st["next_seq"] - 1
    a = collector_agent(coll, AGENT)
    check(a is not None, "collector does not list %s" % AGENT)
    log("collector view: %s" % {k: a.get(k) for k in ("epoch", "high_seq", "contiguous_seq", "received",
                                                       "dropped", "missing")})
    check_eq(a.get("epoch"), epoch, "collector epoch")
    check_eq(a.get("missing"), 0, "collector missing")
    check_eq(a.get("dropped"), 0, "collector dropped")
    check_eq(a.get("high_seq"), total, "collector high_seq == seqs the agent handed out")
    check_eq(a.get("received"), total, "collector received")
    check_eq(a.get("contiguous_seq"), total, "collector contiguous_seq")
    check_eq(agent.stop(), 0, "agent exit code")
    check_eq(coll.stop(), 0, "collector exit code")

    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(db_dir, "ferry.db"), uri=True)
    rows = [r[0] for r in db.execute("SELECT event_id FROM ev_time WHERE agent_id = ?", (AGENT,))]
    db.close()
    stored = set(rows)
    lost = acked - stored
    dup = len(rows) - len(stored)
    stranger = stored - posted
    proxy.signal(signal.SIGTERM)
    proxy.wait_exit(10)
    log("proxy: %s" % proxy.log_tail(1))
    log("chaos %.0f s: %d agent and %d collector kill -9 restarts; %d POSTs acknowledged "
        "(%d resent), %d events acknowledged, %d stored, %d lost, %d duplicated, seqs %d"
        % (seconds, restarts["agent"], restarts["collector"], stats["posts"], stats["retries"],
           len(acked), len(stored), len(lost), dup, total))
    check(not lost, "%d acknowledged events are not at the collector, e.g. %r" % (len(lost), sorted(lost)[:5]))
    check_eq(dup, 0, "events stored twice")
    check(not stranger, "the collector holds events nobody posted: %r" % sorted(stranger)[:5])
    check(restarts["agent"] > 0 and restarts["collector"] > 0, "no restarts happened: %r" % restarts)


if __name__ == "__main__":
    run(main)
