/* ingest_guard: client certificates, per-agent limits (see ingest_guard.h).
 * An admitted request's rate-limit entry rides on the httpd request as its
 * data, so it is released whenever the request ends — answered, refused
 * mid-body, or abandoned by its client. */
#include "ingest_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timefmt.h"

static void guard__retry_after(httpd_req *req, unsigned s) {
  char v[16];
  snprintf(v, sizeof(v), "%u", s ? s : 1);
  httpd_req_add_header(req, "Retry-After", v);
}

static bool guard__refuse(guard_refusal *no, unsigned status, const char *code) {
  no->status = status;
  no->code = code;
  return false;
}

/* Admit req for agent_id, whose body is bytes long (as far as known yet):
 * true, or false with *no (429/503 and the seconds to wait). */
static bool guard__admit(col_app *app, httpd_req *req, const char *agent_id, uint64_t bytes,
                         guard_refusal *no) {
  if (!app->rl || httpd_req_get_data(req)) return true; /* no limits, or admitted already */
  rl_ticket *e = NULL;
  unsigned retry = 1;
  rl_verdict v = rl_admit_sized(app->rl, agent_id, bytes, tf_mono_ms(), &e, &retry);
  no->retry_s = retry;
  switch (v) {
    case RL_OK:
      httpd_req_set_data(req, e);
      httpd_req_set_data_free(req, rl_release);
      return true;
    case RL_RATE:
      snprintf(no->msg, sizeof(no->msg), "agent %s is over its request rate (%g/s); retry in %u s", agent_id,
               app->cfg->agent_rate, retry);
      break;
    case RL_CONCURRENT:
      snprintf(no->msg, sizeof(no->msg), "agent %s has %lld request(s) in progress already; retry in %u s",
               agent_id, (long long)app->cfg->agent_max_concurrent, retry);
      break;
    case RL_BUSY:
      snprintf(no->msg, sizeof(no->msg),
               "the collector is applying %u batch(es) with %u more admitted holding %llu bytes "
               "(max-ingest-inflight, max-ingest-queue, max-ingest-queue-bytes); your turn is kept, "
               "retry in %u s",
               rl_inflight(app->rl), rl_pending(app->rl), (unsigned long long)rl_pending_bytes(app->rl),
               retry);
      app->stats.busy++;
      flog_debug("ingest: 429 %s: %s", agent_id, no->msg);
      return guard__refuse(no, 429, "busy");
    case RL_FULL:
      snprintf(no->msg, sizeof(no->msg), "too many agents are being tracked; retry in %u s", retry);
      return guard__refuse(no, 503, "overloaded");
  }
  app->stats.rate_limited++;
  flog_debug("ingest: 429 %s", no->msg);
  return guard__refuse(no, 429, "rate_limited");
}

/* The agent_id an Idempotency-Key ("agent:epoch:first-last") names, if valid. */
static bool guard__key_agent(const char *key, char *out, size_t outlen) {
  if (!key) return false;
  size_t n = strcspn(key, ":");
  if (key[n] != ':' || n == 0 || n >= outlen || !auth_agent_id_valid(key, n)) return false;
  memcpy(out, key, n);
  out[n] = '\0';
  return true;
}

httpd_verdict guard_headers(col_app *app, httpd_req *req, const auth_grant *grant) {
  if (tls_server_wants_client_cert(app->tls)) {
    tls_peer peer;
    tls_server_peer(app->tls, httpd_req_tls_session(req), &peer);
    if (!peer.verified || peer.n_names == 0) {
      app->stats.refused++;
      httpd_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"ferry\"");
      httpd_respond_error(req, 401, "unauthorized", "%s", peer.why);
      return HTTPD_ANSWERED;
    }
    if (grant->kind == AUTH_GRANT_AGENT && !tls_peer_allows(&peer, grant->agent_id)) {
      app->stats.refused++;
      httpd_respond_error(req, 403, "forbidden", "the client certificate (%s) is not for agent %s",
                          peer.names[0], grant->agent_id);
      return HTTPD_ANSWERED;
    }
  }
  char id[AUTH_AGENT_ID_MAX + 1];
  const char *agent = NULL;
  if (grant->kind == AUTH_GRANT_AGENT) agent = grant->agent_id;
  else if (guard__key_agent(httpd_req_header(req, "Idempotency-Key"), id, sizeof(id)))
    agent = id;                       /* the body must match it (checked after parsing) */
  if (!agent) return HTTPD_READ_BODY; /* a heartbeat under a shared token: admitted once parsed */
  /* the body counts against max-ingest-queue-bytes by its Content-Length
   * (httpd answers 413 past max-body-bytes; a chunked body counts once in) */
  const char *cl = httpd_req_header(req, "Content-Length");
  uint64_t bytes = cl ? strtoull(cl, NULL, 10) : 0;
  if (bytes > (uint64_t)app->cfg->max_body_bytes) bytes = (uint64_t)app->cfg->max_body_bytes;
  guard_refusal no = {.retry_s = 1};
  if (guard__admit(app, req, agent, bytes, &no)) return HTTPD_READ_BODY;
  guard__retry_after(req, no.retry_s);
  if (no.status == 503) app->stats.overloaded++;
  httpd_respond_error(req, no.status, no.code, "%s", no.msg);
  return HTTPD_ANSWERED;
}

bool guard_body(col_app *app, httpd_req *req, const char *agent_id, guard_refusal *no) {
  memset(no, 0, sizeof(*no));
  if (tls_server_wants_client_cert(app->tls)) {
    tls_peer peer;
    tls_server_peer(app->tls, httpd_req_tls_session(req), &peer);
    if (!peer.verified) {
      snprintf(no->msg, sizeof(no->msg), "%s", peer.why);
      return guard__refuse(no, 401, "unauthorized");
    }
    if (!tls_peer_allows(&peer, agent_id)) {
      snprintf(no->msg, sizeof(no->msg), "the client certificate (%s) is not for agent %s",
               peer.n_names ? peer.names[0] : "no name", agent_id);
      return guard__refuse(no, 403, "forbidden");
    }
  }
  size_t len;
  (void)httpd_req_body(req, &len);
  return guard__admit(app, req, agent_id, len, no);
}
