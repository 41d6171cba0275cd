#!/usr/bin/env python3
"""TLS end to end with a test CA made here with the openssl command line:
the collector serves HTTPS (GnuTLS) and asks agents for client certificates;
agents verify the collector. Each case is observed where an operator would
look: the agent's /v1/status (collector.state, last_failure_class) and
/metrics (upload failures of class "tls"), and the collector's /v1/agents.

  valid chain + pin + client cert  -> delivered, state ok
  wrong pin                        -> state config_error, class tls, nothing delivered
  wrong host name (URL localhost)  -> state config_error, class tls
  no --ca-file (system store)      -> state config_error, class tls
  expired collector certificate    -> state config_error, class tls
  no client certificate            -> 401: state auth_error
  client certificate of another id -> 403: state auth_error
  SIGHUP with a new certificate while a request is mid-flight: the request
  finishes on its connection, new connections get the new certificate; a
  broken key on SIGHUP keeps the old one.
"""
import base64
import hashlib
import http.client
import shutil
import ssl
import subprocess

from ferry_harness import *

N = 40


def openssl(h, *args):
    exe = shutil.which("openssl")
    check(exe is not None, "the openssl command is needed (apt-get install openssl)")
    r = subprocess.run([exe] + list(args), cwd=h.tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=60)
    check(r.returncode == 0, "openssl %s failed: %s" % (" ".join(args), r.stdout.decode(errors="replace")))


class Pki:
    """A throwaway CA and the certificates the cases need, in h.tmp."""

    def __init__(self, h):
        self.h = h
        openssl(h, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", "/CN=ferry test CA")
        self.ca = h.path("ca.pem")

    def issue(self, name, cn, san, eku, days=2):
        """name.pem / name.key signed by the CA; days < 0 gives an expired one."""
        h = self.h
        openssl(h, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn)
        with open(h.path(name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n")
            f.write("extendedKeyUsage=%s\n" % eku)
            if san:
                f.write("subjectAltName=%s\n" % san)
        openssl(h, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", str(days), "-extfile", name + ".ext")
        os.chmod(h.path(name + ".key"), 0o600)
        return h.path(name + ".pem"), h.path(name + ".key")

    def pin(self, name):
        """base64 SHA-256 of the certificate's public key (SubjectPublicKeyInfo, DER)."""
        h = self.h
        openssl(h, "x509", "-in", name + ".pem", "-pubkey", "-noout", "-out", name + ".pub.pem")
        openssl(h, "pkey", "-pubin", "-in", name + ".pub.pem", "-outform", "DER", "-out", name + ".pub.der")
        with open(h.path(name + ".pub.der"), "rb") as f:
            return base64.b64encode(hashlib.sha256(f.read()).digest()).decode()


def https_ctx(pki, client=None):
    ctx = ssl.create_default_context(cafile=pki.ca)
    if client:
        ctx.load_cert_chain(client + ".pem", client + ".key")
    return ctx


def https_get(port, path, ctx, headers=None, timeout=10):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=timeout)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        c.close()


def start_tls_collector(h, pki, cert, key, client_ca=True, name="collector"):
    extra = ["--tls-cert", cert, "--tls-key", key]
    if client_ca:
        extra += ["--tls-client-ca", pki.ca]
    coll = h.start_collector(extra=extra, ready=False, name=name)
    coll.base_url = "https://127.0.0.1:%d" % coll.port
    ctx = https_ctx(pki)
    ctx.check_hostname = False      # the expired/other-host cases: only readiness here
    ctx.verify_mode = ssl.CERT_NONE
    coll.ctx = ctx

    def ready():
        check(coll.alive(), "collector exited: %s" % coll.log_tail())
        return https_get(coll.port, "/healthz", ctx, timeout=2).status == 200
    wait_until(ready, 20, "the HTTPS collector to answer /healthz")
    return coll


def tls_agents(coll):
    r = https_get(coll.port, "/v1/agents", coll.ctx, headers=read_auth())
    check(r.status == 200 and isinstance(r.json, dict), "GET https /v1/agents: %r" % r)
    return {a.get("agent_id"): a for a in r.json.get("agents", [])}


def agent_metric(agent, name, labels):
    r = http_request(agent.url("/metrics"), timeout=10)
    check(r.status == 200, "agent /metrics: %r" % r)
    m = re.search(r"(?m)^%s\{%s\} (\S+)$" % (re.escape(name), re.escape(labels)), r.body.decode())
    return float(m.group(1)) if m else None


def start_tls_agent(h, coll, agent_id, host="127.0.0.1", ca=True, pin=None, client=None, pki=None):
    extra = ["--collector", "https://%s:%d" % (host, coll.port)]
    if ca:
        extra += ["--ca-file", pki.ca]
    if pin:
        extra += ["--pin-sha256", pin]
    if client:
        extra += ["--tls-client-cert", client + ".pem", "--tls-client-key", client + ".key"]
    # the harness puts an http:// --collector first; the later flag wins
    return h.start_agent(coll.port, agent_id=agent_id, extra=extra, name="agent-" + agent_id)


def expect_refused(h, coll, agent, state, klass, what):
    """The agent keeps its events, reports state/klass, and the collector has nothing."""
    base = now_ms() - 3600 * 1000
    post_events_ok(agent, make_events(N, prefix=agent.agent_id, base_ms=base), expect_accepted=N)

    def settled():
        c = agent_status(agent)["collector"]
        return c if c.get("state") == state and c.get("last_failure_class") == klass else None
    c = wait_until(settled, 30, "%s: collector.state %s with last_failure_class %s" % (what, state, klass))
    log("%s: %s (%s)" % (what, c.get("state"), c.get("last_error")))
    st = agent_status(agent)
    check_eq(st.get("backlog"), N, "%s: backlog (nothing acknowledged, nothing lost)" % what)
    check_eq(st.get("dead_letter"), 0, "%s: dead_letter" % what)
    if klass == "tls":
        v = agent_metric(agent, "ferry_agent_upload_failures_total", 'class="tls"')
        check(v is not None and v >= 1, "%s: upload_failures_total{class=\"tls\"} = %r" % (what, v))
    check(agent.agent_id not in tls_agents(coll) or tls_agents(coll)[agent.agent_id].get("received", 0) == 0,
          "%s: the collector stored events" % what)
    check_eq(agent.stop(), 0, "%s: agent exit code" % what)


def reload_mid_flight(h, pki, coll, epoch):
    """Open a TLS connection, send the headers and half the body of an ingest
    request, swap the certificate on disk and SIGHUP; the half-sent request
    must complete (200), a new connection must see the new certificate."""
    ctx = https_ctx(pki, client=h.path("agent-a"))
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    body = dumps({"agent_id": "tls-a", "epoch": epoch, "events": [], "dropped": [],
                  "stats": {"backlog": 0, "oldest_pending_s": 0}, "sent_at": fmt_ts(now_ms())}).encode()
    raw = socket.create_connection(("127.0.0.1", coll.port), timeout=20)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    old_der = s.getpeercert(binary_form=True)
    head = ("POST /v1/ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Authorization: Bearer %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
            % (AGENT_TOKEN, len(body))).encode()
    s.sendall(head + body[:len(body) // 2])

    # a broken pair first: the collector must keep serving the old certificate
    shutil.copy(h.path("srv.pem"), h.path("srv-live.pem.bak"))
    shutil.copy(h.path("srv2.pem"), h.path("srv-live.pem"))  # new cert, old key: mismatch
    coll.signal(signal.SIGHUP)
    wait_until(lambda: "not reloaded" in open(coll.log_path, errors="replace").read(), 10,
               "the collector to log the refused reload")

    def peer_der():
        c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", coll.port), timeout=10),
                            server_hostname="127.0.0.1")
        try:
            return c.getpeercert(binary_form=True)
        finally:
            c.close()
    check(peer_der() == old_der, "a failed reload changed the served certificate")

    # now the matching pair
    shutil.copy(h.path("srv2.key"), h.path("srv-live.key"))
    os.chmod(h.path("srv-live.key"), 0o600)
    coll.signal(signal.SIGHUP)
    wait_until(lambda: peer_der() != old_der, 10, "new connections to get the reloaded certificate")
    with open(h.path("srv2.pem")) as f:
        new_der = ssl.PEM_cert_to_DER_cert(f.read())
    check(peer_der() == new_der, "the served certificate is not the reloaded one")

    # the request begun before both reloads completes on its connection
    s.sendall(body[len(body) // 2:])
    data = b""
    while True:
        part = s.recv(65536)
        if not part:
            break
        data += part
    s.close()
    check(data.startswith(b"HTTP/1.1 200"), "the request in flight across SIGHUP got %r" % data[:300])
    check(coll.alive(), "collector died on SIGHUP")


def main(h):
    pki = Pki(h)
    pki.issue("srv", "ferry collector", "IP:127.0.0.1", "serverAuth")
    pki.issue("srv2", "ferry collector (renewed)", "IP:127.0.0.1", "serverAuth")
    pki.issue("expired", "ferry collector", "IP:127.0.0.1", "serverAuth", days=-1)
    pki.issue("other", "unrelated key", "IP:127.0.0.1", "serverAuth")
    pki.issue("agent-a", "tls-a", "DNS:tls-a", "clientAuth")
    shutil.copy(h.path("srv.pem"), h.path("srv-live.pem"))
    shutil.copy(h.path("srv.key"), h.path("srv-live.key"))
    os.chmod(h.path("srv-live.key"), 0o600)
    client_a = h.path("agent-a")

    coll = start_tls_collector(h, pki, h.path("srv-live.pem"), h.path("srv-live.key"))

    # plain HTTP to the HTTPS port gets no HTTP answer
    try:
        r = http_request("http://127.0.0.1:%d/healthz" % coll.port, timeout=5)
        check(r.status != 200, "plain HTTP was served on the HTTPS port")
    except (OSError, http.client.HTTPException):
        pass

    # --- valid: CA, pin and client certificate --------------------------------
    pin = pki.pin("srv")
    a = start_tls_agent(h, coll, "tls-a", pin=pin, client=client_a, pki=pki)
    base = now_ms() - 2 * 3600 * 1000
    post_events_ok(a, make_events(N, prefix="va", base_ms=base), expect_accepted=N)
    wait_backlog(a, 0, timeout=60)
    c = agent_status(a)["collector"]
    check_eq(c.get("state"), "ok", "valid: collector.state")
    epoch_a = agent_status(a).get("epoch")
    got = tls_agents(coll).get("tls-a")
    check(got is not None and got.get("received") == N, "valid: collector /v1/agents tls-a: %r" % got)
    check_eq(a.stop(), 0, "valid: agent exit code")

    # --- failures of the collector's identity -----------------------------------
    expect_refused(h, coll, start_tls_agent(h, coll, "tls-pin", pin=pki.pin("other"), client=client_a,
                                            pki=pki), "config_error", "tls", "wrong pin")
    expect_refused(h, coll, start_tls_agent(h, coll, "tls-host", host="localhost", client=client_a,
                                            pki=pki), "config_error", "tls", "wrong host name")
    expect_refused(h, coll, start_tls_agent(h, coll, "tls-noca", ca=False, client=client_a, pki=pki),
                   "config_error", "tls", "CA not trusted (system store)")

    # --- failures of the agent's identity ---------------------------------------
    expect_refused(h, coll, start_tls_agent(h, coll, "tls-nocert", pki=pki), "auth_error", "auth_error",
                   "no client certificate")
    expect_refused(h, coll, start_tls_agent(h, coll, "tls-b", client=client_a, pki=pki), "auth_error",
                   "auth_error", "client certificate of another agent_id")

    # --- certificate reload with a request mid-flight ------------------------------
    reload_mid_flight(h, pki, coll, epoch_a)
    # after the reload the agent still delivers (same CA; pin of the new key)
    a2 = start_tls_agent(h, coll, "tls-a", pin=pki.pin("srv2"), client=client_a, pki=pki)
    post_events_ok(a2, make_events(N, prefix="vb", base_ms=base + 10 ** 6), expect_accepted=N)
    wait_backlog(a2, 0, timeout=60)
    check_eq(agent_status(a2)["collector"].get("state"), "ok", "after reload: collector.state")
    check_eq(tls_agents(coll).get("tls-a", {}).get("received"), 2 * N, "after reload: tls-a received")
    check_eq(a2.stop(), 0, "after reload: agent exit code")
    check_eq(coll.stop(), 0, "collector exit code")

    # --- expired collector certificate ---------------------------------------------
    coll2 = start_tls_collector(h, pki, h.path("expired.pem"), h.path("expired.key"), name="collector-expired")
    expect_refused(h, coll2, start_tls_agent(h, coll2, "tls-exp", client=client_a, pki=pki),
                   "config_error", "tls", "expired certificate")
    check_eq(coll2.stop(), 0, "expired collector exit code")


if __name__ == "__main__":
    run(main)
