/* test_httpd: drives common/httpd.c over real sockets. The libuv loop with
 * the servers runs in the main thread; a client thread talks HTTP to them
 * with libcurl (or raw sockets, to disconnect or dribble on purpose) and asks
 * the loop to do things (release held requests, stop listening, close)
 * through a uv_async. Only the client thread CHECKs while the loop runs;
 * waits have a generous deadline only so a bug fails instead of hanging. */
#include "check.h"
#include "httpd.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY ((size_t)1 << 20)
#define WAIT_S   20

enum { SRV_A, SRV_UNIX, SRV_STOP, SRV_CLOSE, SRV_N };

static uv_loop_t *loop;
static httpd *srv[SRV_N];
static unsigned srv_port[SRV_N];
static char unix_path[108];
static uv_async_t async;

/* Shared between threads, under mu. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int cmds[16], ncmds, acked, posted;
static int held_total, data_allocs, data_frees, on_request_calls, on_headers_calls, done_calls;
static unsigned pending_seen;
static httpd_req *held[64];
static int nheld;

/* ---- server side (loop thread) -------------------------------------------- */

static void data_free(void *p) {
  free(p);
  pthread_mutex_lock(&mu);
  data_frees++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

static httpd_verdict on_headers(httpd_req *r, void *ud) {
  (void)ud;
  pthread_mutex_lock(&mu);
  on_headers_calls++;
  data_allocs++;
  pthread_mutex_unlock(&mu);
  httpd_req_set_data(r, malloc(16));
  httpd_req_set_data_free(r, data_free);
  if (strncmp(httpd_req_path(r), "/auth", 5) == 0 && !httpd_req_header(r, "Authorization")) {
    httpd_req_add_header(r, "WWW-Authenticate", "Bearer");
    httpd_respond_error(r, 401, "unauthorized", "a bearer token is required");
    return HTTPD_ANSWERED;
  }
  return HTTPD_READ_BODY;
}

static int add_arg(void *arg, const char *k, const char *v) {
  cJSON_AddStringToObject(arg, k, v);
  return 0;
}

typedef struct {
  uv_timer_t t;
  httpd_req *r;
} deferred;

static void deferred_closed(uv_handle_t *h) { free(h->data); }

static void deferred_fire(uv_timer_t *t) {
  deferred *d = t->data;
  const char *p = httpd_req_path(d->r);
  httpd_respond(d->r, 200, "text/plain", p, strlen(p));
  uv_close((uv_handle_t *)&d->t, deferred_closed);
}

static void on_request(httpd_req *r, void *ud) {
  const char *path = httpd_req_path(r);
  size_t len;
  const char *body = httpd_req_body(r, &len);
  (void)ud;
  pthread_mutex_lock(&mu);
  on_request_calls++;
  pthread_mutex_unlock(&mu);

  if (strcmp(path, "/echo") == 0) {
    httpd_respond(r, 200, "text/plain", body, len);
  } else if (strcmp(path, "/query") == 0) {
    cJSON *o = cJSON_CreateObject();
    httpd_req_query_each(r, add_arg, o);
    const char *a = httpd_req_query(r, "a");
    cJSON_AddStringToObject(o, "lookup_a", a ? a : "(null)");
    cJSON_AddStringToObject(o, "method", httpd_req_method(r));
    httpd_respond_json(r, 200, o);
  } else if (strncmp(path, "/defer", 6) == 0) {
    deferred *d = malloc(sizeof *d);
    d->r = r;
    d->t.data = d;
    uv_timer_init(loop, &d->t);
    uv_timer_start(&d->t, deferred_fire, 50, 0);
  } else if (strcmp(path, "/hold") == 0) {
    pthread_mutex_lock(&mu);
    held[nheld++] = r;
    held_total++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
  } else if (strncmp(path, "/auth", 5) == 0) {
    httpd_respond(r, 200, "text/plain", "ok", 2);
  } else {
    /* Everything else answers with its raw path. */
    httpd_respond(r, 200, "text/plain", path, strlen(path));
  }
}

static void close_done(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  done_calls++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

enum { CMD_RELEASE, CMD_STOP_LISTENING, CMD_CLOSE_C, CMD_PENDING_STOP, CMD_CLOSE_ALL };

static void on_async(uv_async_t *a) {
  (void)a;
  for (;;) {
    pthread_mutex_lock(&mu);
    if (!ncmds) {
      pthread_mutex_unlock(&mu);
      return;
    }
    int cmd = cmds[0];
    memmove(cmds, cmds + 1, sizeof cmds[0] * (size_t)--ncmds);
    httpd_req *rel[64];
    int nrel = 0;
    if (cmd == CMD_RELEASE) {
      nrel = nheld;
      memcpy(rel, held, sizeof rel[0] * (size_t)nheld);
      nheld = 0;
    }
    pthread_mutex_unlock(&mu);

    unsigned seen = 0;
    switch (cmd) {
      case CMD_RELEASE:
        for (int i = 0; i < nrel; i++) httpd_respond(rel[i], 200, "text/plain", "released", 8);
        break;
      case CMD_STOP_LISTENING: httpd_stop_listening(srv[SRV_STOP]); break;
      case CMD_PENDING_STOP: seen = httpd_pending(srv[SRV_STOP]); break;
      case CMD_CLOSE_C:
        httpd_close(srv[SRV_CLOSE], close_done, NULL);
        srv[SRV_CLOSE] = NULL;
        break;
      case CMD_CLOSE_ALL:
        for (int i = 0; i < SRV_N; i++)
          if (srv[i]) httpd_close(srv[i], close_done, NULL);
        uv_close((uv_handle_t *)&async, NULL);
        break;
    }
    pthread_mutex_lock(&mu);
    pending_seen = seen;
    acked++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    if (cmd == CMD_CLOSE_ALL) return;
  }
}

/* ---- client side ------------------------------------------------------------ */

static void deadline(struct timespec *ts) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += WAIT_S;
}

/* Wait until *v >= want (under mu); 0 on success, -1 after the deadline. */
static int wait_for(const int *v, int want) {
  struct timespec ts;
  int rc = 0;
  deadline(&ts);
  pthread_mutex_lock(&mu);
  while (*v < want && rc == 0) rc = pthread_cond_timedwait(&cv, &mu, &ts);
  int ok = *v >= want;
  pthread_mutex_unlock(&mu);
  return ok ? 0 : -1;
}

static int get_int(const int *v) {
  pthread_mutex_lock(&mu);
  int x = *v;
  pthread_mutex_unlock(&mu);
  return x;
}

static void cmd(int c) {
  pthread_mutex_lock(&mu);
  cmds[ncmds++] = c;
  int want = ++posted;
  pthread_mutex_unlock(&mu);
  uv_async_send(&async);
  CHECK(wait_for(&acked, want) == 0);
}

typedef struct {
  long status;
  char *body;
  size_t len;
  char ctype[128];
  CURLcode rc;
} resp_t;

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
  resp_t *r = ud;
  char *b = realloc(r->body, r->len + sz * n + 1);
  if (!b) return 0;
  memcpy(b + r->len, p, sz * n);
  r->body = b;
  r->len += sz * n;
  b[r->len] = '\0';
  return sz * n;
}

static CURL *easy(const char *url, const char *unix_sock, resp_t *out) {
  CURL *c = curl_easy_init();
  memset(out, 0, sizeof *out);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WAIT_S);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  if (unix_sock) curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_sock);
  return c;
}

static void finish(CURL *c, resp_t *out) {
  char *ct = NULL;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
    snprintf(out->ctype, sizeof out->ctype, "%s", ct);
  if (!out->body) out->body = calloc(1, 1);
  curl_easy_cleanup(c);
}

static void do_get(const char *url, const char *unix_sock, resp_t *out) {
  CURL *c = easy(url, unix_sock, out);
  out->rc = curl_easy_perform(c);
  finish(c, out);
}

static void do_post(const char *url, const char *body, size_t len, struct curl_slist *hdrs, resp_t *out) {
  CURL *c = easy(url, NULL, out);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  out->rc = curl_easy_perform(c);
  finish(c, out);
}

typedef struct {
  size_t total, sent;
} reader;

static size_t read_cb(char *buf, size_t sz, size_t n, void *ud) {
  reader *rd = ud;
  size_t k = sz * n;
  if (k > rd->total - rd->sent) k = rd->total - rd->sent;
  memset(buf, 'x', k);
  rd->sent += k;
  return k;
}

/* POST total bytes produced by a read callback (chunked unless sized). */
static void do_post_stream(const char *url, size_t total, int chunked, struct curl_slist *hdrs, resp_t *out,
                           reader *rd) {
  CURL *c = easy(url, NULL, out);
  rd->total = total;
  rd->sent = 0;
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, rd);
  if (!chunked) curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)total);
  if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  out->rc = curl_easy_perform(c);
  finish(c, out);
}

static const char *error_code(const resp_t *r, char *buf, size_t n) {
  cJSON *j = cJSON_Parse(r->body);
  cJSON *code = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code");
  cJSON *msg = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "message");
  snprintf(buf, n, "%s", cJSON_IsString(code) && cJSON_IsString(msg) ? code->valuestring : "(none)");
  cJSON_Delete(j);
  return buf;
}

static int connect_tcp(unsigned port) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static int send_all(int fd, const char *s) {
  size_t n = strlen(s);
  while (n) {
    ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
    if (k <= 0) return -1;
    s += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Read until EOF (bounded by SO_RCVTIMEO); returns bytes read into buf. */
static size_t read_all(int fd, char *buf, size_t cap) {
  struct timeval tv = {WAIT_S, 0};
  size_t n = 0;
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (n + 1 < cap) {
    ssize_t k = recv(fd, buf + n, cap - 1 - n, 0);
    if (k <= 0) break;
    n += (size_t)k;
  }
  buf[n] = '\0';
  return n;
}

static char url_a[128];

static void test_query_and_path(void) {
  char url[256];
  resp_t r;
  snprintf(url, sizeof url, "%s/query?a=1%%202&b=x%%2By&c=p+q&d=%%26%%3D&e=", url_a);
  do_get(url, NULL, &r);
  CHECK_EQ_INT(r.rc, CURLE_OK);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.ctype, "application/json");
  cJSON *j = cJSON_Parse(r.body);
  CHECK(j != NULL);
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "a")), "1 2");
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "lookup_a")), "1 2");
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "b")), "x+y");
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "c")), "p q"); /* '+' → ' ' */
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "d")), "&=");
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "e")), "");
  CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(j, "method")), "GET");
  cJSON_Delete(j);
  free(r.body);

  /* The path stays raw: %2F is not a separator, %20 is not a space. */
  snprintf(url, sizeof url, "%s/v1/agents/a%%2Fb%%20c/x?q=%%2F", url_a);
  do_get(url, NULL, &r);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "/v1/agents/a%2Fb%20c/x");
  free(r.body);

  /* HEAD reaches the handler as HEAD; MHD sends the headers, no body. */
  snprintf(url, sizeof url, "%s/head/check", url_a);
  CURL *c = easy(url, NULL, &r);
  curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  r.rc = curl_easy_perform(c);
  curl_off_t cl = -1;
  curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  finish(c, &r);
  CHECK_EQ_INT(r.rc, CURLE_OK);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_INT(r.len, 0);
  CHECK_EQ_INT(cl, (curl_off_t)strlen("/head/check"));
  free(r.body);
}

static void test_echo(void) {
  char url[256];
  resp_t r;
  snprintf(url, sizeof url, "%s/echo", url_a);
  do_post(url, "z", 1, NULL, &r);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_INT(r.len, 1);
  CHECK_EQ_STR(r.body, "z");
  CHECK_EQ_STR(r.ctype, "text/plain");
  free(r.body);

  /* Exactly the limit passes, byte for byte. */
  char *big = malloc(MAX_BODY);
  for (size_t i = 0; i < MAX_BODY; i++) big[i] = (char)('a' + i % 23);
  do_post(url, big, MAX_BODY, NULL, &r);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_INT(r.len, MAX_BODY);
  CHECK(r.len == MAX_BODY && memcmp(r.body, big, MAX_BODY) == 0);
  free(r.body);

  /* Chunked, under the limit, also works. */
  reader rd;
  do_post_stream(url, 70000, 1, NULL, &r, &rd);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_INT(r.len, 70000);
  free(r.body);
  free(big);
}

static void test_limits(void) {
  char url[256], code[64];
  resp_t r;
  reader rd;
  snprintf(url, sizeof url, "%s/echo", url_a);

  /* Content-Length over the limit: 413 before the body is read. */
  int before = get_int(&on_request_calls);
  struct curl_slist *h = curl_slist_append(NULL, "Expect: 100-continue");
  do_post_stream(url, MAX_BODY + 1, 0, h, &r, &rd);
  CHECK_EQ_INT(r.status, 413);
  CHECK_EQ_STR(error_code(&r, code, sizeof code), "payload_too_large");
  CHECK_EQ_STR(r.ctype, "application/json");
  CHECK_EQ_INT(rd.sent, 0);
  CHECK_EQ_INT(get_int(&on_request_calls), before);
  free(r.body);

  /* Without Expect the client may push the body anyway: still 413. */
  struct curl_slist *noexp = curl_slist_append(NULL, "Expect:");
  char *big = calloc(1, MAX_BODY + 1);
  do_post(url, big, MAX_BODY + 1, noexp, &r);
  CHECK_EQ_INT(r.status, 413);
  CHECK_EQ_INT(get_int(&on_request_calls), before);
  free(r.body);
  free(big);

  /* Chunked over the limit: 413, on_request never called. */
  do_post_stream(url, MAX_BODY + 200000, 1, noexp, &r, &rd);
  CHECK_EQ_INT(r.status, 413);
  CHECK_EQ_STR(error_code(&r, code, sizeof code), "payload_too_large");
  CHECK_EQ_INT(get_int(&on_request_calls), before);
  free(r.body);

  /* A chunked body far over the limit is not read to its end: once the
   * drop allowance is used up the connection closes (no 413 possible). */
  do_post_stream(url, 32 * MAX_BODY, 1, noexp, &r, &rd);
  CHECK(r.rc != CURLE_OK || r.status == 413);
  CHECK(rd.sent < 32 * MAX_BODY);
  CHECK_EQ_INT(get_int(&on_request_calls), before);
  free(r.body);
  curl_slist_free_all(noexp);

  /* on_headers answers 401; the body is never sent. */
  snprintf(url, sizeof url, "%s/auth", url_a);
  do_post_stream(url, 100000, 0, h, &r, &rd);
  CHECK_EQ_INT(r.status, 401);
  CHECK_EQ_STR(error_code(&r, code, sizeof code), "unauthorized");
  CHECK_EQ_INT(rd.sent, 0);
  CHECK_EQ_INT(get_int(&on_request_calls), before);
  free(r.body);
  curl_slist_free_all(h);

  /* With the header, the same request goes through. */
  h = curl_slist_append(NULL, "Authorization: Bearer x");
  do_post(url, "{}", 2, h, &r);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "ok");
  CHECK_EQ_INT(get_int(&on_request_calls), before + 1);
  free(r.body);
  curl_slist_free_all(h);

  /* Oversized headers: an error answer or a close, and the server lives on. */
  char *hdr = malloc(40000);
  memcpy(hdr, "X-Big: ", 7);
  memset(hdr + 7, 'h', 40000 - 8);
  hdr[40000 - 1] = '\0';
  h = curl_slist_append(NULL, hdr);
  CURL *c = easy(url_a, NULL, &r);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  r.rc = curl_easy_perform(c);
  finish(c, &r);
  CHECK(r.rc != CURLE_OK || r.status >= 400);
  free(r.body);
  curl_slist_free_all(h);
  free(hdr);
  snprintf(url, sizeof url, "%s/still-alive", url_a);
  do_get(url, NULL, &r);
  CHECK_EQ_INT(r.status, 200);
  free(r.body);
}

static void test_deferred(void) {
  char url[256];
  resp_t r;
  snprintf(url, sizeof url, "%s/defer/one", url_a);
  do_get(url, NULL, &r);
  CHECK_EQ_INT(r.rc, CURLE_OK);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "/defer/one");
  free(r.body);

  /* Many at once, each gets its own answer. */
  enum { N = 40 };
  CURLM *m = curl_multi_init();
  CURL *e[N];
  resp_t rs[N];
  for (int i = 0; i < N; i++) {
    snprintf(url, sizeof url, "%s/defer/%d", url_a, i);
    e[i] = easy(url, NULL, &rs[i]);
    curl_multi_add_handle(m, e[i]);
  }
  int running = 1;
  while (running) {
    curl_multi_perform(m, &running);
    if (running) curl_multi_poll(m, NULL, 0, 1000, NULL);
  }
  for (int i = 0; i < N; i++) {
    char want[32];
    snprintf(want, sizeof want, "/defer/%d", i);
    curl_multi_remove_handle(m, e[i]);
    finish(e[i], &rs[i]);
    CHECK_EQ_INT(rs[i].status, 200);
    CHECK_EQ_STR(rs[i].body, want);
    free(rs[i].body);
  }
  curl_multi_cleanup(m);
}

static void test_disconnect_while_deferred(void) {
  int frees0 = get_int(&data_frees);
  int held0 = get_int(&held_total);
  int fd = connect_tcp(srv_port[SRV_A]);
  CHECK(fd >= 0);
  CHECK(send_all(fd, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
  CHECK(wait_for(&held_total, held0 + 1) == 0);
  close(fd); /* gone while the answer is owed */
  cmd(CMD_RELEASE);
  /* The request object is freed once MHD notices the peer is gone. */
  CHECK(wait_for(&data_frees, frees0 + 1) == 0);

  char url[256];
  resp_t r;
  snprintf(url, sizeof url, "%s/after-disconnect", url_a);
  do_get(url, NULL, &r);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "/after-disconnect");
  free(r.body);
}

static void test_unix(void) {
  struct stat st;
  resp_t r;
  CHECK(stat(unix_path, &st) == 0 && S_ISSOCK(st.st_mode));
  CHECK_EQ_INT(st.st_mode & 0777, 0660);
  do_get("http://localhost/over/unix%2Fsock?a=b", unix_path, &r);
  CHECK_EQ_INT(r.rc, CURLE_OK);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "/over/unix%2Fsock");
  free(r.body);
}

typedef struct {
  int fd;
  int step; /* under mu: 1 = half the headers sent, 2 = go on */
  char answer[512];
} slow_t;

static void *slow_client(void *arg) {
  slow_t *s = arg;
  const char *req = "GET /slow HTTP/1.1\r\nHost: t\r\nX-Pad: abcdefgh\r\n\r\n";
  size_t n = strlen(req);
  for (size_t i = 0; i < n; i++) {
    char b[2] = {req[i], 0};
    if (send_all(s->fd, b) != 0) break;
    if (i == n / 2) {
      pthread_mutex_lock(&mu);
      s->step = 1;
      pthread_cond_broadcast(&cv);
      pthread_mutex_unlock(&mu);
      wait_for(&s->step, 2);
    }
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  shutdown(s->fd, SHUT_WR);
  read_all(s->fd, s->answer, sizeof s->answer);
  return NULL;
}

static void test_slow_client(void) {
  slow_t s = {.fd = connect_tcp(srv_port[SRV_A])};
  pthread_t t;
  char url[256];
  resp_t r;
  CHECK(s.fd >= 0);
  pthread_create(&t, NULL, slow_client, &s);
  CHECK(wait_for(&s.step, 1) == 0);
  /* The loop serves others while the slow client is mid-headers. */
  for (int i = 0; i < 5; i++) {
    snprintf(url, sizeof url, "%s/fast/%d", url_a, i);
    do_get(url, NULL, &r);
    CHECK_EQ_INT(r.status, 200);
    free(r.body);
  }
  pthread_mutex_lock(&mu);
  s.step = 2;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(t, NULL);
  close(s.fd);
  CHECK(strncmp(s.answer, "HTTP/1.1 200", 12) == 0);
  CHECK(strstr(s.answer, "\r\n\r\n/slow") != NULL);
}

static void test_stop_listening(void) {
  char buf[1024];
  int held0 = get_int(&held_total);
  int fd = connect_tcp(srv_port[SRV_STOP]);
  CHECK(fd >= 0);
  CHECK(send_all(fd, "GET /hold HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n") == 0);
  CHECK(wait_for(&held_total, held0 + 1) == 0);
  cmd(CMD_PENDING_STOP);
  CHECK_EQ_INT(pending_seen, 1);
  cmd(CMD_STOP_LISTENING);
  int fd2 = connect_tcp(srv_port[SRV_STOP]);
  CHECK(fd2 < 0);
  if (fd2 >= 0) close(fd2);
  cmd(CMD_RELEASE);
  read_all(fd, buf, sizeof buf);
  CHECK(strncmp(buf, "HTTP/1.1 200", 12) == 0);
  CHECK(strstr(buf, "released") != NULL);
  close(fd);
  cmd(CMD_PENDING_STOP);
  CHECK_EQ_INT(pending_seen, 0);
}

static void test_close_while_held(void) {
  char buf[256];
  int held0 = get_int(&held_total), frees0 = get_int(&data_frees);
  int fd = connect_tcp(srv_port[SRV_CLOSE]);
  CHECK(fd >= 0);
  CHECK(send_all(fd, "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n") == 0);
  CHECK(wait_for(&held_total, held0 + 1) == 0);
  cmd(CMD_CLOSE_C);
  CHECK(wait_for(&done_calls, 1) == 0);
  CHECK_EQ_INT(read_all(fd, buf, sizeof buf), 0); /* closed, no answer */
  close(fd);
  CHECK_EQ_INT(get_int(&data_frees), frees0); /* still owed: kept alive */
  cmd(CMD_RELEASE);                           /* the late answer frees it */
  CHECK_EQ_INT(get_int(&data_frees), frees0 + 1);
}

static void *client_main(void *arg) {
  (void)arg;
  snprintf(url_a, sizeof url_a, "http://127.0.0.1:%u", srv_port[SRV_A]);
  test_query_and_path();
  test_echo();
  test_limits();
  test_deferred();
  test_disconnect_while_deferred();
  test_unix();
  test_slow_client();
  test_stop_listening();
  test_close_while_held();
  cmd(CMD_CLOSE_ALL);
  return NULL;
}

static int start(const char *listen, httpd **ret, char *err, size_t errlen) {
  httpd_config cfg = {.listen = listen,
                      .max_body = MAX_BODY,
                      .max_connections = 100,
                      .conn_timeout_s = 60,
                      .on_headers = on_headers,
                      .on_request = on_request};
  return httpd_start(loop, &cfg, ret, err, errlen);
}

int main(void) {
  char err[256], spec[160];
  httpd *x = NULL;
  pthread_t t;

  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  loop = uv_default_loop();
  /* IPv6 loopback, where the host has it (first: the loop runs dry). */
  if (start("[::1]:0", &x, err, sizeof err) == 0) {
    CHECK(httpd_port(x) != 0);
    httpd_close(x, close_done, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK_EQ_INT(done_calls, 1);
    done_calls = 0;
    x = NULL;
  }

  CHECK_EQ_INT(start("127.0.0.1:0", &srv[SRV_A], err, sizeof err), 0);
  srv_port[SRV_A] = httpd_port(srv[SRV_A]);
  CHECK(srv_port[SRV_A] != 0);

  snprintf(unix_path, sizeof unix_path, "/tmp/ferry-test-httpd-%d.sock", (int)getpid());
  CHECK_EQ_INT(start("127.0.0.1:0", &srv[SRV_STOP], err, sizeof err), 0);
  srv_port[SRV_STOP] = httpd_port(srv[SRV_STOP]);
  CHECK_EQ_INT(start("127.0.0.1:0", &srv[SRV_CLOSE], err, sizeof err), 0);
  srv_port[SRV_CLOSE] = httpd_port(srv[SRV_CLOSE]);

  /* A stale socket file is replaced; a regular file is refused. */
  int sfd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sun = {.sun_family = AF_UNIX};
  memcpy(sun.sun_path, unix_path, strlen(unix_path) + 1);
  unlink(unix_path);
  CHECK(bind(sfd, (struct sockaddr *)&sun, sizeof sun) == 0);
  close(sfd);
  snprintf(spec, sizeof spec, "unix:%s", unix_path);
  CHECK_EQ_INT(start(spec, &srv[SRV_UNIX], err, sizeof err), 0);
  CHECK_EQ_INT(httpd_port(srv[SRV_UNIX]), 0);

  char regular[128];
  snprintf(regular, sizeof regular, "unix:/tmp/ferry-test-httpd-%d.file", (int)getpid());
  FILE *f = fopen(regular + 5, "w");
  if (f) fclose(f);
  CHECK_EQ_INT(start(regular, &x, err, sizeof err), -EEXIST);
  CHECK(strstr(err, "not a socket") != NULL);
  unlink(regular + 5);

  /* Address in use, names, malformed specs. */
  snprintf(spec, sizeof spec, "127.0.0.1:%u", srv_port[SRV_A]);
  CHECK_EQ_INT(start(spec, &x, err, sizeof err), -EADDRINUSE);
  CHECK(strstr(err, spec) != NULL);
  CHECK(strstr(err, "Address already in use") != NULL);
  CHECK_EQ_INT(start("localhost:8080", &x, err, sizeof err), -EINVAL);
  CHECK(strstr(err, "not resolved") != NULL);
  CHECK_EQ_INT(start("127.0.0.1:65536", &x, err, sizeof err), -EINVAL);
  CHECK_EQ_INT(start("127.0.0.1", &x, err, sizeof err), -EINVAL);
  CHECK_EQ_INT(start("[::1:80", &x, err, sizeof err), -EINVAL);
  CHECK(x == NULL);

  uv_async_init(loop, &async, on_async);
  pthread_create(&t, NULL, client_main, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  pthread_join(t, NULL);

  CHECK_EQ_INT(done_calls, SRV_N);
  CHECK_EQ_INT(data_frees, data_allocs);
  CHECK(access(unix_path, F_OK) != 0); /* socket file removed on close */
  CHECK_EQ_INT(uv_loop_close(loop), 0);
  curl_global_cleanup();
  return check_finish("test_httpd");
}
