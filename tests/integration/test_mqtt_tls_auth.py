#!/usr/bin/env python3
"""The MQTT source over mqtts:// with a user name and password file, against a
mosquitto with a TLS listener (a throwaway CA made here with the openssl
command line) and a password file (mosquitto_passwd):

1. the right CA (--mqtt-ca-file) and password: connected, events flow;
2. a wrong password: sources.mqtt.state auth_error, nothing received;
3. a CA that did not sign the broker's certificate: never connected (the
   certificate is verified), state connecting with the error in last_error;
4. a password file readable by others is used, with a warning."""
import shutil

from ferry_harness import *


def openssl(h, *args):
    exe = shutil.which("openssl")
    check(exe is not None, "the openssl command is needed (apt-get install openssl)")
    r = subprocess.run([exe] + list(args), cwd=h.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    check(r.returncode == 0, "openssl %s failed: %s" % (" ".join(args), r.stdout.decode(errors="replace")))


def make_ca(h, name):
    openssl(h, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".pem", "-days", "3", "-subj", "/CN=" + name)
    return h.path(name + ".pem")


def main(h):
    ca = make_ca(h, "mqtt-ca")
    other_ca = make_ca(h, "other-ca")
    openssl(h, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost")
    with open(h.path("broker.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(h, "x509", "-req", "-in", "broker.csr", "-CA", "mqtt-ca.pem", "-CAkey", "mqtt-ca.key",
            "-CAcreateserial", "-out", "broker.pem", "-days", "2", "-extfile", "broker.ext")
    passwd = h.path("mosquitto.passwd")
    exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    r = subprocess.run([exe, "-c", "-b", passwd, "ferry", "s3cret-pass"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    check(r.returncode == 0, "mosquitto_passwd: %s" % r.stdout)
    broker = Broker(h, anonymous=False, extra=[
        "cafile %s" % ca, "certfile %s" % h.path("broker.pem"), "keyfile %s" % h.path("broker.key"),
        "password_file %s" % passwd]).start()
    url = "mqtts://127.0.0.1:%d" % broker.port
    good = h.path("good.pass")
    with open(good, "w") as f:
        f.write("s3cret-pass\n")
    os.chmod(good, 0o600)
    bad = h.path("bad.pass")
    with open(bad, "w") as f:
        f.write("wrong\n")
    os.chmod(bad, 0o644)

    coll = h.start_collector()
    base = now_ms() - 3600 * 1000

    # 1. right CA and password
    a = h.start_agent(coll.port, agent_id="mq-tls", extra=[
        "--mqtt-url", url, "--mqtt-topic", "cams/+/events", "--mqtt-ca-file", ca,
        "--mqtt-username", "ferry", "--mqtt-password-file", good])
    wait_until(lambda: mqtt_status(a).get("state") == "connected", 30, "a TLS connection with the password")
    check_eq(mqtt_status(a).get("broker"), url, "sources.mqtt.broker")
    pub = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", ca,
                          "-u", "ferry", "-P", "s3cret-pass", "-q", "1", "-t", "cams/1/events", "-m",
                          json.dumps(make_event(1, prefix="tls", base_ms=base))],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
    check(pub.returncode == 0, "mosquitto_pub over TLS: %s" % pub.stdout)
    wait_until(lambda: mqtt_status(a).get("events") == 1, 30, "the event over TLS")
    check(b"s3cret-pass" not in open(a.log_path, "rb").read(), "the password appears in the agent's log")
    a.stop()

    # 2. wrong password (the file is readable by others: a warning, still used)
    b = h.start_agent(coll.port, agent_id="mq-badpass", extra=[
        "--mqtt-url", url, "--mqtt-topic", "cams/+/events", "--mqtt-ca-file", ca,
        "--mqtt-username", "ferry", "--mqtt-password-file", bad])
    wait_until(lambda: mqtt_status(b).get("state") == "auth_error", 30, "auth_error with a wrong password")
    st = mqtt_status(b)
    check(st.get("messages") == 0 and "refused" in (st.get("last_error") or ""), "auth_error status: %r" % st)
    check(b"readable by others" in open(b.log_path, "rb").read(), "no warning about the password file mode")
    b.stop()

    # 3. a CA that did not sign the broker's certificate
    c = h.start_agent(coll.port, agent_id="mq-badca", extra=[
        "--mqtt-url", url, "--mqtt-topic", "cams/+/events", "--mqtt-ca-file", other_ca,
        "--mqtt-username", "ferry", "--mqtt-password-file", good])
    wait_until(lambda: mqtt_status(c).get("last_error"), 30, "a TLS failure to be reported")
    st = mqtt_status(c)
    check(st.get("state") == "connecting" and st.get("connects") == 0, "untrusted broker: %r" % st)
    c.stop()


if __name__ == "__main__":
    run(main)
