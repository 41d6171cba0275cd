#!/usr/bin/env python3
"""bench_metrics: collector ingest rate with metrics upkeep on, and the latency
of every /v1/metrics endpoint, on a factory-sized data set.

Starts ferry-collector, posts N events (default 10,000,000: 500 workers, 100
workstations, timestamps spread over 30 days, in random order) from several
client processes as agent batches, and reports events/s into SQLite. Then
measures p50/p99 of each endpoint for a 24 h and a 30-day window, both right
after ingest (stale hours computed from events) and once the writer has
rebuilt the rollups, plus the collector's RSS.

usage: bench_metrics.py [--bin-dir DIR] [--events N] [--batch 1000] [--clients 2]
                        [--reps 20] [--dir TMPDIR] [--keep] [--loadgen [--conns 8]] [--sites]
                        [--skip-fresh] [--soak 1000] [--reuse DB [--fresh]] [--collector-arg=ARG ...]
                        [--fresh-concurrent N] [--ts random|inorder]
--skip-fresh measures only once the rollups are rebuilt.
--reuse DB --fresh marks every hour with events dirty first: the state right
after a backfill with timestamps random over the window, without ingesting
again. --collector-arg passes one more argument to ferry-collector (repeatable).
--fresh-concurrent N first sends N 30-day factory queries at once (one
connection each) while the hours are stale, as N dashboards opening after a
backfill would, and reports each one's time.
The collector's VmRSS is sampled every 50 ms from the end of the ingest until
the rollups are rebuilt, and again over the rest: each phase's peak is
printed with the mappings resident at that moment.
--sites writes a plant registry first (two sites, the agents split between
them, a line of 50 workstations on each) and measures every endpoint also
with site=S1 and with line=L1, beside the unfiltered figures of the same run.
--loadgen posts with ferry-loadgen (C; batches built and zstd-compressed before
the clock starts, same mix of events) instead of Python clients, which cannot
produce events as fast as the collector stores them on two cores. The
collector runs with --agent-rate 0 (no per-agent request limit).
--ts inorder (with --loadgen) stamps the events in time order across the 30
days instead, as a fleet draining its backlogs oldest-first (SPEC 6.2)
sends them: the figures "right after ingest" are then those after a
realistic catch-up rather than after the worst order.
Results are plain text lines on stdout."""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from bench_common import PeakSampler, ferry_harness as fh, proc_mem_kib

DAY = 86400 * 1000


def client(idx, nclients, port, total, batch, t0_ms, barrier, out):
    rng = random.Random(1000 + idx)
    agent = "bench-agent-%d" % idx
    epoch = "%016x" % (0xbe00 + idx)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    n = total // nclients + (1 if idx < total % nclients else 0)
    seq = 0
    kinds = ("working", "working", "idle", "absent", "product_count", "product_count")
    barrier.wait()
    t0 = time.monotonic()
    sent = acc = 0
    while sent < n:
        k = min(batch, n - sent)
        evs = []
        for _ in range(k):
            seq += 1
            kind = kinds[rng.randrange(6)]
            e = {"event_id": "%s-%d" % (agent, seq), "timestamp": fh.fmt_ts(t0_ms + rng.randrange(30 * DAY)),
                 "event_type": kind, "worker_id": "W-%03d" % rng.randrange(500),
                 "workstation_id": "WS-%03d" % rng.randrange(100), "seq": seq,
                 "ingested_at": fh.fmt_ts(t0_ms)}
            if kind == "product_count":
                e["count"] = 1 + rng.randrange(3)
            evs.append(e)
        body = json.dumps({"agent_id": agent, "epoch": epoch, "events": evs, "dropped": [],
                           "stats": {"backlog": n - sent - k, "oldest_pending_s": 0}},
                          separators=(",", ":")).encode()
        hdrs = {"Content-Type": "application/json", "Authorization": "Bearer " + fh.AGENT_TOKEN,
                "Idempotency-Key": "%s:%s:%d-%d" % (agent, epoch, seq - k + 1, seq)}
        while True:
            conn.request("POST", "/v1/ingest", body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            if r.status == 200:
                acc += json.loads(data)["accepted"]
                break
            if r.status != 503:
                raise SystemExit("ingest: HTTP %d %s" % (r.status, data[:200]))
            time.sleep(0.2)
        sent += k
    out.put({"t0": t0, "t1": time.monotonic(), "accepted": acc})


def latency(port, path, reps):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    times = []
    for _ in range(reps):
        t = time.monotonic()
        conn.request("GET", path, headers={"Authorization": "Bearer " + fh.READ_TOKEN})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("GET %s: HTTP %d" % (path, r.status))
        times.append((time.monotonic() - t) * 1000)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


FILTERS = [("", {})]
ADMIN = "bench-admin-token-5e1"


def plant_registry(port):
    """Two sites, the agents split between them, a line of 50 stations on each."""
    doc = {"sites": [{"id": "S1"}, {"id": "S2"}],
           "lines": [{"id": "L1", "site": "S1"}, {"id": "L2", "site": "S2"}],
           "workstations": [{"id": "WS-%03d" % i, "line": "L1" if i < 50 else "L2"} for i in range(100)],
           "agents": [{"agent_id": "%s-agent-%d" % (p, i), "site": "S1" if i % 2 == 0 else "S2"}
                      for p in ("lg", "bench") for i in range(64)]}
    r = fh.http_request("http://127.0.0.1:%d/v1/registry" % port, "PUT", json_body=doc,
                        headers={"Authorization": "Bearer " + ADMIN})
    if r.status != 200:
        raise SystemExit("registry: %r" % r)
    FILTERS.extend([("site=S1", {"site": "S1"}), ("line=L1", {"line": "L1"})])


ENDPOINTS = ("factory", "workers", "workers/W-042", "workstations", "workstations/WS-042")


def loadavg():
    return "load %s" % " ".join(open("/proc/loadavg").read().split()[:3])


def windows(t0_ms):
    end = t0_ms + 30 * DAY
    for wname, frm in (("24h", end - DAY - 1800 * 1000 + 123), ("30d", t0_ms + 456)):
        yield wname, frm, frm + (DAY if wname == "24h" else 30 * DAY - 1000)


def report_latency(port, t0_ms, reps, label):
    from urllib.parse import urlencode
    for wname, frm, to in windows(t0_ms):
        for fname, extra in FILTERS:
            q = urlencode(dict({"from": fh.fmt_ts(frm), "to": fh.fmt_ts(to)}, **extra))
            for ep in ENDPOINTS:
                p50, p99 = latency(port, "/v1/metrics/%s?%s" % (ep, q), reps)
                print("latency %-8s %-4s %-8s %-22s p50 %8.1f ms  p99 %8.1f ms  (%s)"
                      % (label, wname, fname or "-", ep, p50, p99, loadavg()), flush=True)


def report_reference(port, t0_ms, reps, db):
    """Same run, same machine: a trivial GET through the same server, and raw SQLite reading the window."""
    p50, p99 = latency(port, "/healthz", reps)
    print("reference /healthz                     p50 %8.1f ms  p99 %8.1f ms  (%s)" % (p50, p99, loadavg()),
          flush=True)
    if not db:
        return
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    for wname, frm, to in windows(t0_ms):
        times = []
        for _ in range(reps):
            t = time.monotonic()
            con.execute("SELECT count(*), count(DISTINCT worker_id) FROM ev_time WHERE hour >= ? AND hour < ?",
                        (frm // 3600000, to // 3600000 + 1)).fetchone()
            times.append((time.monotonic() - t) * 1000)
        times.sort()
        print("reference raw SQLite %-4s ev_time scan   p50 %8.1f ms  p99 %8.1f ms  (%s)"
              % (wname, times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))], loadavg()),
              flush=True)
    con.close()


def soak(port, t0_ms, n, coll):
    from urllib.parse import urlencode
    paths = []
    for _, frm, to in windows(t0_ms):
        q = urlencode({"from": fh.fmt_ts(frm), "to": fh.fmt_ts(to)})
        paths += ["/v1/metrics/%s?%s" % (ep, q) for ep in ENDPOINTS]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    times = []
    for i in range(n):
        t = time.monotonic()
        conn.request("GET", paths[i % len(paths)], headers={"Authorization": "Bearer " + fh.READ_TOKEN})
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit("GET %s: HTTP %d" % (paths[i % len(paths)], r.status))
        times.append((time.monotonic() - t) * 1000)
    times.sort()
    rss, hwm = proc_mem_kib(coll.pid)
    print("soak: %d queries (every endpoint, 24 h and 30 d in turn) p50 %.1f ms p99 %.1f ms; collector RSS after "
          "%d KiB (peak %d KiB)  (%s)" % (n, times[n // 2], times[min(n - 1, int(n * 0.99))], rss, hwm, loadavg()),
          flush=True)


def concurrent_fresh(port, t0_ms, n):
    import threading
    from urllib.parse import urlencode
    _, frm, to = list(windows(t0_ms))[1]
    path = "/v1/metrics/factory?%s" % urlencode({"from": fh.fmt_ts(frm), "to": fh.fmt_ts(to)})
    times = [None] * n

    def one(i):
        times[i] = latency(port, path, 1)[0]

    t = time.monotonic()
    ths = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    print("fresh: %d concurrent 30d factory queries: %s ms; all answered in %.1f s  (%s)"
          % (n, " / ".join("%.0f" % x for x in sorted(times)), time.monotonic() - t, loadavg()), flush=True)


def latency_and_rss(a, port, t0_ms, db, coll, fresh=True):
    rss, hwm = proc_mem_kib(coll.pid)
    print("collector RSS after ingest: %d KiB (peak %d KiB)" % (rss, hwm), flush=True)
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    print("hours stale right after ingest: %d" % con.execute("SELECT count(*) FROM dirty_hours").fetchone()[0],
          flush=True)
    con.close()
    sampler = PeakSampler(coll.pid)
    if fresh and not a.skip_fresh:
        if a.fresh_concurrent:
            concurrent_fresh(port, t0_ms, a.fresh_concurrent)
        report_reference(port, t0_ms, a.reps, None)
        report_latency(port, t0_ms, a.reps, "fresh")
    # wait for the writer to rebuild the stale hours
    t = time.monotonic()
    import sqlite3
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    while con.execute("SELECT count(*) FROM dirty_hours").fetchone()[0] > 0:
        time.sleep(2)
    print("rollup rebuild after ingest: %.1f s" % (time.monotonic() - t), flush=True)
    print("peak until the rollups were rebuilt: %s" % sampler.stop().fmt(), flush=True)
    sampler = PeakSampler(coll.pid)
    report_reference(port, t0_ms, a.reps, db)
    report_latency(port, t0_ms, a.reps, "rebuilt")
    if a.soak:
        soak(port, t0_ms, a.soak, coll)
    print("peak once rebuilt: %s" % sampler.stop().fmt(), flush=True)
    rss, hwm = proc_mem_kib(coll.pid)
    print("collector RSS at the end: %d KiB (peak %d KiB); database %.0f MiB"
          % (rss, hwm, os.path.getsize(db) / 1048576), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir")
    ap.add_argument("--events", type=int, default=10_000_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--dir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--loadgen", action="store_true")
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--sites", action="store_true")
    ap.add_argument("--skip-fresh", action="store_true", help="measure only once the rollups are rebuilt")
    ap.add_argument("--soak", type=int, default=1000, help="queries after the endpoint figures, then RSS")
    ap.add_argument("--reuse", help="a database a --keep run left: no ingest, rebuilt figures only")
    ap.add_argument("--fresh", action="store_true", help="with --reuse: every hour with events dirty first")
    ap.add_argument("--fresh-concurrent", type=int, default=0, help="N 30-day queries at once while stale")
    ap.add_argument("--ts", choices=("random", "inorder"), default="random",
                    help="with --loadgen: timestamps in random or in time order")
    ap.add_argument("--collector-arg", action="append", default=[], help="one more ferry-collector argument")
    a = ap.parse_args()
    if a.bin_dir:
        os.environ["FERRY_BIN_DIR"] = a.bin_dir
    tmp = tempfile.mkdtemp(prefix="bench-metrics-", dir=a.dir)
    port = fh.free_port()
    db = a.reuse or os.path.join(tmp, "ferry.db")
    if a.keep:
        print("database: %s" % db, flush=True)
    if a.reuse and a.fresh:
        import sqlite3
        con = sqlite3.connect(db)
        con.execute("INSERT OR IGNORE INTO dirty_hours SELECT DISTINCT hour FROM ev_time")
        con.commit()
        con.close()
    import subprocess
    coll = subprocess.Popen([fh.binary("ferry-collector"), "--listen", "127.0.0.1:%d" % port,
                             "--db", "sqlite:" + db, "--auth-token", fh.AGENT_TOKEN,
                             "--read-token", fh.READ_TOKEN, "--admin-token", ADMIN, "--log-level", "warning",
                             "--agent-rate", "0"] + a.collector_arg)  # ingest cost, not admission control
    try:
        fh.wait_until(lambda: fh.http_request("http://127.0.0.1:%d/healthz" % port).status == 200, 20,
                      "collector up")
        t0_ms = fh.now_ms() - 30 * DAY - 3600 * 1000
        if a.sites:
            plant_registry(port)
        if a.reuse:
            import sqlite3
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
            h0 = con.execute("SELECT min(hour) FROM ev_time").fetchone()[0]
            stale = con.execute("SELECT count(*) FROM dirty_hours").fetchone()[0]
            con.close()
            t0_ms = h0 * 3600 * 1000  # the loadgen's window starts in its first hour
            print("reused database: %d hours stale" % stale, flush=True)
            latency_and_rss(a, port, t0_ms, db, coll, fresh=stale > 0)
            return
        if a.loadgen:
            lg = os.path.join(fh.bin_dir(), "tests", "ferry-loadgen")
            r = subprocess.run([lg, "--url", "http://127.0.0.1:%d" % port, "--token", fh.AGENT_TOKEN,
                                "--pid", str(coll.pid), "--events", str(a.events), "--batch", str(a.batch),
                                "--conns", str(a.conns), "--ids", "seq", "--ts", a.ts, "--days", "30",
                                "--workers", "500", "--stations", "100"])
            if r.returncode != 0:
                raise SystemExit("loadgen failed")
            latency_and_rss(a, port, t0_ms, db, coll)
            return
        ctx = mp.get_context("fork")
        barrier = ctx.Barrier(a.clients + 1)
        out = ctx.Queue()
        procs = [ctx.Process(target=client, args=(i, a.clients, port, a.events, a.batch, t0_ms, barrier, out))
                 for i in range(a.clients)]
        for p in procs:
            p.start()
        barrier.wait()
        res = [out.get() for _ in procs]
        for p in procs:
            p.join()
        el = max(r["t1"] for r in res) - min(r["t0"] for r in res)
        acc = sum(r["accepted"] for r in res)
        print("ingest: %d events accepted in %.1f s: %.0f events/s (batch %d, %d clients, metrics upkeep on)"
              % (acc, el, acc / el, a.batch, a.clients), flush=True)
        latency_and_rss(a, port, t0_ms, db, coll)
    finally:
        coll.terminate()
        coll.wait(60)
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
