#!/usr/bin/env python3
"""Metrics through HTTP with the real collector: events posted in several
batches where later batches carry earlier timestamps, with duplicates, and
every /v1/metrics endpoint compared, for random windows, with a reference
computed here over the sorted, deduplicated events (SPEC §3 "Metrics").
Queries run both right after ingest (stale hours computed from events) and
after the collector had time to rebuild its rollups. Also: 404 for ids never
seen, zeros for a known id outside the window, 400 naming the bad parameter,
'+' offsets sent as a space, percent-encoded ids, and GET /metrics."""
import random
import urllib.parse

from ferry_harness import *

SEED = int(os.environ.get("FERRY_TEST_SEED", "20260301"))
MAX_STATE_S = 900
AGENTS = [("m-agent-1", "00000000000000a1"), ("m-agent-2", "00000000000000a2"),
          ("m-agent-3", "00000000000000a3")]
WORKERS = ["W-1", "W-2", "W-3", "W-4", "W-5", "W/7 \u00e9"]
STATIONS = ["WS-A", "WS-B", "WS-C"]
HOUR = 3600 * 1000


# ---------------------------------------------------------------- reference

def reference(events, frm, to, cap_ms, keep=lambda e: True):
    """The SPEC rules, written plainly. events: deduplicated dicts with
    agent, id, ts, type, worker, station, count. keep(e) says whether an
    event passes a filter (site=, line=: test_plant_filters): a state counts
    where the event that started it belongs."""
    def key(e):
        return (e["ts"], e["id"].encode(), e["agent"].encode())
    by_worker = {}
    for e in sorted(events, key=key):
        if e["type"] != "product_count":
            by_worker.setdefault(e["worker"], []).append(e)
    intervals = []  # (worker, station, type, start, end) cut to the window
    for w, evs in by_worker.items():
        for i, e in enumerate(evs):
            end = e["ts"] + cap_ms
            if i + 1 < len(evs):
                end = min(end, evs[i + 1]["ts"])
            s, t = max(e["ts"], frm), min(end, to)
            if t > s and keep(e):
                intervals.append((w, e["station"], e["type"], s, t))
    in_win = [e for e in events if frm <= e["ts"] < to and keep(e)]
    workers = {}
    for w in set([iv[0] for iv in intervals] + [e["worker"] for e in in_win if e.get("worker")]):
        d = {"working": 0, "idle": 0, "absent": 0}
        for iv in intervals:
            if iv[0] == w:
                d[iv[2]] += iv[4] - iv[3]
        units = sum(e["count"] for e in in_win if e["type"] == "product_count" and e.get("worker") == w)
        wi = d["working"] + d["idle"]
        workers[w] = {"worker_id": w, "working_s": d["working"] / 1000, "idle_s": d["idle"] / 1000,
                      "absent_s": d["absent"] / 1000,
                      "utilization_pct": 100.0 * d["working"] / wi if wi else 0.0,
                      "units": units,
                      "units_per_hour": units / (d["working"] / 1000 / 3600) if d["working"] else 0.0}

    def union(spans):
        total, cur_s, cur_e = 0, None, None
        for s, t in sorted(spans):
            if cur_e is None or s > cur_e:
                if cur_e is not None:
                    total += cur_e - cur_s
                cur_s, cur_e = s, t
            else:
                cur_e = max(cur_e, t)
        if cur_e is not None:
            total += cur_e - cur_s
        return total

    stations = {}
    for st in set([iv[1] for iv in intervals] + [e["station"] for e in in_win]):
        occ = union([(iv[3], iv[4]) for iv in intervals if iv[1] == st and iv[2] in ("working", "idle")])
        wrk = union([(iv[3], iv[4]) for iv in intervals if iv[1] == st and iv[2] == "working"])
        units = sum(e["count"] for e in in_win if e["type"] == "product_count" and e["station"] == st)
        stations[st] = {"workstation_id": st, "occupancy_s": occ / 1000, "working_s": wrk / 1000,
                        "utilization_pct": 100.0 * wrk / occ if occ else 0.0, "units": units,
                        "units_per_hour": units / (occ / 1000 / 3600) if occ else 0.0}
    utils = [w["utilization_pct"] for w in workers.values() if w["working_s"] + w["idle_s"] > 0]
    units = sum(e["count"] for e in in_win if e["type"] == "product_count")
    factory = {"workers": len(workers), "workstations": len(stations), "events": len(in_win),
               "working_s": sum(round(w["working_s"] * 1000) for w in workers.values()) / 1000,
               "units": units, "units_per_hour": units / ((to - frm) / HOUR),
               "avg_utilization_pct": sum(utils) / len(utils) if utils else 0.0}
    # SPEC §6.5: the time-weighted figure, over the same workers
    tw = sum(w["working_s"] + w["idle_s"] for w in workers.values())
    factory["utilization_pct"] = 100.0 * sum(w["working_s"] for w in workers.values()) / tw if tw else 0.0
    return factory, workers, stations


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def check_obj(got, want, what):
    for k, v in want.items():
        check(k in got and same(got[k], v), "%s.%s: got %r, want %r (all: %r)" % (what, k, got.get(k), v, got))


# ---------------------------------------------------------------- events

def gen_events(rng, base, n):
    evs = []
    for i in range(n):
        agent, epoch = rng.choice(AGENTS)
        ts = base + rng.randrange(0, 6 * HOUR)
        if evs and rng.random() < 0.08:
            ts = rng.choice(evs)["ts"]  # ties
        kind = rng.choice(["working", "working", "idle", "absent", "product_count", "product_count"])
        w = rng.choice(WORKERS)
        e = {"agent": agent, "epoch": epoch, "id": "m%05d" % rng.randrange(10 ** 5) + "-%d" % i,
             "ts": ts, "type": kind, "worker": w, "station": rng.choice(STATIONS), "count": 0}
        if kind == "product_count":
            e["count"] = rng.randrange(1, 5)
            if rng.random() < 0.15:
                e["worker"] = None
        evs.append(e)
    return evs


def wire(e, seq):
    d = {"event_id": e["id"], "timestamp": fmt_ts(e["ts"]), "event_type": e["type"],
         "workstation_id": e["station"], "seq": seq, "ingested_at": fmt_ts(e["ts"] + 5)}
    if e["worker"] is not None:
        d["worker_id"] = e["worker"]
    if e["type"] == "product_count":
        d["count"] = e["count"]
    return d


class Poster:
    def __init__(self, coll):
        self.coll = coll
        self.seq = {a: 0 for a, _ in AGENTS}

    def post(self, agent, epoch, evs):
        body = []
        for e in evs:
            self.seq[agent] += 1
            body.append(wire(e, self.seq[agent]))
        b = {"agent_id": agent, "epoch": epoch, "events": body, "dropped": [],
             "stats": {"backlog": 3, "oldest_pending_s": 1.5}, "sent_at": fmt_ts(now_ms())}
        seqs = [x["seq"] for x in body]
        hdrs = {"Content-Type": "application/json", "User-Agent": "ferry-agent/0.1.0",
                "Authorization": "Bearer %s" % AGENT_TOKEN,
                "Idempotency-Key": "%s:%s:%d-%d" % (agent, epoch, min(seqs), max(seqs))}
        r = http_request(self.coll.url("/v1/ingest"), "POST", body=dumps(b).encode(), headers=hdrs)
        check(r.status == 200, "ingest: %r" % r)
        return r.json


def q(frm, to):
    return urllib.parse.urlencode({"from": fmt_ts(frm), "to": fmt_ts(to)})


def get(coll, path, token=READ_TOKEN):
    return http_request(coll.url(path), headers=read_auth(token) if token else None)


def compare_all(coll, stored, frm, to, what):
    f, ws, ss = reference(stored, frm, to, MAX_STATE_S * 1000)
    r = get(coll, "/v1/metrics/factory?" + q(frm, to))
    check(r.status == 200, "%s factory: %r" % (what, r))
    check_eq(r.json.get("from"), fmt_ts(frm), what + " factory.from")
    check_eq(r.json.get("to"), fmt_ts(to), what + " factory.to")
    check_obj(r.json, f, what + " factory")
    r = get(coll, "/v1/metrics/workers?" + q(frm, to))
    check(r.status == 200, "%s workers: %r" % (what, r))
    got = r.json["workers"]
    check_eq([w["worker_id"] for w in got], sorted(ws, key=lambda s: s.encode()), what + " worker ids")
    for w in got:
        check_obj(w, ws[w["worker_id"]], what + " worker " + w["worker_id"])
    r = get(coll, "/v1/metrics/workstations?" + q(frm, to))
    check(r.status == 200, "%s workstations: %r" % (what, r))
    got = r.json["workstations"]
    check_eq([s["workstation_id"] for s in got], sorted(ss, key=lambda s: s.encode()), what + " station ids")
    for s in got:
        check_obj(s, ss[s["workstation_id"]], what + " station " + s["workstation_id"])
    for w in WORKERS:
        r = get(coll, "/v1/metrics/workers/%s?%s" % (urllib.parse.quote(w, safe=""), q(frm, to)))
        check(r.status == 200, "%s worker %s: %r" % (what, w, r))
        want = ws.get(w) or {"worker_id": w, "working_s": 0, "idle_s": 0, "absent_s": 0,
                             "utilization_pct": 0, "units": 0, "units_per_hour": 0}
        check_obj(r.json, want, "%s worker/%s" % (what, w))
    for s in STATIONS:
        r = get(coll, "/v1/metrics/workstations/%s?%s" % (urllib.parse.quote(s, safe=""), q(frm, to)))
        check(r.status == 200, "%s station %s: %r" % (what, s, r))
        want = ss.get(s) or {"workstation_id": s, "occupancy_s": 0, "working_s": 0,
                             "utilization_pct": 0, "units": 0, "units_per_hour": 0}
        check_obj(r.json, want, "%s station/%s" % (what, s))


def windows(rng, base, n):
    out = [(base - HOUR, base + 8 * HOUR), (base, base + 6 * HOUR),
           (base + HOUR, base + 3 * HOUR),  # whole hours only
           (base + 1234, base + 1234 + 300000)]  # inside one hour
    base_h = (base // HOUR) * HOUR
    out.append((base_h + 2 * HOUR, base_h + 5 * HOUR))
    while len(out) < n:
        a = base - HOUR + rng.randrange(0, 8 * HOUR)
        b = a + rng.choice([1, 1000, rng.randrange(1, 3 * HOUR), rng.randrange(1, 8 * HOUR)])
        out.append((a, b))
    return out


def main(h):
    rng = random.Random(SEED)
    log("seed %d" % SEED)
    coll = h.start_collector(extra=["--max-state-s", str(MAX_STATE_S)])
    base = now_ms() - 10 * HOUR
    events = gen_events(rng, base, 900)
    # later batches carry earlier timestamps: post in descending time, in chunks
    order = sorted(events, key=lambda e: -e["ts"])
    stored, seen = [], set()
    p = Poster(coll)
    chunks = [order[i:i + 60] for i in range(0, len(order), 60)]
    for n, chunk in enumerate(chunks):
        rng.shuffle(chunk)
        by_agent = {}
        for e in chunk:
            by_agent.setdefault((e["agent"], e["epoch"]), []).append(e)
        for (agent, epoch), evs in sorted(by_agent.items()):
            dups = [d for d in stored if d["agent"] == agent][:rng.randrange(0, 4)]
            ans = p.post(agent, epoch, evs + dups)
            check_eq(ans.get("duplicates"), len(dups), "duplicates in a batch")
            check_eq(ans.get("accepted"), len(evs), "accepted in a batch")
            for e in evs:
                k = (e["agent"], e["id"])
                check(k not in seen, "generator made a duplicate id")
                seen.add(k)
                stored.append(e)
        if n in (len(chunks) // 3, 2 * len(chunks) // 3):
            # right after late arrivals: stale hours are computed from the events
            for frm, to in windows(rng, base, 4):
                compare_all(coll, stored, frm, to, "mid-ingest [%d,%d)" % (frm, to))

    for frm, to in windows(rng, base, 12):
        compare_all(coll, stored, frm, to, "fresh [%d,%d)" % (frm, to))
    time.sleep(2.0)  # the writer rebuilds the rollups while idle
    for frm, to in windows(rng, base, 12):
        compare_all(coll, stored, frm, to, "rebuilt [%d,%d)" % (frm, to))

    # default window: the last 24 h
    f, _, _ = reference(stored, now_ms() - 24 * HOUR, now_ms(), MAX_STATE_S * 1000)
    r = get(coll, "/v1/metrics/factory")
    check(r.status == 200, "default window: %r" % r)
    check_eq(r.json.get("events"), f["events"], "default window events")

    # a known id with nothing in the window: zeros; never seen: 404
    far = (base - 100 * HOUR, base - 99 * HOUR)
    r = get(coll, "/v1/metrics/workers/W-1?" + q(*far))
    check(r.status == 200 and r.json.get("working_s") == 0 and r.json.get("units") == 0,
          "known worker outside the window: %r" % r)
    r = get(coll, "/v1/metrics/workstations/WS-A?" + q(*far))
    check(r.status == 200 and r.json.get("occupancy_s") == 0, "known station outside the window: %r" % r)
    check_error_body(get(coll, "/v1/metrics/workers/nobody?" + q(*far)), 404, "unknown worker")
    check_error_body(get(coll, "/v1/metrics/workstations/WS-Z"), 404, "unknown station")
    check_error_body(get(coll, "/v1/metrics/workers/" + "x" * 200), 404, "over-long worker id")
    check_error_body(get(coll, "/v1/metrics/nothing"), 404, "unknown metrics endpoint")
    check_error_body(get(coll, "/v1/metrics/workers/a/b"), 404, "two path segments")

    # 400 naming the parameter
    def bad(query, param):
        r = get(coll, "/v1/metrics/factory?" + query)
        check_error_body(r, 400, "bad query %s" % query)
        check_eq(r.json["error"].get("param"), param, "param named for %s" % query)
        check(param in r.json["error"].get("message", ""), "message names %s: %r" % (param, r.json))
    bad("from=yesterday", "from")
    # SPEC §6.5: an unknown parameter is named, not ignored (a typo must not give the default window)
    bad("form=" + fmt_ts(base), "form")
    bad(q(base - HOUR, base) + "&worker=W-1", "worker")
    r = get(coll, "/v1/metrics/series?step=hour&limit=3")
    check_error_body(r, 400, "unknown parameter on the series")
    check_eq(r.json["error"].get("param"), "limit", "series names the unknown parameter")
    bad("to=2026-13-01T00:00:00Z", "to")
    bad(q(base, base), "from")
    bad(q(base + 1000, base), "from")
    bad(q(base - 94 * 24 * HOUR, base), "to")
    check(get(coll, "/v1/metrics/factory?" + q(base - 93 * 24 * HOUR, base)).status == 200,
          "a 93-day window is allowed")
    check_error_body(get(coll, "/v1/metrics/workers/%ZZ"), 400, "bad percent-encoding")

    # '+' offset written literally (form decoding makes it a space), and %2B
    frm, to = base, base + 3 * HOUR
    f, _, _ = reference(stored, frm, to, MAX_STATE_S * 1000)

    def off(ms, sign):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((ms + 2 * HOUR) / 1000)) + \
            ".%03d" % (ms % 1000) + sign + "02:00"
    for sign in ("+", "%2B"):
        r = get(coll, "/v1/metrics/factory?from=%s&to=%s" % (off(frm, sign), off(to, sign)))
        check(r.status == 200, "offset %s: %r" % (sign, r))
        check_eq(r.json.get("from"), fmt_ts(frm), "from with offset %s" % sign)
        check_eq(r.json.get("events"), f["events"], "events with offset %s" % sign)

    # auth like /v1/agents
    check_error_body(get(coll, "/v1/metrics/factory", token=None), 401, "metrics without a token")
    r = get(coll, "/v1/metrics/workers", token=AGENT_TOKEN)
    check_error_body(r, r.status if r.status in (401, 403) else 401, "metrics with the agent token")
    check_error_body(get(coll, "/metrics", token=None), 401, "/metrics without a token")

    # Prometheus text
    r = get(coll, "/metrics")
    check(r.status == 200, "/metrics: %r" % r)
    text = r.body.decode()
    check("ferry_collector_build_info{" in text, "build info in /metrics")
    want = sum(1 for e in stored if e["agent"] == "m-agent-1")
    check('ferry_collector_events_total{agent="m-agent-1",result="accepted"} %d' % want in text,
          "accepted counter for m-agent-1 in /metrics:\n%s" % text[:3000])
    check('ferry_collector_request_duration_seconds_bucket{route="metrics_factory",le="+Inf"}' in text,
          "latency histogram for metrics_factory")
    check('ferry_collector_agent_backlog{agent="m-agent-2"} 3' in text, "backlog gauge")
    check('ferry_collector_agent_missing{agent="m-agent-3"} 0' in text, "missing gauge")
    check("ferry_factory_today_events " in text, "today's factory figures")
    # the hours ingest left stale: a gauge, 0 once the writer has rebuilt
    # them (it does when the collector is quiet; /metrics reads the
    # database at most every 5 s)
    stale = re.search(r"(?m)^ferry_collector_rollup_stale_hours (\d+)$", text)
    check(stale is not None, "ferry_collector_rollup_stale_hours in /metrics")
    wait_until(lambda: re.search(r"(?m)^ferry_collector_rollup_stale_hours 0$",
                                 get(coll, "/metrics").body.decode()),
               60, "ferry_collector_rollup_stale_hours back to 0 once the collector is quiet", interval=1)
    check_eq(coll.stop(), 0, "collector exit code")


if __name__ == "__main__":
    run(main)
