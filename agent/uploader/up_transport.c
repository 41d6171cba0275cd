/* up_transport: libcurl multi-socket on libuv (see up_transport.h). */
#include "up_transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "version.h"

#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#define UT_HDR_MAX 256 /* one request header we build */

typedef struct ut_sock {
  uv_poll_t poll;
  curl_socket_t fd;
  struct ut_multi *m;
  struct ut_sock *next;
} ut_sock;

struct ut_multi {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  ut_sock *socks;
  int open_handles;
  bool closing;
  void (*done)(void *owner, ut_xfer *x, CURLcode result);
  void (*closed)(void *arg);
  void *closed_arg;
};

static void ut__maybe_closed(ut_multi *m) {
  if (!m->closing || m->open_handles > 0) return;
  void (*closed)(void *) = m->closed;
  void *arg = m->closed_arg;
  free(m);
  if (closed) closed(arg);
}

static void ut__handle_closed(uv_handle_t *h) {
  ut_multi *m = h->data;
  if (h->type == UV_POLL) free(container_of((uv_poll_t *)h, ut_sock, poll));
  m->open_handles--;
  ut__maybe_closed(m);
}

static void ut__close_sock(ut_multi *m, ut_sock *s) {
  for (ut_sock **pp = &m->socks; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      break;
    }
  }
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, ut__handle_closed);
}

static void ut__check_done(ut_multi *m) {
  CURLMsg *msg;
  int left;
  while (m->multi && (msg = curl_multi_info_read(m->multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    ut_xfer *x = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    CURLcode res = msg->data.result;
    if (x) m->done(x->owner, x, res); /* may drop x: msg is invalid after */
  }
}

static void ut__on_poll(uv_poll_t *p, int status, int events) {
  ut_sock *s = container_of(p, ut_sock, poll);
  ut_multi *m = s->m;
  int flags = 0, running;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(m->multi, s->fd, flags, &running);
  ut__check_done(m);
}

static int ut__on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  ut_multi *m = userp;
  ut_sock *s = socketp;
  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      curl_multi_assign(m->multi, fd, NULL);
      ut__close_sock(m, s);
    }
    return 0;
  }
  if (!s) {
    s = calloc(1, sizeof(*s));
    if (!s) return -1;
    if (uv_poll_init_socket(m->loop, &s->poll, fd) < 0) {
      free(s);
      return -1;
    }
    s->fd = fd;
    s->m = m;
    s->poll.data = m;
    s->next = m->socks;
    m->socks = s;
    m->open_handles++;
    curl_multi_assign(m->multi, fd, s);
  }
  int ev = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) ev |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) ev |= UV_WRITABLE;
  uv_poll_start(&s->poll, ev, ut__on_poll);
  return 0;
}

static void ut__on_timeout(uv_timer_t *t) {
  ut_multi *m = t->data;
  int running;
  curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  ut__check_done(m);
}

static int ut__on_timer(CURLM *multi, long timeout_ms, void *userp) {
  ut_multi *m = userp;
  (void)multi;
  if (timeout_ms < 0) uv_timer_stop(&m->timer);
  else if (!uv_is_closing((uv_handle_t *)&m->timer))
    uv_timer_start(&m->timer, ut__on_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

ut_multi *ut_new(uv_loop_t *loop, void (*done)(void *owner, ut_xfer *x, CURLcode result)) {
  ut_multi *m = calloc(1, sizeof(*m));
  if (!m) return NULL;
  if (!(m->multi = curl_multi_init())) {
    free(m);
    return NULL;
  }
  m->loop = loop;
  m->done = done;
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, ut__on_socket);
  curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, ut__on_timer);
  curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
  curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, 8L);
  uv_timer_init(loop, &m->timer);
  m->timer.data = m;
  m->open_handles = 1;
  return m;
}

static size_t ut__on_body(char *ptr, size_t size, size_t nmemb, void *userp) {
  ut_xfer *x = userp;
  size_t n = size * nmemb;
  size_t room = UT_RESP_MAX - x->resp_len;
  size_t take = n < room ? n : room;
  if (take < n) x->resp_truncated = true;
  if (take) {
    char *nb = realloc(x->resp, x->resp_len + take + 1);
    if (!nb) return 0; /* aborts the transfer: counted as unreachable, retried */
    x->resp = nb;
    memcpy(x->resp + x->resp_len, ptr, take);
    x->resp_len += take;
    x->resp[x->resp_len] = '\0';
  }
  return n;
}

static size_t ut__on_header(char *ptr, size_t size, size_t nitems, void *userp) {
  ut_xfer *x = userp;
  size_t n = size * nitems;
  if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
    x->retry_after[0] = '\0'; /* a new response (e.g. after 100 Continue) */
  } else if (n > 12 && strncasecmp(ptr, "Retry-After:", 12) == 0) {
    size_t vl = n - 12;
    if (vl >= sizeof(x->retry_after)) vl = sizeof(x->retry_after) - 1;
    memcpy(x->retry_after, ptr + 12, vl);
    x->retry_after[vl] = '\0';
  }
  return n;
}

static long ut__ms(double s) { return s <= 0 ? 0 : (long)(s * 1000.0 + 0.5); }

void ut_xfer_drop(ut_multi *m, ut_xfer *x) {
  if (x->easy) {
    if (m && m->multi) curl_multi_remove_handle(m->multi, x->easy);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
  }
  curl_slist_free_all(x->headers);
  x->headers = NULL;
  free(x->resp);
  x->resp = NULL;
  x->resp_len = 0;
  x->resp_truncated = false;
  x->retry_after[0] = '\0';
}

int ut_send(ut_multi *m, ut_xfer *x, const ut_request *rq) {
  char h[UT_HDR_MAX];
  x->errbuf[0] = '\0';
  x->retry_after[0] = '\0';
  x->easy = curl_easy_init();
  if (!x->easy) return -ENOMEM;
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
  snprintf(h, sizeof(h), "Content-Encoding: %s", rq->encoding);
  ADDH(h);
  if (rq->auth_header) ADDH(rq->auth_header);
  if (rq->idem_key && rq->idem_key[0]) {
    snprintf(h, sizeof(h), "Idempotency-Key: %s", rq->idem_key);
    ADDH(h);
  }
  if (rq->request_id && rq->request_id[0]) {
    snprintf(h, sizeof(h), "X-Request-ID: %.200s", rq->request_id);
    ADDH(h);
  }
#undef ADDH
  x->headers = l;
  CURL *e = x->easy;
  curl_easy_setopt(e, CURLOPT_URL, rq->url);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry-agent/" FERRY_VERSION);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ut__ms(rq->connect_timeout_s));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ut__ms(rq->request_timeout_s));
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  /* never reuse a connection idle for as long as the collector keeps one
   * (its --conn-timeout-s, 30 s by default): a send on a connection the
   * server just closed fails with libcurl's "select/poll returned error" */
  curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, 20L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, ut__on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, ut__on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
  curl_easy_setopt(e, CURLOPT_PRIVATE, x);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
  if (rq->ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, rq->ca_file);
  if (rq->pinned_pubkey) curl_easy_setopt(e, CURLOPT_PINNEDPUBLICKEY, rq->pinned_pubkey);
  if (rq->client_cert) {
    curl_easy_setopt(e, CURLOPT_SSLCERT, rq->client_cert);
    curl_easy_setopt(e, CURLOPT_SSLKEY, rq->client_key);
  }
  if (curl_multi_add_handle(m->multi, e) != CURLM_OK) {
    ut_xfer_drop(NULL, x);
    return -EIO;
  }
  return 0;
nomem:
  curl_slist_free_all(l);
  curl_easy_cleanup(x->easy);
  x->easy = NULL;
  return -ENOMEM;
}

void ut_close(ut_multi *m, void (*closed)(void *arg), void *arg) {
  if (!m || m->closing) return;
  m->closing = true;
  m->closed = closed;
  m->closed_arg = arg;
  curl_multi_cleanup(m->multi);
  m->multi = NULL;
  while (m->socks) ut__close_sock(m, m->socks);
  uv_close((uv_handle_t *)&m->timer, ut__handle_closed);
}
