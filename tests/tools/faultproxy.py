#!/usr/bin/env python3
"""faultproxy: an HTTP/1.1 proxy for tests that sits between ferry-agent and
ferry-collector on 127.0.0.1 and breaks things on purpose.

Each request (one per client connection: every answer carries
"Connection: close") meets one fate, drawn with a seeded random generator:

  pass        forwarded, answer relayed
  reset       the request is read, then the connection is reset (RST) before
              anything is forwarded
  lost        forwarded (the collector commits it), then the connection is
              reset instead of relaying the answer — the dangerous one: the
              agent must send the batch again and the collector must count it
              once
  stall       forwarded, the answer held back for a few seconds
  truncate    forwarded, only part of the answer relayed, then closed
  retry503    answered 503 with Retry-After: 1 without forwarding
  error500    answered 500 without forwarding

Usage: faultproxy.py LISTEN_PORT TARGET_PORT [--seed N] [--pass-only-file PATH]
While PATH exists every request passes (the test's "calm" switch).
Counts per fate are printed to stdout on SIGTERM and every 5 s.
Loopback only. Python standard library only."""
import argparse
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time

FATES = [("pass", 50), ("reset", 8), ("lost", 10), ("stall", 8), ("truncate", 8),
         ("retry503", 8), ("error500", 8)]
MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
IO_TIMEOUT = 30

counts = {f: 0 for f, _ in FATES}
lock = threading.Lock()


def read_message(sock):
    """Read one HTTP message (head + Content-Length body). Returns bytes or None."""
    data = b""
    while b"\r\n\r\n" not in data:
        part = sock.recv(65536)
        if not part:
            return None
        data += part
        if len(data) > MAX_HEAD and b"\r\n\r\n" not in data:
            return None
    head, _, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    if n > MAX_BODY:
        return None
    while len(rest) < n:
        part = sock.recv(min(1 << 20, n - len(rest)))
        if not part:
            return None
        rest += part
    return head + b"\r\n\r\n" + rest[:n]


def with_close(msg):
    """Force Connection: close on a message (one request per connection)."""
    head, _, body = msg.partition(b"\r\n\r\n")
    lines = [l for l in head.split(b"\r\n") if not l.lower().startswith(b"connection:")]
    lines.insert(1, b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def canned(status, reason, extra=""):
    body = b'{"error":{"code":"injected","message":"faultproxy injected this answer"}}'
    return ("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s"
            "Connection: close\r\n\r\n" % (status, reason, len(body), extra)).encode() + body


def forward(req, target):
    up = socket.create_connection(("127.0.0.1", target), timeout=IO_TIMEOUT)
    try:
        up.sendall(with_close(req))
        return read_message(up)
    finally:
        up.close()


def handle(client, target, rng, calm_file):
    client.settimeout(IO_TIMEOUT)
    try:
        req = read_message(client)
        if req is None:
            client.close()
            return
        if calm_file and os.path.exists(calm_file):
            fate = "pass"
        else:
            with lock:
                fate = rng.choices([f for f, _ in FATES], [w for _, w in FATES])[0]
        with lock:
            counts[fate] += 1
        if fate == "reset":
            reset(client)
            return
        if fate == "retry503":
            client.sendall(canned(503, "Service Unavailable", "Retry-After: 1\r\n"))
            client.close()
            return
        if fate == "error500":
            client.sendall(canned(500, "Internal Server Error"))
            client.close()
            return
        try:
            resp = forward(req, target)
        except OSError:
            resp = None
        if resp is None:
            reset(client)
            return
        resp = with_close(resp)
        if fate == "lost":
            reset(client)
            return
        if fate == "stall":
            time.sleep(1 + rng.random() * 3)
        if fate == "truncate":
            client.sendall(resp[:max(1, len(resp) // 2)])
            client.close()
            return
        client.sendall(resp)
        client.close()
    except OSError:
        try:
            client.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("listen", type=int)
    ap.add_argument("target", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pass-only-file")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.listen))
    srv.listen(64)

    def report(*_):
        with lock:
            print("faultproxy: " + " ".join("%s=%d" % kv for kv in counts.items()), flush=True)

    def stop(*_):
        report()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)

    def ticker():
        while True:
            time.sleep(5)
            report()

    threading.Thread(target=ticker, daemon=True).start()
    print("faultproxy: 127.0.0.1:%d -> 127.0.0.1:%d seed %d" % (a.listen, a.target, a.seed), flush=True)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=handle, args=(c, a.target, rng, a.pass_only_file), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
