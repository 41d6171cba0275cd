#!/usr/bin/env python3
"""bench_rebuild: how long the collector's rollup upkeep takes to rebuild
every hour of a database, the state a backfill with timestamps spread over
the whole history leaves behind.

Takes a SQLite database a `bench_metrics.py --keep` run left, and for each
--bin-dir in turn (alternating, --runs rounds): copies it, marks every hour
that has events dirty (what such a backfill does), starts that build's
ferry-collector on the copy and waits until no hour is marked. Reports the
wall time (collector start included) and the collector's CPU time. Two
builds side by side are the comparison; the rollup tables each build leaves
are compared too (they must be identical).

usage: bench_rebuild.py --db DB --bin-dir A [--bin-dir B] [--runs 2] [--dir TMPDIR]"""
import argparse
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

from bench_common import ferry_harness as fh, proc_cpu_s

TABLES = ("worker_hour", "station_hour", "hour_total", "worker_day", "station_day", "day_total",
          "cell_hour", "cell_day", "sstation_hour", "sstation_day", "wsite_hour", "wsite_day",
          "model_hour", "model_day")


def digest(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    h = hashlib.sha256()
    for t in TABLES:
        ncol = len(db.execute("PRAGMA table_info(%s)" % t).fetchall())
        order = ", ".join(str(i + 1) for i in range(ncol))
        for row in db.execute("SELECT * FROM %s ORDER BY %s" % (t, order)):
            h.update(repr(row).encode())
    db.close()
    return h.hexdigest()[:16]


def one(bin_dir, src, work):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(work + suffix):
            os.unlink(work + suffix)
    shutil.copyfile(src, work)
    db = sqlite3.connect(work)
    db.execute("INSERT OR IGNORE INTO dirty_hours SELECT DISTINCT hour FROM ev_time")
    db.commit()
    marked = db.execute("SELECT count(*) FROM dirty_hours").fetchone()[0]
    db.close()
    port = fh.free_port()
    t0 = time.monotonic()
    p = subprocess.Popen([os.path.join(bin_dir, "ferry-collector"), "--listen", "127.0.0.1:%d" % port,
                          "--db", "sqlite:" + work, "--auth-token", fh.AGENT_TOKEN, "--read-token", fh.READ_TOKEN,
                          "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ro = sqlite3.connect("file:%s?mode=ro" % work, uri=True, timeout=10)
        while ro.execute("SELECT count(*) FROM dirty_hours").fetchone()[0] > 0:
            if p.poll() is not None:
                raise fh.TestFailure("the collector exited (%d)" % p.returncode)
            time.sleep(0.1)
        ro.close()
        el = time.monotonic() - t0
        cpu = proc_cpu_s(p.pid)
    finally:
        p.terminate()
        p.wait(30)
    return marked, el, cpu, digest(work)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--bin-dir", action="append", required=True)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--dir", default=None, help="where the copies go (default: a temp dir)")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="ferry-rebuild-", dir=args.dir)
    work = os.path.join(tmp, "copy.db")
    digests = set()
    try:
        for n in range(args.runs):
            for b in args.bin_dir:
                marked, el, cpu, d = one(os.path.abspath(b), args.db, work)
                digests.add(d)
                print("run %d %s: %d hours rebuilt in %.1f s (collector start included), collector CPU %.1f s; "
                      "rollup tables %s; load %.2f" % (n + 1, b, marked, el, cpu, d, os.getloadavg()[0]),
                      flush=True)
    except fh.TestFailure as e:
        print("bench_rebuild failed: %s" % e, flush=True)
        sys.exit(1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if len(digests) != 1:
        print("bench_rebuild: the builds left different rollup tables", flush=True)
        sys.exit(1)
    print("bench_rebuild: every run left the same rollup tables", flush=True)


if __name__ == "__main__":
    main()
