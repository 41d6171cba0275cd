#!/usr/bin/env python3
"""bench_agent_instr: user-space instructions per ingested event in ferry-agent,
counted by callgrind (valgrind), so the figure does not move with the machine's
load the way CPU time does.

Starts ferry-agent under `valgrind --tool=callgrind` twice with the collector
down (every event stays in the journal), posts --small events (time-ordered
ids, or UUIDv4 with --ids uuid) to one and --large to the other (batches of 100 from --clients processes, as
bench_ingest does), stops it, and reads the instruction totals: the per-event
cost is the difference divided by the difference in events, so start-up and
shutdown drop out. With --top N it also prints the N functions that grew the
most (self cost per event) between the two runs.

usage: bench_agent_instr.py [--bin-dir DIR] [--small 10000] [--large 30000]
                            [--clients 4] [--top 0] [--ids seq|uuid] [--out DIR]
Needs valgrind (apt-get install valgrind). Runs about a minute at the defaults.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile
import time

from bench_common import ferry_harness as fh, run_clients


def totals(path):
    """The Ir total of a callgrind output file."""
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise fh.TestFailure("no totals in %s" % path)


def self_costs(path):
    """{function: self Ir} from callgrind_annotate."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=no", "--auto=no", "--threshold=100", path],
                         capture_output=True, text=True, check=True).stdout
    costs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s+\([^)]*\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            costs[m.group(2)] = costs.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return costs


def one_run(h, events, clients, outdir, tag, random_ids):
    pattern = os.path.join(outdir, "callgrind.%s.%%p" % tag)
    os.environ["FERRY_EMULATOR"] = "valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=%s" % pattern
    try:
        agent = h.start_agent(fh.free_port(), agent_id="instr-%s" % tag)
    finally:
        del os.environ["FERRY_EMULATOR"]
    time.sleep(1.0)
    r = run_clients(agent.port, events, 100, clients, random_ids)
    if r["accepted"] != events or r["errors"]:
        raise fh.TestFailure("%s: accepted %d of %d, %d errors" % (tag, r["accepted"], events, r["errors"]))
    agent.stop(timeout=120)
    files = glob.glob(os.path.join(outdir, "callgrind.%s.*" % tag))
    if not files:
        raise fh.TestFailure("%s: callgrind wrote nothing" % tag)
    return sum(totals(f) for f in files), files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default=None)
    ap.add_argument("--small", type=int, default=10000)
    ap.add_argument("--large", type=int, default=30000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--top", type=int, default=0)
    ap.add_argument("--ids", default="seq", choices=("seq", "uuid"), help="time-ordered or UUIDv4 event ids")
    ap.add_argument("--out", default=None, help="keep the callgrind files here (default: removed)")
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["FERRY_BIN_DIR"] = os.path.abspath(args.bin_dir)
    if args.large <= args.small:
        ap.error("--large must be more than --small")
    h = fh.Harness("bench-agent-instr")
    failed = True
    try:
        outdir = tempfile.mkdtemp(prefix="ferry-instr-", dir=args.out or h.tmp)
        small, fs = one_run(h, args.small, args.clients, outdir, "small", args.ids == "uuid")
        large, fl = one_run(h, args.large, args.clients, outdir, "large", args.ids == "uuid")
        per = (large - small) / (args.large - args.small)
        print("bench_agent_instr: %s: %s ids: %.0f instructions per event (%d events: %d; %d events: %d)"
              % (fh.bin_dir(), args.ids, per, args.small, small, args.large, large), flush=True)
        if args.top:
            a, b = {}, {}
            for f in fs:
                for k, v in self_costs(f).items():
                    a[k] = a.get(k, 0) + v
            for f in fl:
                for k, v in self_costs(f).items():
                    b[k] = b.get(k, 0) + v
            grow = sorted(((b.get(k, 0) - a.get(k, 0), k) for k in set(a) | set(b)), reverse=True)
            for d, k in grow[:args.top]:
                print("  %8.0f  %s" % (d / (args.large - args.small), k))
        failed = False
    except fh.TestFailure as e:
        print("bench_agent_instr failed: %s" % e, flush=True)
    finally:
        h.cleanup(failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
