#!/usr/bin/env python3
"""bench_catchup: an agent catching up on a large backlog while live events
keep coming (SPEC 6.2), with and without live-first, in one run.

For each mode it builds a backlog of N events (default 1,000,000) with the
collector down, lets it age past the live window, starts a camera posting
--live-rate events/s (default 100; each event's timestamp is the moment it
was sent), starts ferry-collector, and times the drain until the agent's
backlog is 0 (collector start included). The live delay of each event is
from its 202 (noted by the camera) to received_at, the collector's stored
arrival time of the request that brought it; the agent's own answer time
(send -> 202) is reported beside. It reports the
drain rate and the live delay p50/p99/max of the events posted during the
drain.

Modes: "live-first" (--live-window W, default 5 s so that the benchmark
need not wait 30 s for the backlog to age) and "oldest-first" (--live-window
0: one lane, the behaviour before SPEC 6.2) as the reference of the same run.

usage: bench_catchup.py [--bin-dir DIR] [--events N] [--live-rate 100]
                        [--live-window 5] [--upload-window 2] [--modes both|live|oldest]
Results are plain text lines on stdout."""
import argparse
import os
import sqlite3
import sys
import tempfile
import threading
import time

from bench_common import ferry_harness as fh, proc_cpu_s, run_clients


class Camera(threading.Thread):
    def __init__(self, port, rate, prefix):
        super().__init__(daemon=True)
        self.port, self.rate, self.prefix = port, rate, prefix
        self.stop = threading.Event()
        self.sent = 0
        self.errors = 0
        self.acked = {}  # event_id -> wall-clock ms of its 202

    def run(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        nxt = time.monotonic()
        while not self.stop.is_set():
            ev = fh.make_event(self.sent, prefix=self.prefix, base_ms=fh.now_ms(), step_ms=0)
            try:
                conn.request("POST", "/v1/events", body=fh.dumps([ev]), headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                if r.status == 202:
                    self.acked[ev["event_id"]] = fh.now_ms()
                    self.sent += 1
                else:
                    self.errors += 1
            except OSError:
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            nxt += 1.0 / self.rate
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                nxt = time.monotonic()


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def run_mode(h, args, mode):
    window = args.live_window if mode == "live-first" else 0
    name = "catchup-" + ("live" if window else "oldest")
    cport = fh.free_port()
    extra = ["--live-window", str(window), "--upload-window", str(args.upload_window), "--max-journal-bytes",
             "8GiB", "--log-level", "warning", "--heartbeat-interval", "30", "--durability", "os"]
    agent = h.start_agent(cport, agent_id=name, extra=extra)
    r = run_clients(agent.port, args.events, 1000, 4)
    print("[%s] fill: %d events at %.0f events/s" % (mode, args.events, r["events_per_s"]), flush=True)
    time.sleep(max(0, window) + 0.5)  # the backlog leaves the live window
    cam = Camera(agent.port, args.live_rate, "live")
    cam.start()
    time.sleep(1.0)
    t0 = time.monotonic()
    coll = h.start_collector(port=cport)
    c_up_ms = fh.now_ms()
    a0, c0 = proc_cpu_s(agent.pid), proc_cpu_s(coll.pid)
    while True:
        st = fh.agent_status(agent)
        if st["backlog"] <= 2 * args.live_rate and st.get("backlog_lanes", {}).get("backfill", {}).get("backlog", 0) == 0 \
                and st.get("acked_seq", 0) >= args.events:
            break
        if time.monotonic() - t0 > args.timeout:
            raise fh.TestFailure("drain not finished after %.0f s: %r" % (args.timeout, st))
        time.sleep(0.1)
    elapsed = time.monotonic() - t0
    a_cpu, c_cpu = proc_cpu_s(agent.pid) - a0, proc_cpu_s(coll.pid) - c0
    cam.stop.set()
    cam.join(10)
    fh.wait_backlog(agent, 0, timeout=60)
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(coll.db_dir, "ferry.db"), uri=True, timeout=60)
    rows = list(db.execute("SELECT t.event_id, t.ts_ms, e.received_at FROM ev_time t JOIN events e"
                           " ON e.rseq = t.rseq WHERE t.agent_id = ? AND t.event_id LIKE 'live-%'", (name,)))
    db.close()
    sel = [(eid, ts, rec) for eid, ts, rec in rows if ts >= c_up_ms and rec <= c_up_ms + elapsed * 1000]
    during = sorted(rec - cam.acked[eid] for eid, ts, rec in sel if eid in cam.acked)
    ingest = sorted(cam.acked[eid] - ts for eid, ts, rec in sel if eid in cam.acked)
    a = fh.collector_agent(coll, name) or {}
    print("[%s] drain: %.0f events/s (%d backlog events + live in %.1f s, collector start included); "
          "CPU agent %.1f s, collector %.1f s"
          % (mode, args.events / elapsed, args.events, elapsed, a_cpu, c_cpu), flush=True)
    print("[%s] live delay during the drain (%d events, 202 -> collector): p50 %.0f ms, p99 %.0f ms, max %.0f ms"
          % (mode, len(during), pct(during, 0.5), pct(during, 0.99), during[-1] if during else float("nan")),
          flush=True)
    print("[%s] the agent's own answer meanwhile (send -> 202): p50 %.0f ms, p99 %.0f ms, max %.0f ms"
          % (mode, pct(ingest, 0.5), pct(ingest, 0.99), ingest[-1] if ingest else float("nan")), flush=True)
    total = agent_seqs = fh.agent_status(agent)["next_seq"] - 1
    ok = a.get("received") == total and a.get("missing") == 0
    print("[%s] collector: received=%s of %d seqs, missing=%s" % (mode, a.get("received"), agent_seqs,
                                                               a.get("missing")), flush=True)
    agent.stop()
    coll.stop()
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.environ.get("FERRY_BIN_DIR"))
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--live-rate", type=float, default=100)
    ap.add_argument("--live-window", type=float, default=5)
    ap.add_argument("--upload-window", type=int, default=2)
    ap.add_argument("--modes", default="both", choices=("both", "live", "oldest"))
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["FERRY_BIN_DIR"] = os.path.abspath(args.bin_dir)
    if args.dir:
        tempfile.tempdir = args.dir
    print("bench_catchup: events=%d live_rate=%g/s live_window=%gs upload_window=%d cpus=%d"
          % (args.events, args.live_rate, args.live_window, args.upload_window, os.cpu_count() or 0), flush=True)
    h = fh.Harness("bench-catchup")
    failed = True
    try:
        modes = {"both": ["live-first", "oldest-first"], "live": ["live-first"], "oldest": ["oldest-first"]}
        ok = True
        for m in modes[args.modes]:
            ok = run_mode(h, args, m) and ok
        failed = not ok
    except fh.TestFailure as e:
        print("bench_catchup failed: %s" % e, flush=True)
    finally:
        h.cleanup(failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
