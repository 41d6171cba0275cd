#!/usr/bin/env python3
"""bench_pg: collector ingest rate into PostgreSQL with one and with two
replicas on the same database, beside SQLite, and metrics query latency on
PostgreSQL (right after ingest, and once the rollups are rebuilt).

Each run gets a fresh database (CREATE DATABASE on the server of --pg-url,
default $FERRY_TEST_PG_URL). The same clients as bench_metrics.py post agent
batches (random timestamps over 30 days, 500 workers, 100 workstations);
with two replicas client i posts to replica i % 2 — what a round-robin
balancer does. Results are plain text lines on stdout.

usage: bench_pg.py [--pg-url URL] [--bin-dir DIR] [--events N] [--batch 1000]
                   [--clients 4] [--reps 20] [--skip-sqlite]"""
import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import shutil

from bench_common import ferry_harness as fh, proc_mem_kib
import bench_metrics as bm


def start_collector(port, db):
    return subprocess.Popen([fh.binary("ferry-collector"), "--listen", "127.0.0.1:%d" % port, "--db", db,
                             "--auth-token", fh.AGENT_TOKEN, "--read-token", fh.READ_TOKEN,
                             "--log-level", "warning"])


def ingest(ports, events, batch, clients, t0_ms):
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(clients + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=bm.client, args=(i, clients, ports[i % len(ports)], events, batch, t0_ms,
                                                 barrier, out)) for i in range(clients)]
    for p in procs:
        p.start()
    barrier.wait()
    res = [out.get() for _ in procs]
    for p in procs:
        p.join()
    el = max(r["t1"] for r in res) - min(r["t0"] for r in res)
    acc = sum(r["accepted"] for r in res)
    return acc, el


def run(label, dbs, a, t0_ms, latency=False, pg_db=None):
    ports = [fh.free_port() for _ in dbs]
    colls = [start_collector(p, d) for p, d in zip(ports, dbs)]
    try:
        for p in ports:
            fh.wait_until(lambda: fh.http_request("http://127.0.0.1:%d/readyz" % p).status == 200, 30,
                          "collector up")
        acc, el = ingest(ports, a.events, a.batch, a.clients, t0_ms)
        print("ingest %-22s %8d events in %6.1f s: %8.0f events/s (batch %d, %d clients)"
              % (label, acc, el, acc / el, a.batch, a.clients), flush=True)
        for c in colls:
            rss, hwm = proc_mem_kib(c.pid)
            print("  collector pid %d RSS %d KiB (peak %d KiB)" % (c.pid, rss, hwm), flush=True)
        if latency:
            bm.report_latency(ports[0], t0_ms, a.reps, "fresh")
            t = time.monotonic()
            fh.wait_until(lambda: fh.pg_sql(pg_db, "SELECT count(*) FROM dirty_hours").strip() == "0", 1800,
                          "rollups rebuilt", interval=1)
            print("rollups rebuilt %.1f s after ingest" % (time.monotonic() - t), flush=True)
            bm.report_latency(ports[0], t0_ms, a.reps, "rebuilt")
        return acc / el
    finally:
        for c in colls:
            c.terminate()
            c.wait(60)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-url", default=os.environ.get("FERRY_TEST_PG_URL"))
    ap.add_argument("--bin-dir")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--skip-sqlite", action="store_true")
    a = ap.parse_args()
    if not a.pg_url:
        raise SystemExit("bench_pg: give --pg-url or set FERRY_TEST_PG_URL")
    if a.bin_dir:
        os.environ["FERRY_BIN_DIR"] = a.bin_dir
    t0_ms = fh.now_ms() - 30 * bm.DAY - 3600 * 1000
    made = []

    def fresh(tag):
        name = "ferry_bench_%s_%d" % (tag, os.getpid())
        fh.pg_sql(a.pg_url, "CREATE DATABASE %s" % name)
        made.append(name)
        return fh.pg_url_with_db(a.pg_url, name)

    tmp = tempfile.mkdtemp(prefix="bench-pg-")
    try:
        if not a.skip_sqlite:
            run("sqlite, 1 collector", ["sqlite:" + os.path.join(tmp, "ferry.db")], a, t0_ms)
        one = run("postgres, 1 replica", [fresh("one")], a, t0_ms)
        db2 = fresh("two")
        two = run("postgres, 2 replicas", [db2, db2], a, t0_ms, latency=True, pg_db=db2)
        print("two replicas / one: %.2fx" % (two / one), flush=True)
    finally:
        for n in made:
            fh.pg_sql(a.pg_url, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % n)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
