#!/usr/bin/env python3
"""bench_drain: how fast does ferry-agent drain a large backlog?

For each kind of event_id (time-ordered and random UUIDv4) it builds a
backlog of N events (default 1,000,000) with the collector down, then starts
ferry-collector on loopback and times the drain until the agent's backlog is
0 (collector start included). It reports events/s end to end, the CPU seconds
the agent and the collector used during the drain (which side bounds it), the
agent's RSS (peak sampled during the drain, VmHWM, idle after the drain with
a 10 s CPU window), the longest loop stall, and checks that the collector
received every seq once.

With --agents N (N > 1) it fills N agents with --events each (collector
down), starts one collector and times until every backlog is 0: the
aggregate rate of a fleet's catch-up, the collector's CPU per event and peak
RSS, the slowest and fastest agent. --collector-arg passes an option to the
collector (repeatable: --collector-arg=--agent-rate --collector-arg=0);
without it the collector runs with its defaults. --collector-env NAME=VALUE
puts a variable in the collector's environment (e.g. MALLOC_ARENA_MAX=8).
With --breakdown and --agents it samples the collector's /proc/PID/smaps
and /metrics during the drain and prints, at the sampled RSS peak, how much
was the main heap, glibc's per-thread malloc arenas, other anonymous memory
and file pages, beside the ingest batches applied and waiting (and, from a
collector that has those gauges, the batches admitted, their bodies' bytes
and the batches decoded at once); with one agent, the same split of the
agent's memory after the fill (with its dedup table's size) and at its
sampled peak during the drain.

With --sink it also drains a second backlog into a stand-in collector that
answers 200 at once (bench_common._AckSink, --compression none): the agent
side's own drain capacity, without the collector's cost.

usage: bench_drain.py [--bin-dir DIR] [--events N] [--fill-batch 1000]
                      [--clients 4] [--durability fsync|os] [--ids seq|uuid|both]
                      [--agents N] [--collector-arg ARG ...] [--collector-env N=V ...]
                      [--breakdown]
                      [--compression zstd|gzip|none] [--sink] [--dir TMPDIR]
Results are plain text lines on stdout."""
import argparse
import os
import sys
import tempfile
import time
import urllib.request

from bench_common import (ferry_harness as fh, fmt_mem, idle_figures, loop_figures, proc_cpu_s, proc_mem,
                          run_clients, start_ack_sink)


def fill(h, args, name, cport, random_ids, extra):
    agent = h.start_agent(cport, agent_id=name, extra=extra)
    r = run_clients(agent.port, args.events, args.fill_batch, args.clients, random_ids)
    st = fh.agent_status(agent)
    print("fill: %.0f events/s (%.1f s); backlog=%s journal_bytes=%s"
          % (r["events_per_s"], r["elapsed_s"], st.get("backlog"), st.get("journal_bytes")), flush=True)
    if st.get("backlog") != args.events:
        raise fh.TestFailure("backlog %s after posting %d events" % (st.get("backlog"), args.events))
    return agent


def wait_drained(args, agent, t0, others=(), at_peak=None):
    """Poll until the backlog is 0; returns (elapsed, peak agent RSS KiB, peaks of others).
    With a dict at_peak, fills it with the agent's mem_breakdown at its peak."""
    peak = 0
    opeak = [0] * len(others)
    last_report = t0
    while True:
        st = fh.agent_status(agent)
        rss = proc_mem(agent.pid).get("VmRSS", 0)
        if rss > peak and at_peak is not None:
            at_peak.clear()
            at_peak.update(mem_breakdown(agent.pid), rss=rss)
        peak = max(peak, rss)
        for i, p in enumerate(others):
            opeak[i] = max(opeak[i], proc_mem(p).get("VmRSS", 0))
        if st.get("backlog") == 0:
            return time.monotonic() - t0, peak, opeak
        now = time.monotonic()
        if now - last_report >= 10:
            last_report = now
            print("  drain: %ds backlog=%s (%.0f events/s so far)"
                  % (now - t0, st.get("backlog"), (args.events - st.get("backlog", 0)) / (now - t0)), flush=True)
        if now - t0 > args.timeout:
            raise fh.TestFailure("drain not finished after %.0f s: %r" % (args.timeout, st))
        time.sleep(0.2)


def run_kind(h, args, random_ids):
    kind = "uuid4" if random_ids else "time-ordered"
    tag = "uuid" if random_ids else "seq"
    print("== event_id: %s ==" % kind, flush=True)
    base = args.agent_arg + ["--durability", args.durability, "--max-journal-bytes", "8GiB", "--log-level", "warning",
            "--heartbeat-interval", "30"]  # the harness's retry pace (≤ 1 s): the drain starts within 1 s
    extra = base + (["--compression", args.compression] if args.compression else [])
    cport = fh.free_port()
    agent = fill(h, args, "drain-" + tag, cport, random_ids, extra)
    hwm_fill = proc_mem(agent.pid).get("VmHWM", 0)
    if args.breakdown:
        print("agent_mem_after_fill: %s; dedup %s" % (fmt_breakdown(mem_breakdown(agent.pid)),
                                                       fh.agent_status(agent).get("dedup")), flush=True)
    lp_fill = loop_figures(fh.agent_status(agent))

    t0 = time.monotonic()
    coll = h.start_collector(port=cport, extra=args.collector_arg)
    a0, c0 = proc_cpu_s(agent.pid), proc_cpu_s(coll.pid)
    at_peak = {} if args.breakdown else None
    elapsed, peak, (cpeak,) = wait_drained(args, agent, t0, (coll.pid,), at_peak)
    a_cpu, c_cpu = proc_cpu_s(agent.pid) - a0, proc_cpu_s(coll.pid) - c0
    st = fh.agent_status(agent)
    lp = loop_figures(st)
    hwm = proc_mem(agent.pid).get("VmHWM", 0)
    a = fh.collector_agent(coll, "drain-" + tag) or {}
    print("drain: %.0f events/s (%d events in %.1f s, collector start included)  (load %s)"
          % (args.events / elapsed, args.events, elapsed, " ".join(open("/proc/loadavg").read().split()[:3])),
          flush=True)
    print("drain_cpu: agent %.1f s (%.1f us/event), collector %.1f s (%.1f us/event) of %.1f s wall, %d cpus"
          % (a_cpu, a_cpu / args.events * 1e6, c_cpu, c_cpu / args.events * 1e6, elapsed, os.cpu_count() or 0),
          flush=True)
    print("agent_rss: peak sampled during drain %.1f MiB, VmHWM %.1f MiB (after fill %.1f MiB)"
          % (peak / 1024, hwm / 1024, hwm_fill / 1024), flush=True)
    if at_peak:
        print("agent_mem_at_drain_peak: VmRSS %.1f MiB: %s" % (at_peak["rss"] / 1024, fmt_breakdown(at_peak)),
              flush=True)
    print("agent_loop: max stall %.2f ms (during fill %.2f ms) over %s iterations (>10 ms: %s, >100 ms: %s)"
          % (lp.get("max_stall_ms", -1), lp_fill.get("max_stall_ms", -1), lp.get("iterations"),
             lp.get("stalls_over_10ms"), lp.get("stalls_over_100ms")), flush=True)
    print("collector_rss: peak %.1f MiB" % (cpeak / 1024), flush=True)
    print("collector: received=%s missing=%s high_seq=%s contiguous_seq=%s"
          % (a.get("received"), a.get("missing"), a.get("high_seq"), a.get("contiguous_seq")), flush=True)
    idle = idle_figures(agent.pid)
    print("agent_idle_after_drain: %s; CPU %.3f s over %.0f s; dedup %s"
          % (fmt_mem(idle), idle["cpu_s"], idle["window_s"], st.get("dedup")), flush=True)
    ok = a.get("received") == args.events and a.get("missing") == 0
    if not ok:
        print("WARNING: the collector did not receive every event exactly once", flush=True)
    agent.stop()
    coll.stop()

    if args.sink:
        sport = fh.free_port()
        agent = fill(h, args, "sink-" + tag, sport, random_ids, base + ["--compression", "none"])
        stop = start_ack_sink(sport)
        try:
            t0 = time.monotonic()
            a0 = proc_cpu_s(agent.pid)
            elapsed, peak, _ = wait_drained(args, agent, t0)
            a_cpu = proc_cpu_s(agent.pid) - a0
        finally:
            stop()
        print("drain_to_sink: %.0f events/s (%.1f s; agent CPU %.1f s, %.1f us/event; peak RSS %.1f MiB; "
              "compression none; a stand-in collector answering at once)"
              % (args.events / elapsed, elapsed, a_cpu, a_cpu / args.events * 1e6, peak / 1024), flush=True)
        agent.stop()
    return ok


def mem_breakdown(pid):
    """The collector's resident memory by kind (KiB) from /proc/PID/smaps: the
    main heap ([heap]), glibc's per-thread malloc arenas (anonymous mappings
    of up to 64 MiB, counted when they hold resident pages), other anonymous
    memory (thread stacks, large mmap'd blocks), and file-backed pages
    (libraries, the SQLite database and WAL when mapped)."""
    out = {"heap": 0, "arenas": 0, "arena_n": 0, "anon_other": 0, "file": 0}
    try:
        with open("/proc/%d/smaps" % pid) as f:
            name, size, rss, lo, in_arena = None, 0, 0, 0, False

            def flush():
                nonlocal in_arena
                if name is None:
                    return
                if name == "" and in_arena and lo != 0 and lo % (64 << 20) != 0 and rss == 0:
                    return  # the unused, PROT_NONE rest of an arena
                if name == "[heap]":
                    out["heap"] += rss
                elif name.startswith("/"):
                    out["file"] += rss
                elif name == "" and lo % (64 << 20) == 0 and rss:  # glibc aligns its heaps to 64 MiB
                    out["arenas"] += rss
                    out["arena_n"] += 1
                    in_arena = True
                else:
                    in_arena = False
                    out["anon_other"] += rss
            for line in f:
                parts = line.split()
                if "-" in parts[0] and ":" not in parts[0]:
                    flush()
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    size, rss = (hi - lo) // 1024, 0
                    name = parts[5] if len(parts) > 5 else ""
                elif parts[0] == "Rss:":
                    rss = int(parts[1])
            flush()
    except OSError:
        pass
    return out


def fmt_breakdown(b):
    return ("main heap %.1f MiB, malloc arenas %.1f MiB (%d), other anonymous %.1f MiB "
            "(large blocks, stacks, libraries' relocated data), file %.1f MiB"
            % (b["heap"] / 1024, b["arenas"] / 1024, b["arena_n"], b["anon_other"] / 1024, b["file"] / 1024))


def ingest_gauges(coll):
    """ferry_collector_ingest_inflight / _waiting / _admitted / _queued_bytes / _decoded(_max) and the queued
    counter from /metrics (a gauge the collector does not have is left out)."""
    out = {}
    try:
        req = urllib.request.Request("http://127.0.0.1:%d/metrics" % coll.port, headers=fh.read_auth())
        body = urllib.request.urlopen(req, timeout=2).read().decode()
    except OSError:
        return out
    for line in body.splitlines():
        for k in ("ferry_collector_ingest_inflight", "ferry_collector_ingest_waiting",
                  "ferry_collector_ingest_admitted", "ferry_collector_ingest_queued_bytes",
                  "ferry_collector_ingest_decoded", "ferry_collector_ingest_decoded_max",
                  "ferry_collector_ingest_queued_total", "ferry_collector_ingest_busy_total"):
            if line.startswith(k + " "):
                out[k[len("ferry_collector_"):]] = float(line.split()[1])
    return out


def run_many(h, args, random_ids):
    """N agents, --events each, drained at once into one collector."""
    kind = "uuid4" if random_ids else "time-ordered"
    print("== %d agents x %d events, event_id: %s ==" % (args.agents, args.events, kind), flush=True)
    extra = args.agent_arg + ["--durability", args.durability, "--max-journal-bytes", "8GiB", "--log-level", "warning",
             "--heartbeat-interval", "30"] + (["--compression", args.compression] if args.compression else [])
    cport = fh.free_port()
    agents = []
    t = time.monotonic()
    for i in range(args.agents):
        agent = h.start_agent(cport, agent_id="fleet-%02d" % i, extra=extra, name="agent-%02d" % i)
        r = run_clients(agent.port, args.events, args.fill_batch, 1, random_ids, id_base=i * args.events)
        if fh.agent_status(agent).get("backlog") != args.events:
            raise fh.TestFailure("agent %d: backlog after fill %r" % (i, fh.agent_status(agent)))
        agents.append(agent)
    print("fill: %d agents x %d events in %.1f s" % (args.agents, args.events, time.monotonic() - t), flush=True)
    t0 = time.monotonic()
    cenv = dict(kv.split("=", 1) for kv in args.collector_env)
    coll = h.start_collector(port=cport, extra=args.collector_arg, env=cenv)
    a0 = sum(proc_cpu_s(a.pid) for a in agents)
    c0 = proc_cpu_s(coll.pid)
    done = {}
    cpeak = 0
    at_peak = {}
    max_inflight = max_waiting = max_admitted = max_qbytes = 0
    decoded_max = None
    while len(done) < len(agents):
        for i, a in enumerate(agents):
            if i not in done and fh.agent_status(a).get("backlog") == 0:
                done[i] = time.monotonic() - t0
        rss = proc_mem(coll.pid).get("VmRSS", 0)
        g = ingest_gauges(coll) if args.breakdown else {}
        max_inflight = max(max_inflight, g.get("ingest_inflight", 0))
        max_waiting = max(max_waiting, g.get("ingest_waiting", 0))
        max_admitted = max(max_admitted, g.get("ingest_admitted", 0))
        max_qbytes = max(max_qbytes, g.get("ingest_queued_bytes", 0))
        decoded_max = g.get("ingest_decoded_max", decoded_max)
        if rss > cpeak and args.breakdown:
            at_peak = dict(mem_breakdown(coll.pid), rss=rss, **g)
        cpeak = max(cpeak, rss)
        if time.monotonic() - t0 > args.timeout:
            raise fh.TestFailure("drain not finished after %.0f s: %d of %d agents" % (args.timeout, len(done),
                                                                                       len(agents)))
        time.sleep(0.2)
    elapsed = max(done.values())
    a_cpu = sum(proc_cpu_s(a.pid) for a in agents) - a0
    c_cpu = proc_cpu_s(coll.pid) - c0
    total = args.events * args.agents
    print("fleet_drain: %.0f events/s aggregate (%d events in %.1f s, collector start included); first agent done "
          "%.1f s, last %.1f s  (load %s)" % (total / elapsed, total, elapsed, min(done.values()), elapsed,
                                              " ".join(open("/proc/loadavg").read().split()[:3])), flush=True)
    print("fleet_drain_cpu: agents %.1f s (%.1f us/event), collector %.1f s (%.1f us/event) of %.1f s wall"
          % (a_cpu, a_cpu / total * 1e6, c_cpu, c_cpu / total * 1e6, elapsed), flush=True)
    print("collector_rss: peak sampled %.1f MiB, VmHWM %.1f MiB"
          % (cpeak / 1024, proc_mem(coll.pid).get("VmHWM", 0) / 1024), flush=True)
    if args.breakdown and at_peak:
        print("collector_rss_at_peak: rss %.1f MiB = [heap] %.1f + %d malloc arenas %.1f + other anon %.1f + file "
              "%.1f MiB; ingest inflight %s waiting %s (max over the run %d, %d), queued_total %s busy_total %s"
              % (at_peak["rss"] / 1024, at_peak["heap"] / 1024, at_peak["arena_n"], at_peak["arenas"] / 1024,
                 at_peak["anon_other"] / 1024, at_peak["file"] / 1024, at_peak.get("ingest_inflight"),
                 at_peak.get("ingest_waiting"), max_inflight, max_waiting, at_peak.get("ingest_queued_total"),
                 at_peak.get("ingest_busy_total")), flush=True)
        if "ingest_admitted" in at_peak:
            print("collector_ingest_at_peak: admitted %s (max %d) holding %.1f MiB of bodies (max %.1f MiB); "
                  "batches decoded at once: %s at the peak, %s at most"
                  % (at_peak.get("ingest_admitted"), max_admitted, at_peak.get("ingest_queued_bytes", 0) / 2 ** 20,
                     max_qbytes / 2 ** 20, at_peak.get("ingest_decoded"), decoded_max), flush=True)
    ok = True
    for a in agents:
        c = fh.collector_agent(coll, a.agent_id) or {}
        if c.get("received") != args.events or c.get("missing") != 0:
            print("WARNING: %s: received=%s missing=%s" % (a.agent_id, c.get("received"), c.get("missing")),
                  flush=True)
            ok = False
    for a in agents:
        a.stop()
    coll.stop()
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.environ.get("FERRY_BIN_DIR"))
    ap.add_argument("--events", type=int, default=1000000)
    ap.add_argument("--fill-batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--durability", default="fsync", choices=("fsync", "os"))
    ap.add_argument("--compression", default=None, choices=("zstd", "gzip", "none"))
    ap.add_argument("--ids", default="both", choices=("seq", "uuid", "both"))
    ap.add_argument("--sink", action="store_true", help="also drain into a stand-in collector (agent side alone)")
    ap.add_argument("--timeout", type=float, default=3600, help="give up the drain after this many seconds")
    ap.add_argument("--agents", type=int, default=1, help="N agents with --events each, drained at once")
    ap.add_argument("--collector-arg", action="append", default=[], help="an option for the collector")
    ap.add_argument("--agent-arg", action="append", default=[],
                    help="an option for the agent(s) (repeatable: --agent-arg=--upload-window --agent-arg=4)")
    ap.add_argument("--breakdown", action="store_true",
                    help="with --agents: sample the collector's smaps and /metrics, print where its peak RSS is")
    ap.add_argument("--collector-env", action="append", default=[],
                    help="NAME=VALUE in the collector's environment (repeatable), e.g. MALLOC_ARENA_MAX=2")
    ap.add_argument("--dir", default=None, help="where the journal and database go (default: a temp dir)")
    args = ap.parse_args()
    if args.bin_dir:
        os.environ["FERRY_BIN_DIR"] = os.path.abspath(args.bin_dir)
    if args.dir:
        tempfile.tempdir = args.dir

    print("bench_drain: events=%d durability=%s compression=%s ids=%s cpus=%d"
          % (args.events, args.durability, args.compression or "default", args.ids, os.cpu_count() or 0),
          flush=True)
    h = fh.Harness("bench-drain")
    failed = True
    try:
        ok = True
        for random_ids in {"seq": [False], "uuid": [True], "both": [False, True]}[args.ids]:
            ok = (run_many if args.agents > 1 else run_kind)(h, args, random_ids) and ok
        failed = not ok
    except fh.TestFailure as e:
        print("bench_drain failed: %s" % e, flush=True)
    finally:
        h.cleanup(failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
