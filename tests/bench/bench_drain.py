#!/usr/bin/env python3
"""bench_drain: how fast does ferry-agent drain a large backlog?

Builds a backlog of N events (default 1,000,000) with the collector down, then
starts ferry-collector and times the drain until the agent's backlog is 0.
Reports events/s, the agent's and collector's peak RSS, and checks that the
collector received every seq once.

usage: bench_drain.py [--bin-dir DIR] [--events N] [--fill-batch 1000]
                      [--clients 4] [--durability fsync|os]
                      [--compression zstd|gzip|none] [--dir TMPDIR]
Results are plain text lines on stdout."""
import argparse
import os
import sys
import tempfile
import time

from bench_common import ferry_harness as fh, proc_mem_kib, run_clients


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.environ.get("FERRY_BIN_DIR"))
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--fill-batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--durability", default="fsync", choices=("fsync", "os"))
    ap.add_argument("--compression", default=None, choices=("zstd", "gzip", "none"))
    ap.add_argument("--timeout", type=float, default=3600, help="give up the drain after this many seconds")
    ap.add_argument("--dir", default=None, help="where the journal and database go (default: a temp dir)")
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["FERRY_BIN_DIR"] = os.path.abspath(args.bin_dir)
    if args.dir:
        tempfile.tempdir = args.dir

    print("bench_drain: events=%d durability=%s compression=%s cpus=%d"
          % (args.events, args.durability, args.compression or "default", os.cpu_count() or 0), flush=True)
    h = fh.Harness("bench-drain")
    failed = True
    try:
        cport = fh.free_port()
        extra = ["--durability", args.durability]
        if args.compression:
            extra += ["--compression", args.compression]
        # a 1M backlog is ~300 MB of journal: lift the default 1 GiB cap out of the way
        extra += ["--max-journal-bytes", "8GiB"]
        agent = h.start_agent(cport, agent_id="bench-drain", extra=extra)
        r = run_clients(agent.port, args.events, args.fill_batch, args.clients)
        st = fh.agent_status(agent)
        print("fill: %.0f events/s (%.1f s); backlog=%s journal_bytes=%s"
              % (r["events_per_s"], r["elapsed_s"], st.get("backlog"), st.get("journal_bytes")), flush=True)
        if st.get("backlog") != args.events:
            raise fh.TestFailure("backlog %s after posting %d events" % (st.get("backlog"), args.events))
        _, hwm_fill = proc_mem_kib(agent.pid)

        t0 = time.monotonic()
        coll = h.start_collector(port=cport)
        peak_rss = 0
        coll_peak = 0
        last_report = t0
        deadline = t0 + args.timeout
        while True:
            st = fh.agent_status(agent)
            rss, _ = proc_mem_kib(agent.pid)
            crss, _ = proc_mem_kib(coll.pid)
            peak_rss = max(peak_rss, rss or 0)
            coll_peak = max(coll_peak, crss or 0)
            if st.get("backlog") == 0:
                break
            now = time.monotonic()
            if now - last_report >= 10:
                last_report = now
                done = args.events - st.get("backlog", 0)
                print("  drain: %ds backlog=%s (%.0f events/s so far)"
                      % (now - t0, st.get("backlog"), done / (now - t0)), flush=True)
            if now > deadline:
                raise fh.TestFailure("drain not finished after %.0f s: %r" % (args.timeout, st))
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        _, hwm = proc_mem_kib(agent.pid)
        _, chwm = proc_mem_kib(coll.pid)
        a = fh.collector_agent(coll, "bench-drain") or {}
        print("drain: %.0f events/s (%d events in %.1f s, collector start included)"
              % (args.events / elapsed, args.events, elapsed), flush=True)
        print("agent_rss: peak during drain %.1f MiB, VmHWM %.1f MiB (after fill %.1f MiB)"
              % (peak_rss / 1024, (hwm or 0) / 1024, (hwm_fill or 0) / 1024), flush=True)
        print("collector_rss: peak %.1f MiB (VmHWM %.1f MiB)" % (coll_peak / 1024, (chwm or 0) / 1024), flush=True)
        print("collector: received=%s missing=%s high_seq=%s contiguous_seq=%s"
              % (a.get("received"), a.get("missing"), a.get("high_seq"), a.get("contiguous_seq")), flush=True)
        if a.get("received") != args.events or a.get("missing") != 0:
            print("WARNING: the collector did not receive every event exactly once", flush=True)
        agent.stop()
        coll.stop()
        failed = False
    except fh.TestFailure as e:
        print("bench_drain failed: %s" % e, flush=True)
    finally:
        h.cleanup(failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
