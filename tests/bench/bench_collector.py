#!/usr/bin/env python3
"""bench_collector: the collector's ingest path alone, driven by ferry-loadgen
(C, libcurl multi, batches built and compressed before the clock starts), so
the client does not take the cores the collector is measured on.

Starts ferry-collector on a fresh database in a temp dir, runs ferry-loadgen
once per scenario and prints loadgen's lines: events/s, the collector's CPU
time per event (utime+stime of all its threads) and its RSS. CPU per event is
the figure to compare between builds on a shared machine; wall-clock rates
move with whatever else runs.

usage: bench_collector.py [--bin-dir DIR] [--events N] [--batch 1000] [--conns 4]
                          [--scenario seq-inorder,random-random,...] [--dir TMPDIR]
                          [--keep] [--collector-arg=--flag=value ...] [--sqlite-ref]
                          [-- extra loadgen args]
The collector runs with --agent-rate 0 (no per-agent request limit): this
measures what ingest costs, not admission control. --sqlite-ref inserts the
same rows (same seed) into raw SQLite under the same unique key
(loadgen --sqlite-ref) right after each scenario, as the reference.
A scenario is IDS-TS: ids seq|random, timestamps inorder|random."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from bench_common import ferry_harness as fh, proc_mem_kib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", default=os.environ.get("FERRY_BIN_DIR"))
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--scenario", default="seq-inorder,random-random")
    ap.add_argument("--dir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--collector-arg", action="append", default=[],
                    help="extra collector flag (repeatable); --agent-rate 0 is always passed")
    ap.add_argument("--sqlite-ref", action="store_true",
                    help="also insert the same rows into raw SQLite (loadgen --sqlite-ref) in the same run")
    ap.add_argument("rest", nargs="*")
    a = ap.parse_args()
    if a.bin_dir:
        os.environ["FERRY_BIN_DIR"] = os.path.abspath(a.bin_dir)
    loadgen = os.path.join(fh.bin_dir(), "tests", "ferry-loadgen")
    if not os.access(loadgen, os.X_OK):
        loadgen = fh.binary("ferry-loadgen")
    for sc in a.scenario.split(","):
        ids, ts = sc.split("-")
        tmp = tempfile.mkdtemp(prefix="bench-collector-", dir=a.dir)
        port = fh.free_port()
        coll = subprocess.Popen([fh.binary("ferry-collector"), "--listen", "127.0.0.1:%d" % port,
                                 "--db", "sqlite:" + os.path.join(tmp, "ferry.db"),
                                 "--auth-token", fh.AGENT_TOKEN, "--read-token", fh.READ_TOKEN,
                                 "--log-level", "warning", "--agent-rate", "0"] + a.collector_arg)
        try:
            fh.wait_until(lambda: fh.http_request("http://127.0.0.1:%d/healthz" % port).status == 200, 20,
                          "collector up")
            print("scenario %s: ids=%s ts=%s" % (sc, ids, ts), flush=True)
            r = subprocess.run([loadgen, "--url", "http://127.0.0.1:%d" % port, "--token", fh.AGENT_TOKEN,
                                "--pid", str(coll.pid), "--events", str(a.events), "--batch", str(a.batch),
                                "--conns", str(a.conns), "--ids", ids, "--ts", ts] + a.rest)
            if r.returncode != 0:
                sys.exit("loadgen failed (%d)" % r.returncode)
            rss, hwm = proc_mem_kib(coll.pid)
            dbb = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
            coll.terminate()
            coll.wait(60)
            # after a clean stop the WAL is checkpointed into the database and removed
            dbc = sum(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp))
            print("collector RSS at the end: %d KiB (peak %d KiB); database %.0f MiB with its WAL while"
                  " running, %.0f MiB (%.0f bytes/event) after a clean stop" %
                  (rss, hwm, dbb / 1048576, dbc / 1048576, dbc / a.events), flush=True)
            if a.sqlite_ref:
                ref = os.path.join(tmp, "ref.db")
                r = subprocess.run([loadgen, "--sqlite-ref", ref, "--events", str(a.events), "--batch",
                                    str(a.batch), "--conns", str(a.conns), "--ids", ids, "--ts", ts] + a.rest)
                if r.returncode != 0:
                    sys.exit("loadgen --sqlite-ref failed (%d)" % r.returncode)
        finally:
            if coll.poll() is None:
                coll.terminate()
                coll.wait(60)
            if not a.keep:
                shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
