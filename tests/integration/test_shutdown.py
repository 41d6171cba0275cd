#!/usr/bin/env python3
"""SIGTERM on the agent while ferry-camsim posts to it: the agent exits 0
within a bounded time, and every event it answered 202 for is either still in
the journal or delivered (restart, drain, compare counts).

Phase 1 runs with the collector up (events in flight to it at SIGTERM),
phase 2 with the collector down (the agent is retrying at SIGTERM)."""
from ferry_harness import *

STOP_BOUND_S = 15   # systemd gives 90 s; a clean stop should need far less


def parse_summary(text):
    m = None
    for m in re.finditer(r"sent=(\d+) accepted=(\d+) duplicates=(\d+) failed=(\d+)", text):
        pass
    check(m is not None, "ferry-camsim printed no summary line: %r" % text[-500:])
    return {k: int(v) for k, v in zip(("sent", "accepted", "duplicates", "failed"), m.groups())}


def camsim_run(h, agent, seed):
    cs = h.start_camsim(agent, ["--rate", "3000", "--batch", "25", "--seed", str(seed), "--retries", "0",
                                "--workers", "12", "--workstations", "6", "--quiet"])
    return cs


def sigterm_during_ingest(h, agent, cs):
    wait_until(lambda: agent_status(agent).get("next_seq", 1) > 1500 or not cs.alive(), 30,
               "camsim to get 1,500 events into the agent")
    check(cs.alive(), "ferry-camsim exited early:\n%s" % cs.log_tail())
    agent.signal(signal.SIGTERM)
    rc = agent.wait_exit(STOP_BOUND_S)
    check(rc is not None, "agent still running %d s after SIGTERM" % STOP_BOUND_S)
    check_eq(rc, 0, "agent exit code after SIGTERM")
    agent.logf.close()
    cs.stop(timeout=15)
    with open(cs.log_path, "rb") as f:
        summary = parse_summary(f.read().decode("utf-8", "replace"))
    log("camsim: %s" % summary)
    check_eq(summary["duplicates"], 0, "duplicates reported to camsim (every event id is new)")
    check(summary["accepted"] >= 1500, "camsim got too few 202s: %r" % summary)
    return summary


def phase_collector_up(h, coll):
    agent = h.start_agent(coll.port, agent_id="sd-up")
    epoch = agent_status(agent)["epoch"]
    cs = camsim_run(h, agent, 11)
    summary = sigterm_during_ingest(h, agent, cs)

    agent2 = h.restart_agent(agent)
    st = agent_status(agent2)
    check_eq(st.get("epoch"), epoch, "epoch after a clean stop")
    stored = st.get("next_seq", 1) - 1
    check(stored >= summary["accepted"],
          "the agent holds %d seqs but answered 202 for %d events" % (stored, summary["accepted"]))
    wait_backlog(agent2, 0, timeout=90)
    a = check_delivered(coll, "sd-up", stored, epoch=epoch)
    check(a["received"] >= summary["accepted"], "collector received %d < %d events 202'd"
          % (a["received"], summary["accepted"]))
    check_eq(agent2.stop(), 0, "agent exit code on SIGTERM")


def phase_collector_down(h):
    cport = free_port()
    agent = h.start_agent(cport, agent_id="sd-down")
    epoch = agent_status(agent)["epoch"]
    cs = camsim_run(h, agent, 12)
    wait_until(lambda: collector_state(agent) == "unreachable", 20, "collector.state == unreachable")
    summary = sigterm_during_ingest(h, agent, cs)

    agent2 = h.restart_agent(agent)
    st = agent_status(agent2)
    check_eq(st.get("epoch"), epoch, "epoch after a clean stop")
    stored = st.get("next_seq", 1) - 1
    check_eq(st.get("backlog"), stored, "backlog after restart (nothing was delivered)")
    check(stored >= summary["accepted"],
          "journal holds %d events but the agent answered 202 for %d" % (stored, summary["accepted"]))
    coll = h.start_collector(port=cport)
    wait_backlog(agent2, 0, timeout=90)
    check_delivered(coll, "sd-down", stored, epoch=epoch)
    # and a stop while idle, right after the drain
    check_eq(agent2.stop(timeout=STOP_BOUND_S), 0, "agent exit code on SIGTERM when idle")
    check(not agent2.forced, "agent needed SIGKILL to stop when idle")
    return coll


def main(h):
    coll = h.start_collector()
    log("phase 1: collector up")
    phase_collector_up(h, coll)
    log("phase 2: collector down")
    coll2 = phase_collector_down(h)
    check_eq(coll.stop(), 0, "collector exit code on SIGTERM")
    check_eq(coll2.stop(), 0, "collector exit code on SIGTERM")


if __name__ == "__main__":
    run(main)
