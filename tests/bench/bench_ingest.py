#!/usr/bin/env python3
"""bench_ingest: how fast does ferry-agent take events on its local API?

For each kind of event_id (time-ordered "bench-N" and random UUIDv4) it starts
ferry-agent with the collector down (every event stays in the journal) and
posts events in batches of 100 from several client processes (one keep-alive
connection each, bodies serialized before the clock starts):
  - into an empty journal (--events, default 200,000), then untimed-but-reported
    fill, then --events more with the backlog growing to --backlog (default
    1,000,000): the rate at a large backlog;
  - the raw SQLite insert rate of the same rows through Python's sqlite3 (WAL,
    synchronous=FULL with fsync durability, UNIQUE event_id, one transaction
    per batch) over the same number of rows, overall and for the last
    --events rows (our physical limit on this disk);
  - what the client alone can push (against a trivial 202 sink server);
  - with --e2e, the same --events posted while the agent uploads them to a
    stand-in collector that answers 200 at once (ferry-acksink, or with
    --sink python|both the Python one; --compression none): events/s from
    the first post until the agent's backlog is 0 again, and the CPU per
    event of the agent, the clients, the sink and the whole machine;
  - the agent's RSS: idle after start (2 s settle), peak (VmHWM), idle again
    with the full backlog; its CPU over a 10 s idle window; the longest loop
    stall (/v1/status "loop").

usage: bench_ingest.py [--bin-dir DIR] [--events N] [--backlog N] [--batch 100]
                       [--clients 4] [--durability fsync|os] [--ids seq|uuid|both]
                       [--e2e] [--sink auto|c|python|both]
                       [--agent-arg ARG ...] [--dir TMPDIR]
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

from bench_common import (PeakSampler, ferry_harness as fh, fmt_mem, idle_figures, loop_figures, make_bodies,
                          measure_client_alone, proc_cpu_s, proc_mem, run_clients, start_ack_sink)


def sqlite_rate(path, total, batch, random_ids, sync="FULL", last=0):
    """Insert the same rows the agent stores, in transactions of `batch`.
    Returns (overall rows/s, seconds, rows/s over the last `last` rows)."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=%s" % sync)
    db.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, "
               "ingested_at INTEGER NOT NULL, body TEXT NOT NULL)")
    db.execute("CREATE TABLE meta (k TEXT PRIMARY KEY, v INTEGER)")
    db.execute("INSERT INTO meta VALUES ('next_seq', 1)")
    seq = 1
    done = 0
    t0 = time.monotonic()
    t_last = t0 if not last or last >= total else None
    build = 0.0
    base_ms = fh.now_ms() - 3600 * 1000
    # rows are built per chunk of 50,000 (untimed) so 1M rows never sit in memory
    for c0 in range(0, total, 50000):
        b0 = time.monotonic()
        rows = []
        for body, _ in make_bodies(0, 1, min(50000, total - c0), batch, random_ids, base_ms, c0):
            chunk = []
            for e in json.loads(body):
                chunk.append((seq, e["event_id"], fh.now_ms(), json.dumps(e, separators=(",", ":"))))
                seq += 1
            rows.append(chunk)
        build += time.monotonic() - b0
        for chunk in rows:
            if t_last is None and done >= total - last:
                t_last = time.monotonic() - build
            db.execute("BEGIN IMMEDIATE")
            db.executemany("INSERT INTO events VALUES (?,?,?,?)", chunk)
            db.execute("UPDATE meta SET v = v + ? WHERE k = 'next_seq'", (len(chunk),))
            db.execute("COMMIT")
            done += len(chunk)
    end = time.monotonic() - build
    db.close()
    elapsed = end - t0
    last_rate = (min(last, total) / (end - t_last)) if last and end > t_last else total / elapsed
    return total / elapsed, elapsed, last_rate


def rm_db(h, name):
    for f in (name, name + "-wal", name + "-shm"):
        try:
            os.unlink(h.path(f))
        except OSError:
            pass


def machine_busy_s():
    """CPU seconds the whole machine spent busy (all cores, /proc/stat), and the clock."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK"), time.monotonic()


def run_e2e(h, args, random_ids, extra, sink_kind):
    """Post --events while the agent uploads them to the stand-in collector;
    time until the backlog is 0."""
    sport = fh.free_port()
    stop = start_ack_sink(sport, sink_kind)
    agent = h.start_agent(sport, agent_id="e2e-" + ("uuid" if random_ids else "seq"),
                          extra=extra + ["--compression", "none"])
    try:
        time.sleep(1.0)
        snap = {}

        def on_start():  # the clients' bodies are built: the clock starts here
            snap.update(c0=proc_cpu_s(agent.pid), s0=proc_cpu_s(stop.pid), m0=machine_busy_s())
        r = run_clients(agent.port, args.events, args.batch, args.clients, random_ids, id_base=0,
                        on_start=on_start)
        c0, s0, m0 = snap["c0"], snap["s0"], snap["m0"]
        t0 = min(r["t0"], m0[1])
        while True:
            st = fh.agent_status(agent)
            if st.get("backlog") == 0 and st.get("ingested_total", r["accepted"]) >= r["accepted"]:
                break
            if time.monotonic() - t0 > 600:
                raise fh.TestFailure("e2e: backlog not drained: %r" % st)
            time.sleep(0.05)
        el = time.monotonic() - t0
        m1 = machine_busy_s()
        cpu_us = (proc_cpu_s(agent.pid) - c0) * 1e6 / args.events
        sink_us = (proc_cpu_s(stop.pid) - s0) * 1e6 / args.events
        peak = proc_mem(agent.pid).get("VmHWM", 0)
        print("agent_e2e (%s sink): %.0f events/s posted and delivered to a stand-in collector (%d events, %.1f s; "
              "posting alone took %.1f s; %d errors; agent CPU %.2f us/event; VmHWM %.1f MiB)"
              % (stop.kind, args.events / el, args.events, el, r["elapsed_s"], r["errors"], cpu_us, peak / 1024),
              flush=True)
        print("agent_e2e_cpu (%s sink): us/event agent %.2f, clients %.2f, sink %.2f; whole machine %.2f "
              "(%.2f of %d cores busy)"
              % (stop.kind, cpu_us, r["client_cpu_s"] * 1e6 / args.events, sink_us,
                 (m1[0] - m0[0]) * 1e6 / args.events, (m1[0] - m0[0]) / (m1[1] - m0[1]), os.cpu_count() or 0),
              flush=True)
        return r["accepted"] == args.events
    finally:
        agent.stop()
        stop()


def run_kind(h, args, random_ids):
    kind = "uuid4" if random_ids else "time-ordered"
    print("== event_id: %s ==" % kind, flush=True)
    if not args.skip_client_alone:
        c = measure_client_alone(args.events, args.batch, args.clients, random_ids)
        print("client_alone: %.0f events/s against a trivial 202 sink (client CPU %.1f s)"
              % (c["events_per_s"], c["client_cpu_s"]), flush=True)
    if not args.skip_sqlite:
        sync = "FULL" if args.durability == "fsync" else "NORMAL"
        rate, el, last_rate = sqlite_rate(h.path("raw.db"), args.backlog, args.batch, random_ids, sync,
                                          args.events)
        print("sqlite_raw: %.0f rows/s over %d rows (%.1f s); %.0f rows/s over the last %d "
              "(WAL, synchronous=%s, UNIQUE event_id, %d rows per transaction)"
              % (rate, args.backlog, el, last_rate, args.events, sync, args.batch), flush=True)
        rm_db(h, "raw.db")

    # the harness's fast test retry/heartbeat pace is put back to the defaults
    # (the last flag wins) so the idle CPU is the production figure
    extra = ["--durability", args.durability, "--max-journal-bytes", "8GiB", "--log-level", "warning",
             "--retry-max", "60", "--heartbeat-interval", "30"] + args.agent_arg
    e2e_ok = True
    if args.e2e:
        for sink in (("c", "python") if args.sink == "both" else (args.sink,)):
            e2e_ok = run_e2e(h, args, random_ids, extra, sink) and e2e_ok
    agent = h.start_agent(fh.free_port(), agent_id="bench-" + ("uuid" if random_ids else "seq"), extra=extra)
    idle = idle_figures(agent.pid)
    print("agent_idle_start: %s; CPU %.3f s over %.0f s"
          % (fmt_mem(idle), idle["cpu_s"], idle["window_s"]), flush=True)
    sampler = PeakSampler(agent.pid)
    c0 = proc_cpu_s(agent.pid)
    r = run_clients(agent.port, args.events, args.batch, args.clients, random_ids, id_base=0)
    cpu_us = (proc_cpu_s(agent.pid) - c0) * 1e6 / args.events
    print("agent_ingest_empty: %.0f events/s (%d events, %d requests, %.1f s, %d errors; "
          "accepted=%d duplicates=%d; agent CPU %.2f us/event; client CPU %.1f s, client capacity ~%.0f events/s)"
          % (r["events_per_s"], args.events, r["requests"], r["elapsed_s"], r["errors"], r["accepted"],
             r["duplicates"], cpu_us, r["client_cpu_s"], r["client_cap_events_per_s"]), flush=True)
    accepted = r["accepted"]
    fill = args.backlog - 2 * args.events
    if fill > 0:
        f = run_clients(agent.port, fill, args.batch, args.clients, random_ids, id_base=args.events)
        accepted += f["accepted"]
        print("agent_ingest_fill: %.0f events/s (%d events, backlog %d -> %d)"
              % (f["events_per_s"], fill, args.events, args.events + fill), flush=True)
    base = args.events + max(fill, 0)
    c0 = proc_cpu_s(agent.pid)
    r2 = run_clients(agent.port, args.events, args.batch, args.clients, random_ids, id_base=base)
    cpu_us = (proc_cpu_s(agent.pid) - c0) * 1e6 / args.events
    accepted += r2["accepted"]
    st = fh.agent_status(agent)
    print("agent_ingest_at_backlog: %.0f events/s (%d events, backlog %d -> %d, %.1f s, %d errors; "
          "agent CPU %.2f us/event)"
          % (r2["events_per_s"], args.events, base, base + args.events, r2["elapsed_s"], r2["errors"], cpu_us),
          flush=True)
    peak = proc_mem(agent.pid)
    sampler.stop()
    lp = loop_figures(st)
    print("agent_backlog: %s (expected %d); journal_bytes=%s; dedup %s" % (
        st.get("backlog"), base + args.events, st.get("journal_bytes"), st.get("dedup")), flush=True)
    print("agent_loop: max stall %.2f ms over %s iterations (>1 ms: %s, >10 ms: %s, >100 ms: %s)"
          % (lp.get("max_stall_ms", -1), lp.get("iterations"), lp.get("stalls_over_1ms"),
             lp.get("stalls_over_10ms"), lp.get("stalls_over_100ms")), flush=True)
    idle2 = idle_figures(agent.pid)
    print("agent_rss: peak (VmHWM) %.1f MiB; idle with the backlog: %s; CPU %.3f s over %.0f s"
          % (peak.get("VmHWM", 0) / 1024, fmt_mem(idle2), idle2["cpu_s"], idle2["window_s"]), flush=True)
    print("agent_rss_peak_sampled: " + sampler.fmt(), flush=True)
    ok = st.get("backlog") == base + args.events and accepted == base + args.events and e2e_ok
    if not ok:
        print("WARNING: the agent did not store every event exactly once", flush=True)
    agent.stop()
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.environ.get("FERRY_BIN_DIR"))
    ap.add_argument("--events", type=int, default=200000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--clients", type=int, default=4, help="client processes (one connection each)")
    ap.add_argument("--durability", default="fsync", choices=("fsync", "os"))
    ap.add_argument("--backlog", type=int, default=1000000, help="the second timed run ends at this backlog")
    ap.add_argument("--ids", default="both", choices=("seq", "uuid", "both"),
                    help="time-ordered ids, UUIDv4 ids, or one run of each")
    ap.add_argument("--dir", default=None, help="where the journal goes (default: a temp dir)")
    ap.add_argument("--agent-arg", action="append", default=[],
                    help="an option for the agent (repeatable: --agent-arg=--dedup-max-bytes --agent-arg=2MiB)")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument("--skip-client-alone", action="store_true")
    ap.add_argument("--e2e", action="store_true",
                    help="also post --events while the agent delivers them to a stand-in collector")
    ap.add_argument("--sink", default="auto", choices=("auto", "c", "python", "both"),
                    help="the stand-in collector of --e2e: ferry-acksink (c, the default when built), "
                         "the Python one, or one run with each")
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["FERRY_BIN_DIR"] = os.path.abspath(args.bin_dir)
    if args.dir:
        tempfile.tempdir = args.dir

    print("bench_ingest: events=%d backlog=%d batch=%d clients=%d durability=%s ids=%s cpus=%d"
          % (args.events, args.backlog, args.batch, args.clients, args.durability, args.ids,
             os.cpu_count() or 0), flush=True)
    h = fh.Harness("bench-ingest")
    failed = True
    try:
        kinds = {"seq": [False], "uuid": [True], "both": [False, True]}[args.ids]
        ok = True
        for random_ids in kinds:
            ok = run_kind(h, args, random_ids) and ok
        failed = not ok
    except fh.TestFailure as e:
        print("bench_ingest failed: %s" % e, flush=True)
    finally:
        h.cleanup(failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
