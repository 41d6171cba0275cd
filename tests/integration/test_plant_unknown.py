#!/usr/bin/env python3
"""The plant registry at ingest (SPEC §6.6), end to end through real agents:
with --unknown-ids reject, events naming a worker or workstation the registry
does not list are rejected (unknown_worker / unknown_workstation) and
dead-letter at the agent with that reason; a site's retention_days replaces
--retention-days for the events of agents of that site, whether the agent
declares it (--site) or the registry maps the agent to it; an agent of no
site keeps the global rule. With --unknown-ids flag such events are stored
and GET /v1/registry/unknown lists their ids."""
from ferry_harness import *

ADMIN = "it-admin-token-unknown-3a9d"
DAY = 86400 * 1000


def ev(eid, worker, station, ts):
    return {"event_id": eid, "timestamp": fmt_ts(ts), "event_type": "product_count", "worker_id": worker,
            "workstation_id": station, "count": 1}


def dead_letters(agent):
    r = http_request(agent.url("/v1/dead-letter"), timeout=10)
    check_eq(r.status, 200, "GET /v1/dead-letter: %r" % r)
    return [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]


def reason_of(d):
    for k in ("reason", "error", "dead_letter_reason"):
        if isinstance(d.get(k), str):
            return d[k]
    return json.dumps(d)


def main(h):
    db_dir = h.mkdir("coll")
    coll = h.start_collector(db_dir=db_dir, extra=["--admin-token", ADMIN, "--unknown-ids", "reject"])
    doc = {"sites": [{"id": "S1", "name": "Short memory", "retention_days": 2}, {"id": "S2", "name": "Keeps all"}],
           "workstations": [{"id": "ws-1", "site": "S1"}, {"id": "ws-2", "site": "S2"}],
           "workers": [{"id": "W-1", "name": "Ana"}, {"id": "W-2", "name": "Bo"}],
           "agents": [{"agent_id": "edge-mapped", "site": "S1"}]}
    r = http_request(coll.url("/v1/registry"), "PUT", json_body=doc, headers={"Authorization": "Bearer " + ADMIN})
    check_eq(r.status, 200, "PUT registry: %r" % r)

    now = now_ms()
    declared = h.start_agent(coll.port, agent_id="edge-declared", extra=["--site", "S1"])
    mapped = h.start_agent(coll.port, agent_id="edge-mapped", name="agent-mapped")
    siteless = h.start_agent(coll.port, agent_id="edge-none", name="agent-none")
    for a in (declared, mapped):
        p = a.agent_id
        post_events_ok(a, [ev(p + "-ok", "W-1", "ws-1", now - 3600000),
                           ev(p + "-uw", "W-404", "ws-1", now - 3500000),
                           ev(p + "-us", "W-2", "ws-404", now - 3400000),
                           ev(p + "-old", "W-1", "ws-1", now - 5 * DAY)], expect_accepted=4)
    post_events_ok(siteless, [ev("none-old", "W-2", "ws-2", now - 5 * DAY), ev("none-ok", "W-2", "ws-2", now - 60000)],
                   expect_accepted=2)
    for a in (declared, mapped, siteless):
        wait_backlog(a, 0, 60, "%s uploaded everything" % a.agent_id)
    for a in (declared, mapped):
        got = sorted((d.get("event_id") or d.get("event", {}).get("event_id"), reason_of(d))
                     for d in dead_letters(a))
        p = a.agent_id
        want = sorted([(p + "-uw", "unknown_worker"), (p + "-us", "unknown_workstation"),
                       (p + "-old", "timestamp_out_of_range")])
        check(len(got) == 3 and all(w[0] == g[0] and w[1] in g[1] for w, g in zip(want, got)),
              "%s dead letters: want %r, got %r" % (p, want, got))
        check_eq(agent_status(a).get("dead_letter"), 3, "%s dead_letter count" % p)
        log("%s dead letters: %r" % (p, got))
    check_eq(dead_letters(siteless), [], "an agent of no site keeps the global retention (none)")
    check_eq(factory_events(coll, now - 10 * DAY, now + 60000), 4, "stored: two ok, and the siteless pair")

    # flag: stored, and listed as unknown
    coll.stop()
    coll = h.start_collector(port=coll.port, db_dir=db_dir, extra=["--admin-token", ADMIN, "--unknown-ids", "flag"])
    post_events_ok(siteless, [ev("none-flag", "W-new", "ws-new", now - 30000)], expect_accepted=1)
    wait_backlog(siteless, 0, 60, "flagged event uploaded")
    check_eq(dead_letters(siteless), [], "flag does not refuse")
    r = http_request(coll.url("/v1/registry/unknown"), headers={"Authorization": "Bearer " + READ_TOKEN})
    check_eq(r.status, 200, "GET /v1/registry/unknown: %r" % r)
    check_eq(r.json["mode"], "flag", "mode")
    check_eq([x["worker_id"] for x in r.json["workers"]], ["W-new"], "unknown workers")
    check_eq([x["workstation_id"] for x in r.json["workstations"]], ["ws-new"], "unknown stations")
    check_eq(r.json["workers"][0]["first_event"], fmt_ts(now - 30000), "first_event of the unknown worker")
    r = http_request(coll.url("/v1/registry/unknown"), "PUT", body="{}",
                     headers={"Authorization": "Bearer " + ADMIN, "Content-Type": "application/json"})
    check_error_body(r, 405, "PUT on /v1/registry/unknown")
    log("unknown ids: rejected with reasons into the dead letter, per-site retention, flag lists them")


if __name__ == "__main__":
    run(main)
