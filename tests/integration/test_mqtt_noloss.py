#!/usr/bin/env python3
"""No loss through the MQTT source (SPEC §6.1): every message the broker
accepted from the publisher reaches the collector once, missing 0.

1. The acknowledgement waits for the commit: with the journal held (a test
   hook) the agent receives messages but cannot commit them; it is killed with
   SIGKILL in that state and restarted normally. The broker redelivers every
   one (it never got a PUBACK) and the collector ends with all of them once.
2. kill -9 of the agent mid-stream: a publisher streams 3,000 messages while
   the agent is killed and restarted.
3. Broker restart mid-stream: the broker is stopped (SIGTERM, its persistence
   saved) while the publisher streams; the publisher notes what the broker
   acknowledged, the broker comes back on the same port and directory, the
   publisher sends again whatever was not acknowledged (duplicates allowed).
4. Collector down: the agent journals from MQTT while the collector is
   stopped, and drains once it is back.
5. Phase 1 with --mqtt-protocol 5 (session expiry never, clean start off)."""
from ferry_harness import *

TOPIC = "cams/1/events"


def start_agent(h, coll_port, broker, agent_id):
    return h.start_agent(coll_port, agent_id=agent_id,
                         extra=["--mqtt-url", broker.url, "--mqtt-topic", "cams/+/events", "--durability", "os"])


def connected(agent):
    wait_until(lambda: mqtt_status(agent).get("state") == "connected", 30, "the MQTT source to connect")


def subscribe_once(h, coll_port, broker, agent_id):
    """Start an agent, let it create its persistent session (subscription)
    and stop it: from then on the broker keeps messages for it."""
    a = start_agent(h, coll_port, broker, agent_id)
    connected(a)
    # a probe proves the subscription is in place (outside every window below)
    probes = [0]

    def probe():
        mqtt_publish(broker, TOPIC, 1, prefix="%s-probe%d" % (agent_id, probes[0]), base_ms=now_ms() - 9 * 3600000)
        probes[0] += 1
        return mqtt_status(a).get("events", 0) >= 1
    wait_until(probe, 20, "a probe event", interval=0.2)
    wait_backlog(a, 0, timeout=60)
    return a


def window_count(coll, base, n):
    return factory_events(coll, base - 1000, base + n * 100 + 1000)


def settle(coll, agent, agent_id, base, n):
    wait_until(lambda: window_count(coll, base, n) == n, 120, "%d events at the collector" % n, interval=0.2)
    wait_backlog(agent, 0, timeout=120)
    check_eq(window_count(coll, base, n), n, "events at the collector (once each)")
    a = collector_agent(coll, agent_id)
    check_eq(a.get("missing"), 0, "collector: missing")


def phase_hold(h, broker):
    coll = h.start_collector()
    a = subscribe_once(h, coll.port, broker, "mq-hold")
    a.stop()
    held = h.start_agent(coll.port, journal=a.journal, agent_id="mq-hold", port=a.port,
                         extra=["--mqtt-url", broker.url, "--mqtt-topic", "cams/+/events"],
                         env={"FERRY_TEST_HOLD_JOURNAL": "1"})
    connected(held)
    b0 = agent_status(held).get("backlog")  # 0, or a late probe
    base = now_ms() - 3 * 3600 * 1000
    n = 40
    mqtt_publish(broker, TOPIC, n, prefix="hold", base_ms=base)
    # received (on_message ran for them) but not committed
    wait_until(lambda: mqtt_status(held).get("messages", 0) >= 1, 30, "the agent to receive messages")
    st = mqtt_status(held)
    check_eq(st.get("events"), 0, "events committed while the journal is held")
    check_eq(agent_status(held).get("backlog"), b0, "backlog while held")
    log("phase 1: %d message(s) received, none committed; kill -9" % st.get("messages"))
    held.kill9()
    again = h.restart_agent(held, extra=["--mqtt-url", broker.url, "--mqtt-topic", "cams/+/events"])
    connected(again)
    settle(coll, again, "mq-hold", base, n)
    st = mqtt_status(again)
    check(st.get("messages", 0) >= n, "the broker redelivered every message: %r" % st)
    again.stop()


def phase_mqtt5(h, broker):
    """Phase 1 again with MQTT 5 (session expiry never, clean start off)."""
    coll = h.start_collector()
    v5 = ["--mqtt-url", broker.url, "--mqtt-topic", "cams/+/events", "--mqtt-protocol", "5"]
    a = h.start_agent(coll.port, agent_id="mq-v5", extra=v5)
    connected(a)
    probes = [0]

    def probe():
        mqtt_publish(broker, TOPIC, 1, prefix="v5-probe%d" % probes[0], base_ms=now_ms() - 9 * 3600000)
        probes[0] += 1
        return mqtt_status(a).get("events", 0) >= 1
    wait_until(probe, 20, "a probe event over MQTT 5", interval=0.2)
    wait_backlog(a, 0, timeout=60)
    a.stop()
    held = h.start_agent(coll.port, journal=a.journal, agent_id="mq-v5", port=a.port, extra=v5,
                         env={"FERRY_TEST_HOLD_JOURNAL": "1"})
    connected(held)
    base = now_ms() - 7 * 3600 * 1000
    n = 30
    mqtt_publish(broker, TOPIC, n, prefix="v5", base_ms=base)
    wait_until(lambda: mqtt_status(held).get("messages", 0) >= 1, 30, "the agent to receive messages (MQTT 5)")
    check_eq(mqtt_status(held).get("events"), 0, "events committed while the journal is held (MQTT 5)")
    held.kill9()
    again = h.restart_agent(held, extra=v5)
    connected(again)
    settle(coll, again, "mq-v5", base, n)
    again.stop()


def phase_kill9(h, broker):
    coll = h.start_collector()
    a = subscribe_once(h, coll.port, broker, "mq-k9")
    base = now_ms() - 4 * 3600 * 1000
    n = 3000
    pub = Proc(h, "mqttpub", [binary("ferry-mqttpub"), "--port", str(broker.port), "--topic", TOPIC,
                              "--count", str(n), "--prefix", "k9", "--base-ms", str(base), "--inflight", "50"], None)
    wait_until(lambda: mqtt_status(a).get("events", 0) >= 300, 60, "the stream to reach the agent")
    a.kill9()
    log("phase 2: agent killed at %s" % "mid-stream")
    a2 = h.restart_agent(a, extra=["--mqtt-url", broker.url, "--mqtt-topic", "cams/+/events",
                                   "--durability", "os"])
    check_eq(pub.wait_exit(120), 0, "publisher exit (every message acknowledged by the broker)")
    settle(coll, a2, "mq-k9", base, n)
    a2.stop()


def phase_broker_restart(h, broker):
    coll = h.start_collector()
    a = subscribe_once(h, coll.port, broker, "mq-br")
    base = now_ms() - 5 * 3600 * 1000
    n = 3000
    acked = h.path("acked-br.txt")
    pub = Proc(h, "mqttpub", [binary("ferry-mqttpub"), "--port", str(broker.port), "--topic", TOPIC,
                              "--count", str(n), "--prefix", "br", "--base-ms", str(base), "--inflight", "50",
                              "--acked", acked], None)

    def some_acked():
        try:
            with open(acked) as f:
                return sum(1 for _ in f) >= 500
        except OSError:
            return False
    wait_until(some_acked, 60, "500 messages acknowledged by the broker")
    broker.stop()
    pub.wait_exit(30)
    with open(acked) as f:
        got = {int(l) for l in f if l.strip()}
    log("phase 3: broker stopped with %d of %d acknowledged" % (len(got), n))
    check(len(got) < n, "the broker was stopped mid-stream")
    broker.start()
    # send again everything the broker did not acknowledge (a publisher's retry)
    missing = sorted(set(range(n)) - got)
    lo = missing[0]
    mqtt_publish(broker, TOPIC, n - lo, start=lo, prefix="br", base_ms=base, timeout=120)
    settle(coll, a, "mq-br", base, n)
    st = mqtt_status(a)
    check(st.get("connects", 0) >= 2, "the agent reconnected: %r" % st)
    a.stop()


def phase_collector_down(h, broker):
    cport = free_port()
    coll = h.start_collector(port=cport)
    a = subscribe_once(h, cport, broker, "mq-cd")
    wait_backlog(a, 0, timeout=60)
    coll.stop()
    base = now_ms() - 6 * 3600 * 1000
    n = 1000
    mqtt_publish(broker, TOPIC, n, prefix="cd", base_ms=base)
    wait_until(lambda: agent_status(a).get("backlog") >= n, 60, "the backlog to hold the %d events" % n)
    coll2 = h.start_collector(port=cport, db_dir=coll.db_dir)
    settle(coll2, a, "mq-cd", base, n)
    a.stop()


def main(h):
    broker = Broker(h).start()
    phase_hold(h, broker)
    phase_mqtt5(h, broker)
    phase_kill9(h, broker)
    phase_broker_restart(h, broker)
    phase_collector_down(h, broker)


if __name__ == "__main__":
    run(main)
