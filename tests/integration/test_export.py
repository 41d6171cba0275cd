#!/usr/bin/env python3
"""GET /v1/events/export on a real collector (SPEC §6.3): every filter (and
combinations) against a reference over the stored events, oldest first with
agent_id on each line; paging through Link without a gap or a repeat while
other events keep arriving (before and after the cursor); the errors; and an
export much larger than the collector's memory growth allows, read slowly,
with the collector's RSS bounded. Runs on PostgreSQL too (FERRY_TEST_PG_URL)."""
import datetime
import http.client
import json
import random
import re
import threading

from ferry_harness import *

EPOCH = "00000000000000e8"
SEED = int(os.environ.get("FERRY_TEST_SEED", "8"))
TYPES = ("working", "idle", "absent", "product_count")


class Poster:
    def __init__(self, coll):
        self.coll, self.seqs = coll, {}

    def post(self, agent, events):
        body = []
        for e in events:
            self.seqs[agent] = self.seqs.get(agent, 0) + 1
            x = dict(e, seq=self.seqs[agent], ingested_at=e["timestamp"])
            body.append(x)
        r = http_request(self.coll.url("/v1/ingest"), "POST",
                         json_body={"agent_id": agent, "epoch": EPOCH, "events": body, "dropped": [],
                                    "sent_at": fmt_ts(now_ms())},
                         headers={"Authorization": "Bearer " + AGENT_TOKEN,
                                  "Idempotency-Key": "%s:%s:%d-%d" % (agent, EPOCH, body[0]["seq"],
                                                                      body[-1]["seq"])},
                         timeout=120)
        check_eq(r.status, 200, "ingest: %r" % r)


def gen(rng, n, lo, hi, prefix, pad=0):
    out = []
    for i in range(n):
        t = rng.choice(TYPES)
        e = {"event_id": "%s-%d" % (prefix, i), "timestamp": fmt_ts(rng.randrange(lo, hi)), "event_type": t,
             "workstation_id": "ws-%d" % rng.randrange(3)}
        if t != "product_count":
            e["worker_id"] = "w-%d" % rng.randrange(5)
        if rng.random() < 0.9:
            e["camera_id"] = rng.choice(["cam-1", "cam-2", "cam/3 é"])
        if rng.random() < 0.8:
            e["model_version"] = rng.choice(["v1", "v2"])
        if rng.random() < 0.85:
            # and values within a micro-unit of the max_confidence cases below
            e["confidence"] = rng.choice([round(rng.random(), 3), 0.5, 0.3, 1.0, 0.0, 0.1234564, 0.1234566,
                                          0.123456, 0.1234555])
        if pad:
            e["attributes"] = {"pad": "x" * pad}
        out.append(e)
    return out


def ts_of(e):
    return int(datetime.datetime.strptime(e["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
               .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000 + 0.5)


def export(coll, params):
    q = urllib.parse.urlencode(params)
    r = http_request(coll.url("/v1/events/export?" + q), headers={"Authorization": "Bearer " + READ_TOKEN},
                     timeout=120)
    check_eq(r.status, 200, "export %r: %r" % (params, r))
    check(r.headers.get("content-type", "").startswith("application/x-ndjson"), "NDJSON content type")
    lines = [json.loads(x) for x in r.body.decode().split("\n") if x]
    link = r.headers.get("link")
    return lines, link


def next_params(link):
    m = re.fullmatch(r'<(/v1/events/export\?[^>]*)>; rel="next"', link or "")
    check(m is not None, "Link header: %r" % link)
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(m.group(1)).query))


def main(h):
    coll = h.start_collector()
    rng = random.Random(SEED)
    p = Poster(coll)
    now = now_ms()
    lo, hi = now - 30 * 3600 * 1000, now - 60000
    stored = []
    for a in ("agent-a", "agent-b", "agent.c"):
        evs = gen(rng, 1500, lo, hi, a.replace(".", "_"))
        evs.append(dict(evs[0]))                    # a duplicate: stored once
        for i in range(0, len(evs), 500):
            p.post(a, evs[i:i + 500])
        stored += [dict(e, agent_id=a, ts=ts_of(e)) for e in evs[:-1]]
    log("stored %d events" % len(stored))

    def ref(frm, to, cam=None, mv=None, maxc=None, typ=None):
        out = [e for e in stored if frm <= e["ts"] < to and (cam is None or e.get("camera_id") == cam)
               and (mv is None or e.get("model_version") == mv)
               and (maxc is None or ("confidence" in e and e["confidence"] <= maxc))
               and (typ is None or e["event_type"] == typ)]
        out.sort(key=lambda e: (e["ts"], e["agent_id"].encode(), e["event_id"].encode()))
        return [(e["agent_id"], e["event_id"]) for e in out]

    frm, to = lo + 3600 * 1000 + 17, hi - 1234
    cases = [dict(), dict(cam="cam-1"), dict(cam="cam/3 é", mv="v2"), dict(maxc=0.5), dict(maxc=0.3, typ="idle"),
             dict(typ="product_count"), dict(mv="v1", maxc=0.0), dict(cam="nope"), dict(maxc=0.123456),
             dict(maxc=0.1234564, cam="cam-2"), dict(maxc=0.1234559)]
    for c in cases:
        params = {"from": fmt_ts(frm), "to": fmt_ts(to)}
        for k, name in (("cam", "camera_id"), ("mv", "model_version"), ("maxc", "max_confidence"),
                        ("typ", "event_type")):
            if k in c:
                params[name] = c[k]
        lines, link = export(coll, params)
        check_eq([(x["agent_id"], x["event_id"]) for x in lines], ref(frm, to, **c), "filter %r" % c)
        check(link is None, "a complete export has no Link: %r" % link)
        for x in lines[:50]:
            src = next(e for e in stored if e["agent_id"] == x["agent_id"] and e["event_id"] == x["event_id"])
            for f in ("camera_id", "model_version", "confidence", "event_type", "worker_id", "workstation_id"):
                check_eq(x.get(f), src.get(f), "line field %s" % f)
    log("filters: %d cases equal to the reference" % len(cases))

    # the same filters paged by a small limit: the page's end is found from keys
    # alone, so a page with a Link must hold exactly `limit` events and the
    # pages together the reference
    for c in cases:
        params = {"from": fmt_ts(frm), "to": fmt_ts(to), "limit": "37"}
        for k, name in (("cam", "camera_id"), ("mv", "model_version"), ("maxc", "max_confidence"),
                        ("typ", "event_type")):
            if k in c:
                params[name] = c[k]
        got = []
        while True:
            lines, link = export(coll, params)
            got += [(x["agent_id"], x["event_id"]) for x in lines]
            if link is None:
                check(len(lines) <= 37, "the last page is not over the limit")
                break
            check_eq(len(lines), 37, "a page with a Link is full (filter %r)" % c)
            params = next_params(link)
        check_eq(got, ref(frm, to, **c), "paged filter %r" % c)
    log("filters paged by 37: %d cases equal to the reference" % len(cases))

    # paging through Link while events keep arriving
    before = ref(lo, hi + 1)
    stop = threading.Event()

    def arrive():
        k = 0
        while not stop.is_set():
            p.post("agent-late", gen(random.Random(k), 50, lo, hi, "late%d" % k))
            k += 1
    t = threading.Thread(target=arrive)
    t.start()
    try:
        params = {"from": fmt_ts(lo), "to": fmt_ts(hi + 1), "limit": "700"}
        seen, pages, last = [], 0, None
        while True:
            lines, link = export(coll, params)
            pages += 1
            keys = [(ts_of(x), x["agent_id"].encode(), x["event_id"].encode()) for x in lines]
            check(keys == sorted(keys), "a page is in order")
            if last is not None and keys:
                check(keys[0] > last, "a page starts after the previous one")
            if keys:
                last = keys[-1]
            seen += [(x["agent_id"], x["event_id"]) for x in lines]
            if not link:
                break
            check_eq(len(lines), 700, "a page with a Link is full")
            params = next_params(link)
            check(pages < 100, "paging ends")
    finally:
        stop.set()
        t.join()
    check_eq(len(seen), len(set(seen)), "no event twice")
    missing = set(before) - set(seen)
    check(not missing, "no gap: %d stored events missing" % len(missing))
    log("paging: %d pages, %d events (%d arrived meanwhile), no gap, no repeat" %
        (pages, len(seen), len(seen) - len(before)))

    # errors
    for params, name in (({"limit": "0"}, "limit"), ({"limit": "1000001"}, "limit"), ({"limit": "x"}, "limit"),
                         ({"max_confidence": "2"}, "max_confidence"), ({"event_type": "nap"}, "event_type"),
                         ({"after": "garbage"}, "after"), ({"bogus": "1"}, "bogus"),
                         ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "from")):
        r = http_request(coll.url("/v1/events/export?" + urllib.parse.urlencode(params)),
                         headers={"Authorization": "Bearer " + READ_TOKEN})
        check_error_body(r, 400, "export %r" % params, "invalid_parameter")
        check_eq(r.json["error"].get("param"), name, "400 names %s" % name)
    check_eq(http_request(coll.url("/v1/events/export")).status, 401, "the read token is required")

    # a large export read slowly: the collector's memory does not follow its size
    n_big = int(os.environ.get("FERRY_TEST_EXPORT_EVENTS", "40000"))
    big = gen(rng, n_big, lo, hi, "big", pad=1500)
    for i in range(0, len(big), 1000):
        p.post("agent-big", big[i:i + 1000])
    # a first run fills the database reader's page cache (bounded by its
    # cache_size), so the second measures what streaming itself costs
    lines, _ = export(coll, {"from": fmt_ts(lo), "to": fmt_ts(hi + 1), "limit": "1000000"})
    check(len(lines) >= n_big, "every event exported")
    del lines
    rss0 = coll_rss(coll)
    conn = http.client.HTTPConnection("127.0.0.1", coll.port, timeout=120)
    conn.request("GET", "/v1/events/export?" + urllib.parse.urlencode(
        {"from": fmt_ts(lo), "to": fmt_ts(hi + 1), "limit": "1000000"}),
        headers={"Authorization": "Bearer " + READ_TOKEN})
    resp = conn.getresponse()
    check_eq(resp.status, 200, "big export")
    got, lines, peak = 0, 0, rss0
    while True:
        chunk = resp.read(256 * 1024)
        if not chunk:
            break
        got += len(chunk)
        lines += chunk.count(b"\n")
        if lines % 20 < 3:
            peak = max(peak, coll_rss(coll))
            time.sleep(0.01)  # a slow client: the collector must wait, not buffer
    conn.close()
    peak = max(peak, coll_rss(coll))
    check(lines >= n_big, "every event exported (%d lines)" % lines)
    grow = peak - rss0
    log("big export: %d events, %.1f MiB sent; collector RSS %.1f → peak %.1f MiB" %
        (lines, got / 2**20, rss0 / 2**20, peak / 2**20))
    check(got > 40 * 2**20 or n_big < 40000, "the export is large (%d bytes)" % got)
    if sanitized(coll):
        log("a sanitizer build (freed memory is held in quarantine): RSS not bounded here")
        return
    check(grow < 16 * 2**20, "RSS grew by %.1f MiB while streaming %.1f MiB" % (grow / 2**20, got / 2**20))


def sanitized(coll):
    with open("/proc/%d/maps" % coll.pid) as f:
        return any("libasan" in line or "libubsan" in line for line in f)


def coll_rss(coll):
    with open("/proc/%d/status" % coll.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


if __name__ == "__main__":
    run(main)
