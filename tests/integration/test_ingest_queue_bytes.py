#!/usr/bin/env python3
"""The collector's byte budget for waiting batches (--max-ingest-queue-bytes),
driven directly with hand-built batches and a collector that applies one
batch at a time with a 4 KiB budget:

1. a batch whose body is larger than the whole budget is admitted when
   nothing else waits: its headers and half its body are sent, and /metrics
   counts its Content-Length as waiting (ferry_collector_ingest_queued_bytes,
   one batch admitted);
2. past the budget, another agent's small batch is answered 429 busy with a
   Retry-After, though the queue has places, and nothing of it is stored;
3. the first client goes away mid-body: its bytes leave the count once (the
   gauges are back to 0, not below);
4. the refused agent comes back and is answered 200; the big batch, sent
   whole, is answered 200 too: every event stored once;
5. batches are decoded only once they have their slot: the high-water of
   batches decoded at once is 1 (--max-ingest-inflight 1), and every gauge is
   back to 0 at the end."""
import socket

from ferry_harness import *

EPOCH = "0011223344556677"
BUDGET = 4096


def batch(agent, first, n, base):
    evs = []
    for i in range(n):
        e = make_event(first + i, prefix="qb-" + agent, base_ms=base)
        e["seq"] = first + i
        e["ingested_at"] = fmt_ts(base)
        evs.append(e)
    body = {"agent_id": agent, "epoch": EPOCH, "events": evs, "dropped": [],
            "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())}
    key = "%s:%s:%d-%d" % (agent, EPOCH, first, first + n - 1)
    return key, json.dumps(body, separators=(",", ":")).encode()


def headers(key, body):
    return {"Authorization": "Bearer " + AGENT_TOKEN, "Content-Type": "application/json",
            "Idempotency-Key": key, "Content-Length": str(len(body))}


def send(coll, key, body):
    return raw_request(coll.port, "POST", "/v1/ingest", headers(key, body), body, timeout=60)


def gauges(coll):
    r = http_request(coll.url("/metrics"), headers=read_auth(), timeout=10)
    check_eq(r.status, 200, "GET /metrics")
    out = {}
    for name in ("ingest_queued_bytes", "ingest_admitted", "ingest_inflight", "ingest_decoded",
                 "ingest_decoded_max"):
        m = re.search(r"(?m)^ferry_collector_%s (\d+)$" % name, r.body.decode())
        check(m is not None, "/metrics has no ferry_collector_%s" % name)
        out[name] = int(m.group(1))
    return out


def main(h):
    coll = h.start_collector(extra=["--max-ingest-inflight", "1", "--max-ingest-queue", "8",
                                    "--max-ingest-queue-bytes", str(BUDGET)])
    base = now_ms() - 3600 * 1000
    key_a, body_a = batch("qb-a", 1, 40, base)
    key_b, body_b = batch("qb-b", 1, 2, base)
    check(len(body_a) > BUDGET, "the big batch (%d bytes) is larger than the budget" % len(body_a))

    # 1. alone, a body over the budget is admitted; it waits for the rest of its body
    s = socket.create_connection(("127.0.0.1", coll.port), timeout=30)
    head = "POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
        "%s: %s\r\n" % kv for kv in headers(key_a, body_a).items()) + "\r\n"
    s.sendall(head.encode() + body_a[:len(body_a) // 2])
    g = wait_until(lambda: (lambda g: g if g["ingest_queued_bytes"] == len(body_a) else None)(gauges(coll)),
                   20, "the big batch's Content-Length counted as waiting")
    check_eq(g["ingest_admitted"], 1, "batches admitted while the big one is read")

    # 2. past the budget: 429 busy with Retry-After, places in the queue notwithstanding
    r = send(coll, key_b, body_b)
    check_error_body(r, 429, "a batch past the byte budget", code="busy")
    ra = r.headers.get("retry-after", "")
    check(ra.isdigit() and int(ra) >= 1, "429 Retry-After: %r" % ra)
    check("max-ingest-queue-bytes" in r.json["error"]["message"], "the 429 names the budget: %r" % r.json)

    # 3. the big batch's client goes away mid-body: its bytes leave the count once
    s.close()
    wait_until(lambda: gauges(coll)["ingest_queued_bytes"] == 0 and gauges(coll)["ingest_admitted"] == 0, 20,
               "the abandoned batch's bytes released")

    # 4. the refused agent comes back (its turn kept), then the big batch whole
    r = send(coll, key_b, body_b)
    check_eq(r.status, 200, "the refused agent, back: %r" % (r.body[:300],))
    check_eq(r.json.get("accepted"), 2, "qb-b events accepted")
    r = send(coll, key_a, body_a)
    check_eq(r.status, 200, "the big batch alone: %r" % (r.body[:300],))
    check_eq(r.json.get("accepted"), 40, "qb-a events accepted")
    check_delivered(coll, "qb-a", 40)
    check_delivered(coll, "qb-b", 2)

    # 5. decoded only in a slot; nothing left counted
    g = wait_until(lambda: (lambda g: g if g["ingest_queued_bytes"] == 0 and g["ingest_admitted"] == 0
                            and g["ingest_decoded"] == 0 and g["ingest_inflight"] == 0 else None)(gauges(coll)),
                   20, "every ingest gauge back to 0")
    check_eq(g["ingest_decoded_max"], 1, "batches decoded at once, at most (max-ingest-inflight 1)")
    check_eq(coll.stop(), 0, "collector exit code")


if __name__ == "__main__":
    run(main)
