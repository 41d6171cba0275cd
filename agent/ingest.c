/* ingest: POST /v1/events from header check to the 202 after the durable
 * commit. See ingest.h for the shape; the request object below carries all of
 * one request's state across its two asynchronous hops (threadpool parse,
 * journal commit). */
#include "ingest.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "httpd_auth.h"
#include "log.h"
#include "timefmt.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

struct ingest {
  ingest_config cfg;
  ingest_counters c;
  unsigned inflight;
  bool stopping;
  bool drained_sent;
  uint64_t future_logged_ms; /* last clock warning; more within 60 s are counted */
  uint64_t future_held;
};

typedef struct ingest_req {
  uv_work_t work;        /* the parse, on the threadpool */
  journal_commit commit; /* the commit, on the journal worker */
  ingest *in;
  httpd_req *req;
  char *body; /* own copy: the threadpool reads it */
  size_t len;
  ev_body_kind kind;
  int parse_status;
  ev_batch batch;
  ev_errors errs; /* large; this object is heap-allocated */
} ingest_req;

/* ---- pure helpers ------------------------------------------------------------ */

int ingest_media_kind(const char *ct, ev_body_kind *ret) {
  if (!ct) {
    *ret = EV_BODY_JSON;
    return 0;
  }
  while (*ct == ' ' || *ct == '\t') ct++;
  size_t n = strcspn(ct, ";");
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  if (n == 0) {
    *ret = EV_BODY_JSON;
    return 0;
  }
  if (n == 16 && strncasecmp(ct, "application/json", 16) == 0) {
    *ret = EV_BODY_JSON;
    return 0;
  }
  if (n == 20 && strncasecmp(ct, "application/x-ndjson", 20) == 0) {
    *ret = EV_BODY_NDJSON;
    return 0;
  }
  return -ENOTSUP;
}

bool ingest_token_ok(const char *expected, const char *authorization) {
  if (!expected) return true;
  const char *tok;
  size_t tl;
  if (httpd_auth_bearer(authorization, &tok, &tl) < 0) return false;
  size_t el = strlen(expected);
  /* compare over the expected length whatever was sent; the length itself leaks
   * nothing useful */
  unsigned char diff = (unsigned char)(tl != el);
  for (size_t i = 0; i < el; i++) {
    unsigned char a = (unsigned char)expected[i];
    unsigned char b = i < tl ? (unsigned char)tok[i] : 0;
    diff |= (unsigned char)(a ^ b);
  }
  return diff == 0;
}

size_t ingest_invalid_events(const ev_errors *errs) {
  size_t distinct = 0;
  for (size_t i = 0; i < errs->n; i++) {
    bool seen = false;
    for (size_t k = 0; k < i && !seen; k++) seen = errs->items[k].index == errs->items[i].index;
    if (!seen) distinct++;
  }
  return distinct ? distinct : 1;
}

cJSON *ingest_invalid_json(const ev_errors *errs) {
  char msg[256];
  size_t bad = ingest_invalid_events(errs);
  if (errs->n == 1 && errs->items[0].index < 0)
    snprintf(msg, sizeof(msg), "the body is not valid: %s; nothing was stored", errs->items[0].message);
  else if (errs->total > errs->n)
    snprintf(msg, sizeof(msg), "%zu errors (the first %zu listed) in %zu or more events; nothing was stored",
             errs->total, errs->n, bad);
  else snprintf(msg, sizeof(msg), "%zu invalid event%s; nothing was stored", bad, bad == 1 ? "" : "s");
  cJSON *root = httpd_error_json("invalid_event", msg);
  if (!root) return NULL;
  cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
  cJSON *arr = cJSON_AddArrayToObject(err, "errors");
  for (size_t i = 0; arr && i < errs->n; i++) {
    const ev_error *e = &errs->items[i];
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    /* a body-level error (malformed JSON, empty body) belongs to no event and no field */
    if (e->index >= 0) cJSON_AddNumberToObject(o, "index", e->index);
    if (e->field[0]) cJSON_AddStringToObject(o, "field", e->field);
    cJSON_AddStringToObject(o, "message", e->message);
    cJSON_AddItemToArray(arr, o);
  }
  if (errs->total > errs->n) cJSON_AddNumberToObject(err, "errors_total", (double)errs->total);
  return root;
}

/* ---- requests ---------------------------------------------------------------- */

int ingest_new(const ingest_config *cfg, ingest **ret) {
  ingest *in = calloc(1, sizeof(*in));
  if (!in) return -ENOMEM;
  in->cfg = *cfg;
  *ret = in;
  return 0;
}

static void maybe_drained(ingest *in) {
  if (in->stopping && in->inflight == 0 && !in->drained_sent) {
    in->drained_sent = true;
    if (in->cfg.on_drained) in->cfg.on_drained(in->cfg.ud);
  }
}

static void req_finish(ingest_req *r) {
  ingest *in = r->in;
  ev_batch_clear(&r->batch);
  free(r->body);
  free(r);
  in->inflight--;
  maybe_drained(in);
}

static void respond_unavailable(ingest *in, httpd_req *req, const char *why) {
  char ra[16];
  in->c.unavailable++;
  snprintf(ra, sizeof(ra), "%d", INGEST_RETRY_AFTER_UNAVAILABLE_S);
  httpd_req_add_header(req, "Retry-After", ra);
  httpd_respond_error(req, 503, "unavailable", "%s; retry later", why);
}

httpd_verdict ingest_on_headers(ingest *in, httpd_req *req) {
  if (!ingest_token_ok(in->cfg.ingest_token, httpd_req_header(req, "Authorization"))) {
    in->c.unauthorized++;
    httpd_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"ferry-agent\"");
    httpd_respond_error(req, 401, "unauthorized",
                        "send the agent's ingest token as \"Authorization: Bearer TOKEN\"");
    return HTTPD_ANSWERED;
  }
  ev_body_kind kind;
  if (ingest_media_kind(httpd_req_header(req, "Content-Type"), &kind) < 0) {
    in->c.unsupported++;
    httpd_respond_error(req, 415, "unsupported_media_type",
                        "Content-Type must be application/json or application/x-ndjson");
    return HTTPD_ANSWERED;
  }
  if (in->stopping) {
    respond_unavailable(in, req, "the agent is shutting down");
    return HTTPD_ANSWERED;
  }
  return HTTPD_READ_BODY;
}

static void on_commit_done(journal_commit *c) {
  ingest_req *r = c->data;
  ingest *in = r->in;
  char ra[16];
  if (c->status == 0) {
    in->c.accepted += c->accepted;
    in->c.duplicates += c->duplicates;
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddNumberToObject(o, "accepted", (double)c->accepted);
      cJSON_AddNumberToObject(o, "duplicates", (double)c->duplicates);
    }
    /* answer before kicking the uploader: the client waits, the uploader not */
    if (o) httpd_respond_json(r->req, 202, o);
    else httpd_respond_error(r->req, 500, "internal", "out of memory after the commit");
    if (c->accepted && in->cfg.on_committed) in->cfg.on_committed(in->cfg.ud);
  } else if (c->status == -ENOSPC) {
    in->c.full++;
    snprintf(ra, sizeof(ra), "%d", INGEST_RETRY_AFTER_FULL_S);
    httpd_req_add_header(r->req, "Retry-After", ra);
    httpd_respond_error(r->req, 507, "journal_full",
                        "the journal is full (--overflow reject) and the collector has not "
                        "drained it; nothing was stored: %s",
                        c->error[0] ? c->error : "max journal bytes reached");
  } else {
    char why[320];
    snprintf(why, sizeof(why), "the journal cannot be written (%s); nothing was stored",
             c->error[0] ? c->error : strerror(c->status < 0 ? -c->status : EIO));
    respond_unavailable(in, r->req, why);
  }
  req_finish(r);
}

/* Events timestamped further ahead than the collector accepts will be
 * rejected there and land in dead-letter: say so now, while the box's clock
 * can still be fixed (at most one line a minute, the rest counted). */
static void warn_future(ingest *in, const ev_batch *b) {
  if (!in->cfg.max_future_s) return;
  double limit_s = in->cfg.max_future_s(in->cfg.ud);
  int64_t now = tf_now_ms(), limit = now + (int64_t)(limit_s * 1000.0);
  size_t n = 0;
  const ev_event *first = NULL;
  for (size_t i = 0; i < b->n; i++)
    if (b->items[i].ts_ms > limit) {
      if (!first) first = &b->items[i];
      n++;
    }
  if (!n) return;
  in->c.future_events += n;
  uint64_t mono = tf_mono_ms();
  if (in->future_logged_ms && mono - in->future_logged_ms < 60000) {
    in->future_held += n;
    return;
  }
  char ts[TF_RFC3339_LEN];
  tf_format_ms(first->ts_ms, ts);
  flog_ctx ctx = {.component = "ingest", .events = (int64_t)n, .has_events = true};
  flogx(FLOG_WARNING, &ctx,
        "ingest: %zu event(s) timestamped more than %.0f s ahead of this box's clock (first: event_id %s at "
        "%s, %.0f s ahead)%s; the collector will reject them (timestamp_out_of_range) and they will go "
        "to dead-letter - check the clock of this box and of its cameras",
        n, limit_s, first->event_id ? first->event_id : "(none)", ts, (double)(first->ts_ms - now) / 1000.0,
        in->future_held ? " and more since the last such line" : "");
  in->future_logged_ms = mono;
  in->future_held = 0;
}

static void parse_work(uv_work_t *w) {
  ingest_req *r = container_of(w, ingest_req, work);
  r->parse_status = ev_parse_body_raw(r->body, r->len, r->kind, 0, &r->batch, &r->errs);
}

static void after_parse(uv_work_t *w, int status) {
  ingest_req *r = container_of(w, ingest_req, work);
  ingest *in = r->in;
  if (status < 0) { /* cancelled: never submitted here, but be safe */
    respond_unavailable(in, r->req, "the request was cancelled");
    req_finish(r);
    return;
  }
  free(r->body); /* not needed any more; the batch owns normalised copies */
  r->body = NULL;
  if (r->parse_status == -EINVAL) {
    in->c.rejected_requests++;
    in->c.rejected_events += ingest_invalid_events(&r->errs);
    cJSON *o = ingest_invalid_json(&r->errs);
    if (o) httpd_respond_json(r->req, 400, o);
    else httpd_respond_error(r->req, 400, "invalid_event", "invalid events; nothing was stored");
    req_finish(r);
    return;
  }
  if (r->parse_status < 0) {
    respond_unavailable(in, r->req, "out of memory parsing the body");
    req_finish(r);
    return;
  }
  if (r->batch.n == 0) {
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddNumberToObject(o, "accepted", 0);
      cJSON_AddNumberToObject(o, "duplicates", 0);
      httpd_respond_json(r->req, 202, o);
    } else {
      httpd_respond_error(r->req, 500, "internal", "out of memory");
    }
    req_finish(r);
    return;
  }
  warn_future(in, &r->batch);
  r->commit.events = r->batch.items;
  r->commit.n = r->batch.n;
  r->commit.done = on_commit_done;
  r->commit.data = r;
  journal_submit(in->cfg.j, &r->commit);
}

void ingest_on_request(ingest *in, httpd_req *req) {
  in->c.requests++;
  if (in->stopping) {
    respond_unavailable(in, req, "the agent is shutting down");
    return;
  }
  if (in->inflight >= INGEST_MAX_INFLIGHT) {
    respond_unavailable(in, req, "too many requests in progress");
    return;
  }
  ev_body_kind kind;
  if (ingest_media_kind(httpd_req_header(req, "Content-Type"), &kind) < 0) {
    in->c.unsupported++; /* on_headers answers this first; kept for safety */
    httpd_respond_error(req, 415, "unsupported_media_type",
                        "Content-Type must be application/json or application/x-ndjson");
    return;
  }
  /* errs (26 KiB) is reset by the parse itself: zero only what precedes it */
  ingest_req *r = malloc(sizeof(*r));
  if (r) memset(r, 0, offsetof(ingest_req, errs));
  size_t len = 0;
  const char *body = httpd_req_body(req, &len);
  char *copy = r ? malloc(len + 1) : NULL;
  if (!r || !copy) {
    free(r);
    respond_unavailable(in, req, "out of memory");
    return;
  }
  memcpy(copy, body, len);
  copy[len] = '\0';
  r->in = in;
  r->req = req;
  r->body = copy;
  r->len = len;
  r->kind = kind;
  in->inflight++;
  int rc = uv_queue_work(in->cfg.loop, &r->work, parse_work, after_parse);
  if (rc < 0) {
    respond_unavailable(in, req, "cannot schedule the parse");
    req_finish(r);
  }
}

void ingest_get_counters(const ingest *in, ingest_counters *ret) { *ret = in->c; }

unsigned ingest_inflight(const ingest *in) { return in->inflight; }

void ingest_stop(ingest *in) {
  in->stopping = true;
  maybe_drained(in);
}

void ingest_free(ingest *in) { free(in); }
