#!/usr/bin/env python3
"""Each program names its own threads, so `top -H`, `ps -L` and perf tell
them apart: the collector's database writer is "writer" and SQLite's
checkpointer "checkpoint", the agent's journal worker is "journal"; the loop
thread keeps the program's name. Read from /proc/PID/task/*/comm of the
processes this test started, after they have done some work."""
from ferry_harness import *


def thread_names(pid):
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass  # a thread that ended meanwhile
    return names


def main(h):
    coll = h.start_collector()
    agent = h.start_agent(coll.port, agent_id="names-1")
    r = http_request(agent.base_url + "/v1/events", "POST", json_body=make_events(20, prefix="tn"))
    check_eq(r.status, 202, "ingest status")
    wait_until(lambda: agent_status(agent).get("backlog") == 0, 60, "the agent's backlog delivered")

    names = thread_names(coll.pid)
    log("collector threads: %s" % sorted(names))
    for want in ("writer", "checkpoint"):
        check(want in names, "no collector thread named %r among %s" % (want, sorted(names)))
    check("ferry-collector" in names, "the collector's loop thread lost the program's name: %s" % sorted(names))

    names = thread_names(agent.pid)
    log("agent threads: %s" % sorted(names))
    check("journal" in names, "no agent thread named 'journal' among %s" % sorted(names))
    check("ferry-agent" in names, "the agent's loop thread lost the program's name: %s" % sorted(names))


if __name__ == "__main__":
    run(main)
