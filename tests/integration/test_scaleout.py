#!/usr/bin/env python3
"""Scale-out: two collector replicas on one PostgreSQL database behind
HAProxy (round robin, health-checked on /readyz), four agents uploading
through it. One replica is killed with SIGKILL while the agents upload; they
retry (HAProxy sends them to the other one). Checks: every event the agents
acknowledged is stored exactly once (counted in the database itself), the
delivery figures have no gap, and every metrics endpoint — through the
balancer, and from the killed replica once restarted — equals the reference
computed here (test_metrics.reference). Skipped unless FERRY_TEST_PG_URL is
set (scripts/ci-postgres.sh sets it and installs haproxy)."""
import random
import shutil
import sys

from ferry_harness import *
import test_metrics as tm

SEED = int(os.environ.get("FERRY_TEST_SEED", "20260309"))
AGENTS = ["so-agent-%d" % i for i in range(1, 5)]
TOTAL = 4000
CHUNK = 50

HAPROXY_CFG = """global
  maxconn 1024
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
frontend ingest
  bind 127.0.0.1:%(lb)d
  default_backend collectors
backend collectors
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 300ms fall 2 rise 2
  server c1 127.0.0.1:%(c1)d check
  server c2 127.0.0.1:%(c2)d check
"""


def agent_event(e):
    d = {"event_id": e["id"], "timestamp": fmt_ts(e["ts"]), "event_type": e["type"],
         "workstation_id": e["station"]}
    if e["worker"] is not None:
        d["worker_id"] = e["worker"]
    if e["type"] == "product_count":
        d["count"] = e["count"]
    return d


def main(h):
    rng = random.Random(SEED)
    log("seed %d" % SEED)
    db = h.db_url(h.mkdir("shared"))
    extra = ["--max-state-s", str(tm.MAX_STATE_S)]
    c1 = h.start_collector(db=db, extra=extra, name="collector-1")
    c2 = h.start_collector(db=db, extra=extra, name="collector-2")
    lb_port = free_port()
    cfg = h.path("haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(HAPROXY_CFG % {"lb": lb_port, "c1": c1.port, "c2": c2.port})
    lb = Proc(h, "haproxy", [shutil.which("haproxy") or "/usr/sbin/haproxy", "-f", cfg, "-db"], lb_port)
    lb.wait_ready(path="/readyz")

    agents = {a: h.start_agent(lb_port, agent_id=a, name=a) for a in AGENTS}
    base = now_ms() - 10 * tm.HOUR
    events = tm.gen_events(rng, base, TOTAL)
    per_agent = {a: [] for a in AGENTS}
    for i, e in enumerate(events):
        e["agent"] = AGENTS[i % len(AGENTS)]
        per_agent[e["agent"]].append(e)

    def post_range(lo, hi):
        for a in AGENTS:
            evs = per_agent[a][lo:hi]
            for k in range(0, len(evs), CHUNK):
                post_events_ok(agents[a], [agent_event(e) for e in evs[k:k + CHUNK]])

    n_agent = TOTAL // len(AGENTS)
    # the events reach the agents over a few seconds (so uploads are going on
    # all along); collector-1 dies once it has stored some of them
    posting = {"done": False, "err": None}

    def poster():
        try:
            for lo in range(0, n_agent, CHUNK):
                post_range(lo, lo + CHUNK)
                time.sleep(0.1)
        except Exception as e:  # reported by the main thread
            posting["err"] = e
        posting["done"] = True
    import threading
    t = threading.Thread(target=poster)
    t.start()

    def c1_accepted():
        r = http_request(c1.url("/metrics"), headers=read_auth(), timeout=10)
        # one sample per agent: the balancer may send one agent's batches
        # all to the other replica, so the sum is what says c1 is storing
        n = sum(int(v) for v in re.findall(
            r'(?m)^ferry_collector_events_total\{[^}]*result="accepted"[^}]*\} (\d+)', r.body.decode()))
        return n >= 200
    wait_until(c1_accepted, 60, "collector-1 storing events")
    backlog = sum(agent_status(agents[a]).get("backlog", 0) for a in AGENTS)
    log("killing collector-1 (pid %d) with SIGKILL mid-upload; agents' backlog %d" % (c1.pid, backlog))
    check(not posting["done"], "the agents got every event before collector-1 was killed: not mid-run")
    c1.kill9()
    t.join(120)
    check(posting["err"] is None, "posting to the agents: %s" % posting["err"])
    for a in AGENTS:
        wait_backlog(agents[a], 0, timeout=180, desc="%s backlog drained" % a)

    # stored exactly once: counted by the database
    rows = pg_sql(db, "SELECT agent_id, count(*), count(DISTINCT event_id) FROM events GROUP BY 1 ORDER BY 1")
    got = {}
    for line in rows.split():
        a, n, d = line.split("|")
        got[a] = (int(n), int(d))
    check_eq(got, {a: (n_agent, n_agent) for a in AGENTS}, "events per agent (rows, distinct ids)")
    lbp = type("LB", (), {"url": lambda self, p: "http://127.0.0.1:%d%s" % (lb_port, p)})()
    for a in AGENTS:
        check_delivered(lbp, a, n_agent)

    windows = [(base - tm.HOUR, base + 8 * tm.HOUR), (base + 1234, base + 3 * tm.HOUR + 777),
               (base + tm.HOUR, base + 3 * tm.HOUR)]
    for frm, to in windows:
        tm.compare_all(lbp, events, frm, to, "via the balancer [%d, %d)" % (frm, to))
    # the killed replica comes back on the same database and agrees
    c1b = h.start_collector(port=c1.port, db=db, extra=extra, name="collector-1b")
    for frm, to in windows:
        tm.compare_all(c1b, events, frm, to, "restarted replica [%d, %d)" % (frm, to))
    log("c1 killed mid-run; %d events from %d agents stored once; metrics equal the reference" %
        (TOTAL, len(AGENTS)))


if __name__ == "__main__":
    if not PG_URL:
        print("test_scaleout: SKIP: FERRY_TEST_PG_URL is not set (scripts/ci-postgres.sh runs it "
              "against a throwaway PostgreSQL)")
        sys.exit(0)
    if not (shutil.which("haproxy") or os.access("/usr/sbin/haproxy", os.X_OK)):
        print("test_scaleout: FAIL: haproxy is not installed (apt-get install haproxy)")
        sys.exit(1)
    run(main)
