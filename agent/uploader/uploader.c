/* uploader: drives batches from the journal to the collector over libcurl's
 * multi-socket API on the libuv loop, and decides after every answer what the
 * journal and the retry timer do next (SPEC §2 Upload, §4). See uploader.h.
 *
 * Phases of the one upload in flight:
 *   IDLE ──cycle──▶ READING (journal worker builds the body)
 *        ──▶ SENDING (curl transfer) ──200──▶ ACKING (journal applies it) ──▶ IDLE
 *                                  └─fail──▶ WAITING (retry timer) ──▶ IDLE
 * After an ack the next batch starts at once while there is a backlog; when
 * the backlog is empty a heartbeat goes after heartbeat_interval of silence. */
#include "uploader.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>

#include "backoff.h"
#include "log.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif
#include "timefmt.h"
#include "version.h"

#define UP_RESP_MAX (1024 * 1024) /* response body kept; the rest is discarded */
#define UP_HDR_MAX  256           /* one request header we build */

/* ---- the handle ------------------------------------------------------------ */

typedef enum { PH_IDLE, PH_READING, PH_SENDING, PH_ACKING, PH_WAITING } up_phase;

typedef struct up_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  struct uploader *u;
  struct up_sock *next;
} up_sock;

struct uploader {
  uv_loop_t *loop;
  journal *j;
  uploader_config cfg;
  char *collector, *url, *auth_header;
  char *ca_file, *pinned_pubkey, *client_cert, *client_key;
  CURLM *multi;
  CURL *easy;
  struct curl_slist *headers;
  uv_timer_t curl_timer; /* curl's timeout */
  uv_timer_t wake_timer; /* retry or heartbeat */
  up_sock *socks;
  int open_handles; /* uv handles not yet closed */

  up_phase phase;
  bool contact_due; /* send something (heartbeat at least) at the next cycle */
  bool stopping;
  backoff bo;
  size_t limit; /* current batch event limit */

  journal_batch batch;
  bool batch_live;
  journal_ack ack;
  journal_batch ack_batch; /* what the ack refers to (copy; see single dead-letter) */
  journal_rejected *rejected;
  size_t n_rejected;

  char *resp;
  size_t resp_len;
  bool resp_truncated;
  char retry_after[UP_RA_MAX];
  char errbuf[CURL_ERROR_SIZE];

  uint64_t last_contact_mono; /* end of the last attempt */
  uint64_t retry_deadline_mono;
  bool last_batch_error; /* journal_read_batch failed last time (log once) */
  bool last_ack_error;   /* journal_apply_ack failed last time (log once) */

  /* X-Request-ID: {idempotency_key}/{attempt}; heartbeats: heartbeat:{n}/1 */
  char attempt_key[200];
  unsigned attempt;
  char request_id[240];
  uint64_t heartbeat_n;
  uint64_t sent_mono;         /* when the attempt in flight started */
  uint64_t outage_start_mono; /* first failure of the current run, 0 when ok */
  uint64_t dl_logged_mono;    /* last dead-letter line; more within 10 s are counted */
  uint64_t dl_held;
  bool https;
  const char *hint;        /* the mismatch hint of the failure being noted, or NULL */
  const char *hint_logged; /* the latest hint logged at warning level */

  uploader_stats st;
  void (*stop_done)(void *);
  void *stop_arg;
};

static void up_cycle(uploader *u);
static void up_maybe_finish_stop(uploader *u);

static void handle_closed(uv_handle_t *h) {
  uploader *u = h->data;
  if (h->type == UV_POLL) free(container_of((uv_poll_t *)h, up_sock, poll));
  u->open_handles--;
  up_maybe_finish_stop(u);
}

static void close_sock(uploader *u, up_sock *s) {
  for (up_sock **pp = &u->socks; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  }
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, handle_closed);
}

static void check_multi_done(uploader *u);

static void on_poll(uv_poll_t *p, int status, int events) {
  up_sock *s = container_of(p, up_sock, poll);
  uploader *u = s->u;
  int flags = 0, running;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(u->multi, s->fd, flags, &running);
  check_multi_done(u);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  uploader *u = userp;
  up_sock *s = socketp;
  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      curl_multi_assign(u->multi, fd, NULL);
      close_sock(u, s);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof(*s));
    if (!s) return -1;
    if (uv_poll_init_socket(u->loop, &s->poll, fd) < 0) {
      free(s);
      return -1;
    }
    s->fd = fd;
    s->u = u;
    s->poll.data = u;
    s->next = u->socks;
    u->socks = s;
    u->open_handles++;
    curl_multi_assign(u->multi, fd, s);
  }
  int ev = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev |= UV_WRITABLE;
  uv_poll_start(&s->poll, ev, on_poll);
  return 0;
}

static void on_curl_timeout(uv_timer_t *t) {
  uploader *u = t->data;
  int running;
  curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_done(u);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp) {
  uploader *u = userp;
  (void)multi;
  if (timeout_ms < 0) uv_timer_stop(&u->curl_timer);
  else if (!uv_is_closing((uv_handle_t *)&u->curl_timer))
    uv_timer_start(&u->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userp) {
  uploader *u = userp;
  size_t n = size * nmemb;
  size_t room = UP_RESP_MAX - u->resp_len;
  size_t take = n < room ? n : room;
  if (take < n) u->resp_truncated = true;
  if (take) {
    char *nb = realloc(u->resp, u->resp_len + take + 1);
    if (!nb) return 0; /* aborts the transfer: counted as unreachable, retried */
    u->resp = nb;
    memcpy(u->resp + u->resp_len, ptr, take);
    u->resp_len += take;
    u->resp[u->resp_len] = '\0';
  }
  return n;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userp) {
  uploader *u = userp;
  size_t n = size * nitems;
  if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
    u->retry_after[0] = '\0'; /* a new response (e.g. after 100 Continue) */
  } else if (n > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
    size_t vl = n - 12;
    if (vl >= sizeof(u->retry_after)) vl = sizeof(u->retry_after) - 1;
    memcpy(u->retry_after, ptr + 12, vl);
    u->retry_after[vl] = '\0';
  }
  return n;
}

static void batch_drop(uploader *u) {
  if (u->batch_live) {
    journal_batch_clear(&u->batch);
    u->batch_live = false;
  }
}

static void easy_drop(uploader *u) {
  if (u->easy) {
    curl_multi_remove_handle(u->multi, u->easy);
    curl_easy_cleanup(u->easy);
    u->easy = NULL;
  }
  curl_slist_free_all(u->headers);
  u->headers = NULL;
  free(u->resp);
  u->resp = NULL;
  u->resp_len = 0;
  u->resp_truncated = false;
  u->retry_after[0] = '\0';
}

static uint64_t ms_of(double s) { return s <= 0 ? 0 : (uint64_t)(s * 1000.0 + 0.5); }

static void on_wake(uv_timer_t *t);

/* An attempt failed (or the journal did): remember it and wait delay_s. */
static void schedule_retry(uploader *u, double delay_s) {
  u->contact_due = true;
  u->st.retry_delay_s = delay_s;
  u->retry_deadline_mono = tf_mono_ms() + ms_of(delay_s);
  u->phase = PH_WAITING;
  uv_timer_start(&u->wake_timer, on_wake, ms_of(delay_s), 0);
}

/* The retry delay or the heartbeat interval ran out. */
static void on_wake(uv_timer_t *t) {
  uploader *u = t->data;
  if (u->stopping) return;
  if (u->phase == PH_WAITING || u->phase == PH_IDLE) {
    u->phase = PH_IDLE;
    up_cycle(u);
  }
}

static void note_failure(uploader *u, const up_verdict *v, long status, const char *detail) {
  up_state before = u->st.state;
  u->st.failures[v->fail]++;
  u->st.has_last_fail = true;
  u->st.last_fail = v->fail;
  snprintf(u->st.last_error, sizeof(u->st.last_error), "%.199s", detail);
  u->st.consecutive_failures++;
  u->st.state = v->state;
  if (!u->outage_start_mono) u->outage_start_mono = tf_mono_ms();
  flog_ctx ctx = {.component = "uploader",
                  .idempotency_key = u->batch.idem_key[0] ? u->batch.idem_key : NULL,
                  .request_id = u->request_id[0] ? u->request_id : NULL,
                  .first_seq = u->batch.first_seq,
                  .last_seq = u->batch.last_seq,
                  .events = (int64_t)u->batch.n_events,
                  .has_events = true,
                  .status = (int)status,
                  .error = detail,
                  .duration_ms = u->sent_mono ? (double)(tf_mono_ms() - u->sent_mono) : 0,
                  .has_duration = u->sent_mono != 0};
  bool new_hint = u->hint && u->hint != u->hint_logged;
  if (u->hint) u->hint_logged = u->hint;
  if (before != v->state || u->st.consecutive_failures == 1 || new_hint)
    flogx(FLOG_WARNING, &ctx, "collector %s: %s (%s)", up_state_name(v->state),
          status ? "answered" : "not reached", detail);
  else
    flogx(FLOG_DEBUG, &ctx, "collector %s again (%s), %llu failures in a row", up_state_name(v->state),
          detail, (unsigned long long)u->st.consecutive_failures);
}

static void on_ack_done(journal_ack *a);

static void start_ack(uploader *u, journal_rejected *rej, size_t n_rej, bool dropped_reported) {
  u->ack_batch = u->batch; /* shallow copy; the batch stays live until the ack is done */
  if (!dropped_reported) u->ack_batch.dropped_upto_rowid = 0; /* a refused request reported nothing */
  u->rejected = rej;
  u->n_rejected = n_rej;
  memset(&u->ack, 0, sizeof(u->ack));
  u->ack.batch = &u->ack_batch;
  u->ack.rejected = rej;
  u->ack.n_rejected = n_rej;
  u->ack.done = on_ack_done;
  u->ack.data = u;
  u->phase = PH_ACKING;
  journal_apply_ack(u->j, &u->ack);
}

/* Events the collector rejected in a 200 go to dead-letter: say so, with the
 * count, the reason and the first seq; at most one line per 10 s, the rest
 * counted into the next line. */
static void up_log_dead_letter(uploader *u, const journal_rejected *rej, size_t n) {
  uint64_t now = tf_mono_ms();
  if (u->dl_logged_mono && now - u->dl_logged_mono < 10000) {
    u->dl_held += n;
    return;
  }
  flog_ctx ctx = {.component = "uploader",
                  .idempotency_key = u->batch.idem_key[0] ? u->batch.idem_key : NULL,
                  .request_id = u->request_id,
                  .first_seq = rej[0].seq,
                  .events = (int64_t)n,
                  .has_events = true,
                  .error = rej[0].error};
  const char *hint = strcmp(rej[0].error, "timestamp_out_of_range") == 0
                         ? "; the event time is beyond what the collector accepts - check this box's clock "
                           "and its cameras'"
                         : "";
  if (u->dl_held)
    flogx(FLOG_WARNING, &ctx,
          "collector rejected %zu event(s) (first: seq %lld, %s) and %llu more since the last such line; "
          "moved to dead-letter (ferry-agent dead-letter export)%s",
          n, (long long)rej[0].seq, rej[0].error, (unsigned long long)u->dl_held, hint);
  else
    flogx(FLOG_WARNING, &ctx,
          "collector rejected %zu event(s) (first: seq %lld, %s); moved to dead-letter (ferry-agent "
          "dead-letter export)%s",
          n, (long long)rej[0].seq, rej[0].error, hint);
  u->dl_logged_mono = now;
  u->dl_held = 0;
}

static void on_transfer_done(uploader *u, CURLcode result) {
  long status = 0;
  bool transport_ok = result == CURLE_OK;
  if (transport_ok) curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &status);
  u->last_contact_mono = tf_mono_ms();

  journal_rejected *rej = NULL;
  size_t n_rej = 0, ignored = 0;
  bool parsed = false;
  if (transport_ok && status == 200 && !u->resp_truncated)
    parsed = up_parse_ack(u->resp ? u->resp : "", u->resp_len, u->batch.seqs, u->batch.n_events, &rej, &n_rej,
                          &ignored) == 0;
  up_verdict v = up_classify(transport_ok, status, parsed);
  int tls = transport_ok ? 0 : up_tls_failure((int)result);
  if (tls) {
    v.fail = UP_FAIL_TLS;
    if (tls == 1) {
      v.action = UP_ACT_AT_MAX;
      v.state = UP_STATE_CONFIG_ERROR;
    }
  }
  char detail[512];

  switch (v.action) {
    case UP_ACT_ACK: {
      int64_t mf = up_answer_max_future_s(u->resp, u->resp_len);
      if (mf >= 0) u->st.collector_max_future_s = mf;
      if (u->st.state != UP_STATE_OK || u->st.consecutive_failures) {
        journal_stats js;
        journal_get_stats(u->j, &js);
        double out_s = u->outage_start_mono ? (double)(tf_mono_ms() - u->outage_start_mono) / 1000.0 : 0;
        flog_ctx ctx = {.component = "uploader", .request_id = u->request_id, .status = 200};
        flogx(FLOG_NOTICE, &ctx,
              "collector ok again after %.0f s and %llu failed attempts (last: %s); backlog %lld event(s) "
              "to catch up",
              out_s, (unsigned long long)u->st.consecutive_failures, u->st.last_error, (long long)js.backlog);
      }
      u->outage_start_mono = 0;
      {
        flog_ctx ctx = {.component = "uploader",
                        .idempotency_key = u->batch.idem_key[0] ? u->batch.idem_key : NULL,
                        .request_id = u->request_id,
                        .first_seq = u->batch.first_seq,
                        .last_seq = u->batch.last_seq,
                        .events = (int64_t)u->batch.n_events,
                        .has_events = true,
                        .status = 200,
                        .duration_ms = (double)(tf_mono_ms() - u->sent_mono),
                        .has_duration = true};
        flogx(FLOG_DEBUG, &ctx, "upload of %zu event(s) acknowledged (%zu rejected)", u->batch.n_events,
              n_rej);
      }
      if (n_rej) up_log_dead_letter(u, rej, n_rej);
      if (ignored) flog_warn("collector answer listed %zu rejected seqs not in the batch; ignored", ignored);
      u->st.state = UP_STATE_OK;
      u->st.consecutive_failures = 0;
      u->st.last_success_ms = tf_now_ms();
      u->st.retry_delay_s = 0;
      u->st.uploads_ok++;
      if (u->batch.n_events == 0) u->st.heartbeats++;
      u->limit = up_limit_after_success(u->limit, u->cfg.batch_max_events);
      u->contact_due = false;
      backoff_reset(&u->bo);
      easy_drop(u);
      start_ack(u, rej, n_rej, true);
      return;
    }

    case UP_ACT_SHRINK:
      up_refusal_reason(u->resp, u->resp_len, status, detail, sizeof(detail));
      u->st.failures[UP_FAIL_REJECTED]++;
      u->st.has_last_fail = true;
      u->st.last_fail = UP_FAIL_REJECTED;
      snprintf(u->st.last_error, sizeof(u->st.last_error), "%ld %.180s", status, detail);
      easy_drop(u);
      if (u->batch.n_events > 1) {
        u->limit = up_limit_after_shrink(u->batch.n_events);
        flog_info("collector refused a batch of %zu events (%ld %s); retrying with %zu", u->batch.n_events,
                  status, detail, u->limit);
        batch_drop(u);
        u->phase = PH_IDLE;
        up_cycle(u);
        return;
      }
      if (u->batch.n_events == 1) {
        rej = calloc(1, sizeof(*rej));
        if (!rej) {
          flog_err("out of memory dead-lettering seq %lld", (long long)u->batch.first_seq);
          batch_drop(u);
          schedule_retry(u, backoff_next(&u->bo));
          return;
        }
        rej->seq = u->batch.first_seq;
        snprintf(rej->error, sizeof(rej->error), "%.*s", (int)sizeof(rej->error) - 1, detail);
        flog_warn("collector refused event seq %lld alone (%ld %s); moving it to dead-letter",
                  (long long)rej->seq, status, detail);
        start_ack(u, rej, 1, false);
        return;
      }
      /* a heartbeat refused as malformed: nothing to halve; a config problem */
      v.action = UP_ACT_AT_MAX;
      v.state = UP_STATE_CONFIG_ERROR;
      v.fail = UP_FAIL_CONFIG_ERROR;
      u->st.failures[UP_FAIL_REJECTED]--;
      note_failure(u, &v, status, detail);
      batch_drop(u);
      schedule_retry(u, backoff_at_max(&u->bo));
      return;

    case UP_ACT_BACKOFF:
    case UP_ACT_AT_MAX:
      free(rej);
      if (!transport_ok) {
        const char *hint = up_tls_mismatch_hint((int)result, u->errbuf, u->https);
        long fresh = 0;
        curl_easy_getinfo(u->easy, CURLINFO_NUM_CONNECTS, &fresh);
        /* libcurl's "select/poll returned error" (CURLE_SEND_ERROR): the socket
         * failed while the request was being sent. On a connection made for
         * this attempt and an http:// URL, that is a TLS server resetting a
         * plain-HTTP request; on a reused one, the collector closed it while
         * idle (retried at once on a new connection by the next attempt). */
        if (!hint && result == CURLE_SEND_ERROR && !u->https && fresh > 0)
          hint =
              "the collector reset the connection while the request was sent on an http:// URL: if it serves "
              "HTTPS (--tls-cert), use https://";
        else if (!hint && result == CURLE_SEND_ERROR && fresh == 0)
          hint = "the collector closed a kept-alive connection as it was reused; the next attempt opens a "
                 "new one";
        u->hint = hint;
        const char *what = u->errbuf[0] ? u->errbuf : curl_easy_strerror(result);
        if (hint) snprintf(detail, sizeof(detail), "%s [%.120s]", hint, what);
        else snprintf(detail, sizeof(detail), "%s", what);
      } else if (status == 200) snprintf(detail, sizeof(detail), "200 without a valid ingest answer");
      else {
        char reason[200];
        up_refusal_reason(u->resp, u->resp_len, status, reason, sizeof(reason));
        snprintf(detail, sizeof(detail), "%ld %s", status, reason);
      }
      note_failure(u, &v, status, detail);
      u->hint = NULL;
      double delay, ra;
      if (v.action == UP_ACT_AT_MAX) delay = backoff_at_max(&u->bo);
      else if (transport_ok && status != 200 && u->retry_after[0] &&
               up_parse_retry_after(u->retry_after, tf_now_ms(), &ra) == 0)
        delay = backoff_retry_after(&u->bo, ra);
      else delay = backoff_next(&u->bo);
      easy_drop(u);
      batch_drop(u);
      schedule_retry(u, delay);
      return;
  }
}

static void check_multi_done(uploader *u) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(u->multi, &left))) {
    if (m->msg != CURLMSG_DONE || m->easy_handle != u->easy) continue;
    CURLcode res = m->data.result;
    on_transfer_done(u, res);
    /* m is invalid now (the handle was removed) */
  }
}

static int send_batch(uploader *u) {
  char h[UP_HDR_MAX];
  u->errbuf[0] = '\0';
  u->easy = curl_easy_init();
  if (!u->easy) return -ENOMEM;
  struct curl_slist *l = NULL, *t;
#define ADDH(s)                    \
  do {                             \
    t = curl_slist_append(l, (s)); \
    if (!t) goto nomem;            \
    l = t;                         \
  } while (0)
  ADDH("Content-Type: application/json");
  ADDH("Accept: application/json");
  ADDH("Expect:"); /* no 100-continue round trip */
  snprintf(h, sizeof(h), "Content-Encoding: %s", codec_name(u->cfg.codec));
  ADDH(h);
  if (u->auth_header) ADDH(u->auth_header);
  if (u->batch.idem_key[0]) {
    snprintf(h, sizeof(h), "Idempotency-Key: %s", u->batch.idem_key);
    ADDH(h);
    if (strcmp(u->attempt_key, u->batch.idem_key) != 0) {
      snprintf(u->attempt_key, sizeof(u->attempt_key), "%s", u->batch.idem_key);
      u->attempt = 0;
    }
    u->attempt++;
    snprintf(u->request_id, sizeof(u->request_id), "%.200s/%u", u->batch.idem_key, u->attempt);
  } else {
    u->attempt_key[0] = '\0';
    snprintf(u->request_id, sizeof(u->request_id), "heartbeat:%llu/1", (unsigned long long)++u->heartbeat_n);
  }
  u->sent_mono = tf_mono_ms();
  snprintf(h, sizeof(h), "X-Request-ID: %.200s", u->request_id);
  ADDH(h);
#undef ADDH
  u->headers = l;
  CURL *e = u->easy;
  curl_easy_setopt(e, CURLOPT_URL, u->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, u->batch.body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)u->batch.body_len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, u->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry-agent/" FERRY_VERSION);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)ms_of(u->cfg.connect_timeout_s));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)ms_of(u->cfg.request_timeout_s));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  /* never reuse a connection idle for as long as the collector keeps one
   * (its --conn-timeout-s, 30 s by default): a send on a connection the
   * server just closed fails with libcurl's "select/poll returned error" */
  curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 20L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, u);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, u);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, u->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, u);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (u->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, u->ca_file);
  if (u->pinned_pubkey) curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, u->pinned_pubkey);
  if (u->client_cert) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, u->client_cert);
    curl_easy_setopt(e, CURLOPT_SSLKEY, u->client_key);
  }
  if (curl_multi_add_handle(u->multi, e) != CURLM_OK) {
    easy_drop(u);
    return -EIO;
  }
  u->phase = PH_SENDING;
  return 0;
nomem:
  curl_slist_free_all(l);
  curl_easy_cleanup(u->easy);
  u->easy = NULL;
  return -ENOMEM;
}

static void on_batch_read(journal_batch *b) {
  uploader *u = b->data;
  u->batch_live = true;
  if (u->stopping) {
    batch_drop(u);
    u->phase = PH_IDLE;
    up_maybe_finish_stop(u);
    return;
  }
  if (b->status != 0) {
    if (!u->last_batch_error) flog_err("journal: cannot build an upload batch: %s", strerror(-b->status));
    u->last_batch_error = true;
    batch_drop(u);
    schedule_retry(u, backoff_next(&u->bo));
    return;
  }
  if (u->last_batch_error) flog_notice("journal: upload batches build again");
  u->last_batch_error = false;
  if (b->body_len > u->cfg.batch_max_bytes && b->n_events > 1) {
    /* should not happen (the journal bounds the raw body); never send it */
    u->limit = up_limit_after_shrink(b->n_events);
    batch_drop(u);
    u->phase = PH_IDLE;
    up_cycle(u);
    return;
  }
  int r = send_batch(u);
  if (r < 0) {
    flog_err("cannot start an upload: %s", strerror(-r));
    batch_drop(u);
    schedule_retry(u, backoff_next(&u->bo));
    return;
  }
  flog_debug("upload: %zu events (%zu bytes, %zu raw) %s", b->n_events, b->body_len, b->raw_len,
             b->idem_key[0] ? b->idem_key : "heartbeat");
}

static void on_ack_done(journal_ack *a) {
  uploader *u = a->data;
  if (a->status != 0) {
    /* once per failure streak: a held or broken journal fails every retry */
    if (!u->last_ack_error)
      flog_err("journal: cannot apply the collector's answer (the batch will be sent again): %s",
               strerror(-a->status));
    u->last_ack_error = true;
  } else {
    if (u->last_ack_error) flog_notice("journal: the collector's answers apply again");
    u->last_ack_error = false;
    u->st.uploaded_events += u->batch.n_events - u->n_rejected;
    u->st.dead_lettered += u->n_rejected;
  }
  free(u->rejected);
  u->rejected = NULL;
  u->n_rejected = 0;
  batch_drop(u);
  u->phase = PH_IDLE;
  if (u->stopping) {
    up_maybe_finish_stop(u);
    return;
  }
  if (a->status != 0) {
    schedule_retry(u, backoff_next(&u->bo));
    return;
  }
  up_cycle(u);
}

/* In IDLE: decide what to send now, or arm the heartbeat timer. */
static void up_cycle(uploader *u) {
  if (u->stopping || u->phase != PH_IDLE) return;
  journal_stats js;
  journal_get_stats(u->j, &js);
  uint64_t now = tf_mono_ms();
  uint64_t hb_ms = ms_of(u->cfg.heartbeat_interval_s);
  size_t max_events;
  if (js.backlog > 0) {
    max_events = u->limit;
  } else if (u->contact_due || now - u->last_contact_mono >= hb_ms) {
    max_events = 0;
  } else {
    uv_timer_start(&u->wake_timer, on_wake, u->last_contact_mono + hb_ms - now, 0);
    return;
  }
  uv_timer_stop(&u->wake_timer);
  memset(&u->batch, 0, sizeof(u->batch));
  u->batch.max_events = max_events;
  u->batch.max_bytes = u->cfg.batch_max_bytes;
  u->batch.codec = u->cfg.codec;
  u->batch.done = on_batch_read;
  u->batch.data = u;
  u->phase = PH_READING;
  journal_read_batch(u->j, &u->batch);
}

void uploader_kick(uploader *u) {
  if (u && !u->stopping && u->phase == PH_IDLE) up_cycle(u);
}

void uploader_get_stats(const uploader *u, uploader_stats *ret) {
  *ret = u->st;
  ret->batch_limit = u->limit;
  ret->retry_scheduled = u->phase == PH_WAITING;
  ret->next_retry_in_s = 0;
  if (u->phase == PH_WAITING) {
    uint64_t now = tf_mono_ms();
    if (u->retry_deadline_mono > now) ret->next_retry_in_s = (double)(u->retry_deadline_mono - now) / 1000.0;
  }
}

static char *join_url(const char *base, const char *path) {
  size_t bl = strlen(base);
  while (bl && base[bl - 1] == '/') bl--;
  size_t pl = strlen(path);
  char *s = malloc(bl + pl + 1);
  if (!s) return NULL;
  memcpy(s, base, bl);
  memcpy(s + bl, path, pl + 1);
  return s;
}

int uploader_start(uv_loop_t *loop, journal *j, const uploader_config *cfg, uploader **ret, char *err,
                   size_t errlen) {
  uploader *u = calloc(1, sizeof(*u));
  if (!u) {
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
  if (!(vi->features & CURL_VERSION_ASYNCHDNS))
    flog_warn("libcurl %s resolves names synchronously: a slow DNS server can stall the agent's "
              "loop; use a libcurl built with the threaded resolver or c-ares",
              vi->version);
  u->loop = loop;
  u->j = j;
  u->cfg = *cfg;
  u->collector = strdup(cfg->collector);
  u->url = join_url(cfg->collector, "/v1/ingest");
  u->https = cfg->collector && strncasecmp(cfg->collector, "https:", 6) == 0;
  u->st.collector_max_future_s = -1;
  if (cfg->auth_token) {
    size_t n = strlen(cfg->auth_token) + sizeof("Authorization: Bearer ");
    u->auth_header = malloc(n);
    if (u->auth_header) snprintf(u->auth_header, n, "Authorization: Bearer %s", cfg->auth_token);
  }
  u->multi = curl_multi_init();
  bool tls_nomem = false;
#define UP_DUP(f)                                             \
  do {                                                        \
    if (cfg->f && !(u->f = strdup(cfg->f))) tls_nomem = true; \
  } while (0)
  UP_DUP(ca_file);
  UP_DUP(pinned_pubkey);
  UP_DUP(client_cert);
  UP_DUP(client_key);
#undef UP_DUP
  if (!u->collector || !u->url || (cfg->auth_token && !u->auth_header) || !u->multi || tls_nomem) {
    snprintf(err, errlen, "out of memory");
    free(u->ca_file);
    free(u->pinned_pubkey);
    free(u->client_cert);
    free(u->client_key);
    curl_multi_cleanup(u->multi);
    free(u->collector);
    free(u->url);
    free(u->auth_header);
    free(u);
    return -ENOMEM;
  }
  u->cfg.collector = u->collector;
  u->cfg.auth_token = NULL; /* only the header is kept */
  if (u->cfg.batch_max_events == 0) u->cfg.batch_max_events = 1;
  u->limit = u->cfg.batch_max_events;
  curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
  curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
  curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
  curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
  curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 2L);
  uv_timer_init(loop, &u->curl_timer);
  uv_timer_init(loop, &u->wake_timer);
  u->curl_timer.data = u;
  u->wake_timer.data = u;
  u->open_handles = 2;
  uint64_t seed = tf_mono_ms() ^ ((uint64_t)tf_now_ms() << 20) ^ (uint64_t)(uintptr_t)u;
  backoff_init(&u->bo, cfg->retry_initial_s, cfg->retry_max_s, seed ? seed : 1);
  u->st.state = UP_STATE_OK;
  u->contact_due = true; /* introduce ourselves at once */
  u->phase = PH_IDLE;
  up_cycle(u);
  *ret = u;
  return 0;
}

static char *auth_header_of(const char *token) {
  size_t n = strlen(token) + sizeof("Authorization: Bearer ");
  char *h = malloc(n);
  if (h) snprintf(h, n, "Authorization: Bearer %s", token);
  return h;
}

int uploader_reconfigure(uploader *u, const uploader_config *cfg) {
  char *collector = strdup(cfg->collector);
  char *url = join_url(cfg->collector, "/v1/ingest");
  char *auth = cfg->auth_token ? auth_header_of(cfg->auth_token) : NULL;
  if (!collector || !url || (cfg->auth_token && !auth)) {
    free(collector);
    free(url);
    free(auth);
    return -ENOMEM;
  }
  bool target_changed = strcmp(url, u->url) != 0 || (auth == NULL) != (u->auth_header == NULL) ||
                        (auth && strcmp(auth, u->auth_header) != 0);
  /* the easy handle in flight holds its own copies (libcurl copies the URL;
   * the header list is ours until easy_drop and is left alone) */
  free(u->collector);
  free(u->url);
  if (u->auth_header) {
    explicit_bzero(u->auth_header, strlen(u->auth_header));
    free(u->auth_header);
  }
  u->collector = collector;
  u->url = url;
  u->https = strncasecmp(url, "https:", 6) == 0;
  u->auth_header = auth;
  u->cfg = *cfg;
  u->cfg.collector = u->collector;
  u->cfg.auth_token = NULL;
  /* the TLS files stay those of the start (a restart changes them) */
  u->cfg.ca_file = u->ca_file;
  u->cfg.pinned_pubkey = u->pinned_pubkey;
  u->cfg.client_cert = u->client_cert;
  u->cfg.client_key = u->client_key;
  if (u->cfg.batch_max_events == 0) u->cfg.batch_max_events = 1;
  if (u->limit > u->cfg.batch_max_events) u->limit = u->cfg.batch_max_events;
  unsigned attempt = u->bo.attempt;
  uint64_t rng = u->bo.rng;
  backoff_init(&u->bo, cfg->retry_initial_s, cfg->retry_max_s, rng ? rng : 1);
  u->bo.attempt = attempt;
  if (target_changed && !u->stopping && u->phase == PH_WAITING) {
    backoff_reset(&u->bo);
    uv_timer_stop(&u->wake_timer);
    u->phase = PH_IDLE;
    up_cycle(u);
  } else if (!u->stopping && u->phase == PH_IDLE) {
    up_cycle(u); /* re-arm the heartbeat timer with the new interval */
  }
  return 0;
}

static void up_maybe_finish_stop(uploader *u) {
  if (!u->stopping) return;
  if (u->phase == PH_READING || u->phase == PH_ACKING)
    return; /* the journal still holds our request; wait for its done */
  if (u->multi) {
    easy_drop(u);
    batch_drop(u);
    curl_multi_cleanup(u->multi);
    u->multi = NULL;
    while (u->socks) close_sock(u, u->socks);
    uv_close((uv_handle_t *)&u->curl_timer, handle_closed);
    uv_close((uv_handle_t *)&u->wake_timer, handle_closed);
    return; /* handle_closed calls back in */
  }
  if (u->open_handles > 0) return;
  void (*done)(void *) = u->stop_done;
  void *arg = u->stop_arg;
  free(u->collector);
  free(u->url);
  free(u->ca_file);
  free(u->pinned_pubkey);
  free(u->client_cert);
  free(u->client_key);
  if (u->auth_header) {
    explicit_bzero(u->auth_header, strlen(u->auth_header));
    free(u->auth_header);
  }
  free(u);
  if (done) done(arg);
}

void uploader_stop(uploader *u, void (*done)(void *arg), void *arg) {
  if (!u || u->stopping) return;
  u->stopping = true;
  u->stop_done = done;
  u->stop_arg = arg;
  uv_timer_stop(&u->wake_timer);
  if (u->phase == PH_SENDING) {
    flog_info("upload in flight cancelled; its events stay in the journal");
    u->phase = PH_IDLE;
  }
  if (u->phase == PH_WAITING) u->phase = PH_IDLE;
  up_maybe_finish_stop(u);
}
