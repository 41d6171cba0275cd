"""ferry_harness: drive the real ferry binaries over loopback in integration tests.

Python 3 standard library only. Every test script does

    from ferry_harness import *
    def main(h): ...            # h is a Harness
    if __name__ == "__main__":
        run(main)

run() creates a temporary directory, runs the test, stops every process the
harness started (only those: by the pid it got from Popen), prints the tail of
each process log when the test fails, removes the directory (keep it with
FERRY_KEEP_TMP=1) and exits 0 on success, 1 on failure.

Binaries are taken from $FERRY_BIN_DIR (set by CTest). When they were
cross-compiled, $FERRY_EMULATOR (set by CTest from CMAKE_CROSSCOMPILING_EMULATOR,
e.g. "qemu-aarch64 -L /sysroot") is put in front of every command line: a test
that runs a binary with subprocess itself passes command([binary(...), ...]).
Traffic goes to 127.0.0.1 only.

With FERRY_TEST_PG_URL set (postgres://USER@HOST:PORT/DB of a throwaway
server, as scripts/ci-postgres.sh starts), every collector the harness starts
uses PostgreSQL instead of SQLite: each collector directory gets its own fresh
database (CREATE DATABASE through psql), dropped when the test ends.
"""

import gzip
import http.client
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse

AGENT_TOKEN = "it-agent-token-6f1d0c2a9b"
READ_TOKEN = "it-read-token-93e1b7c4d2"
MACHINE_ID = "5b2f0a9c1d3e4f60718293a4b5c6d7e8"

_HERE = os.path.dirname(os.path.abspath(__file__))

PG_URL = os.environ.get("FERRY_TEST_PG_URL") or None


def pg_url_with_db(url, db):
    """url with its database name replaced by db (query string kept)."""
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + db, u.query, u.fragment))


def pg_sql(url, sql, timeout=60):
    """Run SQL with psql on url; returns its output (unaligned, tuples only)."""
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise TestFailure("psql %r: exit %d: %s" % (sql[:80], p.returncode, out.strip()))
    return out


class TestFailure(AssertionError):
    pass


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def check_eq(actual, expected, what):
    if actual != expected:
        raise TestFailure("%s: expected %r, got %r" % (what, expected, actual))


def bin_dir():
    d = os.environ.get("FERRY_BIN_DIR")
    if not d:
        root = os.path.dirname(os.path.dirname(_HERE))
        for cand in ("build-it", "build"):
            if os.path.exists(os.path.join(root, cand, "ferry-agent")):
                d = os.path.join(root, cand)
                break
    if not d:
        raise TestFailure("FERRY_BIN_DIR is not set (the build directory holding ferry-agent)")
    return d


def binary(name):
    p = os.path.join(bin_dir(), name)
    if not os.access(p, os.X_OK):
        raise TestFailure("binary %s not found or not executable" % p)
    return p


def emulator():
    """The command prefix that runs the target binaries ([] when native)."""
    return shlex.split(os.environ.get("FERRY_EMULATOR", ""))


def command(args):
    """args (a binary and its arguments) as the command line to execute."""
    return emulator() + list(args)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def fmt_ts(ms):
    """UTC milliseconds -> 2026-03-01T08:00:00.000Z"""
    secs, frac = divmod(int(ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%03dZ" % frac


def now_ms():
    return int(time.time() * 1000)


def wait_until(pred, timeout, desc, interval=0.05):
    """Poll pred() until it returns a truthy value; return it. Fails after timeout
    seconds with desc and the last value (or exception) seen."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last = v
        except (OSError, http.client.HTTPException, ValueError) as e:
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.0f s waiting for %s (last: %r)" % (timeout, desc, last))
        time.sleep(interval)


# ---------------------------------------------------------------- HTTP helpers

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
        except (UnicodeDecodeError, ValueError):
            self.json = None

    def __repr__(self):
        return "<HTTP %s %s>" % (self.status, self.body[:300])

    def error_code(self):
        e = (self.json or {}).get("error") if isinstance(self.json, dict) else None
        return e.get("code") if isinstance(e, dict) else None


def http_request(url, method="GET", body=None, headers=None, timeout=30, json_body=None):
    """One request on a fresh connection. body: bytes/str; json_body: any JSON value."""
    u = urllib.parse.urlsplit(url)
    hdrs = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body, separators=(",", ":"))
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        if body is not None and method in ("POST", "PUT", "PATCH"):
            hdrs.setdefault("Content-Length", str(len(body)))
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.getheaders(), data)
    finally:
        conn.close()


def raw_request(port, method, path, headers, body, timeout=30, host="127.0.0.1"):
    """Send a request on a raw socket, tolerating a server that answers (e.g. 413)
    and closes before the whole body is sent. Returns a Response, or raises
    TestFailure if no HTTP answer could be read at all."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n" % (method, path, host, port)
        for k, v in headers.items():
            head += "%s: %s\r\n" % (k, v)
        head += "\r\n"
        s.sendall(head.encode("latin-1"))
        off = 0
        chunk = 65536
        deadline = time.monotonic() + timeout
        while off < len(body) and time.monotonic() < deadline:
            r, w, _ = select.select([s], [s], [], 1.0)
            if r:
                break  # the server answered early
            if w:
                try:
                    off += s.send(body[off:off + chunk])
                except (BrokenPipeError, ConnectionResetError):
                    break
        data = b""
        while time.monotonic() < deadline:
            try:
                part = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not part:
                break
            data += part
            if b"\r\n\r\n" in data:
                hdr, _, rest = data.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", hdr)
                if m and len(rest) >= int(m.group(1)):
                    break
    finally:
        s.close()
    if not data.startswith(b"HTTP/"):
        raise TestFailure("no HTTP answer to %s %s (%d of %d body bytes sent); got %r"
                          % (method, path, off, len(body), data[:200]))
    hdr, _, rest = data.partition(b"\r\n\r\n")
    lines = hdr.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hl = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            hl.append((k.strip(), v.strip()))
    m = re.search(rb"(?im)^content-length:\s*(\d+)", hdr)
    if m:
        rest = rest[:int(m.group(1))]
    return Response(status, hl, rest)


def check_error_body(r, status, what, code=None):
    """r must have the given status and a JSON body {"error":{"code","message"}}."""
    check(r.status == status, "%s: expected HTTP %d, got %d: %r" % (what, status, r.status, r.body[:400]))
    check(isinstance(r.json, dict) and isinstance(r.json.get("error"), dict),
          "%s: error body is not JSON {\"error\":{...}}: %r" % (what, r.body[:400]))
    e = r.json["error"]
    check(isinstance(e.get("code"), str) and e["code"], "%s: error.code missing: %r" % (what, r.body[:400]))
    check(isinstance(e.get("message"), str) and e["message"], "%s: error.message missing: %r" % (what, r.body[:400]))
    if code is not None:
        check_eq(e["code"], code, "%s: error.code" % what)
    return e


# -------------------------------------------------------------------- events

def make_event(i, prefix="ev", base_ms=None, step_ms=100, worker=None, station=None, kind=None,
               with_id=True):
    """A valid event number i. Mostly product_count events; every 10th is a state event."""
    if base_ms is None:
        base_ms = now_ms() - 3600 * 1000
    ev = {}
    if with_id:
        ev["event_id"] = "%s-%d" % (prefix, i)
    ev["timestamp"] = fmt_ts(base_ms + i * step_ms)
    st = station if station is not None else "WS-%02d" % (i % 4 + 1)
    wk = worker if worker is not None else "W-%03d" % (i % 6 + 1)
    if kind is None:
        kind = ("working", "idle", "absent")[(i // 10) % 3] if i % 10 == 0 else "product_count"
    ev["event_type"] = kind
    ev["workstation_id"] = st
    ev["worker_id"] = wk
    if kind == "product_count":
        ev["count"] = 1 + i % 3
    ev["camera_id"] = "cam-%s" % st[-2:]
    ev["model_version"] = "it-1.0"
    ev["confidence"] = 0.9
    return ev


def make_events(n, prefix="ev", start=0, **kw):
    return [make_event(start + i, prefix=prefix, **kw) for i in range(n)]


def dumps(v):
    return json.dumps(v, separators=(",", ":"))


# ------------------------------------------------------------------ processes

def _die_with_parent():
    """In the child before exec: SIGKILL it if the test process dies (e.g. killed
    by the CTest timeout), so no program outlives its test."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Proc:
    """A program the harness started."""

    def __init__(self, h, name, args, port, env=None, log_path=None, native=False):
        self.h = h
        self.name = name
        self.args = list(args)
        self.port = port
        self.base_url = "http://127.0.0.1:%d" % port if port else None
        self.log_path = log_path or h.path("%s.%d.log" % (name, h.next_serial()))
        self.returncode = None
        full_env = dict(os.environ)
        # the tests choose every option; nothing from the caller's environment leaks in
        for k in list(full_env):
            if k.startswith("FERRY_") and k != "FERRY_BIN_DIR":
                del full_env[k]
        full_env.pop("JOURNAL_STREAM", None)  # log lines as a terminal gets them (timestamp, level)
        full_env.update(env or {})
        self.logf = open(self.log_path, "ab")
        self.logf.write(("$ %s\n" % " ".join(self.args)).encode())
        self.logf.flush()
        # under qemu-user the emulator is the process: self.pid gets the signals
        self.popen = subprocess.Popen(self.args if native else command(self.args), stdin=subprocess.DEVNULL, stdout=self.logf,
                                      stderr=subprocess.STDOUT, env=full_env, cwd=h.tmp,
                                      preexec_fn=_die_with_parent)
        self.pid = self.popen.pid
        h.procs.append(self)

    def url(self, path):
        return self.base_url + path

    def alive(self):
        return self.popen.poll() is None

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def wait_ready(self, timeout=20, path="/healthz"):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise TestFailure("%s exited with code %s before becoming ready; log:\n%s"
                                  % (self.name, self.popen.returncode, self.log_tail()))
            try:
                r = http_request(self.url(path), timeout=2)
                if r.status == 200:
                    return self
                last = r
            except (OSError, http.client.HTTPException) as e:
                last = e
            time.sleep(0.05)
        raise TestFailure("%s not ready on %s after %d s (last: %r); log:\n%s"
                          % (self.name, path, timeout, last, self.log_tail()))

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=20):
        """SIGTERM, wait up to timeout s, then SIGKILL. Returns the exit code
        (negative = killed by that signal) and whether it needed SIGKILL."""
        forced = False
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                forced = True
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(10)
        self.returncode = self.popen.returncode
        self.forced = forced
        self.logf.close()
        return self.returncode

    def kill9(self):
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        self.popen.wait(10)
        self.returncode = self.popen.returncode
        self.logf.close()
        return self.returncode

    def wait_exit(self, timeout):
        """Wait for the process to exit by itself; return its code or None on timeout."""
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.returncode = self.popen.returncode
        return self.returncode


class Harness:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="ferry-it-%s-" % name)
        self.procs = []
        self._serial = 0
        self.pg_dbs = {}  # collector directory -> (database name, URL)
        self.pg_clusters = []  # PgCluster instances to destroy at the end
        self.machine_id_file = self.path("machine-id")
        with open(self.machine_id_file, "w") as f:
            f.write(MACHINE_ID + "\n")

    def next_serial(self):
        self._serial += 1
        return self._serial

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def mkdir(self, name):
        p = self.path(name)
        os.makedirs(p, exist_ok=True)
        return p

    # -- collector ------------------------------------------------------------
    def db_url(self, db_dir):
        """The --db of a collector keeping its data in db_dir: the SQLite file
        there, or (FERRY_TEST_PG_URL) a fresh PostgreSQL database of its own."""
        if not PG_URL:
            return "sqlite:%s" % os.path.join(db_dir, "ferry.db")
        if db_dir not in self.pg_dbs:
            name = "ferry_it_%s_%d_%d" % (re.sub(r"[^a-z0-9]", "_", self.name.lower())[:30], os.getpid(),
                                         len(self.pg_dbs))
            pg_sql(PG_URL, "CREATE DATABASE %s" % name)
            self.pg_dbs[db_dir] = (name, pg_url_with_db(PG_URL, name))
        return self.pg_dbs[db_dir][1]

    def start_collector(self, port=None, auth_token=AGENT_TOKEN, read_token=READ_TOKEN, db_dir=None,
                        extra=(), env=None, ready=True, name="collector", db=None):
        port = port or free_port()
        db_dir = db_dir or self.mkdir("collector-%d" % port)
        args = [binary("ferry-collector"), "--listen", "127.0.0.1:%d" % port,
                "--db", db or self.db_url(db_dir)]
        if auth_token:
            args += ["--auth-token", auth_token]
        if read_token:
            args += ["--read-token", read_token]
        args += list(extra)
        p = Proc(self, name, args, port, env=env)
        p.db_dir = db_dir
        if ready:
            p.wait_ready()
        return p

    # -- agent ----------------------------------------------------------------
    def agent_args(self, port, collector_port, journal, agent_id, token, extra=()):
        args = [binary("ferry-agent"), "--listen", "127.0.0.1:%d" % port,
                "--journal", journal,
                "--collector", "http://127.0.0.1:%d" % collector_port,
                "--agent-id", agent_id,
                "--retry-initial", "0.05", "--retry-max", "1"]
        if token:
            args += ["--auth-token", token]
        # options beyond SPEC §2's list that every test wants: passed always, so a
        # renamed flag fails the tests loudly instead of silently skipping checks
        args += ["--heartbeat-interval", "1", "--machine-id-file", self.machine_id_file]
        return args + list(extra)

    def start_agent(self, collector_port, port=None, journal=None, agent_id="test-agent-1",
                    token=AGENT_TOKEN, extra=(), env=None, ready=True, name="agent"):
        port = port or free_port()
        if journal is None:
            journal = os.path.join(self.mkdir("agent-" + agent_id), "journal.db")
        args = self.agent_args(port, collector_port, journal, agent_id, token, extra)
        p = Proc(self, name, args, port, env=env)
        p.journal = journal
        p.agent_id = agent_id
        p.collector_port = collector_port
        if ready:
            p.wait_ready()
        return p

    def restart_agent(self, old, token=AGENT_TOKEN, extra=(), port=None, ready=True):
        """Start a new agent process on the old one's journal, agent id and port."""
        if old.alive():
            raise TestFailure("restart_agent: %s (pid %d) is still running" % (old.name, old.pid))
        return self.start_agent(old.collector_port, port=port or old.port, journal=old.journal,
                                agent_id=old.agent_id, token=token, extra=extra, ready=ready,
                                name=old.name)

    # -- camsim ---------------------------------------------------------------
    def start_camsim(self, agent, args=(), name="camsim"):
        a = [binary("ferry-camsim"), "--agent", agent.base_url] + list(args)
        return Proc(self, name, a, None)

    # -- reading state ----------------------------------------------------------
    def cleanup(self, failed):
        for p in self.procs:
            if p.alive():
                try:
                    p.stop(timeout=10)
                except Exception as e:  # never leave a child behind
                    log("stopping %s: %s" % (p.name, e))
        self.sanitizer_bad = sanitizer_reports(self)
        if failed:
            for p in self.procs:
                print("----- %s (pid %d, exit %s): %s -----" % (p.name, p.pid, p.popen.returncode, p.log_path))
                print(p.log_tail(60))
        for c in self.pg_clusters:
            c.destroy()
        for name, _ in self.pg_dbs.values():
            try:
                pg_sql(PG_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
            except (TestFailure, OSError, subprocess.TimeoutExpired) as e:
                log("dropping database %s: %s" % (name, e))
        keep = os.environ.get("FERRY_KEEP_TMP")
        if keep:
            print("temporary files kept in %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------ a private PostgreSQL

def pg_bin_dir():
    """The directory of initdb/pg_ctl ($FERRY_TEST_PG_BIN, else Debian's), or None."""
    d = os.environ.get("FERRY_TEST_PG_BIN")
    if d and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
        return d
    root = "/usr/lib/postgresql"
    try:
        for v in sorted(os.listdir(root), reverse=True):
            d = os.path.join(root, v, "bin")
            if os.access(os.path.join(d, "pg_ctl"), os.X_OK):
                return d
    except OSError:
        pass
    return None


class PgCluster:
    """A throwaway PostgreSQL cluster of the test's own (so it can be stopped
    and restarted without disturbing other tests): initdb + pg_ctl as the
    postgres user through runuser, loopback only, a free port. Needs root."""

    def __init__(self, h):
        self.bin = pg_bin_dir()
        if not self.bin:
            raise TestFailure("no PostgreSQL server binaries (initdb, pg_ctl) found")
        self.dir = tempfile.mkdtemp(prefix="ferry-pg-")
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self.data = os.path.join(self.dir, "data")
        self._run(["initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--locale=C.UTF-8"])
        self.running = False
        h.pg_clusters.append(self)

    def _run(self, args, timeout=120):
        p = subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(self.bin, args[0])] + args[1:],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, cwd=self.dir)
        if p.returncode != 0:
            raise TestFailure("%s: exit %d: %s" % (" ".join(args), p.returncode,
                                                   p.stdout.decode("utf-8", "replace")[-2000:]))

    def url(self, db="postgres"):
        return "postgres://postgres@127.0.0.1:%d/%s" % (self.port, db)

    def start(self):
        self._run(["pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"), "-w", "-t", "60",
                   "-o", "-c listen_addresses=127.0.0.1 -p %d -c unix_socket_directories=%s"
                   % (self.port, self.dir), "start"])
        self.running = True

    def stop(self, mode="fast"):
        if self.running:
            self._run(["pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"])
            self.running = False

    def destroy(self):
        try:
            self.stop("immediate")
        except (TestFailure, OSError, subprocess.TimeoutExpired) as e:
            log("stopping the test's PostgreSQL: %s" % e)
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------ a private MQTT broker

def mosquitto_bin():
    """The mosquitto broker (Debian package mosquitto), or None."""
    for p in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if p and os.access(p, os.X_OK):
            return p
    return None


class Broker:
    """A mosquitto broker on 127.0.0.1 for one test: its own conf, port and
    persistence directory (so a restart keeps the agent's session and the
    messages queued for it). Started and stopped by pid only."""

    def __init__(self, h, port=None, name="mosquitto", extra=(), anonymous=True):
        self.h = h
        self.port = port or free_port()
        self.name = name
        self.dir = h.mkdir("%s-%d" % (name, self.port))
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\n" % self.port)
            for line in extra:  # the listener's own settings (TLS) and others
                f.write(line + "\n")
            f.write("allow_anonymous %s\n" % ("true" if anonymous else "false"))
            # run as the test's user (as root mosquitto would switch to "mosquitto",
            # which cannot write the test's persistence directory)
            import pwd
            f.write("user %s\n" % pwd.getpwuid(os.getuid()).pw_name)
            f.write("persistence true\n")
            f.write("persistence_location %s/\n" % self.dir)
            # an offline persistent client's queue: unbounded (the default, 1000,
            # drops QoS 1 messages past it — docs/integrations.md)
            f.write("max_queued_messages 0\n")
            f.write("log_dest stdout\n")
        self.proc = None

    def start(self, timeout=20):
        exe = mosquitto_bin()
        check(exe is not None, "mosquitto is not installed (Debian package mosquitto)")
        self.proc = Proc(self.h, self.name, [exe, "-c", self.conf], None, native=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check(self.proc.alive(), "mosquitto exited: %s" % self.proc.log_tail())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise TestFailure("mosquitto not listening on %d after %d s" % (self.port, timeout))

    def stop(self):
        """SIGTERM: mosquitto writes its persistence file and exits."""
        if self.proc:
            self.proc.stop()

    @property
    def url(self):
        return "mqtt://127.0.0.1:%d" % self.port


def mqtt_publish(broker, topic, count, kind="ferry", start=0, prefix="mq", base_ms=None, acked=None,
                 inflight=100, timeout=120, check_all=True):
    """Publish with tests/tools/mqttpub.c (QoS 1); returns (acked count, summary line)."""
    args = [binary("ferry-mqttpub"), "--port", str(broker.port), "--topic", topic, "--count", str(count),
            "--start", str(start), "--kind", kind, "--prefix", prefix, "--inflight", str(inflight)]
    if base_ms is not None:
        args += ["--base-ms", str(base_ms)]
    if acked:
        args += ["--acked", acked]
    r = subprocess.run(command(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
    out = r.stdout.decode("utf-8", "replace").strip()
    m = re.search(r"acked=(\d+)", out)
    n = int(m.group(1)) if m else 0
    if check_all:
        check(r.returncode == 0 and n == count, "ferry-mqttpub: %s (exit %d)" % (out, r.returncode))
    return n, out


def mqtt_status(agent):
    src = agent_status(agent).get("sources")
    check(isinstance(src, dict) and isinstance(src.get("mqtt"), dict), "/v1/status has no sources.mqtt")
    return src["mqtt"]


# ---------------------------------------------------------------- API helpers

def agent_status(agent):
    r = http_request(agent.url("/v1/status"), timeout=10)
    check(r.status == 200 and isinstance(r.json, dict), "GET /v1/status: %r" % r)
    return r.json


def collector_state(agent):
    st = agent_status(agent)
    c = st.get("collector")
    check(isinstance(c, dict), "/v1/status has no collector object: %r" % st)
    return c.get("state")


def malloc_heaps(pid):
    """How many glibc malloc heaps besides the main one process pid has
    mapped (each arena but the main one has one, and another per 64 MiB it
    grows past): glibc aligns each to 64 MiB (64-bit) and reserves all 64 MiB
    of it, the part not yet used kept PROT_NONE right after the used one."""
    maps = []
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            maps.append((lo, hi, parts[1], parts[5] if len(parts) > 5 else ""))
    size = 64 << 20
    n = 0
    for i, (lo, hi, perms, name) in enumerate(maps):
        if name or lo % size or not perms.startswith("rw"):
            continue
        nxt = maps[i + 1] if i + 1 < len(maps) else None
        if hi - lo == size or (nxt and nxt[0] == hi and nxt[1] == lo + size and nxt[2].startswith("---")
                               and not nxt[3]):
            n += 1
    return n


def read_auth(token=READ_TOKEN):
    return {"Authorization": "Bearer %s" % token}


def collector_agents(coll, token=READ_TOKEN):
    r = http_request(coll.url("/v1/agents"), headers=read_auth(token), timeout=10)
    check(r.status == 200 and isinstance(r.json, dict) and isinstance(r.json.get("agents"), list),
          "GET /v1/agents: %r" % r)
    return r.json["agents"]


def collector_agent(coll, agent_id, token=READ_TOKEN):
    for a in collector_agents(coll, token):
        if a.get("agent_id") == agent_id:
            return a
    return None


def post_events(agent, events, ndjson=False, headers=None, timeout=60):
    """POST events (list -> JSON array or NDJSON; dict -> one object; bytes/str as is)."""
    hdrs = dict(headers or {})
    if isinstance(events, (bytes, str)):
        body = events
    elif ndjson:
        body = "".join(dumps(e) + "\n" for e in events)
        hdrs.setdefault("Content-Type", "application/x-ndjson")
    else:
        body = dumps(events)
    hdrs.setdefault("Content-Type", "application/json")
    return http_request(agent.url("/v1/events"), "POST", body=body, headers=hdrs, timeout=timeout)


def post_events_ok(agent, events, expect_accepted=None, expect_duplicates=None, **kw):
    r = post_events(agent, events, **kw)
    check(r.status == 202, "POST /v1/events: expected 202, got %r" % r)
    check(isinstance(r.json, dict) and isinstance(r.json.get("accepted"), int)
          and isinstance(r.json.get("duplicates"), int),
          "POST /v1/events: 202 body is not {accepted,duplicates}: %r" % r)
    if expect_accepted is not None:
        check_eq(r.json["accepted"], expect_accepted, "POST /v1/events accepted")
    if expect_duplicates is not None:
        check_eq(r.json["duplicates"], expect_duplicates, "POST /v1/events duplicates")
    return r.json


def wait_backlog(agent, value, timeout=120, desc=None):
    def pred():
        st = agent_status(agent)
        return st if st.get("backlog") == value else None
    return wait_until(pred, timeout, desc or "agent backlog == %d" % value, interval=0.1)


def factory_events(coll, from_ms, to_ms):
    """The collector's deduplicated event count in [from, to), or None when the
    metrics endpoint does not exist (404/405/501)."""
    q = urllib.parse.urlencode({"from": fmt_ts(from_ms), "to": fmt_ts(to_ms)})
    r = http_request(coll.url("/v1/metrics/factory?" + q), headers=read_auth(), timeout=30)
    if r.status in (404, 405, 501):
        return None
    check(r.status == 200 and isinstance(r.json, dict), "GET /v1/metrics/factory: %r" % r)
    return r.json.get("events")


def metrics_workers(coll, from_ms, to_ms):
    """{worker_id: entry} from /v1/metrics/workers, or None when the endpoint is missing."""
    q = urllib.parse.urlencode({"from": fmt_ts(from_ms), "to": fmt_ts(to_ms)})
    r = http_request(coll.url("/v1/metrics/workers?" + q), headers=read_auth(), timeout=60)
    if r.status in (404, 405, 501):
        return None
    check(r.status == 200 and isinstance(r.json, dict) and isinstance(r.json.get("workers"), list),
          "GET /v1/metrics/workers: %r" % r)
    return {w.get("worker_id"): w for w in r.json["workers"]}


def check_delivered(coll, agent_id, total, epoch=None):
    """The collector's view of agent_id: everything up to seq total received, once."""
    a = collector_agent(coll, agent_id)
    check(a is not None, "collector does not list agent %s" % agent_id)
    if epoch is not None:
        check_eq(a.get("epoch"), epoch, "collector: %s epoch" % agent_id)
    for k, v in (("received", total), ("missing", 0), ("high_seq", total), ("contiguous_seq", total),
                 ("dropped", 0)):
        check_eq(a.get(k), v, "collector /v1/agents %s.%s" % (agent_id, k))
    return a


_SANITIZER_MARKS = (b"ERROR: LeakSanitizer", b"ERROR: AddressSanitizer", b"runtime error:",
                    b"ERROR: UndefinedBehaviorSanitizer")


def sanitizer_reports(h):
    """Logs of processes this test started that hold a sanitizer report (a
    sanitizer build's daemons report leaks at exit, after SIGTERM). The
    report's first lines are printed."""
    bad = []
    for p in h.procs:
        try:
            with open(p.log_path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        for m in _SANITIZER_MARKS:
            i = data.find(m)
            if i >= 0:
                bad.append("%s (pid %d)" % (p.name, p.pid))
                print(data[i:i + 3000].decode("utf-8", "replace"), flush=True)
                break
    return bad


def run(main, name=None):
    name = name or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    h = Harness(name)
    failed = True
    t0 = time.monotonic()
    try:
        main(h)
        failed = False
    except TestFailure as e:
        print("FAIL: %s" % e, flush=True)
    except Exception:
        print("FAIL: unexpected exception", flush=True)
        traceback.print_exc()
    finally:
        h.cleanup(failed)
    if not failed:
        bad = h.sanitizer_bad
        if bad:
            print("FAIL: sanitizer report in %s" % bad, flush=True)
            failed = True
    print("%s: %s (%.1f s)" % (name, "FAIL" if failed else "PASS", time.monotonic() - t0), flush=True)
    sys.exit(1 if failed else 0)
