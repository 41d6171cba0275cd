#!/usr/bin/env python3
"""docs/openapi.json against the real programs: every route ferry-agent and
ferry-collector serve is documented there, and everything documented is
served — found by probing the running binaries, not by trusting a list.

Which paths are probed: every documented path (templates filled in), every
string literal in agent/, collector/ and common/ C sources that looks like a
URL path (with `NAME "suffix"` macro concatenations expanded; a literal ending
in "/" is also probed with an id after it), and every embedded dashboard file.
A path is served by a method when the answer is neither the router's 404
("no such ... endpoint") nor 405. So a new route added to either program's
routing code without a line in openapi.json fails this test.

It also checks the document itself (OpenAPI 3.1, every $ref resolves, every
operation documents its error answers with the Error schema), that each probe
answered with a status the document lists for that operation, and that the
JSON answers of the main read endpoints match their documented schemas."""
import glob

from ferry_harness import *

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
PROGRAMS = ("agent", "collector")
AGENT_ID = "oa-agent"
EPOCH = "00000000000000a1"


def load_doc():
    with open(os.path.join(ROOT, "docs", "openapi.json"), encoding="utf-8") as f:
        return json.load(f)


def resolve(doc, node):
    seen = 0
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        check(ref.startswith("#/"), "only local $refs are used: %s" % ref)
        node = doc
        for part in ref[2:].split("/"):
            check(isinstance(node, dict) and part in node, "$ref %s does not resolve" % ref)
            node = node[part]
        seen += 1
        check(seen < 20, "$ref loop at %s" % ref)
    return node


def walk_refs(doc, node):
    if isinstance(node, dict):
        if "$ref" in node:
            resolve(doc, node)
        for v in node.values():
            walk_refs(doc, v)
    elif isinstance(node, list):
        for v in node:
            walk_refs(doc, v)


def is_error_shape(doc, schema):
    """An object whose required "error" holds code and message (directly or via allOf)."""
    s = resolve(doc, schema)
    if any(is_error_shape(doc, sub) for sub in s.get("allOf", [])):
        return True
    e = resolve(doc, s.get("properties", {}).get("error", {}))
    return "error" in s.get("required", []) and {"code", "message"} <= set(e.get("required", []))


def check_document(doc):
    check_eq(doc.get("openapi"), "3.1.0", "openapi version")
    check(isinstance(doc.get("info", {}).get("title"), str), "info.title")
    walk_refs(doc, doc)
    for path, item in doc["paths"].items():
        progs = item.get("x-ferry-programs")
        check(isinstance(progs, list) and progs and set(progs) <= set(PROGRAMS),
              "%s: x-ferry-programs must list agent and/or collector" % path)
        ops = [m for m in item if m in ("get", "post", "put", "delete", "patch", "head")]
        check(ops, "%s: no operation" % path)
        for m in ops:
            op = item[m]
            check(op.get("summary"), "%s %s: summary" % (m, path))
            codes = op.get("responses", {})
            check(any(c.startswith("2") for c in codes), "%s %s: no 2xx answer documented" % (m, path))
            check("405" in codes, "%s %s: the 405 answer is not documented" % (m, path))
            for code, r in codes.items():
                r = resolve(doc, r)
                check(r.get("description"), "%s %s %s: description" % (m, path, code))
                if code[0] in "45":
                    schema = r.get("content", {}).get("application/json", {}).get("schema")
                    check(schema is not None, "%s %s %s: error answer without a JSON schema" % (m, path, code))
                    ok = is_error_shape(doc, schema)
                    check(ok, "%s %s %s: error answer is not the Error shape" % (m, path, code))
            for p in op.get("parameters", []):
                if p.get("in") == "path":
                    check("{%s}" % p["name"] in path, "%s: path parameter %s not in the path" % (path, p["name"]))


# ---- a small JSON Schema check (the subset openapi.json uses) -------------------

def validate(doc, schema, value, where):
    s = resolve(doc, schema)
    if "allOf" in s:
        for sub in s["allOf"]:
            validate(doc, sub, value, where)
    if "oneOf" in s:
        n = 0
        for sub in s["oneOf"]:
            try:
                validate(doc, sub, value, where)
                n += 1
            except TestFailure:
                pass
        check(n == 1, "%s: matches %d of oneOf" % (where, n))
    if "const" in s:
        check_eq(value, s["const"], where)
    if "enum" in s:
        check(value in s["enum"], "%s: %r not in %r" % (where, value, s["enum"]))
    t = s.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        pytype = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}
        ok = False
        for ty in types:
            if ty == "integer":
                ok |= isinstance(value, int) and not isinstance(value, bool)
            elif ty == "number":
                ok |= isinstance(value, (int, float)) and not isinstance(value, bool)
            else:
                ok |= isinstance(value, pytype[ty])
        check(ok, "%s: %r is not %s" % (where, value, t))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in s:
            check(value >= s["minimum"], "%s: %r < minimum %r" % (where, value, s["minimum"]))
        if "maximum" in s:
            check(value <= s["maximum"], "%s: %r > maximum %r" % (where, value, s["maximum"]))
    if isinstance(value, dict):
        for k in s.get("required", []):
            check(k in value, "%s: required %r missing in %r" % (where, k, sorted(value)))
        for k, sub in s.get("properties", {}).items():
            if k in value:
                validate(doc, sub, value[k], where + "." + k)
    if isinstance(value, list) and "items" in s:
        for i, v in enumerate(value):
            validate(doc, s["items"], v, "%s[%d]" % (where, i))


# ---- which paths to probe ----------------------------------------------------

def source_paths():
    """URL-like string literals of the C sources, macro concatenations expanded."""
    files = []
    for d in ("agent", "collector", "common"):
        files += glob.glob(os.path.join(ROOT, d, "**", "*.[ch]"), recursive=True)
    texts = {f: open(f, encoding="utf-8", errors="replace").read() for f in files}
    # #define NAME "lit" / NAME OTHER "lit" ...: resolved until nothing changes
    raw = {}
    for t in texts.values():
        for m in re.finditer(r'(?m)^\s*#\s*define\s+([A-Z_][A-Z0-9_]*)\s+((?:"[^"\\\n]*"|[A-Z_][A-Z0-9_]*)'
                             r'(?:[ \t]+(?:"[^"\\\n]*"|[A-Z_][A-Z0-9_]*))*)[ \t]*(?:/[*/].*)?$', t):
            raw[m.group(1)] = re.findall(r'"[^"\\\n]*"|[A-Z_][A-Z0-9_]*', m.group(2))
    macros = {}
    for _ in range(10):
        for name, toks in raw.items():
            if name not in macros and all(x.startswith('"') or x in macros for x in toks):
                macros[name] = "".join(x[1:-1] if x.startswith('"') else macros[x] for x in toks)
    found = set()
    lit = r'(?:"[^"\\\n]*"|\b(?:%s)\b)' % "|".join(map(re.escape, macros)) if macros else r'"[^"\\\n]*"'
    for t in texts.values():
        t = re.sub(r"/\*.*?\*/", " ", t, flags=re.S)
        t = re.sub(r"(?m)^\s*#\s*(define|include).*$", " ", t)
        for m in re.finditer(r"%s(?:\s*%s)*" % (lit, lit), t):
            parts = re.findall(lit, m.group(0))
            s = "".join(p[1:-1] if p.startswith('"') else macros[p] for p in parts)
            if re.fullmatch(r"/[A-Za-z0-9._/-]*", s) and "//" not in s:
                found.add(s)
    return found


def dashboard_paths():
    out = {"/"}
    for f in os.listdir(os.path.join(ROOT, "collector", "dashboard")):
        if f != "index.html":
            out.add("/assets/" + f)
    return out


def template_re(path):
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")


def unrouted(r):
    """The router's "no such endpoint" answer (an unknown id is another 404)."""
    if r.status != 404:
        return False
    msg = ((r.json or {}).get("error") or {}).get("message", "") if isinstance(r.json, dict) else ""
    return bool(re.match(r"no such( [a-z-]+)? endpoint", msg))


def main(h):
    doc = load_doc()
    check_document(doc)
    log("document: %d paths, refs resolve, errors documented" % len(doc["paths"]))

    coll = h.start_collector()
    agent = h.start_agent(coll.port, agent_id=AGENT_ID)
    # known data so that /{id} paths name something that exists
    base = now_ms() - 2 * 3600 * 1000
    evs = [{"event_id": "oa-1", "timestamp": fmt_ts(base), "event_type": "working",
            "worker_id": "oa-worker", "workstation_id": "oa-station", "seq": 1,
            "ingested_at": fmt_ts(base)},
           {"event_id": "oa-2", "timestamp": fmt_ts(base + 60000), "event_type": "product_count",
            "worker_id": "oa-worker", "workstation_id": "oa-station", "count": 3, "seq": 2,
            "ingested_at": fmt_ts(base + 60000)}]
    r = http_request(coll.url("/v1/ingest"), "POST",
                     json_body={"agent_id": "oa-direct", "epoch": EPOCH, "events": evs, "dropped": [],
                                "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())},
                     headers={"Authorization": "Bearer " + AGENT_TOKEN,
                              "Idempotency-Key": "oa-direct:%s:1-2" % EPOCH})
    check_eq(r.status, 200, "direct ingest: %r" % r)
    fill = {"id": "oa-worker", "name": "app.js", "kind": "workers"}

    def concrete(path):
        if "/workstations/" in path:
            return path.replace("{id}", "oa-station")
        return re.sub(r"\{([^}]+)\}", lambda m: fill[m.group(1)], path)

    documented = {p: {m.upper() for m in item if m in ("get", "post", "put", "delete", "patch")}
                  for p, item in doc["paths"].items()}
    programs = {p: item["x-ferry-programs"] for p, item in doc["paths"].items()}

    candidates = set(concrete(p) for p in documented)
    src = source_paths()
    candidates |= src | {s + "probe-id" for s in src if s.endswith("/") and len(s) > 1}
    candidates |= dashboard_paths() | {"/nope", "/v1/nope", "/assets/nope.js"}
    log("probing %d paths x %d methods on both programs" % (len(candidates), len(METHODS)))

    auth = {"collector": {"Authorization": "Bearer " + READ_TOKEN}, "agent": {}}
    procs = {"collector": coll, "agent": agent}
    for prog in PROGRAMS:
        p = procs[prog]
        served = {}
        answers = {}
        for path in sorted(candidates):
            for m in METHODS:
                body = b"" if m in ("POST", "PUT", "PATCH") else None
                r = http_request(p.url(path), m, body=body, headers=auth[prog], timeout=30)
                answers[(path, m)] = r
                if r.status == 405:
                    check("allow" in r.headers, "%s %s %s: 405 without Allow" % (prog, m, path))
                if unrouted(r) or r.status == 405:
                    continue
                check(r.status != 404 or r.error_code(), "%s %s %s: 404 without a JSON error" % (prog, m, path))
                served.setdefault(path, set()).add(m)
        # served → documented
        for path, methods in served.items():
            match = [d for d in documented if prog in programs[d] and template_re(d).match(path)]
            check(match, "%s serves %s %s, which docs/openapi.json does not document"
                  % (prog, "/".join(sorted(methods)), path))
            for m in methods:
                check(any(m in documented[d] for d in match),
                      "%s serves %s %s, which docs/openapi.json does not document" % (prog, m, path))
        # documented → served, with a documented status
        for d, methods in documented.items():
            if prog not in programs[d]:
                continue
            path = concrete(d)
            for m in methods:
                r = answers[(path, m)]
                check(m in served.get(path, set()),
                      "docs/openapi.json documents %s %s on %s, which does not serve it (%r)" % (m, d, prog, r))
                codes = doc["paths"][d][m.lower()]["responses"]
                check(str(r.status) in codes, "%s %s %s answered %d, not among the documented %s"
                      % (prog, m, path, r.status, sorted(codes)))
        log("%s: %d served paths, all documented; all documented ones served" % (prog, len(served)))

    # answers match their schemas (GET with the right token)
    def ok_schema(path_key, url, prog_headers):
        r = http_request(url, "GET", headers=prog_headers)
        check_eq(r.status, 200, "GET %s" % url)
        sch = doc["paths"][path_key]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        validate(doc, sch, r.json, path_key)
    wait_until(lambda: any(a["agent_id"] == AGENT_ID for a in collector_agents(coll)), 30,
               "the agent's first contact")
    ok_schema("/v1/agents", coll.url("/v1/agents"), auth["collector"])
    ok_schema("/v1/status", agent.url("/v1/status"), {})
    ok_schema("/healthz", coll.url("/healthz"), {})
    ok_schema("/readyz", agent.url("/readyz"), {})
    for d in ("/v1/metrics/factory", "/v1/metrics/workers", "/v1/metrics/workstations",
              "/v1/metrics/workers/{id}", "/v1/metrics/workstations/{id}", "/v1/metrics/series"):
        if d in doc["paths"]:
            ok_schema(d, coll.url(concrete(d)), auth["collector"])
    page = http_request(coll.url("/"))
    check("default-src 'self'" in page.headers.get("content-security-policy", ""), "CSP on /")
    log("answers match their schemas")


if __name__ == "__main__":
    run(main)
