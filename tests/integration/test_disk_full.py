#!/usr/bin/env python3
"""A real full disk (ENOSPC) under the agent's journal: a 4 MiB tmpfs.

1. Events are posted until the file system is full. Every answer is 202 or
   503 with Retry-After and a JSON error (SPEC §2: 503 when the journal
   cannot be written; 507 is only --overflow reject); /readyz turns 503 naming
   the disk, /v1/status says journal_writable false.
2. The agent is killed with SIGKILL while the disk is still full and started
   again on the full disk: it starts, serves /healthz, and /readyz is 503.
3. Space comes back (a ballast file is removed): /readyz turns 200 by itself,
   with no request needed; new events are 202 again.
4. A collector appears: every event answered 202 is delivered exactly once
   (received == every seq handed out, missing 0) and nothing was quarantined.

Needs root (mount -t tmpfs); without it the test says so and passes."""
from ferry_harness import *


def mount_small(path, size):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", path],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return r.returncode == 0, r.stdout.decode(errors="replace").strip()


def big_events(n, prefix, start, base):
    evs = make_events(n, prefix=prefix, start=start, base_ms=base)
    for e in evs:
        e["attributes"] = {"blob": "d" * 2000}
    return evs


def fill_until_full(agent, prefix, base, acked, limit=4000):
    """Post until an answer is not 202; returns that answer."""
    i = 0
    while i < limit:
        r = post_events(agent, big_events(20, prefix, i, base))
        if r.status != 202:
            return r
        acked.update("%s-%06d" % (prefix, k) for k in range(i, i + 20))
        i += 20
    raise TestFailure("posted %d events of 2 KB into a 4 MiB file system and never saw it full" % limit)


def check_full_answer(r):
    check(r.status == 503, "a full disk must answer 503 (SPEC: journal cannot be written), got %r" % r)
    check(r.headers.get("retry-after", "").isdigit(), "503 without a numeric Retry-After: %r" % r)
    check_error_body(r, 503, "POST /v1/events on a full disk")


def main(h):
    small = h.path("small")
    ok, why = mount_small(small, "4m")
    if not ok:
        log("SKIPPED: cannot mount a tmpfs here (%s); this test needs root" % why)
        return
    try:
        run_full(h, small)
    finally:
        for p in h.procs:
            if p.alive():
                p.kill9()
        subprocess.run(["umount", "-l", small])


def run_full(h, small):
    base = now_ms() - 3600 * 1000
    cport = free_port()
    journal = os.path.join(small, "journal.db")
    extra = ["--max-journal-bytes", "64MiB", "--max-wal-bytes", "1MiB", "--durability", "fsync"]
    agent = h.start_agent(cport, journal=journal, agent_id="disk-full", extra=extra)
    epoch = agent_status(agent)["epoch"]
    # 256 KiB of ballast so that space can come back later
    ballast = os.path.join(small, "ballast")
    with open(ballast, "wb") as f:
        f.write(b"\0" * (256 * 1024))

    acked = set()
    r = fill_until_full(agent, "full", base, acked)
    log("disk full after %d events acknowledged: %r" % (len(acked), r))
    check_full_answer(r)
    # a few more attempts: still refused, the agent stays up
    for k in range(3):
        r = post_events(agent, big_events(20, "more%d" % k, 0, base))
        if r.status == 202:
            acked.update("more%d-%06d" % (k, i) for i in range(20))
        else:
            check_full_answer(r)
    rz = http_request(agent.url("/readyz"), timeout=10)
    check(rz.status == 503, "/readyz on a full disk: expected 503, got %r" % rz)
    check(b"disk full" in rz.body, "/readyz does not name the disk: %r" % rz.body)
    st = agent_status(agent)
    check(st.get("journal_writable") is False, "/v1/status journal_writable on a full disk: %r" % st)
    check(http_request(agent.url("/healthz"), timeout=10).status == 200, "/healthz on a full disk")

    # power cut / crash while the disk is full, then a start on the full disk
    agent.kill9()
    agent = h.restart_agent(agent, extra=extra)
    rz = http_request(agent.url("/readyz"), timeout=10)
    st = agent_status(agent)
    log("restarted on a full disk: readyz %d, status %s" % (rz.status, {k: st.get(k) for k in
        ("journal_writable", "journal_error", "backlog", "quarantined")}))
    check_eq(st.get("epoch"), epoch, "epoch after the restart on a full disk")
    r = post_events(agent, big_events(20, "after", 0, base))
    if r.status == 202:
        acked.update("after-%06d" % i for i in range(20))
    else:
        check_full_answer(r)

    # space comes back: ready again without any request
    os.unlink(ballast)
    wait_until(lambda: http_request(agent.url("/readyz"), timeout=5).status == 200, 30,
               "/readyz 200 once space is back")
    post_events_ok(agent, big_events(5, "back", 0, base), expect_accepted=5)
    acked.update("back-%06d" % i for i in range(5))

    st = agent_status(agent)
    check(not st.get("quarantined"), "journal quarantined after the full disk: %r" % st)
    total = st["next_seq"] - 1
    check_eq(st["backlog"], total, "backlog (no collector yet: every event still pending)")
    check_eq(total, len(acked), "every 202-acknowledged event has a seq and nothing else does")

    coll = h.start_collector(port=cport)
    wait_backlog(agent, 0, timeout=90)
    check_delivered(coll, "disk-full", total, epoch=epoch)
    log("ENOSPC: %d events acknowledged, %d delivered, 0 lost" % (len(acked), total))
    check_eq(agent.stop(), 0, "agent exit code")


if __name__ == "__main__":
    run(main)
