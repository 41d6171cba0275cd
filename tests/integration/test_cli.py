#!/usr/bin/env python3
"""Command lines and configuration of ferry-agent and ferry-collector:
--help/--version, --check-config exit codes and one-line errors naming the key,
refusals of unsafe settings, config files with comments, precedence
flag > environment > file, and a journal from the future (exit 3)."""
import hashlib
import sqlite3

from ferry_harness import *


def run_cmd(args, env=None, timeout=20):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_") or k == "FERRY_BIN_DIR"}
    full_env.update(env or {})
    try:
        p = subprocess.run(command(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=full_env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TestFailure("%s did not exit within %d s" % (" ".join(args), timeout))
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def names_key(text, key):
    return key in text or key.replace("_", "-") in text


class Cli:
    def __init__(self, h):
        self.h = h
        self.agent = binary("ferry-agent")
        self.collector = binary("ferry-collector")
        self.jdir = h.mkdir("journals")
        self.n = 0

    def journal(self):
        self.n += 1
        return os.path.join(self.jdir, "j%d.db" % self.n)

    def agent_base(self):
        """A complete, valid agent command line (token from the environment)."""
        return [self.agent, "--listen", "127.0.0.1:%d" % free_port(), "--journal", self.journal(),
                "--collector", "http://127.0.0.1:%d" % free_port(), "--agent-id", "cli-agent"]

    def agent_env(self):
        return {"FERRY_AUTH_TOKEN": AGENT_TOKEN}

    def collector_base(self):
        return [self.collector, "--listen", "127.0.0.1:%d" % free_port(),
                "--db", "sqlite:%s" % os.path.join(self.h.mkdir("cdb%d" % free_port()), "ferry.db")]

    def collector_env(self):
        return {"FERRY_AUTH_TOKEN": AGENT_TOKEN, "FERRY_READ_TOKEN": READ_TOKEN}

    def expect_ok(self, args, env, what):
        rc, out, err = run_cmd(args, env)
        check(rc == 0, "%s: expected exit 0, got %d; stderr: %s" % (what, rc, err.strip()[-600:]))
        return out, err

    def expect_bad(self, args, env, key, what, one_line=False, code=2):
        rc, out, err = run_cmd(args, env)
        check(rc == code, "%s: expected exit %d, got %d; stderr: %s" % (what, code, rc, err.strip()[-600:]))
        check(names_key(err, key), "%s: stderr does not name %r: %r" % (what, key, err.strip()[-600:]))
        if one_line:
            lines = [l for l in err.splitlines() if l.strip()]
            check(len(lines) == 1, "%s: expected one line on stderr, got %d: %r" % (what, len(lines), err[-600:]))
        return err


def test_help_version(c):
    for prog, opts in ((c.agent, ["--journal", "--collector", "--agent-id", "--auth-token", "--listen",
                                  "--max-journal-bytes", "--durability", "--overflow", "--check-config"]),
                       (c.collector, ["--db", "--listen", "--auth-token", "--read-token", "--tokens-file",
                                      "--insecure-no-auth", "--check-config"])):
        rc, out, err = run_cmd([prog, "--help"])
        check(rc == 0, "%s --help: exit %d" % (prog, rc))
        text = out + err
        for o in opts:
            check(o in text, "%s --help does not mention %s" % (os.path.basename(prog), o))
        rc, out, err = run_cmd([prog, "--version"])
        check(rc == 0, "%s --version: exit %d" % (prog, rc))
        check(re.search(r"\d+\.\d+\.\d+", out + err), "%s --version prints no version: %r" % (prog, out + err))


def test_agent_check_config(c):
    c.expect_ok(c.agent_base() + ["--check-config"], c.agent_env(), "valid agent --check-config")
    c.expect_ok(c.agent_base() + ["--max-journal-bytes", "64MiB", "--max-wal-bytes", "8MiB",
                                  "--durability", "os", "--overflow", "reject", "--compression", "gzip",
                                  "--check-config"], c.agent_env(), "agent with sizes in MiB")
    bad = [
        ("max_journal_bytes", ["--max-journal-bytes", "lots"]),
        ("max_journal_bytes", ["--max-journal-bytes", "-5"]),
        ("durability", ["--durability", "sometimes"]),
        ("overflow", ["--overflow", "drop_newest"]),
        ("compression", ["--compression", "lz4"]),
        ("retry_initial", ["--retry-initial", "soon"]),
        ("batch_max_events", ["--batch-max-events", "0"]),
        ("listen", ["--listen", "not-an-address"]),
        ("collector", ["--collector", "ftp://127.0.0.1/x"]),
        ("agent_id", ["--agent-id", "localhost"]),
        ("agent_id", ["--agent-id", "bad id!"]),
        ("agent_id", ["--agent-id", "a" * 65]),
    ]
    for key, extra in bad:
        c.expect_bad(c.agent_base() + extra + ["--check-config"], c.agent_env(), key,
                     "agent --check-config %s" % " ".join(extra), one_line=True)
    # the same refusal without --check-config: the agent does not start
    c.expect_bad(c.agent_base() + ["--agent-id", "localhost"], c.agent_env(), "agent_id",
                 "agent started with --agent-id localhost")
    c.expect_bad(c.agent_base() + ["--durability", "env"], dict(c.agent_env()), "durability",
                 "agent started with a bad --durability")
    # environment values are checked the same way
    c.expect_bad(c.agent_base() + ["--check-config"], dict(c.agent_env(), FERRY_MAX_WAL_BYTES="huge"),
                 "max_wal_bytes", "FERRY_MAX_WAL_BYTES=huge", one_line=True)
    rc, out, err = run_cmd(c.agent_base() + ["--no-such-flag", "--check-config"], c.agent_env())
    check_eq(rc, 2, "agent with an unknown flag: exit code")
    # unsafe settings
    args = c.agent_base()
    args[args.index("--listen") + 1] = "0.0.0.0:%d" % free_port()
    c.expect_bad(args + ["--check-config"], c.agent_env(), "listen", "non-loopback --listen without --ingest-token")
    c.expect_ok(args + ["--ingest-token", "tok", "--check-config"], c.agent_env(),
                "non-loopback --listen with --ingest-token")
    c.expect_ok(args + ["--insecure-open-ingest", "--check-config"], c.agent_env(),
                "non-loopback --listen with --insecure-open-ingest")
    args = c.agent_base()
    args[args.index("--collector") + 1] = "http://192.0.2.10:8700"
    c.expect_bad(args + ["--check-config"], c.agent_env(), "collector", "non-loopback http:// collector")
    c.expect_ok(args + ["--insecure-http", "--check-config"], c.agent_env(),
                "non-loopback http:// collector with --insecure-http")


def test_collector_check_config(c):
    c.expect_ok(c.collector_base() + ["--check-config"], c.collector_env(), "valid collector --check-config")
    c.expect_bad(c.collector_base() + ["--check-config"], {"FERRY_READ_TOKEN": READ_TOKEN}, "auth_token",
                 "collector --check-config without an agent token")
    c.expect_bad(c.collector_base(), {"FERRY_READ_TOKEN": READ_TOKEN}, "auth_token",
                 "collector started without an agent token")
    c.expect_bad(c.collector_base() + ["--check-config"], {"FERRY_AUTH_TOKEN": AGENT_TOKEN}, "read_token",
                 "collector --check-config without a read token")
    c.expect_ok(c.collector_base() + ["--insecure-no-auth", "--insecure-open-reads", "--check-config"], {},
                "collector with --insecure-no-auth --insecure-open-reads")
    c.expect_bad(c.collector_base() + ["--max-state-s", "forever", "--check-config"], c.collector_env(),
                 "max_state_s", "collector --max-state-s forever")
    c.expect_bad(c.collector_base() + ["--malloc-arenas", "2000", "--check-config"], c.collector_env(),
                 "malloc_arenas", "collector --malloc-arenas 2000 (past 1024)")
    c.expect_bad(c.collector_base() + ["--db", "mysql://x", "--check-config"], c.collector_env(), "db",
                 "collector --db mysql://x")
    tf = c.h.path("tokens")
    with open(tf, "w") as f:
        f.write("# agents\n\ncli-agent %s\n" % hashlib.sha256(b"secret-1").hexdigest().upper())
    os.chmod(tf, 0o600)
    c.expect_ok(c.collector_base() + ["--tokens-file", tf, "--check-config"], {"FERRY_READ_TOKEN": READ_TOKEN},
                "collector with a 0600 tokens file")
    os.chmod(tf, 0o644)
    c.expect_bad(c.collector_base() + ["--tokens-file", tf, "--check-config"], {"FERRY_READ_TOKEN": READ_TOKEN},
                 "tokens_file", "collector with a world-readable tokens file")


def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def test_config_files(c, h):
    cport = free_port()
    cfg = write_config(h.path("agent.json"), """// ferry-agent test configuration
{
  /* the local API */
  "listen": "127.0.0.1:%d",
  "journal": "%s",   // the journal
  "collector": "http://127.0.0.1:%d",
  "agent_id": "from-file",
  "auth_token": "%s",
  "max_journal_bytes": "128MiB",
  "retry_initial": 0.05,
  "retry_max": 1
}
""" % (free_port(), c.journal(), cport, AGENT_TOKEN))
    c.expect_ok([c.agent, "--config", cfg, "--check-config"], {}, "agent config file with comments")
    bad = write_config(h.path("bad-key.json"), '{"agent_id": "x", "no_such_key": 1}')
    c.expect_bad([c.agent, "--config", bad, "--check-config"], c.agent_env(), "no_such_key",
                 "config file with an unknown key", one_line=True)
    bad = write_config(h.path("bad-value.json"), '{"agent_id": "x", "durability": 7}')
    c.expect_bad([c.agent, "--config", bad, "--check-config"], c.agent_env(), "durability",
                 "config file with a bad value", one_line=True)
    broken = write_config(h.path("broken.json"), '{"agent_id": "x", ')
    rc, out, err = run_cmd([c.agent, "--config", broken, "--check-config"], c.agent_env())
    check(rc == 2 and err.strip(), "malformed config file: expected exit 2 and a message, got %d %r" % (rc, err))
    rc, out, err = run_cmd([c.agent, "--config", h.path("missing.json"), "--check-config"], c.agent_env())
    check(rc == 2 and err.strip(), "missing config file: expected exit 2 and a message, got %d %r" % (rc, err))

    # precedence: flag > environment > file
    for label, extra, env, want in (
            ("file", [], {}, "from-file"),
            ("env over file", [], {"FERRY_AGENT_ID": "from-env"}, "from-env"),
            ("flag over env", ["--agent-id", "from-flag"], {"FERRY_AGENT_ID": "from-env"}, "from-flag")):
        port = free_port()
        args = [c.agent, "--config", cfg, "--listen", "127.0.0.1:%d" % port, "--journal", c.journal()] + extra
        p = Proc(h, "agent-" + want, args, port, env=env)
        p.wait_ready()
        st = agent_status(p)
        check_eq(st.get("agent_id"), want, "agent_id with %s" % label)
        check_eq(p.stop(), 0, "agent (%s) exit code on SIGTERM" % label)

    ccfg = write_config(h.path("collector.json"), """{
  // collector
  "listen": "127.0.0.1:%d", /* loopback */
  "db": "sqlite:%s",
  "auth_token": "%s",
  "read_token": "%s"
}
""" % (free_port(), os.path.join(h.mkdir("ccfg"), "ferry.db"), AGENT_TOKEN, READ_TOKEN))
    c.expect_ok([c.collector, "--config", ccfg, "--check-config"], {}, "collector config file with comments")


def test_future_journal(c, h):
    j = c.journal()
    db = sqlite3.connect(j)
    db.execute("CREATE TABLE from_the_future (x)")
    # every journal from schema 2 on carries ferry's application id ("FRRY");
    # a file without it and with user_version > 1 is someone else's (quarantined)
    db.execute("PRAGMA application_id = %d" % 0x46525259)
    db.execute("PRAGMA user_version = 999")
    db.commit()
    db.close()
    with open(j, "rb") as f:
        before = hashlib.sha256(f.read()).hexdigest()
    args = c.agent_base()
    args[args.index("--journal") + 1] = j
    rc, out, err = run_cmd(args, c.agent_env(), timeout=20)
    check_eq(rc, 3, "agent on a journal with a newer schema version: exit code (stderr %r)" % err.strip()[-300:])
    with open(j, "rb") as f:
        check_eq(hashlib.sha256(f.read()).hexdigest(), before, "newer journal must not be touched")
    check(not os.path.exists(os.path.join(os.path.dirname(j), "quarantine")),
          "newer journal must not be quarantined")


def test_journal_recovery(c, h):
    """A journal that is not a database is quarantined (loudly) and a fresh
    epoch starts; so is a journal written under another agent id."""
    d = h.mkdir("jrec")
    j = os.path.join(d, "journal.db")
    with open(j, "wb") as f:
        f.write(b"this is not an SQLite database" * 200)
    p = h.start_agent(free_port(), journal=j, agent_id="rec-agent", name="agent-garbage")
    st = agent_status(p)
    qdir = os.path.join(d, "quarantine")
    check(os.path.isdir(qdir) and os.listdir(qdir), "garbage journal not moved into quarantine/: %r"
          % (os.listdir(d),))
    check(st.get("quarantined", 0) >= 1 or any(k for k in st if "quarantin" in k),
          "/v1/status does not report the quarantined journal: %r" % st)
    ep1 = st.get("epoch")
    post_events_ok(p, make_events(5, prefix="rec"), expect_accepted=5)
    check_eq(p.stop(), 0, "agent exit code")
    before = len(os.listdir(qdir))
    # same journal, another agent id: new epoch, old journal quarantined, events kept there
    p2 = h.start_agent(free_port(), journal=j, agent_id="rec-agent-2", name="agent-renamed")
    st = agent_status(p2)
    check(st.get("epoch") != ep1, "a new agent id on an old journal must start a new epoch")
    check_eq(st.get("backlog"), 0, "backlog of the new epoch")
    check(len(os.listdir(qdir)) > before, "the old journal was not kept in quarantine/")
    check_eq(p2.stop(), 0, "agent exit code")


def main(h):
    c = Cli(h)
    for name, fn in (("help/version", lambda: test_help_version(c)),
                     ("agent check-config", lambda: test_agent_check_config(c)),
                     ("collector check-config", lambda: test_collector_check_config(c)),
                     ("config files", lambda: test_config_files(c, h)),
                     ("future journal", lambda: test_future_journal(c, h)),
                     ("journal recovery", lambda: test_journal_recovery(c, h))):
        log("-- %s" % name)
        fn()


if __name__ == "__main__":
    run(main)
