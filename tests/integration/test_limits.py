#!/usr/bin/env python3
"""The collector's per-agent limits and per-agent tokens, end to end with a
real agent:

- rate limit: the collector answers 429 with Retry-After; the agent backs off
  as told, and every event still arrives exactly once;
- max events per batch: 413 past it; the agent halves its batch until it fits,
  nothing is dead-lettered;
- tokens: "ferry-collector token new" prints a token and its tokens-file line;
  an agent with that token delivers (the file holds only the hash); another
  agent_id with it gets 403 (auth_error, nothing stored); a tokens file that
  group members may read is refused at start with a message naming it.
"""
import subprocess

from ferry_harness import *

N = 50


def heartbeat(agent_id):
    return dumps({"agent_id": agent_id, "epoch": "00000000000000b1", "events": [], "dropped": [],
                  "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())})


def ingest_raw(coll, body, token=AGENT_TOKEN):
    return http_request(coll.url("/v1/ingest"), "POST", body=body,
                        headers={"Content-Type": "application/json",
                                 "Authorization": "Bearer %s" % token})


def rate_limit(h):
    coll = h.start_collector(extra=["--agent-rate", "1", "--agent-burst", "1"], name="collector-rate")
    # directly: the second request within the second is refused with Retry-After
    r1 = ingest_raw(coll, heartbeat("rl-direct"))
    check_eq(r1.status, 200, "first heartbeat under the rate limit")
    r2 = ingest_raw(coll, heartbeat("rl-direct"))
    check_error_body(r2, 429, "second heartbeat at once", code="rate_limited")
    ra = r2.headers.get("retry-after")
    check(ra is not None and ra.isdigit() and int(ra) >= 1, "429 Retry-After header: %r" % ra)
    # another agent has its own bucket
    check_eq(ingest_raw(coll, heartbeat("rl-other")).status, 200, "another agent is not limited")

    m = http_request(coll.url("/metrics"), headers=read_auth(), timeout=10)
    if m.status == 200:  # the collector's Prometheus endpoint
        v = re.search(r"(?m)^ferry_collector_ingest_rate_limited_total (\d+)$", m.body.decode())
        check(v is not None and int(v.group(1)) >= 1, "collector /metrics rate_limited_total: %r" % m.body[-600:])
    check_eq(coll.stop(), 0, "rate collector exit code")

    # end to end: one request per 4 s; the agent's first contact (a heartbeat)
    # takes the only token, so its batch is answered 429 with Retry-After 4
    coll = h.start_collector(extra=["--agent-rate", "0.25", "--agent-burst", "1"], name="collector-rate2")
    agent = h.start_agent(coll.port, agent_id="rl-agent", extra=["--retry-max", "10"])
    wait_until(lambda: agent_status(agent)["collector"].get("last_success"), 20, "the first heartbeat")
    epoch = agent_status(agent).get("epoch")
    post_events_ok(agent, make_events(N, prefix="rl", base_ms=now_ms() - 3600 * 1000), expect_accepted=N)

    def refused():
        c = agent_status(agent)["collector"]
        return c if "429" in (c.get("last_error") or "") else None
    c = wait_until(refused, 20, "the agent to be answered 429")
    log("rate limit: %s; next retry in %.2f s" % (c.get("last_error"), c.get("next_retry_in_s", 0)))
    check_eq(c.get("state"), "retrying", "rate-limited agent: collector.state")
    # its own backoff would wait at most retry-initial (0.05 s) now: a longer
    # wait is the collector's Retry-After being honoured
    check(c.get("next_retry_in_s", 0) > 1.0, "the agent did not wait as Retry-After asked: %r" % c)
    wait_backlog(agent, 0, timeout=60)
    check_eq(agent_status(agent).get("dead_letter"), 0, "rate-limited agent: dead_letter")
    check_delivered(coll, "rl-agent", N, epoch=epoch)
    check_eq(agent.stop(), 0, "rate-limited agent exit code")
    check_eq(coll.stop(), 0, "rate collector (2) exit code")


def batch_cap(h):
    # the old spelling of --batch-max-events: an alias that must keep working
    coll = h.start_collector(extra=["--max-batch-events", "7"], name="collector-cap")
    agent = h.start_agent(coll.port, agent_id="cap-agent", extra=["--batch-max-events", "20"])
    epoch = agent_status(agent).get("epoch")
    post_events_ok(agent, make_events(N, prefix="cap", base_ms=now_ms() - 3600 * 1000), expect_accepted=N)
    wait_backlog(agent, 0, timeout=90)
    st = agent_status(agent)
    check_eq(st.get("dead_letter"), 0, "batch cap: dead_letter")
    check_eq(st["collector"].get("last_failure_class"), "rejected", "batch cap: last_failure_class")
    check("413" in (st["collector"].get("last_error") or ""), "batch cap: 413 in last_error: %r" % st["collector"])
    check_delivered(coll, "cap-agent", N, epoch=epoch)
    check_eq(agent.stop(), 0, "batch cap agent exit code")
    check_eq(coll.stop(), 0, "batch cap collector exit code")


def tokens(h):
    r = subprocess.run(command([binary("ferry-collector"), "token", "new", "tok-x"]), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    check_eq(r.returncode, 0, "token new exit code (%s)" % r.stderr.decode(errors="replace"))
    lines = [l for l in r.stdout.decode().splitlines() if l and not l.startswith("#")]
    check_eq(len(lines), 2, "token new: non-comment lines (token, tokens-file line): %r" % r.stdout)
    token, line = lines
    check(re.fullmatch(r"[A-Za-z0-9_-]{43}", token) is not None, "token new: token format %r" % token)
    check(re.fullmatch(r"tok-x [0-9a-f]{64}", line) is not None, "token new: line format %r" % line)
    check(token not in line, "the tokens-file line must not hold the token itself")
    r2 = subprocess.run(command([binary("ferry-collector"), "token", "new", "tok-x"]), stdout=subprocess.PIPE, timeout=30)
    check(token.encode() not in r2.stdout, "token new printed the same token twice")

    tf = h.path("tokens")
    with open(tf, "w") as f:
        f.write("# per-agent tokens\n%s\n" % line)
    os.chmod(tf, 0o600)
    coll = h.start_collector(auth_token=None, extra=["--tokens-file", tf], name="collector-tokens")
    ok = h.start_agent(coll.port, agent_id="tok-x", token=token, name="agent-tok-x")
    epoch = agent_status(ok).get("epoch")
    post_events_ok(ok, make_events(N, prefix="tx", base_ms=now_ms() - 3600 * 1000), expect_accepted=N)
    wait_backlog(ok, 0, timeout=60)
    check_delivered(coll, "tok-x", N, epoch=epoch)
    check_eq(ok.stop(), 0, "tok-x agent exit code")

    bad = h.start_agent(coll.port, agent_id="tok-y", token=token, name="agent-tok-y")
    post_events_ok(bad, make_events(10, prefix="ty", base_ms=now_ms() - 3600 * 1000), expect_accepted=10)
    wait_until(lambda: collector_state(bad) == "auth_error", 20, "tok-y with tok-x's token: auth_error")
    check("403" in (agent_status(bad)["collector"].get("last_error") or ""),
          "tok-y: 403 in last_error: %r" % agent_status(bad)["collector"])
    check_eq(agent_status(bad).get("backlog"), 10, "tok-y keeps its events")
    a = collector_agent(coll, "tok-y")
    check(a is None or a.get("received", 0) == 0, "tok-y's events were stored: %r" % a)
    check_eq(bad.stop(), 0, "tok-y agent exit code")
    check_eq(coll.stop(), 0, "tokens collector exit code")

    os.chmod(tf, 0o640)
    p = h.start_collector(auth_token=None, extra=["--tokens-file", tf], ready=False, name="collector-0640")
    code = p.wait_exit(20)
    check_eq(code, 2, "collector with a group-readable tokens file: exit code")
    out = open(p.log_path, errors="replace").read()
    check("tokens_file" in out and "group or others" in out and "chmod 600" in out,
          "the refusal names the key, the problem and the fix: %r" % out[-400:])


def main(h):
    tokens(h)
    batch_cap(h)
    rate_limit(h)


if __name__ == "__main__":
    run(main)
