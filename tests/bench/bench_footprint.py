#!/usr/bin/env python3
"""bench_footprint: ferry-agent at rest — memory, idle CPU, binary size.

Starts ferry-agent (collector down, empty journal, production retry and
heartbeat pace) and after a 2 s settle reports, from /proc/PID/status and
/proc/PID/smaps_rollup:
  - VmRSS split into RssAnon (the agent's own memory) and RssFile (library
    pages it touched, shared with every process mapping them);
  - PSS (each shared page divided by the processes mapping it) and USS
    (pages no other process maps: Private_Clean + Private_Dirty) — what
    the agent costs the machine;
  - the mappings with the most resident pages (/proc/PID/smaps);
  - its CPU over a 10 s idle window;
  - the size of the binary after `strip` (x86_64 here).
Each --bin-dir is measured in turn, in the same run.

usage: bench_footprint.py --bin-dir DIR [--bin-dir DIR2 ...] [--top 8]"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from bench_common import ferry_harness as fh, idle_figures, top_mappings


def smaps_rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    return out


def stripped_size(path):
    d = tempfile.mkdtemp()
    try:
        out = os.path.join(d, "a")
        subprocess.run(["strip", "-o", out, path], check=True)
        return os.path.getsize(out)
    finally:
        shutil.rmtree(d)


def measure(bin_dir, top):
    os.environ["FERRY_BIN_DIR"] = os.path.abspath(bin_dir)
    h = fh.Harness("bench-footprint")
    failed = True
    try:
        extra = ["--log-level", "warning", "--retry-max", "60", "--heartbeat-interval", "30"]
        agent = h.start_agent(fh.free_port(), agent_id="footprint", extra=extra)
        idle = idle_figures(agent.pid)
        r = smaps_rollup(agent.pid)
        uss = r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
        print("%s: VmRSS %.1f MiB (anon %.1f, file %.1f), PSS %.1f MiB, USS %.1f MiB; idle CPU %.3f s over %.0f s"
              % (bin_dir, idle.get("VmRSS", 0) / 1024, idle.get("RssAnon", 0) / 1024, idle.get("RssFile", 0) / 1024,
                 r.get("Pss", 0) / 1024, uss / 1024, idle["cpu_s"], idle["window_s"]), flush=True)
        print("  resident by mapping (KiB): " + ", ".join("%s %d" % kv for kv in top_mappings(agent.pid, top)),
              flush=True)
        print("  stripped binary: %d bytes" % stripped_size(fh.binary("ferry-agent")), flush=True)
        agent.stop()
        failed = False
    finally:
        h.cleanup(failed)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", action="append", required=True)
    ap.add_argument("--top", type=int, default=8)
    args = ap.parse_args()
    for d in args.bin_dir:
        measure(d, args.top)


if __name__ == "__main__":
    sys.exit(main())
