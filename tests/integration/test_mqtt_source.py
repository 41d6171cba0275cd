#!/usr/bin/env python3
"""The MQTT source against a real mosquitto broker (started here on a free
loopback port): payloads in DeepStream's full and minimal schemas, Frigate's
frigate/events shape and plain ferry events, mapped by the shipped mappings,
reach the collector exactly once (a redelivered message is a duplicate, not a
second event); bad payloads (not JSON, a missing pointer, a value not in the
map, an invalid timestamp, 1 MiB) go to dead-letter with a reason naming the
rule or field while the source keeps flowing; the dead-lettered seqs are never
"missing" at the collector; SIGHUP reloads the topics and the mapping;
--check-config and --map-test work without any network."""
import re

from ferry_harness import *

HERE = os.path.dirname(os.path.abspath(__file__))
MAPPINGS = os.path.join(HERE, "..", "..", "config", "mappings")


def strip_comments(text):
    return "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("//"))


def combined_mapping(h, extra_entries=()):
    """One mapping file holding the entries of the three shipped mappings."""
    topics = []
    for name in ("deepstream-full.jsonc", "deepstream-minimal.jsonc", "frigate.jsonc"):
        with open(os.path.join(MAPPINGS, name)) as f:
            topics += json.loads(strip_comments(f.read()))["topics"]
    topics += list(extra_entries)
    path = h.path("mapping.jsonc")
    with open(path, "w") as f:
        f.write("// combined for the test\n" + json.dumps({"topics": topics}, indent=1))
    return path


def run_agent_cli(args, timeout=30):
    r = subprocess.run(command([binary("ferry-agent"), "--journal", os.path.join(CLI_DIR, "j.db")] + args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


CLI_DIR = None


def test_cli(h, mapping):
    global CLI_DIR
    CLI_DIR = h.mkdir("cli")
    # --check-config validates the mapping and touches no network (the broker
    # named does not exist)
    rc, out, err = run_agent_cli(["--agent-id", "cli", "--mqtt-url", "mqtt://127.0.0.1:1",
                                  "--mqtt-topic", "a/#", "--mapping", mapping, "--check-config"])
    check_eq(rc, 0, "--check-config with a good mapping (stderr %s)" % err)
    bad = h.path("bad-mapping.jsonc")
    with open(bad, "w") as f:
        f.write('{"topics":[{"filter":"a/+","fields":{"event_id":{"const":"x"},"timestamp":"/t",'
                '"event_type":"/e","workstation_id":"/w"}}]}')
    rc, out, err = run_agent_cli(["--agent-id", "cli", "--mqtt-url", "mqtt://127.0.0.1:1",
                                  "--mqtt-topic", "a/#", "--mapping", bad, "--check-config"])
    check_eq(rc, 2, "--check-config with a bad mapping")
    errl = [l for l in err.splitlines() if l.startswith("ferry-agent:")]
    check(len(errl) == 1 and "topics[0].fields.event_id" in errl[0],
          "--check-config names the rule in one line: %r" % err)
    rc, out, err = run_agent_cli(["--agent-id", "cli", "--mqtt-topic", "a/#", "--check-config"])
    check(rc == 2 and "mqtt_topic" in err and "mqtt_url" in err, "topic without url: %r" % err)
    rc, out, err = run_agent_cli(["--agent-id", "cli", "--mqtt-url", "http://x", "--mqtt-topic", "a",
                                  "--check-config"])
    check(rc == 2 and "mqtt_url" in err, "bad url: %r" % err)
    # --map-test prints the events of a payload, or the refusal naming the rule
    fx = os.path.join(HERE, "..", "fixtures", "mqtt")
    rc, out, err = run_agent_cli(["--agent-id", "cli", "--mapping", mapping, "--map-test",
                                  os.path.join(fx, "ds-minimal.json"), "--map-topic", "deepstream/cam-07/frames"])
    check_eq(rc, 0, "--map-test ds-minimal (stderr %s)" % err)
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    check_eq([e["event_id"] for e in lines], ["ds:cam-07:1547:17", "ds:cam-07:1547:18"], "--map-test events")
    check("1 skipped" in err, "--map-test summary: %r" % err)
    notjson = h.path("notjson.txt")
    with open(notjson, "w") as f:
        f.write("hello")
    rc, out, err = run_agent_cli(["--agent-id", "cli", "--mapping", mapping, "--map-test", notjson,
                                  "--map-topic", "frigate/events"])
    check(rc == 1 and "mapping_error: payload: not JSON" in err, "--map-test refusal: %r" % err)


def main(h):
    mapping = combined_mapping(h)
    test_cli(h, mapping)

    broker = Broker(h).start()
    coll = h.start_collector()
    agent = h.start_agent(coll.port, agent_id="mqtt-src", extra=[
        "--mqtt-url", broker.url, "--mqtt-topic", "deepstream/+/events", "--mqtt-topic", "deepstream/+/frames",
        "--mqtt-topic", "frigate/events", "--mqtt-topic", "cams/+/events", "--mapping", mapping])
    wait_until(lambda: mqtt_status(agent).get("state") == "connected", 20, "the MQTT source to connect")
    st = mqtt_status(agent)
    check_eq(st.get("broker"), broker.url, "sources.mqtt.broker")

    base = now_ms() - 2 * 3600 * 1000
    # the broker keeps messages for the agent's session from its SUBSCRIBE on:
    # publish probes (outside the window counted below) until one arrives
    probes = [0]

    def probe():
        mqtt_publish(broker, "cams/0/events", 1, prefix="probe%d" % probes[0], base_ms=base - 600000)
        probes[0] += 1
        return mqtt_status(agent).get("events", 0) >= 1
    wait_until(probe, 20, "a probe event", interval=0.2)
    st0 = mqtt_status(agent)

    log("publishing DeepStream full/minimal, Frigate and ferry payloads")
    mqtt_publish(broker, "deepstream/cam-1/events", 200, kind="ds-full", prefix="dsf", base_ms=base)
    mqtt_publish(broker, "deepstream/cam-2/frames", 100, kind="ds-min", prefix="cam-2", base_ms=base)
    mqtt_publish(broker, "frigate/events", 100, kind="frigate", prefix="fri", base_ms=base)
    mqtt_publish(broker, "cams/7/events", 200, kind="ferry", prefix="fe", base_ms=base)
    # the same 50 DeepStream messages again: a publisher's retry, or a redelivery
    # (the agent dedups against its pending events, the collector against all)
    mqtt_publish(broker, "deepstream/cam-1/events", 50, kind="ds-full", prefix="dsf", base_ms=base)
    expected = 200 + 2 * 100 + 100 + 200
    window = (base - 1000, base + 300 * 100 + 1000)
    wait_until(lambda: mqtt_status(agent).get("messages") - st0["messages"] >= 650, 60,
               "650 messages at the agent")
    wait_backlog(agent, 0, timeout=60)
    wait_until(lambda: factory_events(coll, *window) == expected, 60, "%d events at the collector" % expected)
    # every message committed: stored, or found pending already (a message is
    # counted on receipt, its events once committed)
    wait_until(lambda: (lambda st: st["events"] + st["duplicates"] - st0["events"] - st0["duplicates"]
                        >= expected + 50)(mqtt_status(agent)), 60, "every message's events committed")
    st = mqtt_status(agent)
    check_eq(st.get("skipped") - st0["skipped"], 100, "sources.mqtt.skipped (one forklift per minimal frame)")
    check_eq(st.get("mapping_errors"), 0, "sources.mqtt.mapping_errors")
    check_eq(factory_events(coll, *window), expected, "events at the collector (each once)")
    workers = metrics_workers(coll, *window)
    for w in ("track-0", "track-1", "person@cam0", "w3"):
        check(workers is not None and w in workers, "worker %s at the collector: %r" % (w, sorted(workers or {})[:20]))
    a = collector_agent(coll, "mqtt-src")
    check_eq(a.get("missing"), 0, "collector missing")

    # /metrics carries the same figures
    r = http_request(agent.url("/metrics"))
    check("ferry_agent_mqtt_events_total %d\n" % st["events"] in r.body.decode(), "/metrics mqtt events")
    check('ferry_agent_mqtt_state{state="connected"} 1' in r.body.decode(), "/metrics mqtt state")

    log("bad payloads")
    bad_dir = h.mkdir("bad")

    def pub_file(topic, data):
        p = os.path.join(bad_dir, "p%d" % len(os.listdir(bad_dir)))
        with open(p, "wb") as f:
            f.write(data)
        r = subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-h", "127.0.0.1", "-q", "1", "-t", topic,
                            "-f", p], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        check_eq(r.returncode, 0, "mosquitto_pub to %s: %s" % (topic, r.stdout))

    ds = json.load(open(os.path.join(HERE, "..", "fixtures", "mqtt", "ds-full-entry.json")))
    fr = json.load(open(os.path.join(HERE, "..", "fixtures", "mqtt", "frigate-new.json")))
    pub_file("deepstream/cam-9/events", b"this is not JSON {")
    no_id = dict(ds)
    del no_id["messageid"]
    pub_file("deepstream/cam-9/events", json.dumps(no_id).encode())
    weird = json.loads(json.dumps(fr))
    weird["type"] = "teleported"
    pub_file("frigate/events", json.dumps(weird).encode())
    bad_ts = json.loads(json.dumps(ds))
    bad_ts["messageid"] = "bad-ts-1"
    bad_ts["@timestamp"] = "yesterday at noon"
    pub_file("deepstream/cam-9/events", json.dumps(bad_ts).encode())
    pub_file("deepstream/cam-9/events", b'{"pad":"' + b"x" * (1024 * 1024 - 10) + b'"}')
    pub_file("cams/1/events", b'{"event_id":"ferry-bad","timestamp":"2026-03-01T08:00:00Z","event_type":"sleeping",'
                              b'"worker_id":"w","workstation_id":"s"}')
    # the source keeps flowing
    good = json.loads(json.dumps(ds))
    good["messageid"] = "after-the-bad-ones"
    pub_file("deepstream/cam-9/events", json.dumps(good).encode())
    wait_until(lambda: mqtt_status(agent).get("messages") == st["messages"] + 7, 30, "the bad payloads at the agent")
    wait_until(lambda: mqtt_status(agent).get("events") == st["events"] + 1, 30, "the good payload after them")
    st = mqtt_status(agent)
    check_eq(st.get("mapping_errors"), 6, "sources.mqtt.mapping_errors")
    check_eq(agent_status(agent).get("dead_letter"), 6, "dead_letter")
    r = http_request(agent.url("/v1/dead-letter"))
    check_eq(r.status, 200, "GET /v1/dead-letter: %r" % r)
    rows = [json.loads(l) for l in r.body.decode().splitlines() if l.strip()]
    check_eq(len(rows), 6, "dead-letter rows")
    want = [("payload: not JSON", "deepstream/cam-9/events"),
            ("topics[0].fields.event_id: pointer \"/messageid\" not found", "deepstream/cam-9/events"),
            ("topics[2].fields.event_type.map: value \"teleported\" is not in the map", "frigate/events"),
            ("topics[0].fields.timestamp: invalid timestamp", "deepstream/cam-9/events"),
            ("payload: 1048576 bytes, over the", "deepstream/cam-9/events"),
            ("invalid_event: event 0: event_type", "cams/1/events")]
    for row, (reason, topic) in zip(rows, want):
        check(row["error"].startswith("mapping_error: ") and reason in row["error"],
              "dead-letter reason %r should name %r" % (row["error"], reason))
        check_eq(row["event"].get("topic"), topic, "dead-letter topic")
        check_eq(row["event"].get("source"), "mqtt", "dead-letter source")
    check_eq(rows[0]["event"].get("payload"), "this is not JSON {", "dead-letter keeps the payload")
    check(rows[4]["event"].get("truncated") is True and rows[4]["event"].get("payload_bytes") == 1024 * 1024,
          "the 1 MiB payload is kept truncated: %r" % {k: v for k, v in rows[4]["event"].items() if k != "payload"})
    wait_backlog(agent, 0, timeout=60)
    # the dead-lettered seqs are declared to the collector, never missing
    def settled():
        a = collector_agent(coll, "mqtt-src")
        return a if a.get("dropped") == 6 and a.get("missing") == 0 else None
    wait_until(settled, 30, "the collector to count 6 dead-lettered seqs as dropped, none missing")

    log("SIGHUP: a new topic filter and a changed mapping")
    cfg = h.path("agent-mqtt.jsonc")
    # the restarted agent takes its topics from a config file this time
    agent.stop()
    with open(cfg, "w") as f:
        json.dump({"mqtt_topic": ["cams/+/events"]}, f)
    agent = h.restart_agent(agent, extra=["--config", cfg, "--mqtt-url", broker.url, "--mapping", mapping])
    wait_until(lambda: mqtt_status(agent).get("state") == "connected", 20, "reconnect")
    with open(cfg, "w") as f:
        json.dump({"mqtt_topic": ["cams/+/events", "line/+/counts"]}, f)
    with open(mapping, "w") as f:
        f.write(json.dumps({"topics": [{"filter": "line/+/counts", "fields": {
            "event_id": {"concat": ["cnt:", {"pointer": "/seq"}]},
            "timestamp": {"pointer": "/t", "as": "epoch_ms"},
            "event_type": {"const": "product_count"},
            "workstation_id": {"topic_level": 1},
            "count": {"pointer": "/n"}}}]}))
    agent.signal(signal.SIGHUP)
    before = mqtt_status(agent).get("events")

    def counted():
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-h", "127.0.0.1", "-q", "1", "-t",
                        "line/st9/counts", "-m", json.dumps({"seq": 1, "t": base + 5000, "n": 4})],
                       timeout=30, check=True)
        st = mqtt_status(agent)
        return st.get("events") >= before + 1
    wait_until(counted, 20, "an event from the topic added by SIGHUP", interval=0.5)
    wait_backlog(agent, 0, timeout=60)
    check_eq(agent.stop(), 0, "agent exit code")


if __name__ == "__main__":
    run(main)
