#!/usr/bin/env python3
"""site= and line= on every /v1/metrics/* endpoint, and GET /v1/metrics/sites
(SPEC §6.6), against a reference computed here. Three agents: one declares
its site in the batch, one is mapped to a site by the registry, one has no
site; each workstation is reported by one of them, and workers move between
workstations, so their timelines cross sites (a state counts where the event that started it belongs). Events arrive
in shuffled batches with duplicates; queries run right after ingest (dirty
hours computed from events) and after the rollups were rebuilt, for random
windows; the answers must equal the reference exactly."""
import random

from ferry_harness import *
from test_metrics import check_obj, reference

SEED = int(os.environ.get("FERRY_TEST_SEED", "61818"))
ADMIN = "it-admin-token-filters-0b3e"
MAX_STATE_S = 900
HOUR = 3600 * 1000
AGENTS = [("f-agent-1", "00000000000000b1", "S1"), ("f-agent-2", "00000000000000b2", None),
          ("f-agent-3", "00000000000000b3", None)]
SITE_OF = {"f-agent-1": "S1", "f-agent-2": "S2", "f-agent-3": ""}
WORKERS = ["W-1", "W-2", "W-3", "W-4", "W-5"]
STATIONS = ["WS-A", "WS-B", "WS-C", "WS-D"]
LINE_OF = {"WS-A": "L1", "WS-B": "L1", "WS-C": "L2"}  # WS-D: on no line
# each workstation is reported by one agent (a station sits at one site);
# workers move between them, so their timelines cross sites
AGENT_AT = {"WS-A": 0, "WS-B": 0, "WS-C": 1, "WS-D": 2}
REGISTRY = {"sites": [{"id": "S1", "name": "North"}, {"id": "S2", "name": "South"}, {"id": "S3", "name": "Empty"}],
            "lines": [{"id": "L1", "site": "S1"}, {"id": "L2", "site": "S2"}],
            "workstations": [{"id": s, "line": l} for s, l in LINE_OF.items()],
            "agents": [{"agent_id": "f-agent-2", "site": "S2"}]}


def parse_ts(s):
    """RFC 3339 UTC with milliseconds (what the collector answers) to ms."""
    import calendar
    t = time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")
    return calendar.timegm(t) * 1000 + int(s[20:23])


def gen_events(rng, base, n):
    evs = []
    for i in range(n):
        station = rng.choice(STATIONS)
        agent, epoch, _ = AGENTS[AGENT_AT[station]]
        ts = base + rng.randrange(0, 6 * HOUR)
        if evs and rng.random() < 0.08:
            ts = rng.choice(evs)["ts"]
        kind = rng.choice(["working", "working", "idle", "absent", "product_count", "product_count"])
        e = {"agent": agent, "epoch": epoch, "id": "f%05d-%d" % (rng.randrange(10 ** 5), i), "ts": ts,
             "type": kind, "worker": rng.choice(WORKERS), "station": station, "count": 0}
        if kind == "product_count":
            e["count"] = rng.randrange(1, 5)
            if rng.random() < 0.15:
                e["worker"] = None
        evs.append(e)
    return evs


def post(coll, seqs, agent, epoch, site, evs):
    body = []
    for e in evs:
        seqs[agent] += 1
        d = {"event_id": e["id"], "timestamp": fmt_ts(e["ts"]), "event_type": e["type"],
             "workstation_id": e["station"], "seq": seqs[agent], "ingested_at": fmt_ts(e["ts"])}
        if e["worker"] is not None:
            d["worker_id"] = e["worker"]
        if e["type"] == "product_count":
            d["count"] = e["count"]
        body.append(d)
    b = {"agent_id": agent, "epoch": epoch, "events": body, "dropped": [], "sent_at": fmt_ts(now_ms())}
    if site:
        b["site"] = site
    s = [x["seq"] for x in body]
    r = http_request(coll.url("/v1/ingest"), "POST", body=dumps(b).encode(),
                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + AGENT_TOKEN,
                              "Idempotency-Key": "%s:%s:%d-%d" % (agent, epoch, min(s), max(s))})
    check_eq(r.status, 200, "ingest: %r" % r)


def get(coll, path, params):
    r = http_request(coll.url(path + "?" + urllib.parse.urlencode(params)),
                     headers={"Authorization": "Bearer " + READ_TOKEN})
    return r


FILTERS = [
    [("site", "S1")], [("site", "S2")], [("site", "S1"), ("site", "S2")], [("site", "")], [("site", "S3")],
    [("line", "L1")], [("line", "L2"), ("site", "S1")], [("line", "L1"), ("line", "L2")],
    [("line", "L2"), ("site", "S2"), ("site", "")],
    # workstation= (the dashboard's drill-down): alone, and on a line it is not on
    [("workstation", "WS-A"), ("workstation", "WS-D")], [("workstation", "WS-C"), ("line", "L1")],
]


def keep_fn(flt):
    sites = [v for k, v in flt if k == "site"]
    lines = [v for k, v in flt if k == "line"]
    stations = [v for k, v in flt if k == "workstation"]

    def keep(e):
        if sites and SITE_OF[e["agent"]] not in sites:
            return False
        if lines and LINE_OF.get(e["station"]) not in lines:
            return False
        if stations and e["station"] not in stations:
            return False
        return True
    return keep


def compare(coll, stored, frm, to, flt, what):
    f, ws, ss = reference(stored, frm, to, MAX_STATE_S * 1000, keep_fn(flt))
    base = [("from", fmt_ts(frm)), ("to", fmt_ts(to))] + flt
    r = get(coll, "/v1/metrics/factory", base)
    check_eq(r.status, 200, "%s factory: %r" % (what, r))
    check_obj(r.json, f, what + " factory")
    r = get(coll, "/v1/metrics/workers", base)
    check_eq([w["worker_id"] for w in r.json["workers"]], sorted(ws), what + " worker ids")
    for w in r.json["workers"]:
        check_obj(w, ws[w["worker_id"]], what + " worker " + w["worker_id"])
    r = get(coll, "/v1/metrics/workstations", base)
    check_eq([s["workstation_id"] for s in r.json["workstations"]], sorted(ss), what + " station ids")
    for s in r.json["workstations"]:
        check_obj(s, ss[s["workstation_id"]], what + " station " + s["workstation_id"])
    for w in WORKERS[:2]:
        r = get(coll, "/v1/metrics/workers/" + w, base)
        check_eq(r.status, 200, what + " one worker")
        check_obj(r.json, ws.get(w) or {"working_s": 0, "units": 0}, what + " worker/" + w)
    for s in STATIONS[:2]:
        r = get(coll, "/v1/metrics/workstations/" + s, base)
        check_obj(r.json, ss.get(s) or {"occupancy_s": 0, "units": 0}, what + " station/" + s)


def main(h):
    coll = h.start_collector(extra=["--admin-token", ADMIN, "--max-state-s", str(MAX_STATE_S)])
    r = http_request(coll.url("/v1/registry"), "PUT", json_body=REGISTRY, headers={"Authorization": "Bearer " + ADMIN})
    check_eq(r.status, 200, "registry: %r" % r)
    rng = random.Random(SEED)
    base = (now_ms() - 30 * HOUR) // HOUR * HOUR + 17 * 60000
    evs = gen_events(rng, base, 900)
    order = list(evs)
    rng.shuffle(order)
    seqs = {a: 0 for a, _, _ in AGENTS}
    for k in range(0, len(order), 60):
        chunk = order[k:k + 60]
        for agent, epoch, site in AGENTS:
            part = [e for e in chunk if e["agent"] == agent]
            if rng.random() < 0.3 and part:  # a duplicate of an earlier event, in a later batch
                part = part + [rng.choice([e for e in evs[:k + 1] if e["agent"] == agent] or part)]
                part = list({e["id"]: e for e in part}.values())
            if part:
                post(coll, seqs, agent, epoch, site, part)
    wins = [(base - HOUR, base + 8 * HOUR), (base + HOUR, base + 3 * HOUR), (base + 1234, base + 1234 + 600000)]
    while len(wins) < 6:
        a = base - HOUR + rng.randrange(0, 8 * HOUR)
        wins.append((a, a + rng.randrange(1, 5 * HOUR)))
    for phase in ("right after ingest", "after the rebuild"):
        if phase != "right after ingest":
            time.sleep(3)
        for frm, to in wins:
            for flt in FILTERS:
                compare(coll, evs, frm, to, flt, "%s %s %r" % (phase, fmt_ts(frm), flt))
        # unfiltered answers are unchanged by the filter machinery
        f_all, _, _ = reference(evs, wins[0][0], wins[0][1], MAX_STATE_S * 1000, lambda e: True)
        r = get(coll, "/v1/metrics/factory", [("from", fmt_ts(wins[0][0])), ("to", fmt_ts(wins[0][1]))])
        check_obj(r.json, f_all, phase + " unfiltered factory")
        # the sites overview: every registered site, then the events of no site
        frm, to = wins[0]
        r = get(coll, "/v1/metrics/sites", [("from", fmt_ts(frm)), ("to", fmt_ts(to))])
        check_eq(r.status, 200, "sites: %r" % r)
        check_eq([(s["site"], s["name"]) for s in r.json["sites"]],
                 [("S1", "North"), ("S2", "South"), ("S3", "Empty"), (None, None)], "sites listed")
        for s in r.json["sites"]:
            f, _, _ = reference(evs, frm, to, MAX_STATE_S * 1000, keep_fn([("site", s["site"] or "")]))
            check_obj(s, f, "%s sites[%s]" % (phase, s["site"]))
        r = get(coll, "/v1/metrics/sites", [("from", fmt_ts(frm)), ("to", fmt_ts(to)), ("line", "L2")])
        for s in r.json["sites"]:
            f, _, _ = reference(evs, frm, to, MAX_STATE_S * 1000,
                                keep_fn([("site", s["site"] or ""), ("line", "L2")]))
            check_obj(s, f, "%s sites[%s] line=L2" % (phase, s["site"]))
    # the series too: each bucket equals the filtered factory figures of that bucket
    frm, to = wins[0]
    flt = [("site", "S2"), ("line", "L2")]
    r = get(coll, "/v1/metrics/series", [("from", fmt_ts(frm)), ("to", fmt_ts(to))] + flt)
    check_eq(r.status, 200, "series: %r" % r)
    for p in r.json["points"]:
        a, b = parse_ts(p["t"]), parse_ts(p["end"])
        f, _, _ = reference(evs, a, b, MAX_STATE_S * 1000, keep_fn(flt))
        check_eq((p["units"], p["events"]), (f["units"], f["events"]), "series bucket %s" % p["t"])
    e = check_error_body(get(coll, "/v1/metrics/series", [("line", "L9")]), 400, "series: unknown line")
    e = check_error_body(get(coll, "/v1/metrics/workers", [("line", "L9")]), 400, "unknown line")
    check_eq(e.get("param"), "line", "names line")
    e = check_error_body(get(coll, "/v1/metrics/factory", [("site", "S%d" % i) for i in range(101)]), 400, "101 sites")
    check_eq(e.get("param"), "site", "names site")
    log("filters: %d events, %d windows x %d filters, before and after the rebuild" % (len(evs), len(wins),
                                                                                        len(FILTERS)))


if __name__ == "__main__":
    run(main)
