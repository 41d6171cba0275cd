#!/usr/bin/env python3
"""Idempotency-Key at the collector (draft-ietf-httpapi-idempotency-key-header):
1. The same batch sent twice at once: while the first request has no answer,
   the second gets 409 with Retry-After (never processed alongside it);
   every answer is 200, 409 or 429 (the per-agent concurrency limit) and the
   events are stored once.
2. A replay after the answer: 200 with everything counted as duplicates.
3. The key reused with a different payload: 422, nothing of it stored.
The collector is driven directly with hand-built batches."""
import threading

from ferry_harness import *

AGENT = "idem-agent"
EPOCH = "00112233aabbccdd"


def batch(first, n, base, tag="a"):
    evs = []
    for i in range(n):
        e = make_event(first + i, prefix="idem-" + tag, base_ms=base)
        e["seq"] = first + i
        e["ingested_at"] = fmt_ts(base)
        e["attributes"] = {"pad": "q" * 200}
        evs.append(e)
    body = {"agent_id": AGENT, "epoch": EPOCH, "events": evs, "dropped": [],
            "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())}
    key = "%s:%s:%d-%d" % (AGENT, EPOCH, first, first + n - 1)
    return key, json.dumps(body, separators=(",", ":")).encode()


def send(coll, key, body):
    hdrs = {"Authorization": "Bearer " + AGENT_TOKEN, "Content-Type": "application/json",
            "Idempotency-Key": key, "Content-Length": str(len(body))}
    return raw_request(coll.port, "POST", "/v1/ingest", hdrs, body, timeout=60)


def main(h):
    coll = h.start_collector()
    base = now_ms() - 2 * 3600 * 1000
    seq = 1
    saw409 = False
    stored = 0
    for attempt in range(8):
        n = 4000 * (attempt + 1)
        key, body = batch(seq, n, base, tag=str(attempt))
        answers = [None] * 4
        def go(k):
            answers[k] = send(coll, key, body)
        ts = [threading.Thread(target=go, args=(k,)) for k in range(len(answers))]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        codes = [a.status for a in answers]
        log("attempt %d: %d events x %d concurrent copies -> %s" % (attempt, n, len(answers), codes))
        for a in answers:
            check(a.status in (200, 409, 429), "concurrent copies of one batch: expected 200, 409 or 429, got %r" % a)
            if a.status == 409:
                saw409 = True
                check(a.headers.get("retry-after", "").isdigit(), "409 without Retry-After: %r" % a)
                check_error_body(a, 409, "409 answer", code="idempotency_key_in_use")
        oks = [a.json for a in answers if a.status == 200]
        check(oks, "no copy was answered 200")
        check_eq(sum(o["accepted"] for o in oks), n, "events stored once across concurrent copies")
        stored += n
        seq += n
        if saw409:
            break
    check(saw409, "never saw a 409 for a key still being processed")

    # replay after the answer: 200, all duplicates
    key, body = batch(1, 4000, base, tag="0")
    r = send(coll, key, body)
    check_eq(r.status, 200, "replay status")
    check_eq((r.json["accepted"], r.json["duplicates"]), (0, 4000), "replay counts")

    # same key, other payload: 422
    key2, body2 = batch(1, 4000, base, tag="other")
    check_eq(key2, key, "same key")
    r = send(coll, key2, body2)
    check_error_body(r, 422, "key reused with another payload")
    a = collector_agent(coll, AGENT)
    check_eq(a.get("received"), stored, "received after the 422")
    check_eq(a.get("missing"), 0, "missing")


if __name__ == "__main__":
    run(main)
