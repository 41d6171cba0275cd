#!/usr/bin/env python3
"""sd_notify as systemd would see it, through a NOTIFY_SOCKET this test owns:
READY=1 only once the listener accepts, STATUS= lines, WATCHDOG=1 pings while
the pipeline makes progress; the pings stop (and STATUS says STALLED) when the
agent's journal is held by another process so its commits fail, and resume
once it is released, with nothing lost. A collector outage with a backlog is
not a stall: the pings go on. The collector's pings stop the same way when
its database is held."""
import sqlite3

from ferry_harness import *


class NotifySocket:
    """A datagram socket standing in for systemd's notification socket."""

    def __init__(self, h, name):
        self.path = h.path(name)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.msgs = []  # every assignment received, in order
        self.cursor = 0  # wait_for looks from here on

    def env(self, watchdog_usec=1000000):
        e = {"NOTIFY_SOCKET": self.path}
        if watchdog_usec:
            e["WATCHDOG_USEC"] = str(watchdog_usec)
        return e

    def pump(self, timeout=0.0):
        """Receive what is there (waiting up to timeout s for the first datagram)."""
        got = []
        while True:
            r, _, _ = select.select([self.sock], [], [], timeout)
            if not r:
                return got
            data = self.sock.recv(4096).decode("utf-8", "replace")
            lines = [l for l in data.split("\n") if l]
            got.extend(lines)
            self.msgs.extend(lines)
            timeout = 0.0

    def wait_for(self, pred, timeout, desc):
        """The first message after the cursor matching pred; the cursor moves past it."""
        deadline = time.monotonic() + timeout
        while True:
            while self.cursor < len(self.msgs):
                m = self.msgs[self.cursor]
                self.cursor += 1
                if pred(m):
                    return m
            if time.monotonic() >= deadline:
                raise TestFailure("no notification %s within %d s; received: %r"
                                  % (desc, timeout, self.msgs[-20:]))
            self.pump(0.2)

    def drain(self):
        """Forget everything received so far."""
        self.pump(0.0)
        self.cursor = len(self.msgs)

    def count_within(self, msg, seconds):
        """How many times msg arrives during the next `seconds` seconds."""
        deadline = time.monotonic() + seconds
        n = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return n
            n += sum(1 for m in self.pump(min(left, 0.2)) if m == msg)
            self.cursor = len(self.msgs)


def agent_part(h):
    coll = h.start_collector()
    ns = NotifySocket(h, "agent-notify")
    agent = h.start_agent(coll.port, env=ns.env(),
                          extra=["--watchdog-stall-s", "2", "--request-timeout", "2",
                                 "--connect-timeout", "1"], ready=False)
    ns.wait_for(lambda m: m == "READY=1", 20, "READY=1 from the agent")
    # READY=1 comes after the listener accepts: a request succeeds right away
    r = http_request(agent.url("/healthz"), timeout=5)
    check_eq(r.status, 200, "agent /healthz right after READY=1")
    st = ns.wait_for(lambda m: m.startswith("STATUS="), 10, "STATUS= from the agent")
    check("backlog" in st and "collector" in st, "agent STATUS line lacks backlog/collector: %r" % st)
    ns.wait_for(lambda m: m == "WATCHDOG=1", 10, "WATCHDOG=1 from the agent")

    # progress: events flow, pings continue
    post_events_ok(agent, make_events(20, prefix="n1"), expect_accepted=20)
    wait_backlog(agent, 0, timeout=30)
    check(ns.count_within("WATCHDOG=1", 2.0) >= 1, "agent: no WATCHDOG=1 while healthy")

    # stall: another process holds the journal's write lock; commits fail
    holder = sqlite3.connect(agent.journal, timeout=0.1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    r = post_events(agent, make_events(5, prefix="held"))
    check(r.status in (503, 507), "POST while the journal is held: expected a refusal, got %r" % r)
    st = ns.wait_for(lambda m: m.startswith("STATUS=STALLED"), 30, "STATUS=STALLED from the agent")
    check("journal" in st, "agent STALLED status does not name the journal: %r" % st)
    ns.drain()
    pings = ns.count_within("WATCHDOG=1", 3.0)
    check_eq(pings, 0, "agent WATCHDOG=1 pings while the journal is held")
    check(agent.alive(), "agent exited while stalled (systemd, not the agent, decides)")

    # release: commits succeed again, pings resume, nothing lost
    holder.execute("ROLLBACK")
    holder.close()
    post_events_ok(agent, make_events(5, prefix="held"), expect_accepted=5)
    # the STATUS= line is sent just before the first ping again
    ns.wait_for(lambda m: m.startswith("STATUS=") and "STALLED" not in m, 20,
                "a STATUS= line without STALLED")
    ns.wait_for(lambda m: m == "WATCHDOG=1", 15, "WATCHDOG=1 after the journal is released")
    wait_backlog(agent, 0, timeout=30)
    check_delivered(coll, agent.agent_id, 25)

    # a collector outage with a backlog is not a stall: attempts keep failing
    # at the retry pace, the pings go on
    coll.stop()
    post_events_ok(agent, make_events(10, prefix="outage"), expect_accepted=10)
    ns.drain()
    start = len(ns.msgs)
    # longer than watchdog-stall-s + retry-max + request-timeout (2 + 1.1 + 2 s)
    pings = ns.count_within("WATCHDOG=1", 8.0)
    check(pings >= 4, "agent: only %d WATCHDOG=1 pings during a collector outage" % pings)
    stalled = [m for m in ns.msgs[start:] if m.startswith("STATUS=STALLED")]
    check(not stalled, "agent reported STALLED during a collector outage: %r" % stalled)
    check(agent.stop() == 0, "agent did not exit 0 on SIGTERM")
    ns.wait_for(lambda m: m == "STOPPING=1", 5, "STOPPING=1 from the agent")


def collector_part(h):
    ns = NotifySocket(h, "collector-notify")
    coll = h.start_collector(env=ns.env(), extra=["--watchdog-stall-s", "2"], ready=False,
                             name="collector2")
    ns.wait_for(lambda m: m == "READY=1", 20, "READY=1 from the collector")
    r = http_request(coll.url("/healthz"), timeout=5)
    check_eq(r.status, 200, "collector /healthz right after READY=1")
    st = ns.wait_for(lambda m: m.startswith("STATUS="), 10, "STATUS= from the collector")
    check("serving" in st, "collector STATUS line: %r" % st)
    ns.wait_for(lambda m: m == "WATCHDOG=1", 10, "WATCHDOG=1 from the collector")

    agent = h.start_agent(coll.port, agent_id="notify-agent-2", name="agent2")
    post_events_ok(agent, make_events(10, prefix="c1"), expect_accepted=10)
    wait_backlog(agent, 0, timeout=30)

    # hold the collector's database: its writer cannot commit
    if PG_URL:  # PostgreSQL: a session holding the agents table locked
        holder = subprocess.Popen(["psql", "-X", "-q", "-d", h.db_url(coll.db_dir)], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        holder.stdin.write(b"BEGIN; LOCK TABLE agents IN ACCESS EXCLUSIVE MODE;\n")
        holder.stdin.flush()
    else:
        holder = sqlite3.connect(os.path.join(coll.db_dir, "ferry.db"), timeout=0.1, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    post_events_ok(agent, make_events(10, prefix="c2"), expect_accepted=10)
    st = ns.wait_for(lambda m: m.startswith("STATUS=STALLED"), 40, "STATUS=STALLED from the collector")
    check("database" in st, "collector STALLED status does not name the database: %r" % st)
    ns.drain()
    check_eq(ns.count_within("WATCHDOG=1", 3.0), 0, "collector WATCHDOG=1 pings while its database is held")

    if PG_URL:
        holder.stdin.write(b"ROLLBACK;\n\\q\n")
        holder.stdin.close()
        holder.wait(30)
    else:
        holder.execute("ROLLBACK")
        holder.close()
    ns.wait_for(lambda m: m == "WATCHDOG=1", 60, "collector WATCHDOG=1 after the database is released")
    wait_backlog(agent, 0, timeout=60)
    check_delivered(coll, agent.agent_id, 20)


def main(h):
    agent_part(h)
    collector_part(h)


if __name__ == "__main__":
    run(main)
