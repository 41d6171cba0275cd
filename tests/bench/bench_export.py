#!/usr/bin/env python3
"""bench_export: GET /v1/events/export and GET /v1/metrics/models at scale.

Starts ferry-collector on SQLite, posts N events (default 1,000,000) carrying
camera_id, model_version and confidence (40 cameras, two model versions,
timestamps over 7 days, random order) from client processes as agent batches,
then:
  - the p50/p99 of /v1/metrics/models for a 24 h and a 7-day window, beside
    /v1/metrics/factory over the same window (the reference);
  - one export of every event (limit=1000000) read as fast as the client can,
    with the collector's RSS sampled every 20 ms: before, peak, and the bytes
    and seconds; beside the reference, the same rows read straight from the
    SQLite file in the same order by Python's sqlite3.
usage: bench_export.py [--bin-dir DIR] [--events N] [--batch 2000] [--clients 2] [--reps 20] [--dir TMPDIR]
                       [--loadgen [--conns 8] [--days 37]] [--keep] [--reuse DB] [--no-export]
--loadgen posts with ferry-loadgen --model-mix instead (C; 40 cameras, two
model versions, a rollout on half the cameras halfway through, confidence
uniform; timestamps random over --days days, default 37 so that a 30-day
window ending at the data's end has a full 7-day baseline before it) and adds
a 30-day window; --keep keeps the database (its path is printed), --reuse DB
measures a kept database again without ingesting (the same windows, found
from its first hour), --no-export skips the exports. Before the full export,
the time to the first byte of three exports (all events with limit=1000000,
max_confidence=0.2 and camera_id=cam-07 with limit=100000), each connection
closed after that byte.
Results are plain text lines on stdout."""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from urllib.parse import urlencode

from bench_common import ferry_harness as fh, proc_mem_kib

DAY = 86400 * 1000


def client(idx, nclients, port, total, batch, t0_ms, barrier, out):
    rng = random.Random(77 + idx)
    agent = "bx-agent-%d" % idx
    epoch = "%016x" % (0xbf00 + idx)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    n = total // nclients + (1 if idx < total % nclients else 0)
    kinds = ("working", "working", "idle", "absent", "product_count")
    barrier.wait()
    t0, sent, seq = time.monotonic(), 0, 0
    while sent < n:
        k = min(batch, n - sent)
        evs = []
        for _ in range(k):
            seq += 1
            kind = kinds[rng.randrange(5)]
            evs.append({"event_id": "e%d" % seq, "timestamp": fh.fmt_ts(t0_ms + rng.randrange(7 * DAY)),
                        "event_type": kind, "worker_id": "W-%03d" % rng.randrange(300),
                        "workstation_id": "WS-%02d" % rng.randrange(60), "camera_id": "cam-%02d" % rng.randrange(40),
                        "model_version": "v%d" % (1 + rng.randrange(2)), "confidence": round(rng.random(), 4),
                        "seq": seq, "ingested_at": fh.fmt_ts(t0_ms)})
        body = json.dumps({"agent_id": agent, "epoch": epoch, "events": evs, "dropped": []},
                          separators=(",", ":")).encode()
        hdrs = {"Content-Type": "application/json", "Authorization": "Bearer " + fh.AGENT_TOKEN,
                "Idempotency-Key": "%s:%s:%d-%d" % (agent, epoch, seq - k + 1, seq)}
        while True:
            conn.request("POST", "/v1/ingest", body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            if r.status == 200:
                break
            if r.status not in (429, 503):
                raise SystemExit("ingest: HTTP %d %s" % (r.status, data[:200]))
            time.sleep(0.2)
        sent += k
    out.put((t0, time.monotonic()))


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--dir")
    ap.add_argument("--loadgen", action="store_true")
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--days", type=int, default=37)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--reuse")
    ap.add_argument("--no-export", action="store_true")
    a = ap.parse_args()
    if a.bin_dir:
        os.environ["FERRY_BIN_DIR"] = a.bin_dir
    tmp = tempfile.mkdtemp(prefix="bench-export-", dir=a.dir)
    port = fh.free_port()
    db = a.reuse or os.path.join(tmp, "ferry.db")
    if a.keep:
        print("database: %s" % db, flush=True)
    coll = subprocess.Popen([fh.binary("ferry-collector"), "--listen", "127.0.0.1:%d" % port, "--db", "sqlite:" + db,
                             "--auth-token", fh.AGENT_TOKEN, "--read-token", fh.READ_TOKEN,
                             "--max-future-s", "31536000", "--agent-rate", "0"],
                            stdout=open(os.path.join(tmp, "collector.log"), "wb"), stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        days = 7
        if a.reuse:
            con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
            h0, h1 = con.execute("SELECT min(hour), max(hour) FROM ev_time").fetchone()
            con.close()
            days = (h1 - h0 + 1) // 24
            t0_ms = h0 * 3600 * 1000
            print("reused database: %d days of events from hour %d" % (days, h0), flush=True)
        elif a.loadgen:
            days = a.days
            t0_ms = fh.now_ms() - days * DAY - 3600 * 1000  # as ferry-loadgen computes it
            lg = os.path.join(fh.bin_dir(), "tests", "ferry-loadgen")
            r = subprocess.run([lg, "--url", "http://127.0.0.1:%d" % port, "--token", fh.AGENT_TOKEN,
                                "--pid", str(coll.pid), "--events", str(a.events), "--batch", str(a.batch),
                                "--conns", str(a.conns), "--ids", "seq", "--ts", "random", "--days", str(days),
                                "--workers", "500", "--stations", "100", "--model-mix"])
            if r.returncode != 0:
                raise SystemExit("loadgen failed")
        else:
            t0_ms = (fh.now_ms() - 8 * DAY) // DAY * DAY
            barrier, out = mp.Barrier(a.clients), mp.Queue()
            ps = [mp.Process(target=client, args=(i, a.clients, port, a.events, a.batch, t0_ms, barrier, out))
                  for i in range(a.clients)]
            for p in ps:
                p.start()
            spans = [out.get() for _ in ps]
            for p in ps:
                p.join()
            secs = max(s[1] for s in spans) - min(s[0] for s in spans)
            print("ingest: %d events in %.1f s, %.0f events/s" % (a.events, secs, a.events / secs), flush=True)
        rss, hwm = proc_mem_kib(coll.pid)
        print("collector RSS after ingest: %d KiB (peak %d KiB)" % (rss, hwm), flush=True)

        # the worker/station rollups are rebuilt between groups after ingest: wait
        # for that, so the latencies below are of a collector at rest
        t = time.monotonic()
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        while con.execute("SELECT count(*) FROM dirty_hours").fetchone()[0] > 0:
            time.sleep(2)
        con.close()
        print("rollups rebuilt %.0f s after ingest" % (time.monotonic() - t), flush=True)
        end = t0_ms + days * DAY
        wins = [("24h", end - DAY - 1800 * 1000 + 123, end - 1800 * 1000 + 123),
                ("7d", end - 7 * DAY + 456, end - 789)]
        if days >= 30:
            wins.append(("30d", end - 30 * DAY + 456, end - 789))
        for wname, frm, to in wins:
            q = urlencode({"from": fh.fmt_ts(frm), "to": fh.fmt_ts(to)})
            for ep in ("models", "factory"):
                p50, p99 = latency(port, "/v1/metrics/%s?%s" % (ep, q), a.reps)
                print("latency %-3s %-8s p50 %8.1f ms  p99 %8.1f ms" % (wname, ep, p50, p99), flush=True)

        if a.no_export:
            return
        # the first byte of three exports (the connection closed after it)
        for name, extra in (("all, limit 1000000", {"limit": "1000000"}),
                            ("max_confidence=0.2, limit 100000", {"limit": "100000", "max_confidence": "0.2"}),
                            ("camera_id=cam-07, limit 100000", {"limit": "100000", "camera_id": "cam-07"})):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            t = time.monotonic()
            conn.request("GET", "/v1/events/export?" + urlencode(
                dict({"from": fh.fmt_ts(t0_ms), "to": fh.fmt_ts(end + DAY)}, **extra)),
                headers={"Authorization": "Bearer " + fh.READ_TOKEN})
            r = conn.getresponse()
            r.read(1)
            print("export %-34s first byte after %.2f s  (load %s)"
                  % (name, time.monotonic() - t, open("/proc/loadavg").read().split()[0]), flush=True)
            conn.close()
            time.sleep(1)
        # the export, RSS sampled meanwhile
        rss0, _ = proc_mem_kib(coll.pid)
        peak = [rss0]
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                r, _ = proc_mem_kib(coll.pid)
                peak[0] = max(peak[0], r or 0)
                time.sleep(0.02)
        th = threading.Thread(target=sample)
        th.start()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t = time.monotonic()
        conn.request("GET", "/v1/events/export?" + urlencode(
            {"from": fh.fmt_ts(t0_ms), "to": fh.fmt_ts(end + DAY), "limit": "1000000"}),
            headers={"Authorization": "Bearer " + fh.READ_TOKEN})
        r = conn.getresponse()
        nbytes = lines = 0
        first = None
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            if first is None:
                first = time.monotonic() - t
            nbytes += len(chunk)
            lines += chunk.count(b"\n")
        secs = time.monotonic() - t
        stop.set()
        th.join()
        print("export: %d lines, %.1f MiB in %.1f s (%.1f MiB/s; first byte after %.1f s)"
              % (lines, nbytes / 2**20, secs, nbytes / 2**20 / secs, first or 0), flush=True)
        print("collector RSS during the export: %d KiB before, peak %d KiB (+%d KiB)"
              % (rss0, peak[0], peak[0] - rss0), flush=True)

        # reference: the same rows straight from the file, same order
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        t = time.monotonic()
        n = nb = 0
        for agent, body in con.execute("SELECT t.agent_id, e.body FROM ev_time t JOIN events e ON e.rowid = t.rseq"
                                       " ORDER BY t.hour, t.ts_ms, t.agent_id, t.event_id LIMIT ?", (lines,)):
            n += 1
            nb += len(body) + len(agent) + 16
        print("reference: Python sqlite3 reads the first %d rows in that order in %.1f s (%.1f MiB/s)"
              % (n, time.monotonic() - t, nb / 2**20 / (time.monotonic() - t)), flush=True)
    finally:
        coll.terminate()
        coll.wait(60)
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
