/* export_api: see export_api.h. */
#include "export_api.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export_query.h"
#include "log.h"
#include "metrics_query.h"
#include "readers.h"
#include "thread_name.h"
#include "timefmt.h"

#define EX_RING_BYTES (1u << 20) /* NDJSON waiting for the client, per export */

typedef struct ex_job {
  col_app *app;
  httpd_req *req;       /* until answered */
  httpd_stream *stream; /* while the answer streams */
  st_export_query q;
  char camera[MODELS_ID_MAX + 1], model[MODELS_ID_MAX + 1], type[16];
  char link[2048]; /* the next page's URL, "" when this page ends the window */
  uv_async_t async;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* under mu */
  char *ring;
  size_t head, len;   /* bytes [head, head + len) mod EX_RING_BYTES are waiting */
  bool headers_ready; /* pass 1 done: answer now */
  bool failed;        /* a storage error (before or while streaming) */
  bool finished;      /* every line is in the ring */
  bool exited;        /* the producer thread is done with the job */
  bool has_next;      /* the page is full: Link to after next */
  st_export_key next;
  bool gone;    /* the stream ended (client done or left) */
  bool waiting; /* the read callback found the ring empty */
  char errmsg[256];
  /* loop thread only */
  bool answered, stream_done, closing;
} ex_job;

static unsigned ex_active; /* exports in progress (loop thread) */

/* ---- the producer thread ------------------------------------------------ */

/* Wake the loop if its read callback is waiting (call with mu held). */
static void ex__poke(ex_job *j) {
  if (!j->waiting) return;
  j->waiting = false;
  uv_async_send(&j->async);
}

static int ex__put(ex_job *j, const char *p, size_t n) {
  while (n > 0) {
    pthread_mutex_lock(&j->mu);
    while (!j->gone && j->len == EX_RING_BYTES && !__atomic_load_n(&j->app->stopping, __ATOMIC_RELAXED)) {
      struct timespec t;
      clock_gettime(CLOCK_REALTIME, &t);
      t.tv_nsec += 200 * 1000000L;
      if (t.tv_nsec >= 1000000000L) t.tv_sec++, t.tv_nsec -= 1000000000L;
      pthread_cond_timedwait(&j->cv, &j->mu, &t);
    }
    if (j->gone || __atomic_load_n(&j->app->stopping, __ATOMIC_RELAXED)) {
      pthread_mutex_unlock(&j->mu);
      return -ECANCELED;
    }
    size_t tail = (j->head + j->len) % EX_RING_BYTES;
    size_t room = EX_RING_BYTES - j->len, run = EX_RING_BYTES - tail;
    size_t k = n < room ? n : room;
    if (k > run) k = run;
    memcpy(j->ring + tail, p, k);
    j->len += k;
    p += k;
    n -= k;
    ex__poke(j);
    pthread_mutex_unlock(&j->mu);
  }
  return 0;
}

static int ex__line(void *ctx, const st_export_key *k, const char *body, size_t len) {
  ex_job *j = ctx;
  char head[256];
  size_t h = 0;
  h += (size_t)snprintf(head, sizeof(head), "{\"agent_id\":\"");
  for (const char *a = k->agent_id; *a && h < sizeof(head) - 8; a++) {
    if (*a == '"' || *a == '\\') head[h++] = '\\';
    head[h++] = *a;
  }
  head[h++] = '"';
  /* the body is a JSON object: splice agent_id in as its first member */
  bool empty = len < 2 || body[0] != '{' || body[1] == '}';
  head[h++] = empty ? '}' : ',';
  int r = ex__put(j, head, h);
  if (r == 0 && !empty) r = ex__put(j, body + 1, len - 1);
  if (r == 0) r = ex__put(j, "\n", 1);
  return r;
}

/* Pass 1 is done: the page's end is known, answer now. */
static int ex__between(void *ctx, const st_export_query *q) {
  ex_job *j = ctx;
  pthread_mutex_lock(&j->mu);
  j->headers_ready = true;
  j->has_next = q->has_until;
  j->next = q->until;
  uv_async_send(&j->async);
  pthread_mutex_unlock(&j->mu);
  return __atomic_load_n(&j->app->stopping, __ATOMIC_RELAXED) ? -ECANCELED : 0;
}

static void *ex__produce(void *arg) {
  ex_job *j = arg;
  thread_name_set("export");
  store *rd = NULL;
  char err[256] = "";
  int r = rd_pool_get(j->app->readers, &rd, err, sizeof(err));
  if (r == 0)
    r = rd->ops->export_events ? rd->ops->export_events(rd, &j->q, ex__between, ex__line, j) : -ENOTSUP;
  char msg[256];
  snprintf(msg, sizeof(msg), "%s",
           r == -ECANCELED ? "stopped"
           : r == -ENOTSUP ? "not supported by this store"
           : rd            ? rd->ops->last_error(rd)
                           : err);
  /* the handle goes back before the loop may free the job (and the pool) */
  if (rd) rd_pool_put(j->app->readers, rd, r < 0 && r != -ECANCELED && r != -ENOMEM && r != -ENOTSUP);
  pthread_mutex_lock(&j->mu);
  if (r < 0) { /* before the answer: 503; while streaming: the connection is cut (the page is incomplete) */
    j->failed = true;
    snprintf(j->errmsg, sizeof(j->errmsg), "%s", msg);
  }
  j->headers_ready = true;
  j->finished = true;
  j->exited = true;
  uv_async_send(&j->async);
  pthread_mutex_unlock(&j->mu);
  return NULL;
}

/* ---- the loop side ------------------------------------------------------- */

static void ex__freed(uv_handle_t *h) {
  ex_job *j = h->data;
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  free(j->ring);
  free(j);
}

static void ex__maybe_free(ex_job *j) {
  pthread_mutex_lock(&j->mu);
  bool done = j->exited && (!j->answered || j->stream_done);
  pthread_mutex_unlock(&j->mu);
  if (!done || j->closing) return;
  j->closing = true;
  ex_active--;
  j->app->inflight--;
  uv_close((uv_handle_t *)&j->async, ex__freed);
}

static ssize_t ex__read(void *arg, char *buf, size_t max) {
  ex_job *j = arg;
  pthread_mutex_lock(&j->mu);
  size_t n = 0;
  while (n < max && j->len > 0) {
    size_t run = EX_RING_BYTES - j->head, k = max - n;
    if (k > j->len) k = j->len;
    if (k > run) k = run;
    memcpy(buf + n, j->ring + j->head, k);
    j->head = (j->head + k) % EX_RING_BYTES;
    j->len -= k;
    n += k;
  }
  ssize_t ret = (ssize_t)n;
  if (n > 0) pthread_cond_signal(&j->cv);
  else if (j->failed || (j->exited && !j->finished))
    ret = HTTPD_STREAM_ERROR; /* cut: the page is incomplete */
  else if (j->finished) ret = HTTPD_STREAM_END;
  else j->waiting = true;
  pthread_mutex_unlock(&j->mu);
  return ret;
}

static void ex__stream_done(void *arg) {
  ex_job *j = arg;
  pthread_mutex_lock(&j->mu);
  j->gone = true;
  pthread_cond_signal(&j->cv);
  pthread_mutex_unlock(&j->mu);
  j->stream = NULL;
  j->stream_done = true;
  ex__maybe_free(j);
}

static void ex__async(uv_async_t *a) {
  ex_job *j = a->data;
  if (!j->answered) {
    pthread_mutex_lock(&j->mu);
    bool ready = j->headers_ready, failed = j->failed, has_next = j->has_next;
    st_export_key next = j->next;
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", j->errmsg);
    pthread_mutex_unlock(&j->mu);
    if (!ready) return;
    j->answered = true;
    if (failed) {
      flog_err("export: reading the database failed: %s", msg);
      httpd_req_add_header(j->req, "Retry-After", COL_RETRY_AFTER_S);
      httpd_respond_error(j->req, 503, "unavailable", "the database could not be read; retry later");
      j->stream_done = true;
    } else {
      if (has_next) {
        char k[EXPORT_CURSOR_MAX + 1];
        exq_cursor_format(&next, k);
        char hdr[sizeof(j->link) + sizeof(k) + 32];
        snprintf(hdr, sizeof(hdr), "<%s&after=%s>; rel=\"next\"", j->link, k);
        httpd_req_add_header(j->req, "Link", hdr);
      }
      httpd_req_add_header(j->req, "Cache-Control", "no-store");
      j->stream = httpd_respond_stream(j->req, 200, "application/x-ndjson", ex__read, ex__stream_done, j);
      if (!j->stream) j->stream_done = true; /* answered 503 itself */
    }
    j->req = NULL;
  } else if (j->stream) {
    httpd_stream_wake(j->stream);
  }
  ex__maybe_free(j);
}

/* ---- the request ---------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void ex__bad(httpd_req *req, const char *param, const char *fmt,
                                                          ...) {
  va_list ap;
  va_start(ap, fmt);
  char msg[200];
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  cJSON *j = httpd_error_json("invalid_parameter", msg);
  cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
  if (e) cJSON_AddStringToObject(e, "param", param);
  httpd_respond_json(req, 400, j);
}

static const char *const ex_params[] = {
    "from", "to", "camera_id", "model_version", "max_confidence", "event_type", "limit", "after", NULL};

static int ex__unknown(void *arg, const char *k, const char *v) {
  (void)v;
  for (int i = 0; ex_params[i]; i++)
    if (strcmp(k, ex_params[i]) == 0) return 0;
  *(const char **)arg = k;
  return 1;
}

/* Append "&name=percent-encoded value" to the link. */
static void ex__link_param(char *link, size_t cap, const char *name, const char *v) {
  size_t n = strlen(link);
  n += (size_t)snprintf(link + n, cap > n ? cap - n : 0, "&%s=", name);
  for (const unsigned char *p = (const unsigned char *)v; *p && n + 4 < cap; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
        *p == '.' || *p == '_' || *p == '~' || *p == ':')
      link[n++] = (char)*p;
    else n += (size_t)snprintf(link + n, cap - n, "%%%02X", *p);
  }
  link[n] = '\0';
}

void export_api_on_request(col_app *app, httpd_req *req) {
  const char *unknown = NULL;
  httpd_req_query_each(req, ex__unknown, &unknown);
  if (unknown) {
    ex__bad(req, unknown, "%.80s: unknown parameter", unknown);
    return;
  }
  ex_job *j = calloc(1, sizeof(*j));
  if (!j) {
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, "unavailable", "out of memory");
    return;
  }
  const char *param = NULL, *v;
  char msg[200];
  if (mq_window(httpd_req_query(req, "from"), httpd_req_query(req, "to"), tf_now_ms(), &j->q.from_ms,
                &j->q.to_ms, &param, msg, sizeof(msg)) < 0) {
    free(j);
    ex__bad(req, param, "%s", msg);
    return;
  }
  j->q.limit = EXPORT_DEFAULT_LIMIT;
  if ((v = httpd_req_query(req, "limit")) && exq_limit(v, &j->q.limit) < 0) {
    free(j);
    ex__bad(req, "limit", "limit: must be an integer from 1 to 1000000, not \"%.40s\"", v);
    return;
  }
  if ((v = httpd_req_query(req, "max_confidence"))) {
    if (exq_max_confidence(v, &j->q.max_conf) < 0) {
      free(j);
      ex__bad(req, "max_confidence", "max_confidence: must be a number from 0 to 1, not \"%.40s\"", v);
      return;
    }
    j->q.has_max_conf = true;
  }
  if ((v = httpd_req_query(req, "event_type"))) {
    ev_type t;
    if (ev_type_parse(v, &t) < 0) {
      free(j);
      ex__bad(req, "event_type", "event_type: must be working, idle, absent or product_count, not \"%.40s\"",
              v);
      return;
    }
    snprintf(j->type, sizeof(j->type), "%s", ev_type_name(t));
    j->q.event_type = j->type;
  }
  static const char *const ids[2] = {"camera_id", "model_version"};
  char *dst[2] = {j->camera, j->model};
  const char **qf[2] = {&j->q.camera_id, &j->q.model_version};
  for (int i = 0; i < 2; i++) {
    if (!(v = httpd_req_query(req, ids[i]))) continue;
    if (strlen(v) > MODELS_ID_MAX) {
      free(j);
      ex__bad(req, ids[i], "%s: longer than 64 characters", ids[i]);
      return;
    }
    snprintf(dst[i], MODELS_ID_MAX + 1, "%s", v);
    *qf[i] = dst[i];
  }
  if ((v = httpd_req_query(req, "after"))) {
    if (exq_cursor_parse(v, &j->q.after) < 0) {
      free(j);
      ex__bad(req, "after", "after: not a cursor from a Link header (\"%.40s\")", v);
      return;
    }
    j->q.has_after = true;
  }
  if (ex_active >= EXPORT_MAX_ACTIVE) {
    free(j);
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, "busy", "%d exports are already running; retry later", EXPORT_MAX_ACTIVE);
    return;
  }
  /* the next page: the same query with the window made explicit */
  char f[TF_RFC3339_LEN], t[TF_RFC3339_LEN], l[24];
  tf_format_ms(j->q.from_ms, f);
  tf_format_ms(j->q.to_ms, t);
  snprintf(j->link, sizeof(j->link), "%s?", EXPORT_API_PATH);
  ex__link_param(j->link, sizeof(j->link), "from", f);
  ex__link_param(j->link, sizeof(j->link), "to", t);
  for (int i = 0; i < 2; i++)
    if (*qf[i]) ex__link_param(j->link, sizeof(j->link), ids[i], *qf[i]);
  if ((v = httpd_req_query(req, "max_confidence")))
    ex__link_param(j->link, sizeof(j->link), "max_confidence", v);
  if (j->q.event_type) ex__link_param(j->link, sizeof(j->link), "event_type", j->q.event_type);
  snprintf(l, sizeof(l), "%" PRId64, j->q.limit);
  ex__link_param(j->link, sizeof(j->link), "limit", l);
  memmove(j->link + strlen(EXPORT_API_PATH) + 1, j->link + strlen(EXPORT_API_PATH) + 2,
          strlen(j->link + strlen(EXPORT_API_PATH) + 2) + 1); /* "?&from" → "?from" */

  j->app = app;
  j->req = req;
  j->ring = malloc(EX_RING_BYTES);
  pthread_t th;
  pthread_attr_t attr;
  bool ok = j->ring && pthread_mutex_init(&j->mu, NULL) == 0;
  ok = ok && pthread_cond_init(&j->cv, NULL) == 0;
  ok = ok && uv_async_init(app->loop, &j->async, ex__async) == 0;
  if (!ok) {
    free(j->ring);
    free(j);
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, "unavailable", "out of memory");
    return;
  }
  j->async.data = j;
  ex_active++;
  app->inflight++;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  if (pthread_create(&th, &attr, ex__produce, j) != 0) {
    j->exited = true;
    j->answered = true;
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, "unavailable", "could not start the export; retry later");
    ex__maybe_free(j);
  }
  pthread_attr_destroy(&attr);
}
