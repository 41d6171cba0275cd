#!/usr/bin/env python3
"""What an operator sees (SPEC §6.4, §6.5): JSON log lines asserted by content —
an event from a wrong clock warned about at the agent's ingest, rejected by the
collector and dead-lettered with its reason in both logs, in /v1/agents and in
/metrics; one upload followed by its X-Request-ID across both programs; refused
tokens logged with the client address and never the token; the per-interval
summary; the outage line with its duration and backlog. Also the TLS/plain-HTTP
mismatch message, missing directories (exit 2 naming option, path and cause, at
--check-config too), the effective --print-config with sources and masked
secrets, and the dead-letter cap that follows --max-journal-bytes."""
import shutil
import ssl

from ferry_harness import *

BAD_TOKEN = "not-the-token-7c1e"


def json_lines(proc):
    out = []
    with open(proc.log_path, "rb") as f:
        for line in f.read().decode("utf-8", "replace").splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    raise TestFailure("%s: a log line is not JSON: %r" % (proc.name, line))
    return out


def wait_line(proc, pred, desc, timeout=30):
    found = []

    def cond():
        for o in json_lines(proc):
            if pred(o):
                found.append(o)
                return True
        return False
    wait_until(cond, timeout, desc)
    return found[0]


def run_cmd(args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_") or k == "FERRY_BIN_DIR"}
    e.update(env or {})
    p = subprocess.run(command(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=e, timeout=30)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def test_logs_and_reasons(h):
    coll = h.start_collector(extra=["--log-format", "json", "--log-level", "debug", "--log-summary-s", "1",
                                    "--max-future-s", "60"])
    agent = h.start_agent(coll.port, agent_id="clock-agent",
                          extra=["--log-format", "json", "--log-level", "debug"])
    # a healthy batch first: the agent learns the collector's max_future_s from the answer
    post_events_ok(agent, make_events(5, prefix="ok"), expect_accepted=5)
    wait_backlog(agent, 0, timeout=30)
    # one upload followed across both programs by its request id
    up = wait_line(agent, lambda o: o.get("component") == "uploader" and o.get("status") == 200 and
                   o.get("events") == 5, "the agent's line for the acknowledged upload")
    rid = up.get("request_id", "")
    check(rid.startswith(up.get("idempotency_key", "?") + "/"), "request_id is not {key}/{attempt}: %r" % up)
    for k in ("ts", "level", "msg", "component", "first_seq", "last_seq"):
        check(k in up, "agent JSON line lacks %s: %r" % (k, up))
    got = wait_line(coll, lambda o: o.get("request_id") == rid, "the collector's line with the same request_id")
    check(got.get("agent_id") == "clock-agent" and got.get("idempotency_key") == up["idempotency_key"],
          "collector line does not carry the agent and key: %r" % got)

    # an event one day ahead: warned at the agent's ingest, rejected, dead-lettered, explained
    future = make_event(1, prefix="future", base_ms=now_ms() + 86400 * 1000)
    post_events_ok(agent, [future], expect_accepted=1)
    w = wait_line(agent, lambda o: o.get("component") == "ingest" and "ahead of this box's clock" in o["msg"],
                  "the agent's ingest-time clock warning")
    check("future-1" in w["msg"] and "60 s" in w["msg"],
          "the warning names neither the event nor the collector's limit: %r" % w)
    dl = wait_line(agent, lambda o: o.get("error") == "timestamp_out_of_range" and "dead-letter" in o["msg"],
                   "the agent's dead-letter line")
    check(dl.get("first_seq") == 6 and dl.get("events") == 1, "dead-letter line lacks seq/count: %r" % dl)
    rj = wait_line(coll, lambda o: o.get("error") == "timestamp_out_of_range" and o.get("level") == "warning",
                   "the collector's rejection line")
    check(rj.get("agent_id") == "clock-agent" and rj.get("first_seq") == 6, "rejection line: %r" % rj)
    a = collector_agent(coll, "clock-agent")
    check(a.get("rejected_by_reason") == {"timestamp_out_of_range": 1}, "/v1/agents reasons: %r" % a)
    check((a.get("last_rejected") or {}).get("seq") == 6, "/v1/agents last_rejected: %r" % a)
    r = http_request(coll.url("/metrics"), headers=read_auth())
    check('ferry_collector_events_rejected_by_reason_total{agent="clock-agent",reason="timestamp_out_of_range"} 1'
          in r.body.decode(), "/metrics lacks the rejection by reason")

    # refused tokens: logged with the client address, never the token
    r = http_request(coll.url("/v1/ingest"), "POST", body=b"{}",
                     headers={"Authorization": "Bearer " + BAD_TOKEN, "Content-Type": "application/json",
                              "X-Request-ID": "probe-401"})
    check_eq(r.status, 401, "ingest with a wrong token")
    check_eq(r.headers.get("x-request-id"), "probe-401", "X-Request-ID echoed")
    ref = wait_line(coll, lambda o: o.get("status") == 401, "the refused-token line")
    check(ref.get("client") == "127.0.0.1" and ref.get("request_id") == "probe-401", "refusal line: %r" % ref)
    r = http_request(coll.url("/healthz"))
    check(re.fullmatch(r"[0-9a-f]{16}", r.headers.get("x-request-id") or ""), "no request id made for /healthz")

    # the summary line of an interval in which something happened
    s = wait_line(coll, lambda o: o.get("component") == "summary" and "agent(s) seen" in o["msg"],
                  "the collector's summary line")
    check("accepted" in s["msg"] and "backlog" in s["msg"], "summary: %r" % s)

    # an outage: the agent says how long and how big the backlog is
    coll.stop()
    post_events_ok(agent, make_events(3, prefix="out"), expect_accepted=3)
    wait_line(agent, lambda o: o.get("component") == "uploader" and "unreachable" in o["msg"],
              "the agent's unreachable line")
    coll2 = h.start_collector(port=coll.port, db_dir=coll.db_dir, extra=["--log-format", "json"])
    back = wait_line(agent, lambda o: "ok again after" in o["msg"], "the outage-over line", timeout=60)
    check(re.search(r"after \d+ s and \d+ failed attempts", back["msg"]) and "backlog 3 event" in back["msg"],
          "outage line: %r" % back)
    for p in (agent, coll, coll2):
        with open(p.log_path, "rb") as f:
            # the harness's own first line holds the command line; the program's lines follow
            text = "\n".join(l for l in f.read().decode("utf-8", "replace").splitlines()
                              if not l.startswith("$ "))
        check(AGENT_TOKEN not in text and BAD_TOKEN not in text and READ_TOKEN not in text,
              "a token appears in the log of %s" % p.name)
    return agent, coll2


def test_tls_mismatch(h):
    """https:// pointed at a plain-HTTP collector, and http:// at an HTTPS one: the agent says which."""
    coll = h.start_collector()
    agent = h.start_agent(coll.port, agent_id="tls-mismatch",
                          extra=["--collector", "https://127.0.0.1:%d" % coll.port, "--log-format", "json"])
    post_events_ok(agent, make_events(1, prefix="tls"), expect_accepted=1)
    line = wait_line(agent, lambda o: "plain HTTP on an https:// URL" in o["msg"] or
                     "as a plain-HTTP server does" in o["msg"], "the TLS mismatch line")
    check(line.get("level") == "warning", "mismatch line level: %r" % line)
    wait_until(lambda: "https://" in (agent_status(agent)["collector"].get("last_error") or ""), 30,
               "the mismatch in /v1/status last_error")
    if not shutil.which("openssl"):
        log("no openssl command: the reverse case is skipped")
        return
    d = h.mkdir("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem"), "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, timeout=60)
    os.chmod(os.path.join(d, "key.pem"), 0o600)
    port = free_port()
    tls = h.start_collector(port=port, ready=False, name="tls-collector",
                            extra=["--tls-cert", os.path.join(d, "cert.pem"), "--tls-key", os.path.join(d, "key.pem")])
    ctx = ssl.create_default_context(cafile=os.path.join(d, "cert.pem"))

    def up():
        try:
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
            c.request("GET", "/healthz")
            return c.getresponse().status == 200
        except OSError:
            return False
    wait_until(up, 30, "the HTTPS collector")
    agent2 = h.start_agent(port, agent_id="tls-mismatch-2", name="agent-http",
                           extra=["--log-format", "json"])
    post_events_ok(agent2, make_events(1, prefix="tls2"), expect_accepted=1)
    wait_line(agent2, lambda o: "on an http:// URL: if it serves HTTPS (--tls-cert), use https://" in o["msg"],
              "the reverse mismatch line")
    # libcurl's bare "select/poll returned error" (a TLS server resetting plain HTTP) is always explained
    for o in json_lines(agent2):
        check(o.get("error") != "select/poll returned error", "an unexplained libcurl error: %r" % o)
    tls.stop()


def test_missing_dirs(h):
    missing = os.path.join(h.tmp, "no-such-dir")
    for args, key in (([binary("ferry-agent"), "--journal", os.path.join(missing, "j.db"), "--agent-id", "md",
                        "--auth-token", "x"], "journal"),
                      ([binary("ferry-collector"), "--db", "sqlite:" + os.path.join(missing, "c.db"),
                        "--insecure-no-auth", "--insecure-open-reads", "--listen", "127.0.0.1:%d" % free_port()],
                       "db")):
        for extra in (["--check-config"], []):
            rc, out, err = run_cmd(args + extra)
            check_eq(rc, 2, "%s %s with a missing directory" % (os.path.basename(args[0]), extra))
            check(key + ":" in err and missing in err and "does not exist" in err,
                  "the error does not name option, path and cause: %r" % err)
            check("unable to open database file" not in err, "SQLite's message leaked: %r" % err)
    ro = h.mkdir("read-only")
    os.chmod(ro, 0o555)
    if os.geteuid() != 0:
        rc, out, err = run_cmd([binary("ferry-agent"), "--journal", os.path.join(ro, "j.db"), "--agent-id", "md",
                                "--auth-token", "x", "--check-config"])
        check_eq(rc, 2, "agent with a read-only journal directory")
        check("no permission" in err and ro in err, "permission error: %r" % err)


def test_print_config_and_defaults(h):
    jdir = h.mkdir("pc")
    conf = os.path.join(jdir, "agent.jsonc")
    with open(conf, "w") as f:
        f.write('{"batch_max_events": 77}\n')
    args = [binary("ferry-agent"), "--config", conf, "--journal", os.path.join(jdir, "j.db"),
            "--max-journal-bytes", "10MiB", "--print-config"]
    rc, out, err = run_cmd(args, {"FERRY_RETRY_MAX": "90", "FERRY_AUTH_TOKEN": "sekret-token-1"})
    check_eq(rc, 0, "--print-config: " + err)
    check('"max_journal_bytes": "10MiB",  // from flag --max-journal-bytes' in out, "flag source missing")
    check('"retry_max": 90,  // from environment FERRY_RETRY_MAX' in out, "env source missing")
    check('"batch_max_events": 77,  // from config file ' + conf in out, "file source missing")
    check('// "overflow": "drop_oldest",  // default' in out, "default missing")
    check('"max_dead_letter_bytes": "2560KiB",  // derived default' in out,
          "the dead-letter cap does not follow the journal bound: %s" %
          [l for l in out.splitlines() if "dead_letter" in l])
    check("sekret-token-1" not in out and '"auth_token": "(secret)"' in out, "the secret is not masked")
    # the default follows; only two explicit settings that contradict each other are an error
    base = [binary("ferry-agent"), "--journal", os.path.join(jdir, "j2.db"), "--agent-id", "pc",
            "--auth-token", "x", "--max-journal-bytes", "10MiB", "--check-config"]
    rc, out, err = run_cmd(base)
    check_eq(rc, 0, "--max-journal-bytes 10MiB alone: " + err)
    rc, out, err = run_cmd(base + ["--max-dead-letter-bytes", "20MiB"])
    check_eq(rc, 2, "explicit dead-letter cap above the journal bound")
    check("20MiB" in err and "10MiB" in err and "max_dead_letter_bytes" in err, "message: %r" % err)
    # the collector's --check-config says what it would serve
    rc, out, err = run_cmd([binary("ferry-collector"), "--db", "sqlite:" + os.path.join(jdir, "c.db"),
                            "--listen", "127.0.0.1:1", "--check-config"],
                           {"FERRY_AUTH_TOKEN": AGENT_TOKEN, "FERRY_READ_TOKEN": READ_TOKEN})
    check_eq(rc, 0, "collector --check-config: " + err)
    for part in ("listen 127.0.0.1:1", "plain HTTP", "sqlite", "c.db", "shared agent token", "read token"):
        check(part in out, "collector --check-config summary lacks %r: %r" % (part, out))
    rc, out, err = run_cmd([binary("ferry-collector"), "--help"])
    check("1e+" not in out and "token new" in out and "PER_SECOND" in out, "collector --help")
    check(out.count("(prefer") <= 2, "'(prefer' repeated in --help")


def main(h):
    test_print_config_and_defaults(h)
    test_missing_dirs(h)
    test_logs_and_reasons(h)
    test_tls_mismatch(h)


if __name__ == "__main__":
    run(main)
