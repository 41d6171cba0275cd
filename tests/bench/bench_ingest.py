#!/usr/bin/env python3
"""bench_ingest: how fast does ferry-agent take events on its local API?

Starts ferry-agent (collector down, so every event stays in the journal), posts
N events in batches of 100 from several client processes (one keep-alive
connection each, bodies serialized before the clock starts), and reports
events/s. In the same run it measures:
  - the raw SQLite insert rate of the same rows through Python's sqlite3 in
    WAL + synchronous=FULL with transactions of the same size (our physical
    limit for fsync durability on this disk),
  - what the client alone can push (against a trivial 202 sink server),
  - the agent's idle RSS and peak RSS (VmHWM).

usage: bench_ingest.py [--bin-dir DIR] [--events N] [--batch 100] [--clients 4]
                       [--durability fsync|os] [--random-ids] [--dir TMPDIR]
Results are plain text lines on stdout."""
import argparse
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid

from bench_common import ferry_harness as fh, make_bodies, measure_client_alone, proc_mem_kib, run_clients


def sqlite_rate(path, total, batch, random_ids, sync="FULL"):
    """Insert the same rows the agent stores, in transactions of `batch`."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=%s" % sync)
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, "
               "ingested_at INTEGER NOT NULL, body TEXT NOT NULL)")
    db.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO meta VALUES ('next_seq', 1)")
    bodies = make_bodies(0, 1, total, batch, random_ids, fh.now_ms() - 3600 * 1000)
    rows = []
    seq = 1
    for body, _ in bodies:
        chunk = []
        for e in json.loads(body):
            chunk.append((seq, e["event_id"], fh.now_ms(), json.dumps(e, separators=(",", ":"))))
            seq += 1
        rows.append(chunk)
    t0 = time.monotonic()
    for chunk in rows:
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO events VALUES (?,?,?,?)", chunk)
        db.execute("UPDATE meta SET v = v + ? WHERE k = 'next_seq'", (len(chunk),))
        db.execute("COMMIT")
    elapsed = time.monotonic() - t0
    db.close()
    return total / elapsed, elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.environ.get("FERRY_BIN_DIR"))
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4, help="client processes (one connection each)")
    ap.add_argument("--durability", default="fsync", choices=("fsync", "os"))
    ap.add_argument("--random-ids", action="store_true", help="UUIDv4 event ids (random B-tree inserts)")
    ap.add_argument("--dir", default=None, help="where the journal goes (default: a temp dir)")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-client-alone", action="store_true")
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["FERRY_BIN_DIR"] = os.path.abspath(args.bin_dir)
    if args.dir:
        tempfile.tempdir = args.dir

    print("bench_ingest: events=%d batch=%d clients=%d durability=%s ids=%s cpus=%d"
          % (args.events, args.batch, args.clients, args.durability,
             "uuid4" if args.random_ids else "sequential", os.cpu_count() or 0), flush=True)
    h = fh.Harness("bench-ingest")
    failed = True
    try:
        if not args.skip_client_alone:
            c = measure_client_alone(args.events, args.batch, args.clients, args.random_ids)
            print("client_alone: %.0f events/s against a trivial 202 sink (client CPU %.1f s)"
                  % (c["events_per_s"], c["client_cpu_s"]), flush=True)

        if not args.skip_sqlite:
            sync = "FULL" if args.durability == "fsync" else "NORMAL"
            rate, el = sqlite_rate(h.path("raw.db"), args.events, args.batch, args.random_ids, sync)
            print("sqlite_raw: %.0f rows/s (WAL, synchronous=%s, %d rows per transaction, %.1f s)"
                  % (rate, sync, args.batch, el), flush=True)
            for f in ("raw.db", "raw.db-wal", "raw.db-shm"):
                try:
                    os.unlink(h.path(f))
                except OSError:
                    pass

        agent = h.start_agent(fh.free_port(), agent_id="bench-agent",
                              extra=["--durability", args.durability])
        time.sleep(1.0)
        idle_rss, _ = proc_mem_kib(agent.pid)
        r = run_clients(agent.port, args.events, args.batch, args.clients, args.random_ids)
        st = fh.agent_status(agent)
        rss, hwm = proc_mem_kib(agent.pid)
        print("agent_ingest: %.0f events/s (%d events, %d requests, %.1f s, %d errors; accepted=%d duplicates=%d)"
              % (r["events_per_s"], args.events, r["requests"], r["elapsed_s"], r["errors"], r["accepted"],
                 r["duplicates"]), flush=True)
        print("client_cpu: %.1f s for the run; CPU-bound client capacity ~%.0f events/s"
              % (r["client_cpu_s"], r["client_cap_events_per_s"]), flush=True)
        print("agent_backlog: %s (expected %d); journal_bytes=%s wal_bytes=%s"
              % (st.get("backlog"), args.events, st.get("journal_bytes"), st.get("wal_bytes")), flush=True)
        print("agent_rss: idle %.1f MiB, after run %.1f MiB, peak (VmHWM) %.1f MiB"
              % ((idle_rss or 0) / 1024, (rss or 0) / 1024, (hwm or 0) / 1024), flush=True)
        if st.get("backlog") != args.events or r["accepted"] != args.events:
            print("WARNING: the agent did not store every event exactly once", flush=True)
        agent.stop()
        failed = False
    except fh.TestFailure as e:
        print("bench_ingest failed: %s" % e, flush=True)
    finally:
        h.cleanup(failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
