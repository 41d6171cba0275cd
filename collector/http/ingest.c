/* ingest: the POST /v1/ingest handler (see ingest.h). The request object is
 * one-shot state that travels loop → worker thread (decode + parse) → loop →
 * writer thread (commit) → loop (answer); each stage only reads what the
 * previous one finished writing. A request admitted at its headers (its
 * agent known from its token or Idempotency-Key: every agent's batch) takes
 * its apply slot before it is decoded, so a batch waiting its turn holds
 * only its received body, never its decoded text or parsed events: at most
 * max-ingest-inflight batches are decoded at once. One that names its agent
 * only in its body (a heartbeat under a shared token) is parsed first, to
 * learn whom to admit. Parses run at most one per CPU core at once (the
 * rest wait their turn, bodies only): a parse is CPU-bound, and its cJSON
 * tree, which it frees when done, is several times the decoded body. */
#include "ingest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "activity.h"
#include "batch.h"
#include "catchup.h"
#include "codec.h"
#include "idem_inflight.h"
#include "ingest_guard.h"
#include "ingest_plant.h"
#include "log.h"
#include "prom.h"
#include "reg_cache.h"
#include "timefmt.h"

typedef struct ing_req {
  col_app *app;
  httpd_req *req;
  auth_grant grant;
  codec_t codec;
  char key[BT_KEY_MAX + 1];
  char held[BT_KEY_MAX + AUTH_AGENT_ID_MAX + 3]; /* key as held in app->idem; "" = none */
  char version[64];
  struct reg_ref *reg; /* the registry this batch is checked against */
  int unknown_ids;     /* ip_unknown_mode */
  int64_t retention_days;
  size_t max_body;
  size_t max_events;
  bt_limits lim;
  uv_work_t work;
  /* set by the worker */
  unsigned status; /* 0 = parsed fine */
  char code[40];
  char msg[300];
  bt_batch batch;
  size_t decoded_len;
  wr_job job;
  uint64_t t0_ms;        /* body in: for the log line's duration_ms */
  bool counted;          /* in app->stats.parsed */
  struct ing_req *pnext; /* on app->parse_head's list */
} ing_req;

void ingest_user_agent_version(const char *ua, char *out, size_t outlen) {
  static const char prefix[] = "ferry-agent/";
  out[0] = '\0';
  if (!ua || strncasecmp(ua, prefix, sizeof(prefix) - 1) != 0 || outlen == 0) return;
  const char *v = ua + sizeof(prefix) - 1;
  size_t n = 0;
  while (v[n] && n + 1 < outlen &&
         (isalnum((unsigned char)v[n]) || v[n] == '.' || v[n] == '-' || v[n] == '+' || v[n] == '_'))
    n++;
  memcpy(out, v, n);
  out[n] = '\0';
}

static void ing__free(ing_req *ir) {
  if (ir->counted) ir->app->stats.parsed--;
  reg_cache_release(ir->app->reg, ir->reg);
  if (ir->held[0] && ir->app->idem) idem_inflight_remove(ir->app->idem, ir->held);
  bt_batch_clear(&ir->batch);
  st_result_clear(&ir->job.res);
  free(ir);
}

/* Answer, count and release: the last step of every request. */
static void ing__finish_error(ing_req *ir, unsigned status, const char *code, const char *msg) {
  col_app *app = ir->app;
  if (status == 503) {
    app->stats.overloaded++;
    httpd_req_add_header(ir->req, "Retry-After", COL_RETRY_AFTER_S);
  } else {
    app->stats.refused++;
  }
  flog_debug("ingest: %u %s: %s", status, code, msg);
  if (status >= 400 && status < 500 && status != 409 && status != 429 && app->activity)
    activity_refused(app->activity, status, code, msg, httpd_req_client(ir->req),
                     ir->batch.agent_id[0] ? ir->batch.agent_id : NULL, httpd_req_id(ir->req));
  httpd_respond_error(ir->req, status, code, "%s", msg);
  app->inflight--;
  ing__free(ir);
}

static int ing__media_json(const char *ct) {
  if (!ct) return 1; /* a missing Content-Type means JSON */
  while (*ct == ' ' || *ct == '\t') ct++;
  size_t n = strcspn(ct, ";");
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  return n == 16 && strncasecmp(ct, "application/json", 16) == 0;
}

httpd_verdict ingest_on_headers(col_app *app, httpd_req *req) {
  auth_refusal no;
  auth_grant g;
  if (!auth_check_agent(&app->auth, httpd_req_header(req, "Authorization"), &g, &no)) {
    if (no.status == 401) httpd_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"ferry\"");
    app->stats.refused++;
    if (app->activity)
      activity_refused(app->activity, no.status, no.code, no.msg, httpd_req_client(req), NULL,
                       httpd_req_id(req));
    httpd_respond_error(req, no.status, no.code, "%s", no.msg);
    return HTTPD_ANSWERED;
  }
  const char *ct = httpd_req_header(req, "Content-Type");
  if (!ing__media_json(ct)) {
    app->stats.refused++;
    httpd_respond_error(req, 415, "unsupported_media_type",
                        "Content-Type must be application/json, not \"%.60s\"", ct);
    return HTTPD_ANSWERED;
  }
  codec_t codec;
  const char *enc = httpd_req_header(req, "Content-Encoding");
  if (codec_from_name(enc, &codec) < 0) {
    app->stats.refused++;
    httpd_respond_error(req, 415, "unsupported_encoding",
                        "Content-Encoding \"%.60s\" is not supported; use identity, gzip or zstd", enc);
    return HTTPD_ANSWERED;
  }
  if (guard_headers(app, req, &g) == HTTPD_ANSWERED) return HTTPD_ANSWERED;
  (void)codec; /* checked here; used again in on_request (nothing is allocated
                  before the body: httpd may answer 413 and never call on_request) */
  return HTTPD_READ_BODY;
}

/* Worker thread: decode, parse, check. Reads only ir and the request body,
 * which httpd keeps unchanged until the answer. */
static void ing__work(uv_work_t *w) {
  ing_req *ir = w->data;
  size_t len;
  const char *body = httpd_req_body(ir->req, &len);
  void *decoded = NULL;
  if (ir->codec != CODEC_IDENTITY) {
    size_t dlen;
    int r = codec_decompress(ir->codec, body, len, ir->max_body, &decoded, &dlen);
    if (r == -EFBIG) {
      ir->status = 413;
      snprintf(ir->code, sizeof(ir->code), "payload_too_large");
      snprintf(ir->msg, sizeof(ir->msg), "the decoded body exceeds the limit of %zu bytes", ir->max_body);
      return;
    }
    if (r < 0) {
      ir->status = r == -ENOMEM ? 503 : 400;
      snprintf(ir->code, sizeof(ir->code), r == -ENOMEM ? "unavailable" : "invalid_encoding");
      snprintf(ir->msg, sizeof(ir->msg),
               r == -ENOMEM ? "out of memory decoding the body" : "the body is not valid %s data",
               codec_name(ir->codec));
      return;
    }
    body = decoded;
    len = dlen;
  }
  ir->decoded_len = len;
  int r = bt_parse(body, len, &ir->lim, &ir->batch, ir->msg, sizeof(ir->msg));
  free(decoded);
  if (r < 0) {
    ir->status = r == -ENOMEM ? 503 : 400;
    snprintf(ir->code, sizeof(ir->code), r == -ENOMEM ? "unavailable" : "invalid_batch");
    return;
  }
  if (ir->max_events && ir->batch.n > ir->max_events) {
    ir->status = 413;
    snprintf(ir->code, sizeof(ir->code), "too_many_events");
    snprintf(ir->msg, sizeof(ir->msg), "the batch has %zu events; at most %zu are accepted at once",
             (size_t)ir->batch.n, ir->max_events);
    return;
  }
  if (bt_check_key(&ir->batch, ir->key[0] ? ir->key : NULL, ir->msg, sizeof(ir->msg)) < 0) {
    ir->status = 400;
    snprintf(ir->code, sizeof(ir->code), "invalid_idempotency_key");
    return;
  }
  ip_check_batch(reg_ref_index(ir->reg), (ip_unknown_mode)ir->unknown_ids, ir->retention_days, ir->lim.now_ms,
                 &ir->batch);
}

/* A batch answered 200: its log line (debug), the rejected events (logged
 * with their reason, rate-limited) and the interval's counts. */
static void ing__note_batch(ing_req *ir, const st_result *res) {
  col_app *app = ir->app;
  const bt_batch *b = &ir->batch;
  size_t n_rej = res->replay ? 0 : b->n - bt_valid_count(b);
  flog_ctx ctx = {.component = "ingest",
                  .agent_id = b->agent_id,
                  .epoch = b->epoch[0] ? b->epoch : NULL,
                  .idempotency_key = ir->key[0] ? ir->key : NULL,
                  .request_id = httpd_req_id(ir->req),
                  .client = httpd_req_client(ir->req)[0] ? httpd_req_client(ir->req) : NULL,
                  .first_seq = b->min_seq,
                  .last_seq = b->max_seq,
                  .events = (int64_t)b->n,
                  .has_events = true,
                  .status = 200,
                  .duration_ms = (double)(tf_mono_ms() - ir->t0_ms),
                  .has_duration = true};
  flogx(FLOG_DEBUG, &ctx,
        "ingest: batch of %zu event(s) from %s: %lld accepted, %lld duplicates, %zu rejected%s", b->n,
        b->agent_id, (long long)res->accepted, (long long)res->duplicates, n_rej,
        res->replay ? " (a replay)" : "");
  if (!app->activity) return;
  int64_t seqs[1] = {0};
  const char *errs[1] = {""};
  for (size_t i = 0; n_rej && i < b->n; i++)
    if (!b->events[i].valid) {
      seqs[0] = b->events[i].seq;
      errs[0] = b->events[i].error;
      break;
    }
  /* every rejected event counts under its own reason: pass them one reason-run at a time */
  if (n_rej <= 1) {
    activity_batch(app->activity, b->agent_id, ctx.request_id, ctx.client, (uint64_t)res->accepted,
                   (uint64_t)(res->replay ? 0 : res->duplicates), b->has_stats ? b->backlog : -1, n_rej, seqs,
                   errs);
    return;
  }
  int64_t *all_seq = malloc(n_rej * sizeof *all_seq);
  const char **all_err = malloc(n_rej * sizeof *all_err);
  size_t k = 0;
  if (all_seq && all_err)
    for (size_t i = 0; i < b->n && k < n_rej; i++)
      if (!b->events[i].valid) {
        all_seq[k] = b->events[i].seq;
        all_err[k++] = b->events[i].error;
      }
  if (k == n_rej)
    activity_batch(app->activity, b->agent_id, ctx.request_id, ctx.client, (uint64_t)res->accepted,
                   (uint64_t)(res->replay ? 0 : res->duplicates), b->has_stats ? b->backlog : -1, n_rej,
                   all_seq, (const char *const *)all_err);
  else /* out of memory: the first example stands for all */
    activity_batch(app->activity, b->agent_id, ctx.request_id, ctx.client, (uint64_t)res->accepted,
                   (uint64_t)(res->replay ? 0 : res->duplicates), b->has_stats ? b->backlog : -1, 1, seqs,
                   errs);
  free(all_seq);
  free(all_err);
}

static void ing__stored(wr_job *job) {
  ing_req *ir = job->data;
  col_app *app = ir->app;
  if (job->err) {
    if (job->err == -ETIMEDOUT) {
      ing__finish_error(ir, 503, "overloaded", "the batch could not be committed in time; retry later");
      return;
    }
    app->stats.storage_errors++;
    flog_err("ingest: storing a batch of %s failed: %s", ir->batch.agent_id, job->errmsg);
    ing__finish_error(ir, 503, "unavailable", "the database could not store the batch; retry later");
    return;
  }
  st_result *res = &job->res;
  if (res->status != 200) {
    ing__finish_error(ir, res->status, res->code, res->message);
    return;
  }
  app->stats.batches++;
  app->stats.heartbeats += ir->batch.n == 0;
  app->stats.replays += res->replay;
  app->stats.accepted += (uint64_t)res->accepted;
  app->stats.duplicates += (uint64_t)(res->replay ? 0 : res->duplicates);
  app->stats.rejected += res->replay ? 0 : ir->batch.n - bt_valid_count(&ir->batch);
  app->stats.conflicts += (uint64_t)res->conflicts;
  if (!res->replay && ir->batch.has_stats && app->catchup)
    (void)cu_note(app->catchup, ir->batch.agent_id, ir->batch.backlog, tf_mono_ms());
  if (!res->replay)
    prom_count_batch(app->prom, ir->batch.agent_id, (uint64_t)res->accepted, (uint64_t)res->duplicates,
                     ir->batch.n - bt_valid_count(&ir->batch));
  if (res->conflicts)
    flog_warn(
        "ingest: %s sent %lld event(s) whose event_id is stored with other content; the first copy is kept",
        ir->batch.agent_id, (long long)res->conflicts);
  ing__note_batch(ir, res);
  /* the answer also tells the agent the collector's --max-future-s, so it can
   * warn at its own ingest about a clock that would get events rejected */
  size_t blen = strlen(res->body);
  char *body = res->body[0] == '{' ? malloc(blen + 40) : NULL;
  if (body) {
    int k = snprintf(body, 40, "{\"max_future_s\":%lld%s", (long long)app->cfg->max_future_s,
                     res->body[1] == '}' ? "" : ",");
    memcpy(body + k, res->body + 1, blen); /* the rest, with its NUL */
    httpd_respond(ir->req, 200, "application/json", body, strlen(body));
    free(body);
  } else {
    httpd_respond(ir->req, 200, "application/json", res->body, blen);
  }
  app->inflight--;
  ing__free(ir);
}

static void ing__submit(ing_req *ir);
static void ing__go(void *arg);

static void ing__parse_next(col_app *app);

static void ing__parsed(uv_work_t *w, int status) {
  ing_req *ir = w->data;
  col_app *app = ir->app;
  app->parsing--;
  ing__parse_next(app);
  if (status < 0) { /* cancelled: only at shutdown */
    ing__finish_error(ir, 503, "shutting_down", "the collector is shutting down; retry later");
    return;
  }
  if (ir->status) {
    ing__finish_error(ir, ir->status, ir->code, ir->msg);
    return;
  }
  auth_refusal no;
  if (!auth_check_agent_id(&app->auth, &ir->grant, ir->batch.agent_id, &no)) {
    ing__finish_error(ir, no.status, no.code, no.msg);
    return;
  }
  guard_refusal gno;
  if (!guard_body(app, ir->req, ir->batch.agent_id, &gno)) {
    if (gno.status == 429) {
      char v[16];
      snprintf(v, sizeof(v), "%u", gno.retry_s ? gno.retry_s : 1);
      httpd_req_add_header(ir->req, "Retry-After", v);
    }
    ing__finish_error(ir, gno.status, gno.code, gno.msg);
    return;
  }
  /* a slot to apply it in, now or when one frees (rl_start) */
  if (!rl_start(httpd_req_get_data(ir->req), ing__go, ir)) {
    app->stats.queued++;
    return;
  }
  ing__submit(ir);
}

/* The queued batch got its slot (from the release of another request):
 * submitted from a fresh loop callback, never from inside that release. */
static void ing__nop(uv_work_t *w) { (void)w; }

static void ing__slot_ready(uv_work_t *w, int status) {
  (void)status;
  ing__submit(w->data);
}

static void ing__go(void *arg) {
  ing_req *ir = arg;
  ir->work.data = ir;
  if (uv_queue_work(ir->app->loop, &ir->work, ing__nop, ing__slot_ready) < 0)
    ing__submit(ir); /* cannot fail on a live loop; answer anyway */
}

static void ing__submit(ing_req *ir) {
  col_app *app = ir->app;
  ir->job.kind = WR_INGEST;
  ir->job.in.batch = &ir->batch;
  ir->job.in.received_at_ms = ir->lim.now_ms;
  ir->job.in.version = ir->version[0] ? ir->version : NULL;
  ir->job.bytes = ir->decoded_len;
  ir->job.done = ing__stored;
  ir->job.data = ir;
  int r = wr_submit(app->wr, &ir->job);
  if (r == -EAGAIN) ing__finish_error(ir, 503, "overloaded", "the collector is busy; retry later");
  else if (r < 0) ing__finish_error(ir, 503, "shutting_down", "the collector is shutting down; retry later");
}

/* Idempotency-Key in flight (draft-ietf-httpapi-idempotency-key-header):
 * a second request with a key whose first request has no answer yet gets
 * 409 and Retry-After; it is never processed alongside the first. Keys are
 * scoped by the per-agent token when there is one. Returns 0 when held, or
 * 1 after answering (ir freed). */
static int ing__hold_key(col_app *app, ing_req *ir) {
  if (!app->idem && !(app->idem = idem_inflight_new())) {
    ing__finish_error(ir, 503, "unavailable", "out of memory; retry later");
    return 1;
  }
  snprintf(ir->held, sizeof(ir->held), "%s\n%s", ir->grant.kind == AUTH_GRANT_AGENT ? ir->grant.agent_id : "",
           ir->key);
  int r = idem_inflight_add(app->idem, ir->held);
  if (r == 0) return 0;
  ir->held[0] = '\0';
  if (r == -EEXIST) {
    app->stats.refused++;
    httpd_req_add_header(ir->req, "Retry-After", "1");
    httpd_respond_error(
        ir->req, 409, "idempotency_key_in_use",
        "a request with Idempotency-Key %.120s is still being processed; retry after it is answered",
        ir->key);
    app->inflight--;
    ing__free(ir);
    return 1;
  }
  ing__finish_error(ir, 503, "overloaded", "too many batches in flight; retry later");
  return 1;
}

/* Decode and parse on a worker thread (ing__work, then ing__parsed), once
 * fewer than app->parse_max are (ing__parse_next starts the next). */
static void ing__parse(ing_req *ir) {
  col_app *app = ir->app;
  if (app->parse_max && app->parsing >= app->parse_max) {
    ir->pnext = NULL;
    if (app->parse_tail) app->parse_tail->pnext = ir;
    else app->parse_head = ir;
    app->parse_tail = ir;
    return;
  }
  app->parsing++;
  ir->work.data = ir;
  int r = uv_queue_work(app->loop, &ir->work, ing__work, ing__parsed);
  if (r < 0) {
    app->parsing--;
    ing__finish_error(ir, 503, "unavailable", "could not schedule the batch; retry later");
  }
}

static void ing__parse_next(col_app *app) {
  while (app->parse_head && (!app->parse_max || app->parsing < app->parse_max)) {
    ing_req *ir = app->parse_head;
    app->parse_head = ir->pnext;
    if (!app->parse_head) app->parse_tail = NULL;
    ing__parse(ir);
  }
}

/* An admitted batch got its slot: it may be decoded now (counted until its
 * answer, for the high-water /metrics shows). */
static void ing__slot_parse(void *arg) {
  ing_req *ir = arg;
  col_stats *s = &ir->app->stats;
  ir->counted = true;
  if (++s->parsed > s->parsed_max) s->parsed_max = s->parsed;
  ing__parse(ir);
}

void ingest_on_request(col_app *app, httpd_req *req) {
  /* on_headers passed these checks; the tokens file may have been reloaded
   * since, so the grant is taken again (cheap, and never more permissive) */
  auth_refusal no;
  auth_grant g;
  codec_t codec = CODEC_IDENTITY;
  if (!auth_check_agent(&app->auth, httpd_req_header(req, "Authorization"), &g, &no)) {
    app->stats.refused++;
    httpd_respond_error(req, no.status, no.code, "%s", no.msg);
    return;
  }
  if (codec_from_name(httpd_req_header(req, "Content-Encoding"), &codec) < 0) {
    app->stats.refused++;
    httpd_respond_error(req, 415, "unsupported_encoding", "%s", "unsupported Content-Encoding");
    return;
  }
  ing_req *ir = calloc(1, sizeof(*ir));
  if (!ir) {
    app->stats.overloaded++;
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, "unavailable", "out of memory; retry later");
    return;
  }
  ir->app = app;
  ir->req = req;
  ir->grant = g;
  ir->t0_ms = tf_mono_ms();
  ir->codec = codec;
  const char *key = httpd_req_header(req, "Idempotency-Key");
  if (key) snprintf(ir->key, sizeof(ir->key), "%s", key);
  ingest_user_agent_version(httpd_req_header(req, "User-Agent"), ir->version, sizeof(ir->version));
  app->inflight++;
  if (ir->key[0] && ing__hold_key(app, ir) != 0) return;
  ir->max_body = (size_t)app->cfg->max_body_bytes;
  ir->max_events = (size_t)app->cfg->batch_max_events;
  ir->lim.now_ms = tf_now_ms();
  ir->lim.max_future_s = app->cfg->max_future_s;
  ir->lim.retention_days = 0; /* per site: ip_check_batch */
  ir->retention_days = app->cfg->retention_days;
  ir->unknown_ids = app->cfg->unknown_ids;
  ir->reg = reg_cache_acquire(app->reg);
  rl_ticket *tk = httpd_req_get_data(req);
  if (!tk) { /* no limits, or the agent is named only in the body */
    ing__parse(ir);
    return;
  }
  /* admitted at the headers: its body now counts by its real size, and it
   * is decoded once it has a slot (rl_start here, or go from a release) */
  size_t len;
  (void)httpd_req_body(req, &len);
  rl_ticket_bytes(tk, len);
  if (rl_start(tk, ing__slot_parse, ir)) ing__slot_parse(ir);
  else app->stats.queued++;
}
