#!/usr/bin/env python3
"""GET /v1/metrics/series on a real collector: buckets aligned to UTC hours
(days) with partial edges, each bucket's units and events equal to
/v1/metrics/factory over that bucket, the whole series adding up to the
factory figures of the window, empty buckets present, and the error answers
(bad step, bad window, too many buckets, no token)."""
from ferry_harness import *

H = 3600 * 1000
EPOCH = "00000000000000e1"


def get(coll, path, params=None, token=READ_TOKEN):
    q = "?" + urllib.parse.urlencode(params) if params else ""
    hdrs = {"Authorization": "Bearer " + token} if token else {}
    return http_request(coll.url(path + q), headers=hdrs)


def ok(coll, path, params):
    r = get(coll, path, params)
    check_eq(r.status, 200, "GET %s %r: %r" % (path, params, r))
    return r.json


def main(h):
    coll = h.start_collector()
    # events over three hours, 6 h to 3 h ago, and one product count without a worker
    t0 = (now_ms() - 6 * H) // H * H
    evs = []
    for i in range(36):
        ts = t0 + i * 5 * 60000 + 7000
        kind = "product_count" if i % 3 else ("working", "idle")[i // 3 % 2]
        e = {"event_id": "se-%d" % i, "timestamp": fmt_ts(ts), "event_type": kind,
             "worker_id": "w-%d" % (i % 2), "workstation_id": "ws-%d" % (i % 3)}
        if kind == "product_count":
            e["count"] = 1 + i % 4
        evs.append(e)
    evs.append({"event_id": "se-nw", "timestamp": fmt_ts(t0 + 90 * 60000), "event_type": "product_count",
                "workstation_id": "ws-9", "count": 7})
    for n, e in enumerate(evs, 1):
        e["seq"] = n
        e["ingested_at"] = e["timestamp"]
    r = http_request(coll.url("/v1/ingest"), "POST",
                     json_body={"agent_id": "series-agent", "epoch": EPOCH, "events": evs, "dropped": [],
                                "sent_at": fmt_ts(now_ms())},
                     headers={"Authorization": "Bearer " + AGENT_TOKEN,
                              "Idempotency-Key": "series-agent:%s:1-%d" % (EPOCH, len(evs))})
    check_eq(r.status, 200, "ingest: %r" % r)
    total_units = sum(e.get("count", 0) for e in evs if e["event_type"] == "product_count")

    # a window with partial edge hours: 30 min before t0 to 20 min after t0 + 4 h
    frm, to = t0 - 30 * 60000, t0 + 4 * H + 20 * 60000
    s = ok(coll, "/v1/metrics/series", {"from": fmt_ts(frm), "to": fmt_ts(to)})
    check_eq(s["step"], "hour", "default step")
    check_eq((s["from"], s["to"]), (fmt_ts(frm), fmt_ts(to)), "window echoed")
    pts = s["points"]
    check_eq(len(pts), 6, "buckets: a partial hour, four whole ones, a partial one")
    check_eq(pts[0]["t"], fmt_ts(frm), "first bucket starts at from")
    check_eq(pts[0]["end"], fmt_ts(t0), "first bucket ends at the hour")
    check_eq(pts[-1]["end"], fmt_ts(to), "last bucket ends at to")
    for a, b in zip(pts, pts[1:]):
        check_eq(b["t"], a["end"], "buckets are contiguous")
    check_eq(pts[0]["units"], 0, "an empty bucket is present with 0 units")
    fac = ok(coll, "/v1/metrics/factory", {"from": fmt_ts(frm), "to": fmt_ts(to)})
    check_eq(sum(p["units"] for p in pts), fac["units"], "series units add up to the factory's")
    check_eq(sum(p["events"] for p in pts), fac["events"], "series events add up to the factory's")
    check_eq(fac["units"], total_units, "every unit is in the window")
    for p in pts:
        f = ok(coll, "/v1/metrics/factory", {"from": p["t"], "to": p["end"]})
        check_eq((p["units"], p["events"]), (f["units"], f["events"]), "bucket %s" % p["t"])
    check(pts[2]["units"] > 0 and pts[3]["units"] > 0, "the busy hours have units: %r" % pts)

    # a day step over three days
    d = ok(coll, "/v1/metrics/series", {"from": fmt_ts(t0 - 2 * 86400000), "to": fmt_ts(t0 + 86400000),
                                          "step": "day"})
    check_eq(d["step"], "day", "step=day")
    check(3 <= len(d["points"]) <= 4, "three days are 3 or 4 UTC-day buckets: %r" % d["points"])
    check_eq(sum(p["units"] for p in d["points"]), total_units, "day buckets add up")

    # default window: the last 24 h
    w = ok(coll, "/v1/metrics/series", None)
    check(24 <= len(w["points"]) <= 25, "the default window is 24 h of hours: %d" % len(w["points"]))
    check_eq(sum(p["units"] for p in w["points"]), total_units, "default window holds everything")

    # errors
    e = check_error_body(get(coll, "/v1/metrics/series", {"step": "minute"}), 400, "bad step")
    check_eq(e.get("param"), "step", "names step")
    e = check_error_body(get(coll, "/v1/metrics/series", {"from": fmt_ts(to), "to": fmt_ts(frm)}), 400, "from >= to")
    check_eq(e.get("param"), "from", "names from")
    e = check_error_body(get(coll, "/v1/metrics/series", {"from": "yesterday"}), 400, "bad from")
    check_eq(e.get("param"), "from", "names from")
    e = check_error_body(get(coll, "/v1/metrics/series", {"from": fmt_ts(t0 - 40 * 86400000), "to": fmt_ts(t0)}),
                         400, "40 days of hours")
    check_eq(e.get("param"), "step", "names step (use day)")
    ok(coll, "/v1/metrics/series", {"from": fmt_ts(t0 - 90 * 86400000), "to": fmt_ts(t0), "step": "day"})
    check_error_body(get(coll, "/v1/metrics/series", {"from": fmt_ts(t0 - 94 * 86400000), "to": fmt_ts(t0),
                                                      "step": "day"}), 400, "over 93 days")
    check_error_body(get(coll, "/v1/metrics/series", None, token=None), 401, "no token", "unauthorized")
    check_error_body(get(coll, "/v1/metrics/series", None, token=AGENT_TOKEN), 403, "agent token", "forbidden")
    r = http_request(coll.url("/v1/metrics/series"), "POST", body=b"",
                     headers={"Authorization": "Bearer " + READ_TOKEN})
    check_error_body(r, 405, "POST", "method_not_allowed")
    m = http_request(coll.url("/metrics"), headers={"Authorization": "Bearer " + READ_TOKEN})
    check_eq(m.status, 200, "/metrics")
    c = re.search(r'ferry_collector_request_duration_seconds_count\{route="metrics_series"\} (\d+)',
                  m.body.decode())
    check(c and int(c.group(1)) >= 10, "/metrics times the series route: %r" % (c and c.group(0)))
    log("series: %d hour buckets, %d units, errors named" % (len(pts), total_units))


if __name__ == "__main__":
    run(main)
