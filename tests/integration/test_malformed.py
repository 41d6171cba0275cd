#!/usr/bin/env python3
"""Bad input to the agent's POST /v1/events: every refusal is a JSON error with
the right status, code and field, nothing is stored (all or nothing), and the
agent keeps serving. The collector is never started (its port stays closed)."""
from ferry_harness import *

BASE = None
_seq = [0]


def ev(**over):
    """A valid working event with a fresh id, fields overridden (None deletes)."""
    _seq[0] += 1
    e = {"event_id": "mf-%d" % _seq[0], "timestamp": fmt_ts(BASE + _seq[0] * 1000),
         "event_type": "working", "worker_id": "W-001", "workstation_id": "WS-01",
         "camera_id": "cam-01", "model_version": "m-1", "confidence": 0.9}
    for k, v in over.items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    return e


class Ctx:
    def __init__(self, agent):
        self.agent = agent
        self.expected_backlog = 0

    def backlog(self):
        return agent_status(self.agent).get("backlog")

    def post(self, body, ctype="application/json", extra_headers=None):
        hdrs = {}
        if ctype is not None:
            hdrs["Content-Type"] = ctype
        hdrs.update(extra_headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        return http_request(self.agent.url("/v1/events"), "POST", body=body, headers=hdrs)

    def refused(self, body, what, status=400, code=None, field=None, index=None, ctype="application/json"):
        r = self.post(body, ctype=ctype)
        e = check_error_body(r, status, what, code=code)
        if field is not None or index is not None:
            errs = e.get("errors")
            check(isinstance(errs, list) and errs, "%s: error.errors[] missing: %r" % (what, r.body[:400]))
            for x in errs:
                # index and field name the event and field; a body-level error (malformed JSON) has neither
                check(isinstance(x, dict) and isinstance(x.get("message"), str) and
                      isinstance(x.get("index", 0), int) and x.get("index", 0) >= 0 and
                      isinstance(x.get("field", "f"), str) and x.get("field", "f") != "",
                      "%s: errors[] entry lacks a message or has an empty index/field: %r" % (what, x))
            if field is not None:
                check(any(x.get("field") == field for x in errs),
                      "%s: no error names field %r: %r" % (what, field, errs))
            if index is not None:
                check(any(x.get("index") == index for x in errs),
                      "%s: no error has index %r: %r" % (what, index, errs))
        b = self.backlog()
        check_eq(b, self.expected_backlog, "backlog after %s (nothing may be stored)" % what)
        return r

    def accepted(self, body, what, accepted, duplicates=0, ctype="application/json"):
        r = self.post(body, ctype=ctype)
        check(r.status == 202, "%s: expected 202, got %r" % (what, r))
        check_eq(r.json.get("accepted") if isinstance(r.json, dict) else None, accepted, "%s: accepted" % what)
        check_eq(r.json.get("duplicates"), duplicates, "%s: duplicates" % what)
        self.expected_backlog += accepted
        check_eq(self.backlog(), self.expected_backlog, "backlog after %s" % what)
        return r


def nested(depth):
    """An attributes value that makes the whole event `depth` levels deep
    (the event object is level 1, attributes level 2)."""
    inner = {}
    for _ in range(depth - 2):
        inner = {"a": inner}
    return inner


def sized_event(size):
    """A valid event of exactly `size` bytes as sent."""
    e = ev(pad="")
    n = len(dumps(e))
    e["pad"] = "p" * (size - n)
    s = dumps(e)
    assert len(s) == size, (len(s), size)
    return s


def main(h):
    global BASE
    BASE = now_ms() - 3600 * 1000
    agent = h.start_agent(free_port(), agent_id="test-agent-1")
    c = Ctx(agent)
    check_eq(c.backlog(), 0, "initial backlog")

    # ---- bodies that are not JSON, or not valid JSON text ------------------------
    c.refused('{"event_type":', "truncated JSON")
    c.refused("not json at all", "garbage body")
    c.refused(b"", "empty JSON body")
    c.refused(b"   \n", "whitespace-only JSON body")
    c.refused(dumps(ev()).encode().replace(b'"W-001"', b'"W-\xff01"'), "invalid UTF-8 (0xff) in worker_id")
    c.refused(dumps(ev()).encode().replace(b'"W-001"', b'"W-\xc0\xa9"'), "invalid UTF-8 (overlong)")
    c.refused(dumps(ev()).encode().replace(b'"W-001"', b'"W-\xed\xa0\x80"'), "UTF-8 encoded surrogate")
    c.refused(dumps(ev()).encode().replace(b'"W-001"', b'"W-\xe2\x82"'), "truncated UTF-8 sequence")
    c.refused(dumps(ev()).replace('"W-001"', '"W-\\ud800"'), "lone surrogate in worker_id")
    c.refused(dumps(ev()).replace('"W-001"', '"W-\\udc00x"'), "lone low surrogate")
    c.refused(dumps(ev()).replace('"event_type":"working"', '"event_type":"working","event_type":"idle"'),
              "duplicate key event_type")
    c.refused(dumps(ev(attributes={"k": 1})).replace('{"k":1}', '{"k":1,"k":2}'), "duplicate key in attributes")
    c.refused(dumps(ev(attributes=nested(33))), "nesting depth 33")
    c.refused("[" * 100000 + "]" * 100000, "100,000 nested arrays")
    c.refused('"just a string"', "a JSON string body")
    c.refused("42", "a JSON number body")
    c.refused("[1,2]", "an array of numbers", field=None, index=0)
    c.refused(dumps(ev()) + dumps(ev()), "two objects without NDJSON")

    # ---- events breaking a rule: 400 invalid_event naming the field --------------
    field_cases = [
        ("timestamp", ev(timestamp=1700000000), "timestamp as a number"),
        ("timestamp", ev(timestamp="yesterday"), "timestamp not RFC 3339"),
        ("timestamp", ev(timestamp="2026-03-01T08:00:00"), "timestamp without offset"),
        ("timestamp", ev(timestamp="1999-12-31T23:59:59.999Z"), "timestamp before 2000"),
        ("timestamp", ev(timestamp="2026-02-30T08:00:00Z"), "timestamp Feb 30"),
        ("timestamp", ev(timestamp=None), "missing timestamp"),
        ("event_type", ev(event_type=5), "event_type as a number"),
        ("event_type", ev(event_type="Working"), "event_type with wrong case"),
        ("event_type", ev(event_type="sleeping"), "unknown event_type"),
        ("event_type", ev(event_type=None), "missing event_type"),
        ("worker_id", ev(worker_id=None), "working without worker_id"),
        ("worker_id", ev(event_type="absent", worker_id=None), "absent without worker_id"),
        ("worker_id", ev(worker_id=7), "worker_id as a number"),
        ("worker_id", ev(worker_id=""), "empty worker_id"),
        ("worker_id", ev(worker_id="w" * 65), "worker_id of 65 bytes"),
        ("worker_id", ev(worker_id="\u00e9" * 33), "worker_id of 66 UTF-8 bytes"),
        ("worker_id", ev(worker_id="W\u0007"), "worker_id with a control character"),
        ("worker_id", ev(worker_id="W\u200b1"), "worker_id with a format character (ZWSP)"),
        ("workstation_id", ev(workstation_id=None), "missing workstation_id"),
        ("workstation_id", ev(workstation_id=["WS"]), "workstation_id as an array"),
        ("count", ev(event_type="product_count", count="3"), "count as a string"),
        ("count", ev(event_type="product_count", count=1.5), "fractional count"),
        ("count", ev(event_type="product_count", count=0), "count 0"),
        ("count", ev(event_type="product_count", count=1000001), "count over 1,000,000"),
        ("count", ev(event_type="product_count", count=-1), "negative count"),
        ("confidence", ev(confidence=1.5), "confidence over 1"),
        ("confidence", ev(confidence="high"), "confidence as a string"),
        ("camera_id", ev(camera_id="c" * 65), "camera_id of 65 chars"),
        ("model_version", ev(model_version=3), "model_version as a number"),
        ("attributes", ev(attributes=[1, 2]), "attributes as an array"),
        ("attributes", ev(attributes={"blob": "a" * 4100}), "attributes over 4 KiB"),
        ("event_id", ev(event_id="ferry:1:2"), "event_id starting ferry:"),
        ("event_id", ev(event_id="has space"), "event_id with a space"),
        ("event_id", ev(event_id=""), "empty event_id"),
        ("event_id", ev(event_id="e" * 129), "event_id of 129 chars"),
        ("event_id", ev(event_id=12), "event_id as a number"),
        ("seq", ev(seq=5), "an event carrying seq"),
        ("ingested_at", ev(ingested_at=fmt_ts(BASE)), "an event carrying ingested_at"),
    ]
    for field, e, what in field_cases:
        c.refused(dumps(e), what, code="invalid_event", field=field, index=0)
    c.refused('{"event_id":"mf-big","timestamp":"2026-03-01T08:00:00Z","event_type":"product_count",'
              '"workstation_id":"WS-01","count":1e400}', "count 1e400", code="invalid_event", field="count")
    c.refused(dumps(ev()).replace('"confidence":0.9', '"confidence":' + "9" * 400),
              "confidence with 400 digits", code="invalid_event", field="confidence")

    # ---- size of one event: 16 KiB as received ------------------------------------
    c.refused(sized_event(16385), "event of 16 KiB + 1", code="invalid_event", index=0)
    c.accepted(sized_event(16384), "event of exactly 16 KiB", 1)

    # the limit applies to each array element / NDJSON line as received
    c.refused("[" + dumps(ev()) + "," + sized_event(16385) + "]", "array element of 16 KiB + 1",
              code="invalid_event", index=1)
    c.accepted("[" + dumps(ev()) + ",  " + sized_event(16384) + "]", "array element of exactly 16 KiB", 2)
    c.refused(dumps(ev()) + "\n" + sized_event(16385) + "\n", "NDJSON line of 16 KiB + 1",
              ctype="application/x-ndjson", code="invalid_event", index=1)

    # ---- all or nothing ---------------------------------------------------------------
    arr = [ev(), ev(), ev(timestamp="nope"), ev()]
    c.refused(dumps(arr), "array with one bad event at index 2", code="invalid_event",
              field="timestamp", index=2)
    arr = [ev(), ev(event_type=None), ev(), ev(workstation_id=None)]
    r = c.refused(dumps(arr), "array with bad events at 1 and 3", code="invalid_event", index=1)
    idx = sorted(x.get("index") for x in r.json["error"]["errors"])
    check(1 in idx and 3 in idx, "errors[] should report both bad events (1 and 3): %r" % idx)
    lines = [dumps(ev()), "", dumps(ev()), '{"event_type":', dumps(ev())]
    c.refused("\n".join(lines) + "\n", "NDJSON with an invalid line 3 (after a blank line)",
              ctype="application/x-ndjson", index=3)
    lines = [dumps(ev()), dumps(ev(worker_id=None))]
    c.refused("\r\n".join(lines) + "\r\n", "NDJSON with an invalid event on line 1",
              ctype="application/x-ndjson", code="invalid_event", field="worker_id", index=1)

    # ---- content types and sizes -------------------------------------------------------
    c.refused(dumps(ev()), "text/plain body", status=415, ctype="text/plain")
    c.refused(dumps(ev()), "application/xml body", status=415, ctype="application/xml")
    c.refused(dumps(ev()), "form body", status=415, ctype="application/x-www-form-urlencoded")
    big = [ev(pad="q" * 10000) for _ in range(110)]
    raw = dumps(big).encode()
    check(len(raw) > 1024 * 1024, "test bug: body not over 1 MiB")
    r = raw_request(agent.port, "POST", "/v1/events",
                    {"Content-Type": "application/json", "Content-Length": str(len(raw))}, raw)
    check_error_body(r, 413, "body over 1 MiB (%d bytes)" % len(raw))
    check_eq(c.backlog(), c.expected_backlog, "backlog after the 413")

    # ---- valid edge cases ---------------------------------------------------------------------
    c.accepted("[]", "empty array", 0)
    c.accepted("", "empty NDJSON body", 0, ctype="application/x-ndjson")
    c.accepted("\n\n", "NDJSON of blank lines", 0, ctype="application/x-ndjson")
    c.accepted(dumps(ev()), "missing Content-Type means JSON", 1, ctype=None)
    c.accepted(dumps(ev()), "Content-Type with charset", 1, ctype="application/json; charset=utf-8")
    c.accepted(dumps(ev()), "Content-Type in upper case", 1, ctype="Application/JSON")
    c.accepted(dumps(ev(attributes=nested(32))), "nesting depth 32", 1)
    c.accepted(dumps(ev(event_type="product_count", worker_id=None, count=1.0)),
               "product_count without worker, count 1.0", 1)
    c.accepted(dumps(ev(count="not validated on a state event")), "count on a state event is ignored", 1)
    e = ev(camera_id=None, model_version=None, confidence=None)
    e.update({"camera_id": None, "confidence": None, "attributes": None, "future_field": {"x": [1, 2]}})
    c.accepted(dumps(e), "nulls for optional fields and an unknown field", 1)
    c.accepted(dumps(ev(timestamp="2026-03-01T10:00:00.123456+02:00")), "timestamp with offset and µs", 1)
    c.accepted(dumps(ev(worker_id="Wörker-\u4e2d")), "non-ASCII worker_id", 1)
    c.accepted(dumps(ev(event_id=None)), "event without event_id", 1)
    lines = [dumps(ev()), "", dumps(ev()), "   ", dumps(ev())]
    c.accepted("\r\n".join(lines) + "\r\n", "NDJSON with blank lines and CRLF", 3,
               ctype="application/x-ndjson")
    c.accepted(dumps(ev()), "NDJSON without a final newline", 1, ctype="application/x-ndjson")
    e1, e2 = ev(), ev()
    c.accepted(dumps([e1, e2, e1]), "array repeating an event_id", 2, duplicates=1)
    c.accepted(dumps([e1, e2]), "re-posting pending events", 0, duplicates=2)

    # ---- other routes answer JSON errors too -------------------------------------------------
    r = http_request(agent.url("/no/such/path"))
    check_error_body(r, 404, "GET /no/such/path")
    r = http_request(agent.url("/v1/events"))
    check(r.status in (404, 405), "GET /v1/events: expected 405, got %r" % r)
    check_error_body(r, r.status, "GET /v1/events")

    # ---- slow clients do not hold up others ----
    slow = []
    for i in range(3):
        sk = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
        sk.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")
        slow.append(sk)   # headers never finished
    sk = socket.create_connection(("127.0.0.1", agent.port), timeout=10)
    sk.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100000\r\n\r\n[")
    slow.append(sk)       # body never finished
    c.accepted(dumps([ev(), ev()]), "a post while 4 slow clients hang", 2)
    for sk in slow:
        sk.close()

    # ---- still alive and serving ----------------------------------------------------------------
    check(agent.alive(), "agent died")
    r = http_request(agent.url("/healthz"))
    check(r.status == 200, "/healthz after bad input: %r" % r)
    r = http_request(agent.url("/readyz"))
    check(r.status == 200, "/readyz after bad input: %r" % r)
    c.accepted(dumps([ev(), ev()]), "a valid post at the end", 2)
    st = agent_status(agent)
    check_eq(st.get("next_seq"), c.expected_backlog + 1, "next_seq (refused requests use no seq)")
    check_eq(agent.stop(), 0, "agent exit code on SIGTERM")


if __name__ == "__main__":
    run(main)
