#!/usr/bin/env python3
"""bench_mqtt: events/s from MQTT into the agent's journal with QoS 1.

A mosquitto broker on loopback (started here), ferry-mqttpub publishing N
messages with QoS 1 (100 in flight), and the agent subscribed with its
persistent session. The clock runs from the first publish until the agent
reports all N events committed (/v1/status sources.mqtt.events). Runs:

  reference  mosquitto_sub -q 1 (a trivial QoS 1 subscriber, no disk): what
             the broker and libmosquitto deliver on this machine
  sqlite     raw SQLite (Python sqlite3, WAL, synchronous FULL / NORMAL) on
             the same rows: one row per transaction (what committing each
             message on its own would cost) and the agent's mean burst per
             transaction (sources.mqtt messages / bursts of the fsync run)
  ferry      ferry-event payloads, collector down (journal only)
  ferry+up   the same with the collector up (uploads compete for the journal)
  ds-full    DeepStream full-schema payloads through deepstream-full.jsonc,
             collector down
  ferry/os   ferry payloads with --durability os, collector down

Each run is repeated --repeat times (default 3) and the median printed, with
the references of the same run beside it (the machine is noisy). Exits
1 if an event went missing or was stored twice at the end of a run.
Usage: python3 bench_mqtt.py --bin-dir ../../build [--events N] [--durability fsync|os]"""
import argparse
import subprocess
import time

import bench_common  # noqa: F401  (puts the harness on the path)
from ferry_harness import (Broker, Harness, agent_status, binary, free_port, mqtt_status, now_ms)

HERE = bench_common.HERE
MAPPING = bench_common.os.path.join(HERE, "..", "..", "config", "mappings", "deepstream-full.jsonc")


def publisher(broker, topic, n, kind, prefix, base_ms):
    return subprocess.Popen([binary("ferry-mqttpub"), "--port", str(broker.port), "--topic", topic, "--count",
                             str(n), "--kind", kind, "--prefix", prefix, "--base-ms", str(base_ms),
                             "--inflight", "100"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def reference(h, broker, n):
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-C", str(n),
                            "-t", "bench/ref", "-i", "bench-ref"], stdout=subprocess.DEVNULL)
    time.sleep(0.5)  # let it subscribe (not part of the figure)
    t0 = time.monotonic()
    pub = publisher(broker, "bench/ref", n, "ferry", "ref", now_ms() - 3600000)
    sub.wait(600)
    dt = time.monotonic() - t0
    pub.wait(60)
    return n / dt


def sqlite_rate(h, n, sync, per_tx):
    import sqlite3
    path = h.path("raw-%s.db" % sync)
    for suffix in ("", "-wal", "-shm"):
        if bench_common.os.path.exists(path + suffix):
            bench_common.os.unlink(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=%s" % sync)
    db.execute("CREATE TABLE events(seq INTEGER PRIMARY KEY, event_id TEXT UNIQUE, ingested_at INTEGER, body BLOB)")
    body = (b'{"event_id":"raw-%d","timestamp":"2026-03-01T08:00:00.000Z","event_type":"working",'
            b'"worker_id":"w1","workstation_id":"s1"}')
    t0 = time.monotonic()
    for i in range(0, n, per_tx):
        db.execute("BEGIN")
        for k in range(i, min(n, i + per_tx)):
            db.execute("INSERT INTO events(event_id, ingested_at, body) VALUES(?, ?, ?)",
                       ("raw-%d" % k, 0, body % k))
        db.execute("COMMIT")
    dt = time.monotonic() - t0
    db.close()
    return n / dt


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def agent_run(h, broker, n, kind, topic, collector_up, durability, name):
    cport = free_port()
    coll = h.start_collector(port=cport) if collector_up else None
    extra = ["--mqtt-url", broker.url, "--mqtt-topic", topic, "--durability", durability,
             "--max-journal-bytes", "4GiB", "--log-level", "warning"]
    if kind == "ds-full":
        extra += ["--mapping", MAPPING]
    agent = h.start_agent(cport, agent_id="bench-" + name, extra=extra)
    deadline = time.monotonic() + 30
    while mqtt_status(agent).get("state") != "connected" and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # SUBACK (not part of the figure)
    base = now_ms() - 2 * 3600000
    t0 = time.monotonic()
    pub = publisher(broker, topic.replace("+", "c1"), n, kind, name, base)
    while mqtt_status(agent).get("events", 0) < n:
        time.sleep(0.02)
        if time.monotonic() - t0 > 900:
            raise SystemExit("%s: timed out" % name)
    dt = time.monotonic() - t0
    pub.wait(60)
    st = mqtt_status(agent)
    ok = st.get("events") == n and st.get("mapping_errors") == 0
    burst = st.get("messages", 0) / max(1, st.get("bursts", 1))
    backlog = agent_status(agent).get("backlog")
    agent.stop()
    if coll:
        coll.stop()
    return n / dt, ok, backlog, burst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--durability", default="fsync")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    bench_common.os.environ["FERRY_BIN_DIR"] = bench_common.os.path.abspath(args.bin_dir)
    h = Harness("bench-mqtt")
    bad = False
    try:
        broker = Broker(h).start()
        n = args.events
        refs = [reference(h, broker, n) for _ in range(args.repeat)]
        runs = [("ferry", "ferry", "cams/+/events", False, args.durability),
                ("ferry-up", "ferry", "cams/+/events", True, args.durability),
                ("ds-full", "ds-full", "deepstream/+/events", False, args.durability),
                ("ferry-os", "ferry", "cams/+/events", False, "os")]
        results = []
        bursts = []
        for name, kind, topic, up, dur in runs:
            rates = []
            for r in range(args.repeat):
                rate, ok, backlog, burst = agent_run(h, broker, n, kind, topic, up, dur, "%s%d" % (name, r))
                bad |= not ok
                rates.append(rate)
                if name == "ferry":
                    bursts.append(burst)
            results.append((name, kind, up, dur, median(rates), min(rates), max(rates)))
        refs.append(reference(h, broker, n))  # once more at the end: the machine drifts
        ref = median(refs)
        per_tx = max(1, int(round(median(bursts))))
        small = min(n, 2000)  # one row a transaction is slow: fewer rows
        raw_full_1 = median([sqlite_rate(h, small, "FULL", 1) for _ in range(args.repeat)])
        raw_full = median([sqlite_rate(h, n, "FULL", per_tx) for _ in range(args.repeat)])
        raw_normal = median([sqlite_rate(h, n, "NORMAL", per_tx) for _ in range(args.repeat)])
        print("events per run %d, median of %d runs (min-max); the agent's mean burst: %d messages"
              % (n, args.repeat, per_tx))
        print("reference  trivial QoS 1 subscriber (mosquitto_sub)             %7.0f msg/s  (%.0f-%.0f)"
              % (ref, min(refs), max(refs)))
        print("reference  raw SQLite, synchronous FULL, 1 row a transaction     %7.0f rows/s" % raw_full_1)
        print("reference  raw SQLite, synchronous FULL, %3d rows a transaction   %7.0f rows/s" % (per_tx, raw_full))
        print("reference  raw SQLite, synchronous NORMAL, %3d rows a transaction %7.0f rows/s" % (per_tx, raw_normal))
        for name, kind, up, dur, med, lo, hi in results:
            raw = raw_full if dur == "fsync" else raw_normal
            print("%-9s  %-7s collector %-4s durability %-5s %7.0f events/s  (%.0f-%.0f; %3.0f %% of the "
                  "subscriber, %3.0f %% of raw SQLite)" % (name, kind, "up" if up else "down", dur, med, lo, hi,
                                                          100.0 * med / ref, 100.0 * med / raw), flush=True)
        if bad:
            print("LOST OR DUPLICATED events in a run")
    finally:
        h.cleanup(bad)
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
