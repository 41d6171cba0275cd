#!/usr/bin/env python3
"""SIGHUP reloads the configuration file of both programs.

Agent: a collector URL and a token fixed by a reload take effect at once
(the waiting retry goes out now), batch size, compression and log level
change while events are being posted and uploaded — and every event arrives
exactly once; a change to --listen is reported and the old listener kept; a
broken file keeps the running configuration; RELOADING=1 then READY=1 reach
the notify socket.
Collector: a rotated tokens file lets a new agent token in, a new read token
file replaces the old read token, a log level change applies, a listen
change is reported and kept, a broken file keeps the running configuration."""
import hashlib
import threading

from ferry_harness import *


def write(path, text, mode=0o600):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def agent_conf(path, **kv):
    write(path, "// written by the test\n" + json.dumps(kv, indent=2) + "\n")


def wait_log(proc, pattern, timeout, desc):
    def pred():
        with open(proc.log_path, "rb") as f:
            m = re.search(pattern, f.read().decode("utf-8", "replace"))
        return m
    return wait_until(pred, timeout, desc)


def log_text(proc):
    with open(proc.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


class Poster(threading.Thread):
    """Posts batches of events to the agent until stopped; counts the accepted."""

    def __init__(self, agent, prefix):
        super().__init__(daemon=True)
        self.agent = agent
        self.prefix = prefix
        self.accepted = 0
        self.sent = 0
        self.error = None
        self.halt = threading.Event()

    def run(self):
        i = 0
        try:
            while not self.halt.is_set() and i < 400:
                evs = make_events(10, prefix=self.prefix, start=i * 10)
                r = post_events(self.agent, evs, timeout=30)
                if r.status == 202:
                    self.accepted += r.json["accepted"]
                    i += 1
                elif r.status == 503:
                    time.sleep(0.05)
                else:
                    raise TestFailure("POST during reloads: %r" % r)
                time.sleep(0.01)
        except Exception as e:  # reported by the main thread
            self.error = e


def agent_part(h):
    coll = h.start_collector()
    conf = h.path("agent.jsonc")
    token_file = h.path("agent.token")
    write(token_file, "wrong-token-1234\n")
    port = free_port()
    dead = free_port()  # nothing listens here
    journal = os.path.join(h.mkdir("agent-reload"), "journal.db")
    base = dict(listen="127.0.0.1:%d" % port, journal=journal, agent_id="reload-agent",
                collector="http://127.0.0.1:%d" % dead, auth_token_file=token_file,
                retry_initial=0.05, retry_max=30, heartbeat_interval=1, log_level="info",
                machine_id_file=h.machine_id_file, batch_max_events=5, compression="zstd")
    agent_conf(conf, **base)
    sock_path = h.path("agent-notify")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(sock_path)
    ns.settimeout(0.2)
    notes = []
    notes_done = threading.Event()

    def reader():  # like systemd, read every notification at once (senders block on a full queue)
        while not notes_done.is_set():
            try:
                notes.extend(m for m in ns.recv(4096).decode().split("\n") if m)
            except socket.timeout:
                pass
    notes_thread = threading.Thread(target=reader, daemon=True)
    notes_thread.start()
    agent = Proc(h, "agent", [binary("ferry-agent"), "--config", conf], port,
                 env={"NOTIFY_SOCKET": sock_path})
    agent.wait_ready()

    # 1. wrong URL: the backlog grows, the retry waits (retry_max 30 s)
    post_events_ok(agent, make_events(30, prefix="r1"), expect_accepted=30)
    wait_until(lambda: agent_status(agent)["collector"].get("consecutive_failures", 0) >= 2
               or collector_state(agent) == "unreachable", 30, "agent retrying the dead URL")
    check_eq(agent_status(agent)["backlog"], 30, "backlog before the URL reload")

    # the URL is fixed but the token still wrong: auth_error, backlog kept
    agent_conf(conf, **dict(base, collector="http://127.0.0.1:%d" % coll.port))
    agent.signal(signal.SIGHUP)
    wait_until(lambda: collector_state(agent) == "auth_error", 30, "agent auth_error after the URL reload")
    wait_log(agent, r"SIGHUP: collector: http://127\.0\.0\.1:%d -> " % dead, 10, "the URL change logged")
    check_eq(agent_status(agent)["backlog"], 30, "backlog while the token is wrong")

    # 2. the token file is fixed: no restart, delivered at once (retry reset)
    write(token_file, AGENT_TOKEN + "\n")
    agent.signal(signal.SIGHUP)
    wait_backlog(agent, 0, timeout=20, desc="backlog drained after the token reload")
    check_delivered(coll, "reload-agent", 30)
    text = log_text(agent)
    check("SIGHUP: auth_token changed" in text, "token change not logged")
    check(AGENT_TOKEN not in text, "the token appears in the log")

    # 3. reloads while events are posted and uploaded: nothing lost or doubled
    check(" debug: " not in text, "debug lines at log level info")
    poster = Poster(agent, "r3")
    poster.start()
    variants = [dict(batch_max_events=50, compression="gzip", log_level="debug"),
                dict(batch_max_events=1, compression="none"),
                dict(batch_max_events=200, compression="zstd", retry_max=1),
                dict(batch_max_events=7, compression="gzip", log_level="info")]
    for v in variants:
        time.sleep(0.3)
        agent_conf(conf, **dict(base, collector="http://127.0.0.1:%d" % coll.port, **v))
        agent.signal(signal.SIGHUP)
        wait_log(agent, r"batch_max_events: \d+ -> %d" % v["batch_max_events"], 10,
                 "reload to batch_max_events %d" % v["batch_max_events"])
        if v.get("log_level") == "debug":
            # the next upload while debug is on must log at debug level
            wait_log(agent, r"Z debug: ", 30, "a debug line after log_level debug")
    poster.join(120)
    check(not poster.is_alive(), "poster did not finish")
    if poster.error:
        raise poster.error
    check(poster.accepted > 0, "no events accepted during the reloads")
    total = 30 + poster.accepted
    wait_backlog(agent, 0, timeout=60)
    wait_until(lambda: (collector_agent(coll, "reload-agent") or {}).get("received") == total, 30,
               "collector received %d events" % total)
    check_delivered(coll, "reload-agent", total)

    # 4. what cannot change live is reported and kept
    final = dict(base, collector="http://127.0.0.1:%d" % coll.port, batch_max_events=7,
                 compression="gzip", log_level="info", retry_max=1)
    agent_conf(conf, **dict(final, listen="127.0.0.1:%d" % free_port(), journal=h.path("other.db")))
    agent.signal(signal.SIGHUP)
    wait_log(agent, r"listen changed to .*needs a restart; keeping 127\.0\.0\.1:%d" % port, 10,
             "listen change reported")
    wait_log(agent, r"journal changed to .*needs a restart", 10, "journal change reported")
    check_eq(http_request(agent.url("/healthz"), timeout=5).status, 200, "agent on its old port")
    check(not os.path.exists(h.path("other.db")), "a journal was opened at the new path")

    # 5. a broken file: the running configuration stays
    write(conf, "{ \"batch_max_events\": \"lots\" }\n")
    agent.signal(signal.SIGHUP)
    wait_log(agent, r"configuration not reloaded.*batch_max_events", 10, "broken reload refused")
    post_events_ok(agent, make_events(5, prefix="r5"), expect_accepted=5)
    wait_backlog(agent, 0, timeout=30)
    check_delivered(coll, "reload-agent", total + 5)

    # RELOADING=1 ... READY=1 around each reload
    time.sleep(0.5)
    notes_done.set()
    notes_thread.join(5)
    msgs = list(notes)
    rel = [i for i, m in enumerate(msgs) if m.startswith("RELOADING=1")]
    check(len(rel) >= 7, "RELOADING=1 per SIGHUP: got %d in %r" % (len(rel), msgs[:30]))
    for i in rel:
        check("READY=1" in msgs[i + 1:i + 8], "no READY=1 after RELOADING=1 at %d: %r" % (i, msgs[i:i + 8]))
    check(agent.stop() == 0, "agent exit code")


def collector_part(h):
    conf = h.path("collector.jsonc")
    tokens = h.path("tokens")
    read_file = h.path("read.token")
    write(read_file, READ_TOKEN + "\n")
    new_agent_token = "rotated-agent-token-77aa"
    write(tokens, "reload-agent-2 %s\n" % hashlib.sha256(b"old-token-not-held").hexdigest())
    port = free_port()
    db_dir = h.mkdir("coll-reload")
    base = dict(listen="127.0.0.1:%d" % port, db="sqlite:" + os.path.join(db_dir, "ferry.db"),
                tokens_file=tokens, read_token_file=read_file, log_level="info")
    write(conf, json.dumps(base))
    coll = Proc(h, "collector-r", [binary("ferry-collector"), "--config", conf], port)
    coll.wait_ready()
    agent = h.start_agent(port, agent_id="reload-agent-2", token=new_agent_token, name="agent-r2")
    post_events_ok(agent, make_events(12, prefix="c"), expect_accepted=12)
    wait_until(lambda: collector_state(agent) == "auth_error", 30, "agent refused before the rotation")

    # rotate: the tokens file now lists the new token; reads move to a new token
    write(tokens, "reload-agent-2 %s\n" % hashlib.sha256(new_agent_token.encode()).hexdigest())
    new_read = "rotated-read-token-55bb"
    write(read_file, new_read + "\n")
    write(conf, json.dumps(dict(base, log_level="debug")))
    coll.signal(signal.SIGHUP)
    wait_log(coll, r"configuration reloaded \(1 agent token", 10, "collector reload logged")
    wait_backlog(agent, 0, timeout=30, desc="agent delivered after the token rotation")
    r = http_request(coll.url("/v1/agents"), headers=read_auth(READ_TOKEN), timeout=10)
    check_eq(r.status, 401, "the old read token after the rotation")
    a = collector_agent(coll, "reload-agent-2", token=new_read)
    check(a is not None and a.get("received") == 12, "collector view after rotation: %r" % a)
    check("log_level: info -> debug" in log_text(coll), "log level change not logged")

    # a listen change is kept; a broken tokens file keeps the running tokens
    write(conf, json.dumps(dict(base, listen="127.0.0.1:%d" % free_port())))
    coll.signal(signal.SIGHUP)
    wait_log(coll, r"listen changed to .*needs a restart; keeping 127\.0\.0\.1:%d" % port, 10,
             "collector listen change reported")
    write(tokens, "this line is not a token line\n")
    coll.signal(signal.SIGHUP)
    wait_log(coll, r"configuration not reloaded.*tokens_file", 10, "broken tokens file refused")
    post_events_ok(agent, make_events(3, prefix="c2", start=100), expect_accepted=3)
    wait_backlog(agent, 0, timeout=30, desc="agent still delivers with the kept tokens")
    a = collector_agent(coll, "reload-agent-2", token=new_read)
    check(a is not None and a.get("received") == 15 and a.get("missing") == 0,
          "collector view after a refused reload: %r" % a)


def main(h):
    agent_part(h)
    collector_part(h)


if __name__ == "__main__":
    run(main)
