/* ingest_guard: client certificates, per-agent limits (see ingest_guard.h).
 * An admitted request's rate-limit entry rides on the httpd request as its
 * data, so it is released whenever the request ends — answered, refused
 * mid-body, or abandoned by its client. */
#include "ingest_guard.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "timefmt.h"

static void guard__retry_after(httpd_req *req, unsigned s) {
  char v[16];
  snprintf(v, sizeof(v), "%u", s ? s : 1);
  httpd_req_add_header(req, "Retry-After", v);
}

/* Admit req for agent_id. 0 admitted; otherwise the status (429/503). */
static unsigned guard__admit(col_app *app, httpd_req *req, const char *agent_id, const char **ret_code,
                             char *msg, size_t msglen, unsigned *ret_retry_s) {
  if (!app->rl || httpd_req_get_data(req)) return 0; /* no limits, or admitted already */
  rl_entry *e = NULL;
  unsigned retry = 1;
  rl_verdict v = rl_admit(app->rl, agent_id, tf_mono_ms(), &e, &retry);
  *ret_retry_s = retry;
  switch (v) {
    case RL_OK:
      httpd_req_set_data(req, e);
      httpd_req_set_data_free(req, rl_release);
      return 0;
    case RL_RATE:
      *ret_code = "rate_limited";
      snprintf(msg, msglen, "agent %s is over its request rate (%g/s); retry in %u s", agent_id,
               app->cfg->agent_rate, retry);
      break;
    case RL_CONCURRENT:
      *ret_code = "rate_limited";
      snprintf(msg, msglen, "agent %s has %lld request(s) in progress already; retry in %u s", agent_id,
               (long long)app->cfg->agent_max_concurrent, retry);
      break;
    case RL_FULL:
      *ret_code = "overloaded";
      snprintf(msg, msglen, "too many agents are being tracked; retry in %u s", retry);
      return 503;
  }
  app->stats.rate_limited++;
  flog_debug("ingest: 429 %s", msg);
  return 429;
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
  const char *code = NULL;
  char msg[200];
  unsigned retry = 1;
  unsigned st = guard__admit(app, req, agent, &code, msg, sizeof(msg), &retry);
  if (!st) return HTTPD_READ_BODY;
  guard__retry_after(req, retry);
  if (st == 503) app->stats.overloaded++;
  httpd_respond_error(req, st, code, "%s", msg);
  return HTTPD_ANSWERED;
}

unsigned guard_body(col_app *app, httpd_req *req, const char *agent_id, const char **ret_code, char *msg,
                    size_t msglen, unsigned *ret_retry_s) {
  *ret_retry_s = 0;
  if (tls_server_wants_client_cert(app->tls)) {
    tls_peer peer;
    tls_server_peer(app->tls, httpd_req_tls_session(req), &peer);
    if (!peer.verified) {
      *ret_code = "unauthorized";
      snprintf(msg, msglen, "%s", peer.why);
      return 401;
    }
    if (!tls_peer_allows(&peer, agent_id)) {
      *ret_code = "forbidden";
      snprintf(msg, msglen, "the client certificate (%s) is not for agent %s",
               peer.n_names ? peer.names[0] : "no name", agent_id);
      return 403;
    }
  }
  return guard__admit(app, req, agent_id, ret_code, msg, msglen, ret_retry_s);
}
