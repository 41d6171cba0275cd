#!/usr/bin/env python3
"""kill -9 in the middle of a two-lane catch-up (SPEC 6.2): an agent drains a
backlog while a camera keeps posting live events, with uploads in flight in
both lanes; it is killed with SIGKILL part-way, restarted on the same
journal, and the camera goes on. In the end the collector holds every event
exactly once: received = high_seq = every seq the agent gave, missing 0, and
each event stored once (the journal kept what was not acknowledged; what was
acknowledged but re-sent counts as a duplicate, never twice).

Sizes: BACKLOG events (60k by default, so the test stays short)."""
import threading

from ferry_harness import *

BACKLOG = int(os.environ.get("FERRY_TEST_KILL9_BACKLOG", "60000"))
AGENT_ID = "catchup-k9"


class Camera(threading.Thread):
    """Posts one event every 10 ms to whichever agent process is current;
    an event whose post failed (the agent was down) is posted again."""

    def __init__(self, agent):
        super().__init__(daemon=True)
        self.agent = agent
        self.stop = threading.Event()
        self.sent = 0

    def run(self):
        while not self.stop.is_set():
            ev = make_event(self.sent, prefix="live", base_ms=now_ms(), step_ms=0)
            try:
                r = post_events(self.agent, [ev], timeout=5)
                if r.status == 202:
                    self.sent += 1
            except (OSError, TestFailure):
                pass
            time.sleep(0.01)


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
    cam = Camera(agent)
    cam.start()
    wait_until(lambda: cam.sent >= 50, 20, "the camera posted")
    coll = h.start_collector(port=cport)

    def part_way():
        a = collector_agent(coll, AGENT_ID)
        return a if a and a.get("received", 0) >= BACKLOG // 5 else None
    a = wait_until(part_way, 120, "a fifth of the backlog delivered", interval=0.02)
    st = agent_status(agent)
    log("killing the agent with %s received at the collector; agent: %s in flight, lanes %s"
        % (a.get("received"), st["collector"].get("uploads_in_flight"), st.get("backlog_lanes")))
    check(st["backlog_lanes"]["backfill"]["backlog"] > 0, "the backlog drained before the kill: %r" % st)
    agent.kill9()
    time.sleep(0.3)
    agent2 = h.restart_agent(agent, extra=["--live-window", "2"])
    cam.agent = agent2
    check_eq(agent_status(agent2)["epoch"], epoch, "epoch after kill -9 (the journal survives)")
    wait_until(lambda: agent_status(agent2)["backlog_lanes"]["backfill"]["backlog"] == 0, 180,
               "the backfill lane drained after the restart")
    time.sleep(1)
    cam.stop.set()
    cam.join(10)
    st = wait_backlog(agent2, 0, timeout=60)
    total = st["next_seq"] - 1
    log("agent gave %d seqs (%d backlog + %d live events)" % (total, BACKLOG, cam.sent))
    check(total >= BACKLOG + cam.sent, "seqs %d < events posted %d" % (total, BACKLOG + cam.sent))
    check_delivered(coll, AGENT_ID, total, epoch=epoch)
    n = factory_events(coll, base - 1000, now_ms() + 60000)
    if n is not None:
        # every posted event stored once (a live event whose 202 was lost in
        # the kill may have been posted again: the agent then counted it a
        # duplicate, or it got a second seq and the collector one copy)
        check_eq(n, BACKLOG + cam.sent, "distinct events stored at the collector")


if __name__ == "__main__":
    run(main)
