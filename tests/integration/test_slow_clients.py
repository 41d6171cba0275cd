#!/usr/bin/env python3
"""Slow and abusive clients against both programs' HTTP servers. Attacks come
from other loopback addresses (127.0.0.2, 127.0.0.3) than the health checks
(127.0.0.1), as they would from another host.

1. Many idle connections (more than --max-connections) from one address:
   /healthz and /readyz from another address keep answering 200, and real
   work (an ingest POST) still succeeds; a connection idle past
   --conn-timeout-s is closed by the server.
2. Slowloris: connections that send one header byte at a time keep the
   loop responsive (health answered while they drip).
3. Oversized headers (256 KiB): a 4xx or a closed connection, never a crash.
4. Oversized bodies: a Content-Length over the limit is 413 before the body
   is read; a chunked body that goes on is cut off.
Both processes are alive and healthy at the end."""
import threading

from ferry_harness import *


def connect_from(src, port, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def healthy(proc, what):
    for path in ("/healthz", "/readyz"):
        r = http_request(proc.url(path), timeout=10)
        check_eq(r.status, 200, "%s %s during %s" % (proc.name, path, what))


def idle_flood(proc, n, src):
    socks = []
    for _ in range(n):
        try:
            socks.append(connect_from(src, proc.port, timeout=2))
        except OSError:
            break
    return socks


def closed_by_server(s, timeout):
    """True when the server closes s (EOF or reset) within timeout seconds."""
    s.settimeout(timeout)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def slowloris(proc, n, src, stop):
    socks = []
    for _ in range(n):
        try:
            s = connect_from(src, proc.port, timeout=2)
            s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            break
    k = 0
    while not stop.is_set():
        for s in list(socks):
            try:
                s.send(b"X-a%d: b\r\n" % k)
            except OSError:
                socks.remove(s)
        k += 1
        time.sleep(0.5)
    for s in socks:
        s.close()


def oversized_headers(proc):
    s = connect_from("127.0.0.2", proc.port)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for i in range(256):
                s.sendall(b"X-Big-%d: %s\r\n" % (i, b"h" * 1000))
            s.sendall(b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return "closed while sending"
        data = b""
        try:
            while True:
                part = s.recv(4096)
                if not part:
                    break
                data += part
        except (ConnectionResetError, socket.timeout):
            pass
        if data:
            status = int(data.split()[1])
            check(400 <= status < 500, "oversized headers answered %d" % status)
            return status
        return "closed"
    finally:
        s.close()


def main(h):
    cport = free_port()
    coll = h.start_collector(port=cport, extra=["--max-connections", "64", "--conn-timeout-s", "3"])
    agent = h.start_agent(cport, agent_id="slow-agent", extra=["--max-connections", "64"])
    base = now_ms() - 3600 * 1000

    for proc in (coll, agent):
        # 1. idle flood from 127.0.0.2, more than the connection limit
        socks = idle_flood(proc, 100, "127.0.0.2")
        log("%s: %d idle connections open from 127.0.0.2" % (proc.name, len(socks)))
        healthy(proc, "an idle-connection flood")
        if proc is agent:
            post_events_ok(agent, make_events(10, prefix="flood", base_ms=base), expect_accepted=10)
        for s in socks:
            s.close()

        # 2. slowloris from 127.0.0.3
        stop = threading.Event()
        t = threading.Thread(target=slowloris, args=(proc, 40, "127.0.0.3", stop), daemon=True)
        t.start()
        time.sleep(1.5)
        healthy(proc, "slowloris")
        stop.set()
        t.join(10)

        # 3. oversized headers
        log("%s: 256 KiB of headers -> %s" % (proc.name, oversized_headers(proc)))
        healthy(proc, "oversized headers")

    # an idle connection is closed after --conn-timeout-s (collector: 3 s)
    s = connect_from("127.0.0.2", coll.port)
    check(closed_by_server(s, 30), "an idle connection to the collector stayed open past --conn-timeout-s")
    s.close()

    # 4. oversized bodies: declared too large -> 413 without reading it
    r = raw_request(agent.port, "POST", "/v1/events",
                    {"Content-Type": "application/json", "Content-Length": str(1 << 30)}, b"[" * 65536)
    check_error_body(r, 413, "agent: 1 GiB Content-Length")
    r = raw_request(coll.port, "POST", "/v1/ingest",
                    {"Content-Type": "application/json", "Authorization": "Bearer " + AGENT_TOKEN,
                     "Content-Length": str(1 << 30)}, b"{" * 65536)
    check_error_body(r, 413, "collector: 1 GiB Content-Length")
    # chunked, going on and on: the server stops it (413 or a closed connection)
    s = connect_from("127.0.0.2", agent.port)
    s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    sent = 0
    cut = False
    try:
        while sent < 64 * 1024 * 1024:
            s.sendall(b"10000\r\n" + b" " * 0x10000 + b"\r\n")
            sent += 0x10000
    except (BrokenPipeError, ConnectionResetError):
        cut = True
    s.close()
    log("agent: endless chunked body cut after %d MiB" % (sent >> 20))
    check(cut, "the agent read a 64 MiB chunked body to the end")

    for proc in (coll, agent):
        check(proc.alive(), "%s died" % proc.name)
        healthy(proc, "the end")
    post_events_ok(agent, make_events(5, prefix="after", base_ms=base), expect_accepted=5)
    wait_backlog(agent, 0, timeout=60)


if __name__ == "__main__":
    run(main)
