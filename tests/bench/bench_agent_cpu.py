#!/usr/bin/env python3
"""bench_agent_cpu: ferry-agent's CPU per ingested event, as the median of
several runs.

One timed ingest run moves by ±0.3 µs per event between runs of one binary on
a shared two-core machine, as much as the differences worth measuring. This
runs --runs rounds; each round starts a fresh agent (collector down, empty
journal, the production retry and heartbeat pace that bench_ingest uses) per
id kind, alternating time-ordered and UUIDv4 ids, posts --events from
--clients processes in batches of 100, and reads the agent's utime+stime
(all threads) from the first post to the last answer. It prints every run
and the median and range per kind, and as the reference of the same sitting
the rate of the same clients against a trivial 202 server.

usage: bench_agent_cpu.py [--bin-dir DIR] [--events 500000] [--runs 5]
                          [--clients 4] [--ids seq|uuid|both]
                          [--agent-arg ARG ...]
Two builds compared: run it once per --bin-dir, alternately."""
import argparse
import os
import statistics
import sys
import time

from bench_common import ferry_harness as fh, measure_client_alone, proc_cpu_s, run_clients


def one_run(h, args, random_ids, n):
    extra = ["--durability", "fsync", "--max-journal-bytes", "8GiB", "--log-level", "warning",
             "--retry-max", "60", "--heartbeat-interval", "30"] + args.agent_arg
    agent = h.start_agent(fh.free_port(), agent_id="cpu-%s-%d" % ("uuid" if random_ids else "seq", n),
                          extra=extra)
    try:
        time.sleep(0.5)
        snap = {}
        r = run_clients(agent.port, args.events, 100, args.clients, random_ids,
                        on_start=lambda: snap.update(c0=proc_cpu_s(agent.pid)))
        cpu_us = (proc_cpu_s(agent.pid) - snap["c0"]) * 1e6 / args.events
        if r["accepted"] != args.events or r["errors"]:
            raise fh.TestFailure("accepted %d of %d, %d errors" % (r["accepted"], args.events, r["errors"]))
        return r["events_per_s"], cpu_us
    finally:
        agent.stop()
        os.unlink(agent.journal)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default=None)
    ap.add_argument("--events", type=int, default=500000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--ids", default="both", choices=("seq", "uuid", "both"))
    ap.add_argument("--agent-arg", action="append", default=[],
                    help="an option for the agent (repeatable: --agent-arg=--dedup-max-bytes --agent-arg=2MiB)")
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["FERRY_BIN_DIR"] = os.path.abspath(args.bin_dir)
    kinds = {"seq": [False], "uuid": [True], "both": [False, True]}[args.ids]
    print("bench_agent_cpu: %s events=%d runs=%d clients=%d load=%.2f"
          % (fh.bin_dir(), args.events, args.runs, args.clients, os.getloadavg()[0]), flush=True)
    h = fh.Harness("bench-agent-cpu")
    failed = True
    try:
        got = {k: [] for k in kinds}
        for n in range(args.runs):
            for random_ids in kinds:
                rate, us = one_run(h, args, random_ids, n)
                got[random_ids].append((rate, us))
                print("run %d %s: %.0f events/s, agent CPU %.2f us/event"
                      % (n + 1, "uuid4" if random_ids else "time-ordered", rate, us), flush=True)
        for random_ids in kinds:
            us = [u for _, u in got[random_ids]]
            rates = [r for r, _ in got[random_ids]]
            c = measure_client_alone(args.events, 100, args.clients, random_ids)
            print("%s: agent CPU median %.2f us/event (%.2f-%.2f over %d runs), rate median %.0f events/s; "
                  "the clients against a trivial 202 server %.0f events/s"
                  % ("uuid4" if random_ids else "time-ordered", statistics.median(us), min(us), max(us), len(us),
                     statistics.median(rates), c["events_per_s"]), flush=True)
        failed = False
    except fh.TestFailure as e:
        print("bench_agent_cpu failed: %s" % e, flush=True)
    finally:
        h.cleanup(failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
