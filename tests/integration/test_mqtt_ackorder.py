#!/usr/bin/env python3
"""When does libmosquitto send a QoS 1 PUBACK — before or after the
application's on_message? Measured against a real mosquitto, in each way of
driving the library (tests/tools/mqtt_ackorder.c): a client with a persistent
session _exit()s inside on_message of a message, as a crash between receipt
and commit would; the same client id then reconnects, the test publishes a
"marker", and the client prints what it gets up to the marker. A message
printed before the marker was redelivered: its PUBACK had not left.

The agent's MQTT source drives the library the "threaded-set" way, so this
must redeliver (the no-loss guarantee rests on it). "loop-start" redelivers
too. libmosquitto 2.0 (Debian 12) queues the PUBACK before on_message and,
unthreaded, writes it at once: "unthreaded" and "external" lose the message —
asserted for 2.0.x only, as the record behind docs/integrations.md (a later
libmosquitto that calls on_message first would redeliver there too)."""
import ctypes

from ferry_harness import *


def lib_version():
    lib = ctypes.CDLL("libmosquitto.so.1")
    ma, mi, rev = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    lib.mosquitto_lib_version(ctypes.byref(ma), ctypes.byref(mi), ctypes.byref(rev))
    return ma.value, mi.value, rev.value


def redelivered(h, broker, mode):
    topic = "ackorder/%s" % mode
    cid = "ackorder-%s" % mode
    tool = binary("ferry-mqtt-ackorder")
    crash = subprocess.Popen(command([tool, "--port", str(broker.port), "--topic", topic, "--mode", mode,
                                      "--phase", "crash", "--client-id", cid]),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    line = crash.stdout.readline().decode().strip()
    check_eq(line, "ready", "%s: crash phase subscribed" % mode)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic,
                    "-m", "first"], check=True, timeout=30)
    out = crash.stdout.read().decode()
    crash.wait(30)
    check(crash.returncode == 3 and "got first" in out, "%s: crashed in on_message (%s, %r)"
          % (mode, crash.returncode, out))
    drain = subprocess.Popen(command([tool, "--port", str(broker.port), "--topic", topic, "--mode", mode,
                                      "--phase", "drain", "--client-id", cid]),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    # the marker goes to the session the drain client resumes
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "-t", topic,
                    "-m", "marker"], check=True, timeout=30)
    out, _ = drain.communicate(timeout=60)
    got = [l[4:] for l in out.decode().splitlines() if l.startswith("got ")]
    check(got and got[-1] == "marker", "%s: drain output %r" % (mode, got))
    log("%-13s after a crash in on_message: %s" % (mode, "redelivered" if "first" in got else "LOST"))
    return "first" in got


def main(h):
    broker = Broker(h).start()
    version = lib_version()
    log("libmosquitto %d.%d.%d" % version)
    check(redelivered(h, broker, "threaded-set"), "threaded-set (the agent's way) must redeliver")
    check(redelivered(h, broker, "loop-start"), "loop-start must redeliver")
    lost_unthreaded = not redelivered(h, broker, "unthreaded")
    lost_external = not redelivered(h, broker, "external")
    if version[:2] == (2, 0):
        check(lost_unthreaded and lost_external,
              "libmosquitto 2.0 sends the PUBACK before on_message when unthreaded (docs/integrations.md)")


if __name__ == "__main__":
    run(main)
