#!/usr/bin/env python3
"""GET /v1/metrics/models on a real collector against a brute-force reference
(SPEC §6.3): seeded events for several cameras, with drift injected at a known
time for known cameras (a confidence drop, a change of event mix, a model
rollout that labels worse), posted by several agents in a shuffled order with
exact and conflicting duplicates (the first stored copy counts). Every field
of every row is compared with the reference, for windows with partial hours
at both ends; the flag is raised for exactly the drifting cameras; the hourly
series adds up; the Prometheus gauges agree with the endpoint; a restart with
another --low-confidence answers exactly from the same rollups; bad queries
are 400 naming the parameter. Runs on PostgreSQL too (FERRY_TEST_PG_URL)."""
import decimal
import math
import random
import re
from fractions import Fraction

from ferry_harness import *

H = 3600 * 1000
DAY = 24 * H
EPOCH = "00000000000000e7"
TYPES = ("working", "idle", "absent", "product_count")
SEED = int(os.environ.get("FERRY_TEST_SEED", "19"))


def key(v):
    return "" if v is None else "=" + v


def ref_bin(c):
    if not c > 0:
        return 0
    if c >= 1:
        return 1000
    k = min(int(c * 1000.0), 1000)
    while k > 0 and c < k / 1000.0:
        k -= 1
    while k < 1000 and c >= (k + 1) / 1000.0:
        k += 1
    return k


def ref_micro(c):
    return int(decimal.Decimal(c * 1e6).to_integral_value(rounding=decimal.ROUND_HALF_UP))


def round4(v):
    x = v * 10000.0
    f = math.floor(x)
    return (f + 1 if x - f >= 0.5 else f) / 10000.0


def cells(events, lo, hi):
    """(camera key, model key) → the events of [lo, hi)."""
    out = {}
    for e in events:
        if lo <= e["ts"] < hi:
            out.setdefault((key(e.get("camera_id")), key(e.get("model_version"))), []).append(e)
    return out


def low_count(evs, low):
    return sum(1 for e in evs if "confidence" in e and ref_bin(e["confidence"]) < low)


def drift(w, b, low):
    """(rate reason, mix reason) on exact fractions, or None when too few."""
    if b is None or len(w) < 200 or len(b) < 200:
        return None
    cw = [e for e in w if "confidence" in e]
    cb = [e for e in b if "confidence" in e]
    rate = bool(cw and cb) and Fraction(low_count(w, low), len(cw)) - Fraction(low_count(b, low), len(cb)) > Fraction(3, 20)
    tv = sum(abs(Fraction(sum(1 for e in w if e["event_type"] == t), len(w)) -
                 Fraction(sum(1 for e in b if e["event_type"] == t), len(b))) for t in TYPES) / 2
    return rate, tv > Fraction(1, 4)


def reference(events, frm, to, low):
    win = cells(events, frm, to)
    base = cells(events, frm - 7 * DAY, frm)
    rows = []
    for (ck, mk) in sorted(win):
        w = win[(ck, mk)]
        own = base.get((ck, mk))
        b, bkey, new = own, (mk if own else None), False
        if (own is None or len(own) < 200) and ck:
            prev = None
            for (c2, m2), evs in base.items():
                if c2 != ck or m2 == mk:
                    continue
                last = max(e["ts"] for e in evs)
                if prev is None or last > prev[0] or (last == prev[0] and m2 > prev[1]):
                    prev = (last, m2)
            if prev:
                b, bkey, new = base[(ck, prev[1])], prev[1], True
        conf = [e["confidence"] for e in w if "confidence" in e]
        row = {"camera_id": None if ck == "" else ck[1:], "model_version": None if mk == "" else mk[1:],
               "events": len(w), "with_confidence": len(conf)}
        if conf:
            bins = sorted(ref_bin(c) for c in conf)
            row["confidence_mean"] = round4(sum(ref_micro(c) for c in conf) / len(conf) / 1e6)
            row["confidence_p10"] = bins[(len(conf) + 9) // 10 - 1] / 1000.0
            row["low_confidence_rate"] = round4(low_count(w, low) / len(conf))
        else:
            row["confidence_mean"] = row["confidence_p10"] = row["low_confidence_rate"] = None
        row["event_mix"] = {t: round4(sum(1 for e in w if e["event_type"] == t) / len(w)) for t in TYPES}
        d = drift(w, b, low)
        reasons = []
        if d and d[0]:
            reasons.append("low_confidence_rate_rose")
        if d and d[1]:
            reasons.append("event_mix_changed")
        if reasons and new:
            reasons.append("new_model_version")
        dr = {"flagged": bool(reasons), "reasons": reasons, "baseline_events": len(b) if b else 0}
        if bkey is not None:
            dr["baseline_model_version"] = None if bkey == "" else bkey[1:]
        row["drift"] = dr
        rows.append(row)
    return rows


def generate(now):
    """The events as each agent would first store them, plus the copies sent."""
    rng = random.Random(SEED)
    drift_at = now - 12 * H
    cams = {
        "cam-ok": dict(models=["v1"], n=(420, 420)),
        "cam-fog": dict(models=["v1"], n=(420, 420), fog=True),      # confidence drops after drift_at
        "cam-mix": dict(models=["v1"], n=(420, 420), mix=True),      # idle takes over after drift_at
        "cam-roll": dict(models=["v1"], n=(420, 420), roll=True),    # v2 from drift_at, labels worse
        "cam-few": dict(models=["v1"], n=(150, 150), fog=True),      # too few events to judge
        "cam-nomodel": dict(models=[None], n=(300, 300)),
        None: dict(models=["v1"], n=(250, 250)),                     # events without a camera
        "cam-noconf": dict(models=["v3"], n=(260, 260), noconf=True),
    }
    events = []
    n = 0
    for cam, spec in cams.items():
        for period, count in (("base", spec["n"][0]), ("win", spec["n"][1])):
            for i in range(count):
                if period == "base":
                    ts = rng.randrange(now - 7 * DAY - 23 * H, now - 25 * H)
                else:
                    ts = rng.randrange(now - 23 * H, now - 10 * 60000)
                late = period == "win" and ts >= drift_at
                model = spec["models"][0]
                if spec.get("roll") and late:
                    model = "v2"
                mix = (0.55, 0.2, 0.05, 0.2)
                if spec.get("mix") and late:
                    mix = (0.1, 0.75, 0.05, 0.1)
                t = rng.choices(TYPES, weights=mix)[0]
                e = {"event_id": "m-%d" % n, "timestamp": fmt_ts(ts), "event_type": t,
                     "workstation_id": "ws-%d" % rng.randrange(4)}
                if t != "product_count" or rng.random() < 0.5:
                    e["worker_id"] = "w-%d" % rng.randrange(6)
                if cam is not None:
                    e["camera_id"] = cam
                if model is not None:
                    e["model_version"] = model
                if not spec.get("noconf") and rng.random() > 0.05:
                    bad = (spec.get("fog") or spec.get("roll")) and late
                    c = rng.uniform(0.05, 0.6) if bad else rng.uniform(0.35, 1.0)
                    if rng.random() < 0.05:
                        c = rng.choice([0.5, 0.29, 0.35, 1.0, 0.0, 0.001, 0.4995])  # bin edges
                    else:
                        c = round(c, rng.choice([2, 3, 6, 9]))
                    e["confidence"] = c
                e["_agent"] = "agent-%d" % rng.randrange(3)
                e["_ts"] = ts
                events.append(e)
                n += 1
    # copies: exact duplicates, and conflicting ones (another confidence)
    sends = list(events)
    for e in rng.sample(events, len(events) // 8):
        sends.append(dict(e))
    for e in rng.sample(events, len(events) // 20):
        c = dict(e)
        c["confidence"] = 0.01
        c["event_type"] = "absent"
        c["worker_id"] = "w-0"
        sends.append(c)
    rng.shuffle(sends)
    return sends, {"cam-fog", "cam-mix", "cam-roll"}


def post_all(coll, sends, batch=400):
    """Post in order, one batch at a time per agent; returns the first copy of
    each (agent, event_id) as stored."""
    seqs, first = {}, {}
    by_agent = {}
    for e in sends:
        by_agent.setdefault(e["_agent"], []).append(e)
    order = []
    for i in range(0, max(len(v) for v in by_agent.values()), batch):
        for a in sorted(by_agent):
            chunk = by_agent[a][i:i + batch]
            if chunk:
                order.append((a, chunk))
    for a, chunk in order:
        body = []
        for e in chunk:
            seqs[a] = seqs.get(a, 0) + 1
            x = {k: v for k, v in e.items() if not k.startswith("_")}
            x["seq"] = seqs[a]
            x["ingested_at"] = x["timestamp"]
            body.append(x)
            k = (a, e["event_id"])
            if k not in first:
                first[k] = dict(e, ts=e["_ts"])
        lo, hi = body[0]["seq"], body[-1]["seq"]
        r = http_request(coll.url("/v1/ingest"), "POST",
                         json_body={"agent_id": a, "epoch": EPOCH, "events": body, "dropped": [],
                                    "sent_at": fmt_ts(now_ms())},
                         headers={"Authorization": "Bearer " + AGENT_TOKEN,
                                  "Idempotency-Key": "%s:%s:%d-%d" % (a, EPOCH, lo, hi)})
        check_eq(r.status, 200, "ingest: %r" % r)
        check_eq(r.json["rejected"], [], "nothing rejected")
    return list(first.values())


def get(coll, params=None, token=READ_TOKEN, path="/v1/metrics/models"):
    q = "?" + urllib.parse.urlencode(params) if params else ""
    return http_request(coll.url(path + q), headers={"Authorization": "Bearer " + token} if token else {})


def compare(coll, stored, frm, to, low, what):
    r = get(coll, {"from": fmt_ts(frm), "to": fmt_ts(to)})
    check_eq(r.status, 200, "%s: %r" % (what, r))
    check_eq(r.json["low_confidence_threshold"], low / 1000.0, what + ": threshold")
    ref = reference(stored, frm, to, low)
    got = r.json["models"]
    check_eq([(m["camera_id"], m["model_version"]) for m in got],
             [(m["camera_id"], m["model_version"]) for m in ref], what + ": rows and their order")
    for g, e in zip(got, ref):
        check_eq(g, e, "%s: row %s/%s" % (what, e["camera_id"], e["model_version"]))
    return got


def prom_gauges(coll):
    m = http_request(coll.url("/metrics"), headers={"Authorization": "Bearer " + READ_TOKEN})
    check_eq(m.status, 200, "/metrics")
    out = {}
    for name, cam, mv, v in re.findall(r'^(ferry_model_\w+)\{camera_id="([^"]*)",model_version="([^"]*)"\} (\S+)$',
                                       m.body.decode(), re.M):
        out[(name, cam, mv)] = float(v)
    return out


def main(h):
    coll = h.start_collector()
    now = now_ms() // 1000 * 1000
    sends, drifting = generate(now)
    stored = post_all(coll, sends)
    log("posted %d copies of %d events" % (len(sends), len(stored)))

    # the last day, edges inside hours
    frm, to = now - DAY + 7 * 60000 + 123, now - 3 * 60000 - 457
    got = compare(coll, stored, frm, to, 500, "last day")
    flagged = {m["camera_id"] for m in got if m["drift"]["flagged"]}
    check_eq(flagged, drifting, "flagged cameras")
    roll = [m for m in got if m["camera_id"] == "cam-roll" and m["model_version"] == "v2"][0]
    check("new_model_version" in roll["drift"]["reasons"], "the rollout is named: %r" % roll)
    check_eq(roll["drift"]["baseline_model_version"], "v1", "a new version against the previous one")
    # other windows: a part of the day, a window in the baseline period, one of whole hours
    compare(coll, stored, now - 20 * H + 1, now - 2 * H - 1, 500, "20 h")
    compare(coll, stored, now - 5 * DAY - 1234, now - 2 * DAY + 5678, 500, "three days")
    compare(coll, stored, (now - 30 * H) // H * H, now // H * H, 500, "whole hours")

    # the same once the upkeep has rebuilt every marked hour: the answers from
    # the rollup rows alone
    def marked():
        url = h.db_url(coll.db_dir)
        if url.startswith("sqlite:"):
            import sqlite3
            con = sqlite3.connect("file:%s?mode=ro" % url[len("sqlite:"):], uri=True)
            try:
                return con.execute("SELECT count(*) FROM dirty_hours").fetchone()[0]
            finally:
                con.close()
        return int(pg_sql(url, "SELECT count(*) FROM dirty_hours").strip())
    wait_until(lambda: marked() == 0, 120, "the upkeep rebuilt every marked hour")
    compare(coll, stored, frm, to, 500, "last day, at rest")
    compare(coll, stored, now - 5 * DAY - 1234, now - 2 * DAY + 5678, 500, "three days, at rest")

    # the hourly series adds up to the window, per camera
    r = get(coll, {"from": fmt_ts(frm), "to": fmt_ts(to), "step": "hour"})
    check_eq(r.status, 200, "step=hour: %r" % r)
    per_cam = {}
    for m in r.json["models"]:
        per_cam[m["camera_id"]] = per_cam.get(m["camera_id"], 0) + m["events"]
    for s in r.json["series"]:
        check_eq(sum(p["events"] for p in s["points"]), per_cam[s["camera_id"]], "series of %s" % s["camera_id"])
        check_eq(s["points"][0]["t"], fmt_ts(frm), "series starts at from")

    # Prometheus: the last 24 h, as the endpoint's default window answers it
    gauges = prom_gauges(coll)
    r = get(coll)
    check_eq(r.status, 200, "default window")
    for m in r.json["models"]:
        cam, mv = m["camera_id"] or "", m["model_version"] or ""
        check_eq(gauges.get(("ferry_model_drift", cam, mv)), 1.0 if m["drift"]["flagged"] else 0.0,
                 "drift gauge of %s/%s" % (cam, mv))
        if m["low_confidence_rate"] is not None:
            check_eq(gauges.get(("ferry_model_low_confidence_ratio", cam, mv)), m["low_confidence_rate"],
                     "ratio gauge of %s/%s" % (cam, mv))
        else:
            check(("ferry_model_low_confidence_ratio", cam, mv) not in gauges, "no ratio without confidence")
    check_eq(len([k for k in gauges if k[0] == "ferry_model_drift"]), len(r.json["models"]), "one gauge a row")

    # errors
    for params, param in (({"bogus": "1"}, "bogus"), ({"step": "day"}, "step"),
                          ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from"),
                          ({"from": "yesterday"}, "from"),
                          ({"from": "2026-01-01T00:00:00Z", "to": "2026-05-01T00:00:00Z"}, "to"),
                          ({"from": "2026-01-01T00:00:00Z", "to": "2026-02-15T00:00:00Z", "step": "hour"}, "step")):
        r = get(coll, params)
        check_error_body(r, 400, "bad query %r" % params, "invalid_parameter")
        check_eq(r.json["error"].get("param"), param, "400 names %s" % param)
    check_eq(get(coll, token=None).status, 401, "read token required")

    # another threshold: the same rollups answer exactly
    coll.stop()
    coll = h.start_collector(db_dir=coll.db_dir, extra=["--low-confidence", "0.35"])
    compare(coll, stored, frm, to, 350, "threshold 0.35")
    compare(coll, stored, now - 20 * H + 1, now - 2 * H - 1, 350, "20 h at 0.35")
    log("models: %d rows, flagged %s, every field equal to the reference" % (len(got), sorted(drifting)))


if __name__ == "__main__":
    run(main)
