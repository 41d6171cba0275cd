#!/usr/bin/env python3
"""GET /v1/workers and /v1/workstations (SPEC §6.6) on a real collector:
every id seen in an event or registered, sorted by id, with the registry's
name (line and site for workstations), the exact time of its first and last
event whatever order the events arrived in and whether or not the hour
rollups are rebuilt yet, and registered true/false; the metrics answers carry
the names where the registry knows them."""
import random

from ferry_harness import *

ADMIN = "it-admin-token-ids-71c2"
H = 3600 * 1000
EPOCH = "00000000000000e7"


def get(coll, path):
    r = http_request(coll.url(path), headers={"Authorization": "Bearer " + READ_TOKEN})
    check_eq(r.status, 200, "GET %s: %r" % (path, r))
    return r.json


def ingest(coll, agent, evs, n0):
    for n, e in enumerate(evs, n0):
        e["seq"] = n
        e["ingested_at"] = e["timestamp"]
    r = http_request(coll.url("/v1/ingest"), "POST",
                     json_body={"agent_id": agent, "epoch": EPOCH, "events": evs, "dropped": [],
                                "sent_at": fmt_ts(now_ms())},
                     headers={"Authorization": "Bearer " + AGENT_TOKEN,
                              "Idempotency-Key": "%s:%s:%d-%d" % (agent, EPOCH, n0, n0 + len(evs) - 1)})
    check_eq(r.status, 200, "ingest: %r" % r)


def expect_spans(evs):
    w, s = {}, {}
    for e in evs:
        ts = e["_ms"]
        for d, k in ((w, e.get("worker_id")), (s, e["workstation_id"])):
            if k is None:
                continue
            lo, hi = d.get(k, (ts, ts))
            d[k] = (min(lo, ts), max(hi, ts))
    return w, s


def check_lists(coll, evs, reg_workers, reg_stations, what):
    w_exp, s_exp = expect_spans(evs)
    got = get(coll, "/v1/workers")["workers"]
    ids = sorted(set(w_exp) | set(reg_workers), key=lambda x: x.encode())
    check_eq([x["worker_id"] for x in got], ids, "%s: worker ids" % what)
    for x in got:
        span = w_exp.get(x["worker_id"])
        check_eq((x["first_event"], x["last_event"]),
                 (fmt_ts(span[0]), fmt_ts(span[1])) if span else (None, None), "%s: %s span" % (what, x["worker_id"]))
        check_eq(x["registered"], x["worker_id"] in reg_workers, "%s: registered" % what)
        check_eq(x["name"], reg_workers.get(x["worker_id"]), "%s: name" % what)
    got = get(coll, "/v1/workstations")["workstations"]
    ids = sorted(set(s_exp) | set(reg_stations), key=lambda x: x.encode())
    check_eq([x["workstation_id"] for x in got], ids, "%s: station ids" % what)
    for x in got:
        span = s_exp.get(x["workstation_id"])
        check_eq((x["first_event"], x["last_event"]),
                 (fmt_ts(span[0]), fmt_ts(span[1])) if span else (None, None),
                 "%s: %s span" % (what, x["workstation_id"]))
        reg = reg_stations.get(x["workstation_id"])
        check_eq((x["name"], x["line"], x["site"]), reg or (None, None, None), "%s: station names" % what)


def main(h):
    coll = h.start_collector(extra=["--admin-token", ADMIN])
    doc = {"sites": [{"id": "S1", "name": "Plant One"}],
           "lines": [{"id": "L1", "name": "Line 1", "site": "S1"}],
           "workstations": [{"id": "ws-1", "name": "Press <1>", "line": "L1"},
                            {"id": "ws-idle", "name": "Never used", "site": "S1"}],
           "workers": [{"id": "w-1", "name": "Ana & <b>Bo</b>"}, {"id": "w-zz", "name": "Not yet seen"}]}
    r = http_request(coll.url("/v1/registry"), "PUT", json_body=doc, headers={"Authorization": "Bearer " + ADMIN})
    check_eq(r.status, 200, "PUT registry: %r" % r)
    reg_workers = {"w-1": "Ana & <b>Bo</b>", "w-zz": "Not yet seen"}
    reg_stations = {"ws-1": ("Press <1>", "L1", "S1"), "ws-idle": ("Never used", None, "S1")}

    rnd = random.Random(18)
    t0 = (now_ms() - 30 * H) // H * H
    evs = []
    for i in range(300):
        ts = t0 + rnd.randrange(28 * H)
        kind = rnd.choice(["working", "idle", "absent", "product_count"])
        e = {"event_id": "pi-%d" % i, "timestamp": fmt_ts(ts), "event_type": kind,
             "workstation_id": "ws-%d" % rnd.randrange(1, 4), "_ms": ts}
        if kind != "product_count" or rnd.random() < 0.8:
            e["worker_id"] = "w-%d" % rnd.randrange(1, 5)
        if kind == "product_count":
            e["count"] = 1 + rnd.randrange(3)
        evs.append(e)
    rnd.shuffle(evs)
    for k in range(0, len(evs), 50):
        part = [dict((a, b) for a, b in e.items() if a != "_ms") for e in evs[k:k + 50]]
        ingest(coll, "ids-agent", part, k + 1)
    check_lists(coll, evs, reg_workers, reg_stations, "right after ingest")
    # once the writer had a quiet moment the rollups are rebuilt: the same answer
    time.sleep(2.5)
    check_lists(coll, evs, reg_workers, reg_stations, "after the rebuild")

    # names in the metrics answers, only where the registry knows them
    q = "?from=%s&to=%s" % (urllib.parse.quote(fmt_ts(t0)), urllib.parse.quote(fmt_ts(t0 + 29 * H)))
    ws = {x["worker_id"]: x for x in get(coll, "/v1/metrics/workers" + q)["workers"]}
    check_eq(ws["w-1"].get("name"), "Ana & <b>Bo</b>", "worker name in metrics")
    check("name" not in ws["w-2"], "no name for an unregistered worker: %r" % ws["w-2"])
    st = {x["workstation_id"]: x for x in get(coll, "/v1/metrics/workstations" + q)["workstations"]}
    check_eq((st["ws-1"].get("name"), st["ws-1"].get("line"), st["ws-1"].get("site")), ("Press <1>", "L1", "S1"),
             "station names in metrics")
    check("name" not in st["ws-2"] and "site" not in st["ws-2"], "unregistered station: %r" % st["ws-2"])
    one = get(coll, "/v1/metrics/workers/w-1" + q)
    check_eq(one.get("name"), "Ana & <b>Bo</b>", "name on the one-worker answer")
    r = http_request(coll.url("/v1/workers"), headers={"Authorization": "Bearer " + AGENT_TOKEN})
    check_error_body(r, 403, "agent token on /v1/workers")
    log("ids: %d events, spans exact before and after the rebuild, names in metrics" % len(evs))


if __name__ == "__main__":
    run(main)
