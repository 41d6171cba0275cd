"""Shared pieces of the ferry benchmarks: a fast multi-process HTTP client with
pre-serialized bodies and keep-alive connections, /proc memory readings, and
the integration-test harness for starting the programs."""
import http.client
import json
import multiprocessing as mp
import os
import socket
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import ferry_harness  # noqa: E402  (the same process handling as the tests)


def proc_mem_kib(pid):
    """(VmRSS, VmHWM) in KiB from /proc/PID/status."""
    rss = hwm = None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except OSError:
        pass
    return rss, hwm


def proc_mem(pid):
    """VmRSS, VmHWM, RssAnon, RssFile in KiB from /proc/PID/status (RssFile is
    mostly shared-library text, resident in the page cache and shared with
    every process mapping the same libraries)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k = line.split(":", 1)[0]
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                    out[k] = int(line.split()[1])
    except OSError:
        pass
    return out


class PeakSampler:
    """Polls /proc/PID/status every `every` s on a thread and keeps the
    reading with the highest VmRSS (RssAnon / RssFile / RssShmem beside it)
    and, at that peak, the mappings with the most resident pages (smaps):
    what the peak is made of, which VmHWM alone does not say."""

    def __init__(self, pid, every=0.05, top=6):
        import threading
        self.pid, self.every, self.top = pid, every, top
        self.peak = {}
        self.mappings = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            m = proc_mem(self.pid)
            if m.get("VmRSS", 0) > self.peak.get("VmRSS", 0) + 128:
                self.peak = m
                self.mappings = top_mappings(self.pid, self.top)
            self._stop.wait(self.every)

    def stop(self):
        self._stop.set()
        self._t.join()
        return self

    def fmt(self):
        p = self.peak
        return "VmRSS %.1f MiB (anon %.1f, file %.1f, shmem %.1f); at that peak, resident KiB by mapping: %s" % (
            p.get("VmRSS", 0) / 1024, p.get("RssAnon", 0) / 1024, p.get("RssFile", 0) / 1024,
            p.get("RssShmem", 0) / 1024, ", ".join("%s %d" % kv for kv in self.mappings))


def top_mappings(pid, n):
    """The n mappings (by file name, "[anon]" for the rest) with the most
    resident KiB, from /proc/PID/smaps."""
    rss = {}
    name = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                parts = line.split()
                if parts and "-" in parts[0] and not parts[0].endswith(":"):
                    name = os.path.basename(parts[5]) if len(parts) > 5 else "[anon]"
                elif parts and parts[0] == "Rss:":
                    rss[name] = rss.get(name, 0) + int(parts[1])
    except OSError:
        pass
    return sorted(rss.items(), key=lambda kv: -kv[1])[:n]


def proc_cpu_s(pid):
    """user + system CPU seconds of the process so far, from /proc/PID/stat."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_figures(pid, settle_s=2.0, window_s=10.0):
    """After settle_s of quiet: RSS figures and the CPU seconds used over window_s."""
    time.sleep(settle_s)
    c0 = proc_cpu_s(pid)
    time.sleep(window_s)
    m = proc_mem(pid)
    m["cpu_s"] = proc_cpu_s(pid) - c0
    m["window_s"] = window_s
    return m


def fmt_mem(m):
    return "VmRSS %.1f MiB (anon %.1f, file %.1f), VmHWM %.1f MiB" % (
        m.get("VmRSS", 0) / 1024, m.get("RssAnon", 0) / 1024, m.get("RssFile", 0) / 1024, m.get("VmHWM", 0) / 1024)


def loop_figures(status):
    """The agent's loop stall figures from /v1/status ("loop"), or {}."""
    return status.get("loop") or {}


def make_bodies(worker, nworkers, total, batch, random_ids, base_ms, id_base=0):
    """This worker's share of `total` events as pre-serialized JSON array bodies
    (time-ordered ids bench-<id_base + i>, or random bench-<uuid4>)."""
    bodies = []
    events = []
    i = worker
    while i < total:
        eid = "bench-%s" % uuid.uuid4() if random_ids else "bench-%d" % (id_base + i)
        e = {"event_id": eid, "timestamp": ferry_harness.fmt_ts(base_ms + i // 10),
             "event_type": "product_count", "worker_id": "W-%03d" % (i % 50),
             "workstation_id": "WS-%02d" % (i % 12), "count": 1 + i % 3,
             "camera_id": "cam-%02d" % (i % 12), "model_version": "bench-1", "confidence": 0.93}
        events.append(e)
        if len(events) == batch:
            bodies.append((json.dumps(events, separators=(",", ":")).encode(), len(events)))
            events = []
        i += nworkers
    if events:
        bodies.append((json.dumps(events, separators=(",", ":")).encode(), len(events)))
    return bodies


def _client(worker, nworkers, port, total, batch, random_ids, base_ms, barrier, out, id_base):
    bodies = make_bodies(worker, nworkers, total, batch, random_ids, base_ms, id_base)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    hdrs = {"Content-Type": "application/json"}
    barrier.wait()
    c0 = os.times()
    t0 = time.monotonic()
    accepted = dup = errors = requests = 0
    for body, n in bodies:
        for attempt in range(20):
            try:
                conn.request("POST", "/v1/events", body=body, headers=hdrs)
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                errors += 1
                time.sleep(0.05)
                continue
            requests += 1
            if r.status == 202:
                j = json.loads(data)
                accepted += j["accepted"]
                dup += j["duplicates"]
                break
            errors += 1
            if r.status in (429, 503, 507):
                time.sleep(0.05)
                continue
            break
    t1 = time.monotonic()
    c1 = os.times()
    out.put({"worker": worker, "accepted": accepted, "duplicates": dup, "errors": errors,
             "requests": requests, "t0": t0, "t1": t1,
             "cpu": (c1.user - c0.user) + (c1.system - c0.system),
             "events": sum(n for _, n in bodies)})


def run_clients(port, total, batch, nprocs, random_ids=False, base_ms=None, id_base=0, on_start=None):
    """Post `total` events to 127.0.0.1:port/v1/events from nprocs processes
    (one keep-alive connection each). Bodies are built before the clock starts;
    on_start() is called once they are, as the clients start posting (a caller
    timing more than the posts starts its clock there, not before the build).
    Returns a dict with events/s, the client's own CPU cost, and t0/t1 (the
    first post and the last answer, time.monotonic())."""
    base_ms = base_ms or ferry_harness.now_ms() - 3600 * 1000
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(nprocs + 1)
    out = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(w, nprocs, port, total, batch, random_ids, base_ms, barrier, out, id_base))
             for w in range(nprocs)]
    for p in procs:
        p.start()
    barrier.wait()
    if on_start:
        on_start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    t0 = min(r["t0"] for r in results)
    t1 = max(r["t1"] for r in results)
    elapsed = t1 - t0
    cpu = sum(r["cpu"] for r in results)
    events = sum(r["events"] for r in results)
    return {
        "elapsed_s": elapsed,
        "t0": t0,
        "t1": t1,
        "accepted": sum(r["accepted"] for r in results),
        "duplicates": sum(r["duplicates"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "requests": sum(r["requests"] for r in results),
        "events_per_s": events / elapsed if elapsed > 0 else 0.0,
        "client_cpu_s": cpu,
        # what the client processes could push if the server answered instantly,
        # each process limited by its own CPU cost per event
        "client_cap_events_per_s": (events / cpu * min(nprocs, os.cpu_count() or 1)) if cpu > 0 else float("inf"),
    }


class _Sink:
    """A minimal HTTP server answering every POST with 202, to measure the client alone."""

    @staticmethod
    def serve(port_q, stop_evt):
        import asyncio

        async def handle(reader, writer):
            resp = (b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 33\r\n\r\n")
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    n = 0
                    for line in head.split(b"\r\n"):
                        if line[:15].lower() == b"content-length:":
                            n = int(line[15:])
                    body = await reader.readexactly(n)
                    cnt = body.count(b'"event_id"')
                    payload = b'{"accepted":%d,"duplicates":0}' % cnt
                    writer.write(resp.replace(b"33", b"%d" % len(payload)) + payload)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        async def main():
            srv = await asyncio.start_server(handle, "127.0.0.1", 0)
            port_q.put(srv.sockets[0].getsockname()[1])
            while not stop_evt.is_set():
                await asyncio.sleep(0.1)
            srv.close()

        asyncio.run(main())


class _AckSink:
    """A stand-in collector answering every upload with 200 and an ack counting
    the events from the Idempotency-Key ("agent:epoch:first-last"): measures
    what the agent's drain can do when the collector costs nothing. Needs
    --compression none (the body is not read as JSON)."""

    @staticmethod
    def serve(port, stop_evt):
        import asyncio

        async def handle(reader, writer):
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    n = 0
                    key = b""
                    for line in head.split(b"\r\n"):
                        low = line[:16].lower()
                        if low.startswith(b"content-length:"):
                            n = int(line[15:])
                        elif low.startswith(b"idempotency-key:"):
                            key = line[16:].strip()
                    await reader.readexactly(n)
                    cnt = 0
                    if key:
                        a, b = key.rsplit(b":", 1)[1].split(b"-")
                        cnt = int(b) - int(a) + 1
                    payload = b'{"accepted":%d,"duplicates":0,"rejected":[]}' % cnt
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(payload) + payload)
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
                pass
            writer.close()

        async def main():
            srv = await asyncio.start_server(handle, "127.0.0.1", port)
            while not stop_evt.is_set():
                await asyncio.sleep(0.1)
            srv.close()

        asyncio.run(main())


def ack_sink_binary():
    """The C stand-in collector (tests/bench/acksink.c) when it was built, else None."""
    p = os.path.join(ferry_harness.bin_dir(), "ferry-acksink")
    return p if os.access(p, os.X_OK) else None


def start_ack_sink(port, kind="auto"):
    """Start the stand-in collector on 127.0.0.1:port; returns a stop() function
    whose .pid is the sink's process (for its CPU) and .kind "c" or "python".
    kind "auto" takes the C sink (libmicrohttpd, a few hundred ns per request)
    when it was built, else the Python one (asyncio: about as much CPU per event
    as the agent spends delivering it, on the same cores)."""
    binp = ack_sink_binary() if kind in ("auto", "c") else None
    if kind == "c" and not binp:
        raise ferry_harness.TestFailure("ferry-acksink not built in %s" % ferry_harness.bin_dir())
    if binp:
        import subprocess
        p = subprocess.Popen([binp, "--port", str(port)], stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if not line.startswith("port="):
            p.kill()
            p.wait()
            raise ferry_harness.TestFailure("ferry-acksink did not start: %r" % line)

        def stop_c():
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        stop_c.pid, stop_c.kind = p.pid, "c"
        return stop_c
    ctx = mp.get_context("fork")
    stop = ctx.Event()
    p = ctx.Process(target=_AckSink.serve, args=(port, stop))
    p.start()

    def stop_fn():
        stop.set()
        p.join(5)
        if p.is_alive():
            p.kill()
    stop_fn.pid, stop_fn.kind = p.pid, "python"
    return stop_fn


def measure_client_alone(total, batch, nprocs, random_ids=False):
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    stop = ctx.Event()
    p = ctx.Process(target=_Sink.serve, args=(q, stop))
    p.start()
    try:
        port = q.get(timeout=10)
        return run_clients(port, total, batch, nprocs, random_ids)
    finally:
        stop.set()
        p.join(5)
        if p.is_alive():
            p.kill()
