#!/usr/bin/env python3
"""bench_pg_cpu: what ingest into PostgreSQL costs per event on the collector
and on the database, and whether a second replica adds throughput once the
replicas, not the database, are the bound.

Posts with ferry-loadgen (batches built and zstd-compressed before the clock
starts; seq ids, timestamps random over 30 days) into fresh databases on the
server of --pg-url, one loadgen per replica (distinct agents, --conns split),
and reads CPU from /proc: the collectors' utime+stime (all threads) and the
database's — the postmaster's own and reaped children's time plus every live
child (the backends). Configurations, in one run:
  free        1 and 2 replicas, nothing pinned (the machine decides)
  pinned      1 replica on CPU 0, the postmaster and its backends on CPU 1
              (taskset), the loadgen on CPU 1
  models      1 replica, events with and without camera_id/model_version/
              confidence (ferry-loadgen --no-models), alternately, twice:
              what the model fields cost at ingest; a second line adds the
              upkeep until no hour is marked dirty (the rollups rebuilt)
  capped      1 and 2 replicas, each replica in its own cgroup (v1 cpu
              controller) capped at --cap cores, the database uncapped:
              the replicas are the bound by construction, so two against one
              says whether the database or the replicas bound it
Reference in the same run: the same rows (copied from the 1-replica
database's events) inserted by pgbench clients as raw INSERT ... SELECT of
1,000 rows per transaction into a table with the same columns, primary key
and covering index as events (ON CONFLICT DO NOTHING), synchronous commit;
the database's CPU per row.
Every figure line carries the load average. Needs root for the cgroups.

usage: bench_pg_cpu.py --pg-url URL --pg-pid POSTMASTER_PID [--bin-dir DIR]
                       [--events 200000] [--conns 4] [--cap 0.25]
                       [--configs free,pinned,capped,ref,models]"""
import argparse
import os
import shutil
import subprocess
import sys
import time

from bench_common import ferry_harness as fh, proc_cpu_s, proc_mem_kib

TCK = os.sysconf("SC_CLK_TCK")
CG = "/sys/fs/cgroup/cpu"


def loadavg():
    return "load %s" % " ".join(open("/proc/loadavg").read().split()[:3])


def stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def pg_cpu_s(postmaster):
    """CPU seconds of the postmaster, its reaped children and its live children."""
    f = stat_fields(postmaster)
    total = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            c = stat_fields(int(d))
        except OSError:
            continue
        if int(c[1]) == postmaster:
            total += int(c[11]) + int(c[12])
    return total / TCK


def pg_children(postmaster):
    out = [postmaster]
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if int(stat_fields(int(d))[1]) == postmaster:
                    out.append(int(d))
            except OSError:
                pass
    return out


def pin_pg(postmaster, cpus):
    for p in pg_children(postmaster):
        subprocess.run(["taskset", "-a", "-p", "-c", cpus, str(p)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


class Cgroup:
    def __init__(self, name, cores):
        self.path = os.path.join(CG, "ferry-bench-%d-%s" % (os.getpid(), name))
        os.mkdir(self.path)
        with open(os.path.join(self.path, "cpu.cfs_period_us"), "w") as f:
            f.write("100000")
        with open(os.path.join(self.path, "cpu.cfs_quota_us"), "w") as f:
            f.write(str(int(cores * 100000)))

    def add(self, pid):
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def throttled(self):
        st = dict(line.split() for line in open(os.path.join(self.path, "cpu.stat")))
        return int(st.get("nr_throttled", 0)), int(st.get("nr_periods", 0))

    def remove(self):
        for pid in open(os.path.join(self.path, "cgroup.procs")).read().split():
            with open(os.path.join(CG, "cgroup.procs"), "w") as f:
                f.write(pid)
        os.rmdir(self.path)


def start_collector(port, db, prefix=()):
    return subprocess.Popen(list(prefix) + [fh.binary("ferry-collector"), "--listen", "127.0.0.1:%d" % port,
                                            "--db", db, "--auth-token", fh.AGENT_TOKEN, "--read-token",
                                            fh.READ_TOKEN, "--log-level", "error", "--agent-rate", "0"])


def run(label, a, db, replicas, coll_prefix=lambda i: (), lg_prefix=(), cgroups=None, lg_extra=(), drain=False):
    ports = [fh.free_port() for _ in range(replicas)]
    colls = [start_collector(p, db, coll_prefix(i)) for i, p in enumerate(ports)]
    lgs = []
    try:
        if cgroups:
            for c, g in zip(colls, cgroups):
                g.add(c.pid)
        for p in ports:
            fh.wait_until(lambda: fh.http_request("http://127.0.0.1:%d/readyz" % p).status == 200, 30,
                          "collector up")
        lg = os.path.join(fh.bin_dir(), "tests", "ferry-loadgen")
        per = a.events // replicas
        for i, p in enumerate(ports):
            lgs.append(subprocess.Popen(list(lg_prefix) + [
                lg, "--url", "http://127.0.0.1:%d" % p, "--token", fh.AGENT_TOKEN, "--events", str(per),
                "--conns", str(max(1, a.conns // replicas)), "--ids", "seq", "--ts", "random",
                "--agent-prefix", "r%d" % i, "--seed", str(7 + i)] + list(lg_extra), stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True))
        # CPU from when the batches are built: wait for the first "built" line of each loadgen
        for g in lgs:
            while True:
                line = g.stderr.readline()
                if not line or "built" in line:
                    break
        c0 = [proc_cpu_s(c.pid) for c in colls]
        p0, t0 = pg_cpu_s(a.pg_pid), time.monotonic()
        th0 = [g.throttled() for g in cgroups] if cgroups else []
        outs = ["".join(g.communicate()) for g in lgs]
        el = time.monotonic() - t0
        c1 = [proc_cpu_s(c.pid) for c in colls]
        p1 = pg_cpu_s(a.pg_pid)
        for g, o in zip(lgs, outs):
            if g.returncode != 0:
                raise SystemExit("loadgen failed: %s" % o)
        n = per * replicas
        ccpu = sum(c1) - sum(c0)
        print("%-36s %7.0f ev/s | collector %5.1f us/ev (%s cores) | postgres %5.1f us/ev (%.2f cores) "
              "| %.1f s  (%s)" % (label, n / el, ccpu / n * 1e6,
                                  "+".join("%.2f" % ((y - x) / el) for x, y in zip(c0, c1)),
                                  (p1 - p0) / n * 1e6, (p1 - p0) / el, el, loadavg()), flush=True)
        for c in colls:
            rss, hwm = proc_mem_kib(c.pid)
            print("  collector pid %d RSS %d KiB (peak %d KiB)" % (c.pid, rss, hwm), flush=True)
        if drain:
            fh.wait_until(lambda: fh.pg_sql(db, "SELECT count(*) FROM dirty_hours").strip() == "0", 1800,
                          "upkeep done")
            el2 = time.monotonic() - t0
            c2 = [proc_cpu_s(c.pid) for c in colls]
            p2 = pg_cpu_s(a.pg_pid)
            print("%-36s         | collector %5.1f us/ev | postgres %5.1f us/ev | %.1f s  (%s)"
                  % ("  ... and the upkeep until none marked", (sum(c2) - sum(c0)) / n * 1e6,
                     (p2 - p0) / n * 1e6, el2, loadavg()), flush=True)
        if cgroups:
            for g, (t, p) in zip(cgroups, th0):
                t1, p1_ = g.throttled()
                print("  cgroup throttled in %d of %d periods" % (t1 - t, p1_ - p), flush=True)
        return n / el
    finally:
        for g in lgs:
            if g.poll() is None:
                g.kill()
                g.wait()
        for c in colls:
            c.terminate()
            c.wait(60)


def reference(a, url, tmp):
    """pgbench: raw INSERT ... SELECT of the same rows, 1,000 per transaction."""
    fh.pg_sql(url, "CREATE TABLE ref_src AS SELECT (row_number() OVER (ORDER BY agent_id, seq) - 1) / 1000 AS b,"
                   " * FROM events;"
                   "CREATE INDEX ON ref_src(b);"
                   "CREATE TABLE ref_events (LIKE events INCLUDING DEFAULTS);"
                   "ALTER TABLE ref_events ADD PRIMARY KEY(agent_id, event_id);"
                   "CREATE INDEX ON ref_events(ts_ms) INCLUDE (event_type, worker_id, workstation_id, count,"
                   " event_id, agent_id);"
                   "CREATE SEQUENCE ref_b MINVALUE 0 START 0;", timeout=600)
    fh.pg_sql(url, "VACUUM ANALYZE ref_src", timeout=600)
    n = int(fh.pg_sql(url, "SELECT count(*) FROM ref_src").strip())
    nb = int(fh.pg_sql(url, "SELECT max(b) + 1 FROM ref_src").strip())
    script = os.path.join(tmp, "ref.sql")
    with open(script, "w") as f:
        # the CTE draws the batch number once per transaction (a volatile call in WHERE runs per row)
        f.write("WITH n AS MATERIALIZED (SELECT nextval('ref_b') AS b)"
                " INSERT INTO ref_events SELECT agent_id, event_id, epoch, seq, ts_ms, event_type, worker_id,"
                " workstation_id, count, body, content_hash, received_at FROM ref_src, n"
                " WHERE ref_src.b = n.b ON CONFLICT (agent_id, event_id) DO NOTHING;\n")
    clients = a.conns
    p0, t0 = pg_cpu_s(a.pg_pid), time.monotonic()
    r = subprocess.run(["pgbench", "-n", "-c", str(clients), "-t", str(nb // clients), "-f", script, url],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    el = time.monotonic() - t0
    p1 = pg_cpu_s(a.pg_pid)
    if r.returncode != 0:
        raise SystemExit("pgbench: %s" % r.stdout)
    rows = int(fh.pg_sql(url, "SELECT count(*) FROM ref_events").strip())
    # what reading ref_src costs is part of this figure: an upper bound on inserting alone
    print("%-36s %7.0f rows/s | postgres %5.1f us/row (%.2f cores) | %d of %d rows, %d clients, %.1f s  (%s)"
          % ("reference: pgbench raw INSERT", rows / el, (p1 - p0) / rows * 1e6, (p1 - p0) / el, rows, n,
             clients, el, loadavg()), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-url", default=os.environ.get("FERRY_TEST_PG_URL"))
    ap.add_argument("--pg-pid", type=int, required=True, help="the postmaster's pid (first line of postmaster.pid)")
    ap.add_argument("--bin-dir")
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--conns", type=int, default=4)
    ap.add_argument("--cap", type=float, default=0.25, help="cores per replica in the capped runs")
    ap.add_argument("--configs", default="free,pinned,capped,ref")
    a = ap.parse_args()
    if not a.pg_url:
        raise SystemExit("bench_pg_cpu: give --pg-url or set FERRY_TEST_PG_URL")
    if a.bin_dir:
        os.environ["FERRY_BIN_DIR"] = a.bin_dir
    cfg = a.configs.split(",")
    made = []
    import tempfile
    tmp = tempfile.mkdtemp(prefix="bench-pg-cpu-")

    def fresh(tag):
        name = "ferry_pgcpu_%s_%d" % (tag, os.getpid())
        fh.pg_sql(a.pg_url, "CREATE DATABASE %s" % name)
        made.append(name)
        return fh.pg_url_with_db(a.pg_url, name)

    print("bench_pg_cpu: %d events per run, %d connections, %d cpus" % (a.events, a.conns, os.cpu_count()),
          flush=True)
    one_db = None
    try:
        if "free" in cfg:
            one_db = fresh("free1")
            one = run("free, 1 replica", a, one_db, 1)
            two = run("free, 2 replicas", a, fresh("free2"), 2)
            print("free: two replicas / one %.2fx" % (two / one), flush=True)
        if "models" in cfg:
            for k in range(2):
                run("models: with model fields", a, fresh("mod%d" % k), 1, drain=True)
                run("models: without model fields", a, fresh("nomod%d" % k), 1, lg_extra=("--no-models",),
                    drain=True)
        if "pinned" in cfg:
            pin_pg(a.pg_pid, "1")
            try:
                run("pinned: replica cpu0, postgres cpu1", a, fresh("pin1"), 1,
                    coll_prefix=lambda i: ("taskset", "-c", "0"), lg_prefix=("taskset", "-c", "1"))
            finally:
                pin_pg(a.pg_pid, "0-%d" % (os.cpu_count() - 1))
        if "capped" in cfg:
            gs = [Cgroup("r%d" % i, a.cap) for i in range(2)]
            try:
                one = run("capped %.2f core, 1 replica" % a.cap, a, fresh("cap1"), 1, cgroups=gs[:1])
                two = run("capped %.2f core each, 2 replicas" % a.cap, a, fresh("cap2"), 2, cgroups=gs)
                print("capped: two replicas / one %.2fx" % (two / one), flush=True)
            finally:
                for g in gs:
                    g.remove()
        if "ref" in cfg:
            if not one_db:
                one_db = fresh("ref")
                run("free, 1 replica (rows for the reference)", a, one_db, 1)
            reference(a, one_db, tmp)
    finally:
        for n in made:
            fh.pg_sql(a.pg_url, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % n)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
