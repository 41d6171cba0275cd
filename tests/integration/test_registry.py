#!/usr/bin/env python3
"""The plant registry (SPEC §6.6) on a real collector: PUT /v1/registry from
JSON and PUT /v1/registry/{kind} from CSV, validated whole (a refused write
changes nothing and names kind, row and column), versioned, unknown fields
kept, the admin token's scope (agent and read tokens get 403, none or an
unknown one 401; the admin token is re-read on SIGHUP), a body over the limit
413, the registry surviving a restart, and `ferry-collector registry
import/export` working on the same database."""
import signal

from ferry_harness import *

ADMIN = "it-admin-token-5c0e7a1f"
ADMIN2 = "it-admin-token-rotated-88b2"

DOC = {
    "sites": [{"id": "S1", "name": "Plant One", "retention_days": 30, "x_custom": {"k": [1, 2]}},
              {"id": "S2", "name": "Plant Two"}],
    "lines": [{"id": "L1", "name": "Line 1", "site": "S1"}, {"id": "L2", "name": "Line 2", "site": "S2"}],
    "workstations": [{"id": "press-4", "name": "Press 4", "type": "press", "line": "L1"}],
    "workers": [{"id": "W-001", "name": "Ana", "team": "A"}],
    "agents": [{"agent_id": "edge-1", "site": "S1"}],
    "note": "kept as given",
}


def req(coll, method, path, token, body=None, ctype=None):
    hdrs = {"Authorization": "Bearer " + token} if token else {}
    if ctype:
        hdrs["Content-Type"] = ctype
    return http_request(coll.url(path), method, body=body, headers=hdrs)


def put_json(coll, doc, token=ADMIN):
    return req(coll, "PUT", "/v1/registry", token, json.dumps(doc), "application/json")


def put_csv(coll, kind, text, token=ADMIN):
    return req(coll, "PUT", "/v1/registry/" + kind, token, text, "text/csv")


def version(coll):
    r = req(coll, "GET", "/v1/registry", READ_TOKEN)
    check_eq(r.status, 200, "GET /v1/registry: %r" % r)
    return r.json["version"]


def main(h):
    admin_file = h.path("admin-token")
    with open(admin_file, "w") as f:
        f.write(ADMIN + "\n")
    os.chmod(admin_file, 0o600)
    db_dir = h.mkdir("coll")
    extra = ["--admin-token-file", admin_file, "--max-body-bytes", "64KiB"]
    coll = h.start_collector(db_dir=db_dir, extra=extra)

    r = req(coll, "GET", "/v1/registry", READ_TOKEN)
    check_eq(r.status, 200, "empty registry: %r" % r)
    check_eq((r.json["version"], r.json["workers"], r.json["sites"]), (0, [], []), "nothing registered yet")

    # scope of the tokens
    for tok, st in ((None, 401), ("nope", 401), (AGENT_TOKEN, 403), (READ_TOKEN, 403)):
        check_error_body(put_json(coll, DOC, tok), st, "PUT with %r" % tok)
        check_error_body(put_csv(coll, "workers", "id\nA\n", tok), st, "PUT csv with %r" % tok)
    check_error_body(req(coll, "GET", "/v1/registry", AGENT_TOKEN), 403, "agent token reads")
    check_error_body(req(coll, "GET", "/v1/registry", None), 401, "no token reads")
    check_eq(version(coll), 0, "refused writes wrote nothing")

    r = put_json(coll, DOC)
    check_eq(r.status, 200, "PUT JSON: %r" % r)
    check_eq((r.json["version"], r.json["sites"], r.json["workers"]), (1, 2, 1), "answer: version and counts")
    for tok in (READ_TOKEN, ADMIN):
        g = req(coll, "GET", "/v1/registry", tok)
        check_eq(g.status, 200, "GET with %s" % tok)
        check_eq(g.json["version"], 1, "version")
        check_eq(g.json["note"], "kept as given", "unknown top-level field kept")
        check_eq(g.json["sites"][0]["x_custom"], {"k": [1, 2]}, "unknown entry field kept")
        check_eq(g.json["workstations"], DOC["workstations"], "workstations as given")
    # a document read back is accepted as it is
    r = put_json(coll, g.json)
    check_eq((r.status, r.json and r.json["version"]), (200, 2), "GET output PUT back")

    # CSV of one kind; the other kinds stay
    r = put_csv(coll, "workers", 'id,name,team,badge\r\nW-001,Ana,A,7\r\nW-002,"Bo, ""the"" B",B,\r\n')
    check_eq(r.status, 200, "PUT workers CSV: %r" % r)
    check_eq((r.json["version"], r.json["workers"], r.json["sites"]), (3, 2, 2), "CSV answer")
    g = req(coll, "GET", "/v1/registry", READ_TOKEN).json
    check_eq(g["workers"][1], {"id": "W-002", "name": 'Bo, "the" B', "team": "B"}, "quoted CSV field")
    check_eq(g["workers"][0]["badge"], "7", "unknown CSV column kept")
    c = req(coll, "GET", "/v1/registry/workers", READ_TOKEN)
    check_eq(c.status, 200, "GET workers CSV")
    check(c.headers.get("content-type", "").startswith("text/csv"), "CSV type: %r" % c.headers)
    check_eq(c.body.decode().splitlines()[2], 'W-002,"Bo, ""the"" B",B,', "CSV export quotes")

    # refused whole, naming row and column; nothing changes
    bad = [
        ("workers", "id,name\nW-1,a\nW-2,b\nW-1,c\n", [{"kind": "workers", "row": 4, "column": "id"}]),
        ("workstations", "id,name,line\nP1,a,L1\nP2,b,L9\n", [{"kind": "workstations", "row": 3, "column": "line"}]),
        ("lines", "id,site\nL1,S1\nL3,S404\n", [{"kind": "lines", "row": 3, "column": "site"}]),
        ("workers", 'id,name\nW-1,"unterminated\n', [{"kind": "workers", "row": 2, "column": "2"}]),
        ("workers", "id,name\nW-1,a,extra\n", [{"kind": "workers", "row": 2}]),
        ("sites", "id,retention_days\nS1,thirty\nS2,1\n", [{"kind": "sites", "row": 2, "column": "retention_days"}]),
        ("sites", "id\nS1\n", [{"kind": "lines", "index": 1, "field": "site"}]),  # L2 still names S2
        ("agents", "agent_id,site\nedge-1,S9\n", [{"kind": "agents", "row": 2, "column": "site"}]),
    ]
    for kind, text, want in bad:
        r = put_csv(coll, kind, text)
        e = check_error_body(r, 400, "bad %s CSV %r" % (kind, text), "invalid_registry")
        for w in want:
            check(any(all(x.get(k) == v for k, v in w.items()) for x in e["errors"]),
                  "%r: expected an error like %r in %r" % (text, w, e["errors"]))
    for doc, want in (({"workers": [{"id": "A"}, {"id": "A"}]}, {"kind": "workers", "index": 1, "field": "id"}),
                      ({"workstations": [{"id": "P", "site": "nowhere"}]},
                       {"kind": "workstations", "index": 0, "field": "site"}),
                      ({"sites": "S1"}, {"kind": "sites"})):
        e = check_error_body(put_json(coll, doc), 400, "bad doc %r" % doc, "invalid_registry")
        check(any(all(x.get(k) == v for k, v in want.items()) for x in e["errors"]),
              "%r: expected %r in %r" % (doc, want, e["errors"]))
    check_error_body(req(coll, "PUT", "/v1/registry", ADMIN, "{", "application/json"), 400, "not JSON")
    check_error_body(req(coll, "PUT", "/v1/registry/workers", ADMIN, "id\nA\n", "application/json"), 415,
                     "CSV endpoint wants text/csv")
    check_error_body(req(coll, "PUT", "/v1/registry", ADMIN, "{}", "text/csv"), 415, "JSON endpoint wants JSON")
    check_error_body(req(coll, "PUT", "/v1/registry/gadgets", ADMIN, "id\nA\n", "text/csv"), 404, "unknown kind")
    check_error_body(req(coll, "DELETE", "/v1/registry", ADMIN), 405, "DELETE")
    big = "id,name\n" + "".join("W-%06d,%s\n" % (i, "x" * 40) for i in range(2000))
    check_error_body(put_csv(coll, "workers", big), 413, "a CSV over the body limit")
    check_eq(version(coll), 3, "refused writes wrote nothing")

    # the admin token is re-read on SIGHUP
    with open(admin_file, "w") as f:
        f.write(ADMIN2 + "\n")
    coll.signal(signal.SIGHUP)
    wait_until(lambda: put_csv(coll, "workers", "id\nW-001\nW-002\nW-003\n", ADMIN2).status == 200, 10,
               "the rotated admin token works")
    check_error_body(put_csv(coll, "workers", "id\nW-001\n", ADMIN), 401, "the old admin token")
    check_eq(version(coll), 4, "rotated token wrote version 4")

    # the command line works on the same database while the collector runs
    csv_path = h.path("workstations.csv")
    with open(csv_path, "w") as f:
        f.write("id,name,type,line\npress-4,Press 4,press,L1\nweld-1,Weld 1,weld,L2\n")
    p = subprocess.run(command([binary("ferry-collector"), "--db", coll.args[coll.args.index("--db") + 1],
                                "registry", "import", csv_path]), capture_output=True, text=True, timeout=60)
    check_eq(p.returncode, 0, "registry import: %s %s" % (p.stdout, p.stderr))
    check("version 5" in p.stdout, "import says the version: %r" % p.stdout)
    g = req(coll, "GET", "/v1/registry", READ_TOKEN).json
    check_eq((g["version"], [w["id"] for w in g["workstations"]]), (5, ["press-4", "weld-1"]), "import seen")
    with open(csv_path, "w") as f:
        f.write("id,line\npress-9,L7\n")
    p = subprocess.run(command([binary("ferry-collector"), "--db", coll.args[coll.args.index("--db") + 1],
                                "registry", "import", csv_path]), capture_output=True, text=True, timeout=60)
    check_eq(p.returncode, 1, "a bad import fails: %s" % p.stderr)
    check("row 2, column line" in p.stderr, "names row and column: %r" % p.stderr)
    p = subprocess.run(command([binary("ferry-collector"), "--db", coll.args[coll.args.index("--db") + 1],
                                "registry", "export", "workstations"]), capture_output=True, text=True, timeout=60)
    check_eq(p.returncode, 0, "export: %s" % p.stderr)
    check_eq(p.stdout.splitlines()[0:2], ["id,name,type,line,site", "press-4,Press 4,press,L1,"], "exported CSV")

    # survives a restart
    coll.stop()
    coll = h.start_collector(port=coll.port, db_dir=db_dir, extra=["--admin-token", ADMIN])
    g = req(coll, "GET", "/v1/registry", READ_TOKEN).json
    check_eq((g["version"], len(g["workers"]), g["note"]), (5, 3, "kept as given"), "after restart")
    log("registry: JSON and CSV writes, refusals named, token scope, SIGHUP, CLI, restart")


if __name__ == "__main__":
    run(main)
