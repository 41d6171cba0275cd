#!/usr/bin/env python3
"""ferry-camsim, the simulated inference box, against a real agent:
--print is reproducible with --seed and --start and every event it makes is
valid; posting over a Unix socket (created with mode 0660) in JSON-array,
single-object and NDJSON modes gets every event accepted once; a rerun with
the same seed counts duplicates; the summary line adds up."""
import stat

from ferry_harness import *


def camsim(args, timeout=60):
    p = subprocess.run(command([binary("ferry-camsim")] + args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def summary(text):
    m = re.search(r"sent=(\d+) accepted=(\d+) duplicates=(\d+) failed=(\d+)", text)
    check(m is not None, "no camsim summary in %r" % text[-300:])
    return tuple(int(x) for x in m.groups())


def main(h):
    start = fmt_ts(now_ms() - 8 * 3600 * 1000)
    common = ["--print", "--count", "2000", "--rate", "0", "--seed", "42", "--start", start, "--speed", "30"]
    rc, out1, err = camsim(common)
    check_eq(rc, 0, "camsim --print exit code (%s)" % err[-200:])
    rc, out2, _ = camsim(common)
    check(out1 == out2, "camsim --print with the same --seed/--start is not reproducible")
    rc, out3, _ = camsim(common[:-6] + ["--seed", "43", "--start", start, "--speed", "30"])
    check(out1 != out3, "camsim --print ignores --seed")
    lines = out1.splitlines()
    check_eq(len(lines), 2000, "camsim --print --count 2000 lines")
    evs = [json.loads(l) for l in lines]
    kinds = {}
    for e in evs:
        kinds[e["event_type"]] = kinds.get(e["event_type"], 0) + 1
    for k in ("working", "idle", "absent", "product_count"):
        check(kinds.get(k, 0) > 0, "camsim made no %s events in 2000: %r" % (k, kinds))
    check(any(e["event_type"] == "product_count" and "worker_id" not in e for e in evs),
          "camsim made no product_count without worker_id")
    check_eq(len(set(e["event_id"] for e in evs)), 2000, "distinct event ids")
    check(all(e["timestamp"] >= start for e in evs), "timestamps before --start")

    # every printed event is valid for the agent (NDJSON, one request)
    sock = h.path("agent.sock")
    cport = free_port()
    args = h.agent_args(0, cport, h.path("journal.db"), "camsim-agent", AGENT_TOKEN)
    args[args.index("--listen") + 1] = "unix:" + sock
    p = Proc(h, "agent", args, None)
    wait_until(lambda: os.path.exists(sock) or not p.alive(), 20, "the agent's Unix socket")
    check(p.alive(), "agent exited: %s" % p.log_tail())
    mode = stat.S_IMODE(os.stat(sock).st_mode)
    check_eq(oct(mode), oct(0o660), "Unix socket mode")

    def status():
        r = subprocess.run(["curl", "-s", "--unix-socket", sock, "http://localhost/v1/status"],
                           stdout=subprocess.PIPE, timeout=10)
        return json.loads(r.stdout)
    have_curl = shutil.which("curl") is not None

    rc, out, err = camsim(["--agent", "unix:" + sock, "--count", "600", "--rate", "0", "--batch", "50",
                           "--seed", "7", "--start", start, "--quiet"])
    check_eq(rc, 0, "camsim over a Unix socket, arrays of 50 (stderr %s)" % err[-300:])
    check_eq(summary(out), (600, 600, 0, 0), "camsim summary (sent, accepted, duplicates, failed)")
    rc, out, err = camsim(["--agent", "unix:" + sock, "--count", "600", "--rate", "0", "--batch", "50",
                           "--seed", "7", "--start", start, "--quiet", "--ndjson"])
    check_eq(rc, 0, "camsim rerun with the same seed, NDJSON")
    check_eq(summary(out), (600, 0, 600, 0), "camsim rerun summary: all duplicates")
    rc, out, err = camsim(["--agent", "unix:" + sock, "--count", "30", "--rate", "0", "--batch", "1",
                           "--seed", "8", "--start", start, "--quiet", "--random-ids"])
    check_eq(rc, 0, "camsim single objects with UUID ids")
    check_eq(summary(out), (30, 30, 0, 0), "camsim summary, single objects")
    rc, out, err = camsim(["--agent", "unix:" + sock, "--rate", "200", "--batch", "10", "--duration", "1",
                           "--seed", "9", "--quiet"])
    check_eq(rc, 0, "camsim --duration 1 at 200/s")
    sent, acc, dup, failed = summary(out)
    check(100 <= sent <= 260 and acc == sent and failed == 0, "camsim --duration 1 --rate 200: %r" % ((sent, acc, dup, failed),))
    if have_curl:
        st = status()
        check_eq(st.get("backlog"), 630 + sent, "agent backlog after the camsim runs")

    # an unreachable agent: failures are counted, exit code 1
    rc, out, err = camsim(["--agent", "http://127.0.0.1:%d" % free_port(), "--count", "5", "--retries", "1",
                           "--quiet"])
    check_eq(rc, 1, "camsim exit code when nothing could be posted")
    check_eq(summary(out), (5, 0, 0, 5), "camsim summary with the agent down")
    check_eq(p.stop(), 0, "agent exit code")


if __name__ == "__main__":
    run(main)
