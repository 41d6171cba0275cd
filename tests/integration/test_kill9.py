#!/usr/bin/env python3
"""kill -9 of the agent loses no acknowledged event and duplicates none.

1. A 30,000-event backlog drains to a running collector; the agent is killed
   with SIGKILL halfway through the drain and restarted on the same journal:
   the collector ends with seqs 1..30000 received once (missing 0) and 30,000
   distinct events; the epoch survives (a kill is not a corruption).
2. The agent is killed with SIGKILL while four clients post concurrently;
   after a restart every event that got a 202 reaches the collector; events
   whose request got no answer may or may not.
3. The collector is killed with SIGKILL while three agents drain into it and
   restarted on the same database: every event arrives once."""
import threading

from ferry_harness import *

TOTAL = 30000
BATCH = 500


def phase_drain(h):
    cport = free_port()
    agent = h.start_agent(cport, agent_id="k9-drain", extra=["--batch-max-events", "200"])
    epoch = agent_status(agent)["epoch"]
    base = now_ms() - 5 * 3600 * 1000
    log("phase 1: posting %d events, collector down" % TOTAL)
    for i in range(0, TOTAL, BATCH):
        post_events_ok(agent, make_events(BATCH, prefix="k9", start=i, base_ms=base, step_ms=100),
                       expect_accepted=BATCH, expect_duplicates=0)
    check_eq(agent_status(agent).get("backlog"), TOTAL, "backlog before the drain")

    coll = h.start_collector(port=cport)

    def partly_drained():
        # kill somewhere in the middle: a third delivered, or whatever is done when
        # less than a fifth is left (a fast drain)
        st = agent_status(agent)
        acked, backlog = st.get("acked_seq", 0), st.get("backlog", 0)
        return st if backlog > 0 and (acked >= TOTAL // 3 or (acked > 0 and backlog < TOTAL // 5)) else None
    try:
        st = wait_until(partly_drained, 60, "the drain to begin", interval=0.005)
    except TestFailure:
        st = agent_status(agent)
        check(st.get("backlog", 0) > 0, "the backlog drained before the test could kill the agent mid-drain")
        raise
    agent.kill9()
    log("phase 1: killed the agent with backlog %s, acked_seq %s" % (st.get("backlog"), st.get("acked_seq")))

    agent2 = h.restart_agent(agent)
    st = agent_status(agent2)
    check_eq(st.get("epoch"), epoch, "epoch after kill -9 (a kill must not start a new epoch)")
    check_eq(st.get("next_seq"), TOTAL + 1, "next_seq after kill -9")
    check(st.get("backlog", 0) <= TOTAL, "backlog after restart: %r" % st.get("backlog"))
    wait_backlog(agent2, 0, timeout=120)
    a = check_delivered(coll, "k9-drain", TOTAL, epoch=epoch)
    n = factory_events(coll, base - 1000, base + TOTAL * 100 + 1000)
    check(n is not None, "GET /v1/metrics/factory is missing")
    check_eq(n, TOTAL, "collector factory events after kill -9 mid-drain")
    check_eq(agent2.stop(), 0, "agent exit code on SIGTERM")
    return coll


class Poster(threading.Thread):
    """Posts batches of 50 product_count events, each with its own worker_id,
    until a request fails."""

    def __init__(self, agent, tid, base):
        super().__init__(daemon=True)
        self.agent, self.tid, self.base = agent, tid, base
        self.acked = []        # event ids of 202'd requests
        self.unanswered = []   # event ids of requests without an answer
        self.errors = []       # unexpected answers

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.agent.port, timeout=30)
        n = 0
        while n < 200000:
            evs = []
            for _ in range(50):
                i = n * 4 + self.tid
                evs.append({"event_id": "k9c-%d" % i, "timestamp": fmt_ts(self.base + i),
                            "event_type": "product_count", "worker_id": "k9w-%d" % i,
                            "workstation_id": "WS-%02d" % (self.tid + 1), "count": 1})
                n += 1
            body = dumps(evs).encode()
            ids = [e["event_id"] for e in evs]
            try:
                conn.request("POST", "/v1/events", body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                self.unanswered.extend(ids)
                return
            if r.status != 202:
                self.errors.append("HTTP %d %r" % (r.status, data[:200]))
                return
            j = json.loads(data)
            if j.get("accepted") != 50 or j.get("duplicates") != 0:
                self.errors.append("202 with %r for 50 new events" % j)
            self.acked.extend(ids)


def phase_concurrent(h, coll):
    agent = h.start_agent(coll.port, agent_id="k9-ingest")
    epoch = agent_status(agent)["epoch"]
    base = now_ms() - 3600 * 1000
    posters = [Poster(agent, t, base) for t in range(4)]
    for p in posters:
        p.start()
    wait_until(lambda: sum(len(p.acked) for p in posters) >= 4000 or not any(p.is_alive() for p in posters),
               60, "4,000 events acknowledged by concurrent posts", interval=0.01)
    agent.kill9()
    for p in posters:
        p.join(60)
        check(not p.is_alive(), "poster thread %d still running 60 s after the kill" % p.tid)
    errors = [e for p in posters for e in p.errors]
    check(not errors, "unexpected answers during concurrent ingest: %s" % errors[:5])
    acked = [i for p in posters for i in p.acked]
    unanswered = [i for p in posters for i in p.unanswered]
    log("phase 2: killed the agent; %d events 202'd, %d in requests without an answer"
        % (len(acked), len(unanswered)))
    check(len(acked) >= 4000, "too few events acknowledged before the kill: %d" % len(acked))

    agent2 = h.restart_agent(agent)
    st = agent_status(agent2)
    check_eq(st.get("epoch"), epoch, "epoch after kill -9 during ingest")
    stored_by_agent = st.get("next_seq", 0) - 1
    check(len(acked) <= stored_by_agent <= len(acked) + len(unanswered),
          "agent assigned %d seqs; 202'd %d, unanswered %d" % (stored_by_agent, len(acked), len(unanswered)))
    wait_backlog(agent2, 0, timeout=120)
    a = check_delivered(coll, "k9-ingest", stored_by_agent, epoch=epoch)

    workers = metrics_workers(coll, base - 1000, base + 10 ** 6)
    check(workers is not None, "GET /v1/metrics/workers is missing")
    lost = [i for i in acked if "k9w-" + i[4:] not in workers]
    check(not lost, "%d acknowledged events never reached the collector, e.g. %s" % (len(lost), lost[:5]))
    allowed = set("k9w-" + i[4:] for i in acked + unanswered)
    extra = [w for w in workers if w not in allowed]
    check(not extra, "collector has workers no request named: %s" % extra[:5])
    check_eq(len(workers), stored_by_agent, "distinct events at the collector")
    bad = [w for w, e in workers.items() if e.get("units") != 1]
    check(not bad, "events counted more than once: %s" % [(w, workers[w].get("units")) for w in bad[:5]])
    check_eq(agent2.stop(), 0, "agent exit code on SIGTERM")


def phase_collector_kill(h):
    """kill -9 of the collector mid-drain (three agents uploading), restart on the
    same database: everything delivered once."""
    cport = free_port()
    base = now_ms() - 7 * 3600 * 1000
    agents = []
    for k in range(3):
        ag = h.start_agent(cport, agent_id="k9-coll-%d" % k, extra=["--batch-max-events", "250"])
        for i in range(0, 6000, 500):
            post_events_ok(ag, make_events(500, prefix="k9k%d" % k, start=i, base_ms=base), expect_accepted=500)
        agents.append((ag, agent_status(ag)["epoch"]))
    coll = h.start_collector(port=cport)

    def partly():
        left = sum(agent_status(a).get("backlog", 0) for a, _ in agents)
        return left if 0 < left < 18000 * 2 // 3 else None
    wait_until(partly, 60, "a third of the 18,000 events uploaded", interval=0.005)
    coll.kill9()
    left = sum(agent_status(a).get("backlog", 0) for a, _ in agents)
    log("phase 3: killed the collector with %d events left in the agents" % left)
    time.sleep(0.5)
    coll2 = h.start_collector(port=cport, db_dir=coll.db_dir)
    for ag, ep in agents:
        wait_backlog(ag, 0, timeout=90)
        check_delivered(coll2, ag.agent_id, 6000, epoch=ep)
    n = factory_events(coll2, base - 1000, base + 6000 * 100 + 1000)
    if n is not None:
        check_eq(n, 18000, "collector factory events after its own kill -9")
    for ag, _ in agents:
        check_eq(ag.stop(), 0, "agent exit code")
    check_eq(coll2.stop(), 0, "collector exit code on SIGTERM")


def main(h):
    coll = phase_drain(h)
    phase_concurrent(h, coll)
    check_eq(coll.stop(), 0, "collector exit code on SIGTERM")
    phase_collector_kill(h)


if __name__ == "__main__":
    run(main)
