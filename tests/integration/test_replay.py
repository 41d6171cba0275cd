#!/usr/bin/env python3
"""The collector's /v1/ingest, driven directly the way an agent drives it:
idempotent replay, Idempotency-Key rules, content encodings, authentication,
body limits, batch sanity, and the delivery tracking in /v1/agents."""
import base64
import hashlib
import zlib

from ferry_harness import *

AGENT = "replay-agent"
EPOCH = "0123456789abcdef"
N = 50


def batch(seqs, agent_id=AGENT, epoch=EPOCH, prefix="rp", base=None, dropped=(), mutate=None):
    base = base if base is not None else BASE
    evs = []
    for s in seqs:
        e = make_event(s, prefix=prefix, base_ms=base, step_ms=1000)
        e["seq"] = s
        e["ingested_at"] = fmt_ts(base + s * 1000 + 5)
        evs.append(e)
    if mutate:
        mutate(evs)
    return {"agent_id": agent_id, "epoch": epoch, "events": evs,
            "dropped": [{"from_seq": a, "to_seq": b, "reason": "quota"} for a, b in dropped],
            "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())}


def key_for(b):
    seqs = [e["seq"] for e in b["events"]]
    return "%s:%s:%d-%d" % (b["agent_id"], b["epoch"], min(seqs), max(seqs))


def ingest(coll, body, key="auto", token=AGENT_TOKEN, encoding=None, headers=None, raw=None):
    hdrs = {"Content-Type": "application/json", "User-Agent": "ferry-agent/0.1.0"}
    if token is not None:
        hdrs["Authorization"] = "Bearer %s" % token
    if key == "auto":
        key = key_for(body) if body.get("events") else None
    if key is not None:
        hdrs["Idempotency-Key"] = key
    data = raw if raw is not None else dumps(body).encode()
    if encoding == "gzip":
        data = gzip.compress(data)
    if encoding:
        hdrs["Content-Encoding"] = encoding
    hdrs.update(headers or {})
    return http_request(coll.url("/v1/ingest"), "POST", body=data, headers=hdrs)


def check_answer(r, accepted, duplicates, what, rejected=0):
    check(r.status == 200, "%s: expected 200, got %r" % (what, r))
    j = r.json
    check(isinstance(j, dict), "%s: answer is not a JSON object: %r" % (what, r))
    check_eq(j.get("accepted"), accepted, "%s: accepted" % what)
    check_eq(j.get("duplicates"), duplicates, "%s: duplicates" % what)
    check_eq(len(j.get("rejected") or []), rejected, "%s: len(rejected)" % what)


def per_agent_tokens(h):
    """--tokens-file: each agent its own token(s), 403 with another agent's, reload on SIGHUP."""
    tf = h.path("tokens")

    def write(lines):
        with open(tf + ".new", "w") as f:
            f.write("# per-agent tokens\n\n" + "".join("%s %s\n" % (a, hashlib.sha256(t.encode()).hexdigest())
                                                    for a, t in lines))
        os.chmod(tf + ".new", 0o600)
        os.replace(tf + ".new", tf)
    write([("tok-a", "secret-a"), ("tok-a", "secret-a2"), ("tok-b", "secret-b")])
    coll = h.start_collector(auth_token=None, extra=["--tokens-file", tf], name="collector-tokens")
    ba = batch([1, 2], agent_id="tok-a", prefix="ta")
    check_answer(ingest(coll, ba, token="secret-a"), 2, 0, "tok-a with its token")
    check_answer(ingest(coll, ba, token="secret-a2"), 0, 2, "tok-a with its second (rotated) token")
    check_error_body(ingest(coll, ba, token="secret-b"), 403, "tok-a with tok-b's token")
    check_error_body(ingest(coll, ba, token="secret-zzz"), 401, "tok-a with an unknown token")
    check_error_body(ingest(coll, batch([1], agent_id="tok-c", prefix="tc"), token="secret-a"), 403,
                     "an unlisted agent with tok-a's token")
    write([("tok-a", "secret-a"), ("tok-b", "secret-b")])
    coll.signal(signal.SIGHUP)
    wait_until(lambda: ingest(coll, ba, token="secret-a2").status == 401, 10,
               "the retired token to be refused after SIGHUP")
    check_answer(ingest(coll, ba, token="secret-a"), 0, 2, "tok-a with its remaining token after SIGHUP")
    check(coll.alive(), "collector died on SIGHUP")
    check_eq(coll.stop(), 0, "collector (tokens file) exit code on SIGTERM")


def main(h):
    global BASE
    BASE = now_ms() - 6 * 3600 * 1000
    coll = h.start_collector()

    # --- a batch as the agent sends it, then its replay ---------------------
    b1 = batch(range(1, N + 1))
    check_answer(ingest(coll, b1), N, 0, "first batch")
    check_answer(ingest(coll, b1), 0, N, "identical replay")
    b1r = dict(b1, sent_at=fmt_ts(now_ms() + 1), stats={"backlog": 7, "oldest_pending_s": 1.5})
    check_answer(ingest(coll, b1r), 0, N, "replay with a new sent_at/stats (an agent retry)")

    # same key, different events -> 422 (the key names other content)
    def change(evs):
        evs[0]["confidence"] = 0.11
        evs[0]["event_id"] = "rp-changed"
    r = ingest(coll, batch(range(1, N + 1), mutate=change), key=key_for(b1))
    check_error_body(r, 422, "same Idempotency-Key, different body")

    # --- Idempotency-Key rules ---------------------------------------------
    b2 = batch(range(N + 1, 2 * N + 1))
    check_error_body(ingest(coll, b2, key=None), 400, "batch with events, no Idempotency-Key")
    check_error_body(ingest(coll, b2, key="%s:%s:%d-%d" % (AGENT, EPOCH, N + 1, N + 5)), 400,
                     "Idempotency-Key with the wrong seq range")
    check_error_body(ingest(coll, b2, key="other-agent:%s:%d-%d" % (EPOCH, N + 1, 2 * N)), 400,
                     "Idempotency-Key naming another agent")
    check_error_body(ingest(coll, b2, key="%s:%s:%d-%d" % (AGENT, "fedcba9876543210", N + 1, 2 * N)), 400,
                     "Idempotency-Key naming another epoch")
    check_error_body(ingest(coll, b2, key="garbage"), 400, "malformed Idempotency-Key")

    # --- content encodings ---------------------------------------------------
    check_answer(ingest(coll, b2, encoding="gzip"), N, 0, "gzip batch")
    check_answer(ingest(coll, b2, encoding="gzip"), 0, N, "gzip replay")
    b3 = batch(range(2 * N + 1, 3 * N + 1))
    check_answer(ingest(coll, b3, encoding="identity"), N, 0, "Content-Encoding: identity")
    b4 = batch(range(3 * N + 1, 4 * N + 1))
    r = ingest(coll, b4, encoding="br", raw=zlib.compress(dumps(b4).encode()))
    check_error_body(r, 415, "unknown Content-Encoding br")
    r = ingest(coll, b4, encoding="gzip", raw=b"\x1f\x8b\x08\x00garbage-not-gzip")
    check(r.status in (400, 415), "corrupt gzip body: expected 400, got %r" % r)
    check_error_body(r, r.status, "corrupt gzip body")

    # --- authentication --------------------------------------------------------
    check_error_body(ingest(coll, b4, token=None), 401, "ingest without a token")
    check_error_body(ingest(coll, b4, token="wrong-token"), 401, "ingest with a wrong token")
    # SPEC §4: the read token does not grant ingest, agent tokens do not grant reads.
    # SPEC says 401 for an unknown token and 403 for another agent's; a token of the
    # wrong role may be either (the brief asked for 401): refuse, with a JSON error.
    r = ingest(coll, b4, token=READ_TOKEN)
    check(r.status in (401, 403), "ingest with the read token: expected 401/403, got %r" % r)
    check_error_body(r, r.status, "ingest with the read token")
    if r.status != 401:
        log("NOTE: ingest with the read token answers %d (brief expected 401)" % r.status)
    r = http_request(coll.url("/v1/agents"), headers=read_auth(AGENT_TOKEN))
    check(r.status in (401, 403), "GET /v1/agents with the agent token: expected 401/403, got %r" % r)
    check_error_body(r, r.status, "GET /v1/agents with the agent token")
    if r.status != 401:
        log("NOTE: GET /v1/agents with the agent token answers %d (brief expected 401)" % r.status)
    r = http_request(coll.url("/v1/agents"))
    check_error_body(r, 401, "GET /v1/agents without a token")
    basic = base64.b64encode(("reader:%s" % READ_TOKEN).encode()).decode()
    r = http_request(coll.url("/v1/agents"), headers={"Authorization": "Basic " + basic})
    check(r.status == 200, "GET /v1/agents with HTTP Basic read token: %r" % r)
    for path in ("/healthz", "/readyz"):
        r = http_request(coll.url(path))
        check(r.status == 200, "GET %s without a token should be open: %r" % (path, r))

    # --- body limits (8 MiB decoded) ----------------------------------------------
    big = batch([4 * N + 1])
    big["events"][0]["pad"] = "x" * 100
    data = dumps(big).encode()
    pad = b" " * (8 * 1024 * 1024 + 1 - len(data))
    raw = data[:-1] + pad + data[-1:]
    hdrs = {"Authorization": "Bearer " + AGENT_TOKEN, "Content-Type": "application/json",
            "Idempotency-Key": key_for(big), "Content-Length": str(len(raw))}
    r = raw_request(coll.port, "POST", "/v1/ingest", hdrs, raw)
    check_error_body(r, 413, "ingest body of 8 MiB + 1")
    bomb = gzip.compress(raw, 9)
    hdrs2 = dict(hdrs, **{"Content-Encoding": "gzip", "Content-Length": str(len(bomb))})
    r = raw_request(coll.port, "POST", "/v1/ingest", hdrs2, bomb)
    check_error_body(r, 413, "gzip body decoding to 8 MiB + 1 (%d bytes compressed)" % len(bomb))

    # --- not a batch -------------------------------------------------------------------
    bad_bodies = [
        ("not JSON", b"this is not json"),
        ("truncated JSON", dumps(b4).encode()[:-3]),
        ("empty body", b""),
        ("JSON array", b"[]"),
        ("JSON string", b'"batch"'),
        ("empty object", b"{}"),
        ("no events array", dumps({"agent_id": AGENT, "epoch": EPOCH}).encode()),
        ("events not an array", dumps({"agent_id": AGENT, "epoch": EPOCH, "events": {}}).encode()),
        ("bad epoch", dumps(dict(batch([4 * N + 1]), epoch="xyz")).encode()),
        ("bad agent_id", dumps(dict(batch([4 * N + 1]), agent_id="bad agent id")).encode()),
    ]
    for what, raw in bad_bodies:
        r = ingest(coll, {}, key=None, raw=raw)
        check_error_body(r, 400, "not a batch: %s" % what)

    # --- batch sanity --------------------------------------------------------------------
    def dup_seq(evs):
        evs[1]["seq"] = evs[0]["seq"]
    b = batch([4 * N + 1, 4 * N + 2], mutate=dup_seq)
    check_error_body(ingest(coll, b, key="%s:%s:%d-%d" % (AGENT, EPOCH, 4 * N + 1, 4 * N + 1)), 400,
                     "batch with a repeated seq")
    def zero_seq(evs):
        evs[0]["seq"] = 0
    b = batch([4 * N + 1], mutate=zero_seq)
    check_error_body(ingest(coll, b, key="%s:%s:0-0" % (AGENT, EPOCH)), 400, "batch with seq 0")
    b = batch([4 * N + 1], dropped=[(5, 3)])
    check_error_body(ingest(coll, b), 400, "dropped range with from > to")
    b = batch([4 * N + 1], dropped=[(1, 10 ** 9)])
    check_error_body(ingest(coll, b), 400, "dropped range beyond every seq seen")

    # --- heartbeat: an empty events array needs no Idempotency-Key ------------------------
    hb = {"agent_id": AGENT, "epoch": EPOCH, "events": [], "dropped": [],
          "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())}
    check_answer(ingest(coll, hb, key=None), 0, 0, "heartbeat")

    # --- future timestamps are rejected per event, not per batch -----------------------
    def future(evs):
        evs[1]["timestamp"] = fmt_ts(now_ms() + 3600 * 1000)
    b5 = batch(range(3 * N + 1, 3 * N + 4), mutate=future)
    r = ingest(coll, b5)
    check_answer(r, 2, 0, "batch with one event an hour in the future", rejected=1)
    rej = r.json["rejected"][0]
    check_eq(rej.get("seq"), 3 * N + 2, "rejected[0].seq")
    check_eq(rej.get("error"), "timestamp_out_of_range", "rejected[0].error")

    # --- delivery tracking ------------------------------------------------------------------
    a = collector_agent(coll, AGENT)
    check(a is not None, "/v1/agents does not list %s" % AGENT)
    # seqs 1..3N received, 3N+1 and 3N+3 received, 3N+2 rejected (not received, so missing)
    check_eq(a.get("epoch"), EPOCH, "agents.epoch")
    check_eq(a.get("high_seq"), 3 * N + 3, "agents.high_seq")
    check_eq(a.get("received"), 3 * N + 2, "agents.received")
    check_eq(a.get("contiguous_seq"), 3 * N + 1, "agents.contiguous_seq")
    check_eq(a.get("missing"), 1, "agents.missing")
    check(a.get("version") in ("0.1.0", "ferry-agent/0.1.0"),
          "agents.version should come from the User-Agent ferry-agent/0.1.0: %r" % a.get("version"))

    # a second agent with a gap, then the gap declared dropped
    g = "gap-agent"
    ge = "00000000000000aa"
    check_answer(ingest(coll, batch([1, 2, 3], agent_id=g, epoch=ge, prefix="gp")), 3, 0, "gap 1-3")
    check_answer(ingest(coll, batch([6, 7], agent_id=g, epoch=ge, prefix="gp")), 2, 0, "gap 6-7")
    a = collector_agent(coll, g)
    check(a is not None, "/v1/agents does not list %s" % g)
    for k, v in (("high_seq", 7), ("received", 5), ("missing", 2), ("contiguous_seq", 3), ("dropped", 0)):
        check_eq(a.get(k), v, "%s.%s with seqs 4-5 missing" % (g, k))
    check_answer(ingest(coll, batch([8], agent_id=g, epoch=ge, prefix="gp", dropped=[(4, 5)])), 1, 0,
                 "batch declaring 4-5 dropped")
    a = collector_agent(coll, g)
    for k, v in (("high_seq", 8), ("received", 6), ("missing", 0), ("contiguous_seq", 8), ("dropped", 2)):
        check_eq(a.get(k), v, "%s.%s after 4-5 declared dropped" % (g, k))
    # the same event ids again under a new epoch: new seqs, no new events
    ge2 = "00000000000000bb"
    check_answer(ingest(coll, batch([1, 2, 3], agent_id=g, epoch=ge2, prefix="gp")), 0, 3,
                 "same event ids under a new epoch")
    a = collector_agent(coll, g)
    check_eq(a.get("epoch"), ge2, "%s top-level epoch is the latest one" % g)
    check_eq(a.get("received"), 3, "%s received in the new epoch" % g)
    check_eq(len(a.get("epochs") or []), 2, "%s epochs listed" % g)

    n = factory_events(coll, BASE - 1000, BASE + 4 * N * 1000)
    if n is not None:
        check_eq(n, 3 * N + 2 + 6, "factory events (distinct stored events)")

    check_eq(coll.stop(), 0, "collector exit code on SIGTERM")
    per_agent_tokens(h)


if __name__ == "__main__":
    run(main)
