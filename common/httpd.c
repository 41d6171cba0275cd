/* httpd.c: the one HTTP server both ferry daemons use. It exists so that the
 * agent's ingest API and the collector's API share one careful answer to the
 * hard parts — binding without DNS, body limits, answering after an async
 * commit, clients that vanish meanwhile — and so that libmicrohttpd runs on
 * the libuv loop thread instead of its own threads.
 *
 * How MHD is driven: external-select mode with epoll. MHD's epoll fd is
 * watched by a uv_poll; after every MHD_run a uv_timer is re-armed from
 * MHD_get_timeout (0.9.75 has no MHD_get_timeout64). "Run soon" (after a
 * deferred answer resumes a connection) is the same timer started at 0 ms.
 *
 * The raw path: MHD percent-decodes the URL before the access handler sees
 * it, but MHD_OPTION_URI_LOG_CALLBACK is called with the request target
 * exactly as sent, before MHD parses the query or unescapes anything. We
 * create the request object there (its return value becomes the handler's
 * *req_cls) and keep a copy of the target; the query arguments are left to
 * MHD's default unescaper, which decodes %HH and turns '+' into ' '. Because
 * the URI log callback makes MHD "client aware" of the connection, the
 * completion callback runs for every request object we create, even ones
 * that never reach the access handler (malformed headers), so none leaks.
 *
 * Request lifetime: a request is freed when both (a) MHD is done with it
 * (completion callback) and (b) nobody owes it an answer any more (on_request
 * was never called, or httpd_respond has run). A deferred request whose
 * client disconnects stays suspended in MHD (MHD polls no suspended socket),
 * so MHD only notices after the answer resumes it; after httpd_close the
 * object is detached from the server and the late httpd_respond frees it.
 *
 * What handlers call on a request — its accessors and httpd_respond* — lives
 * in httpd_req.c; the structs both files use are in httpd_int.h. */
#include "httpd.h"
#include "httpd_int.h"
#include "httpd_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#define HTTPD_DEFAULT_MAX_BODY  ((size_t)1 << 20)
#define HTTPD_DEFAULT_MAX_CONN  256u
#define HTTPD_DEFAULT_TIMEOUT_S 30u
/* Per-connection MHD memory pool: bounds request line + headers (and the
 * read buffer). Larger headers get MHD's own 431/414 answer, then close. */
#define HTTPD_CONN_MEMORY       (32u * 1024u)
/* A body over the limit can only be answered (413) once it has all been
 * read: MHD 0.9.75 queues no response while a chunked upload is still
 * arriving, and an answer queued before a body the client is still pushing
 * is followed by a close that can reset the connection under the answer.
 * We read and drop up to max_body plus this much more (max_body, capped
 * here) before we give up on answering and close the connection. */
#define HTTPD_MAX_DISCARD       ((size_t)16 << 20)
/* Upper bound for one timer arm, so a huge MHD timeout cannot overflow. */
#define HTTPD_MAX_TIMER_MS      (3600u * 1000u)

/* ---- small helpers -------------------------------------------------------- */

char *httpd__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}


__attribute__((format(printf, 2, 0))) static void httpd__mhd_log(void *cls, const char *fmt, va_list ap) {
  httpd *h = cls;
  h->mhd_errors++;
  vsnprintf(h->mhd_last_error, sizeof h->mhd_last_error, fmt, ap);
  size_t n = strlen(h->mhd_last_error);
  while (n && (h->mhd_last_error[n - 1] == '\n' || h->mhd_last_error[n - 1] == '\r'))
    h->mhd_last_error[--n] = '\0';
}

/* ---- driving MHD from the loop --------------------------------------------- */

static void httpd__on_timer(uv_timer_t *t);

static void httpd__arm(httpd *h) {
  MHD_UNSIGNED_LONG_LONG ms = 0;
  if (!h->d) return;
  if (h->kick) {
    ms = 0;
  } else if (MHD_get_timeout(h->d, &ms) != MHD_YES) {
    uv_timer_stop(&h->timer);
    return;
  }
  if (ms > HTTPD_MAX_TIMER_MS) ms = HTTPD_MAX_TIMER_MS;
  uv_timer_start(&h->timer, httpd__on_timer, (uint64_t)ms, 0);
}

static void httpd__run(httpd *h) {
  if (!h->d || h->in_run) return;
  h->kick = false;
  h->in_run = true;
  MHD_run(h->d);
  h->in_run = false;
  httpd__arm(h);
}

static void httpd__on_timer(uv_timer_t *t) { httpd__run(t->data); }

static void httpd__on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  httpd__run(p->data);
}

/* Make MHD_run happen on the next loop iteration (not from inside it). */
void httpd__kick(httpd *h) {
  h->kick = true;
  if (h->d && !h->in_run) uv_timer_start(&h->timer, httpd__on_timer, 0, 0);
}

/* ---- request objects ------------------------------------------------------- */

void httpd__req_free(httpd_req *r) {
  if (r->h) {
    if (r->prev) r->prev->next = r->next;
    else r->h->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
  }
  if (r->data_free && r->data) r->data_free(r->data);
  if (r->stream) r->stream->r = NULL;
  if (r->resp) MHD_destroy_response(r->resp);
  for (httpd_hdr *x = r->hdrs, *nx; x; x = nx) {
    nx = x->next;
    free(x->name);
    free(x->value);
    free(x);
  }
  free(r->body);
  free(r->method);
  free(r->target);
  free(r);
}

/* The path part of a request target: origin-form "/p?q" gives "/p";
 * absolute-form "http://host/p?q" gives "/p" too. */
static char *httpd__target_path(char *target) {
  char *p = target;
  if (strncasecmp(p, "http://", 7) == 0 || strncasecmp(p, "https://", 8) == 0) {
    char *slash = strchr(strstr(p, "//") + 2, '/');
    if (!slash) {
      /* "http://host?x" has an empty path: use "/" (target gets rewritten). */
      char *q = strchr(p, '?');
      if (q) *q = '\0';
      memcpy(p, "/", 2); /* target is at least 8 bytes long: fits */
      return p;
    }
    p = slash;
  }
  p[strcspn(p, "?#")] = '\0';
  return p;
}

/* Whether v is 1-128 visible ASCII characters (a usable X-Request-ID). */
static bool httpd__id_ok(const char *v) {
  size_t n = 0;
  if (!v) return false;
  for (; v[n]; n++)
    if ((unsigned char)v[n] < 0x21 || (unsigned char)v[n] > 0x7e || n >= 128) return false;
  return n >= 1;
}

/* The request's id (the client's X-Request-ID, or 16 random hex digits) and
 * the client's address, for log lines and the X-Request-ID answer header. */
static void httpd__req_identify(httpd_req *r, struct MHD_Connection *conn) {
  const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-ID");
  if (httpd__id_ok(v)) {
    snprintf(r->id, sizeof r->id, "%s", v);
  } else {
    static uint64_t counter;
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, GRND_NONBLOCK) != (ssize_t)sizeof x) x = uv_hrtime() ^ ++counter;
    snprintf(r->id, sizeof r->id, "%016llx", (unsigned long long)x);
  }
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  r->client[0] = '\0';
  if (ci && ci->client_addr) {
    const struct sockaddr *sa = ci->client_addr;
    char host[INET6_ADDRSTRLEN] = "";
    if (sa->sa_family == AF_INET) {
      inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, host, sizeof host);
      snprintf(r->client, sizeof r->client, "%s", host);
    } else if (sa->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, host, sizeof host);
      snprintf(r->client, sizeof r->client, "%s", host);
    }
  }
}

const char *httpd_req_id(const httpd_req *r) { return r->id[0] ? r->id : NULL; }
const char *httpd_req_client(const httpd_req *r) { return r->client; }

/* MHD_OPTION_URI_LOG_CALLBACK: the first thing MHD tells us about a request,
 * with the target still raw. The return value becomes *req_cls. */
static void *httpd__uri_log(void *cls, const char *uri, struct MHD_Connection *conn) {
  httpd *h = cls;
  (void)conn;
  httpd_req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->target = httpd__strdup(uri ? uri : "/");
  if (!r->target) {
    free(r);
    return NULL;
  }
  r->path = httpd__target_path(r->target);
  r->h = h;
  r->next = h->reqs;
  if (h->reqs) h->reqs->prev = r;
  h->reqs = r;
  return r;
}

static void httpd__completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                             enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)conn;
  (void)toe;
  httpd_req *r = req_cls ? *req_cls : NULL;
  if (!r) return;
  *req_cls = NULL;
  r->mhd_done = true;
  r->conn = NULL;
  r->suspended = false;
  if (r->resp) {
    MHD_destroy_response(r->resp);
    r->resp = NULL;
  }
  if (r->owed && !r->answered) return; /* the handler still holds r; httpd_respond frees it */
  if (r->started && !r->answered && r->h && r->h->pending) r->h->pending--;
  httpd__req_free(r);
}

/* Hand r->resp to MHD (from inside the access handler). */
static enum MHD_Result httpd__queue(httpd_req *r) {
  enum MHD_Result ret = MHD_queue_response(r->conn, r->status, r->resp);
  MHD_destroy_response(r->resp);
  r->resp = NULL;
  return ret;
}

/* A 413 decided by httpd itself. */
static void httpd__too_large(httpd_req *r) {
  r->discard = true;
  httpd_respond_error(r, 413, "payload_too_large", "the request body exceeds the limit of %zu bytes",
                      r->h->cfg.max_body);
}

static size_t httpd__discard_limit(const httpd *h) {
  return h->cfg.max_body + (h->cfg.max_body < HTTPD_MAX_DISCARD ? h->cfg.max_body : HTTPD_MAX_DISCARD);
}

/* Whether the client waits for "100 Continue" before it sends the body. */
static bool httpd__expects_continue(struct MHD_Connection *conn) {
  const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
  return v && strcasecmp(v, "100-continue") == 0;
}

/* Parse a Content-Length value strictly (digits only); 0 if absent or odd
 * (MHD rejects malformed ones itself). */
static bool httpd__content_length(const char *v, unsigned long long *ret) {
  unsigned long long n = 0;
  if (!v || !*v) return false;
  for (; *v; v++) {
    if (*v < '0' || *v > '9') return false;
    if (n > (ULLONG_MAX - 9) / 10) n = ULLONG_MAX; /* saturate: certainly over the limit */
    else n = n * 10 + (unsigned)(*v - '0');
  }
  *ret = n;
  return true;
}

/* Append an upload chunk, growing geometrically but never past max_body.
 * Returns 0, 1 when the limit would be exceeded, -1 on allocation failure. */
static int httpd__append(httpd_req *r, const char *data, size_t n) {
  size_t max = r->h->cfg.max_body;
  if (n > max - r->len) return 1;
  if (r->len + n > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + n) cap = cap > max / 2 ? max : cap * 2;
    if (cap > max) cap = max;
    char *b = realloc(r->body, cap + 1);
    if (!b) return -1;
    r->body = b;
    r->cap = cap;
  }
  memcpy(r->body + r->len, data, n);
  r->len += n;
  r->body[r->len] = '\0';
  return 0;
}

static enum MHD_Result httpd__access(void *cls, struct MHD_Connection *conn, const char *url,
                                     const char *method, const char *version, const char *upload_data,
                                     size_t *upload_size, void **req_cls) {
  httpd *h = cls;
  httpd_req *r = *req_cls;
  (void)url;
  (void)version;
  if (!r) return MHD_NO; /* out of memory in the URI callback: drop the connection */

  if (!r->started) {
    r->started = true;
    r->t0_ns = uv_hrtime();
    r->conn = conn;
    h->pending++;
    r->method = httpd__strdup(method ? method : "");
    if (!r->method) return MHD_NO;
    httpd__req_identify(r, conn);
    unsigned long long cl;
    if (httpd__content_length(
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH), &cl) &&
        cl > h->cfg.max_body) {
      httpd__too_large(r);
      /* A client that waits for 100 Continue gets the 413 instead and sends
       * nothing; one that pushes the body anyway is answered once the body
       * is read and dropped (if it is not absurdly long), so the close that
       * follows cannot reset the connection before it reads the 413. */
      if (httpd__expects_continue(conn) || cl > httpd__discard_limit(h)) return httpd__queue(r);
      return MHD_YES;
    }
    if (h->cfg.on_headers) {
      r->in_handler = true;
      bool skip = h->cfg.on_headers(r, h->cfg.ud) == HTTPD_ANSWERED;
      r->in_handler = false;
      if (!r->resp && r->answered) return MHD_NO; /* answered but the response could not be built */
      if (r->resp) {
        r->discard = true;
        return httpd__queue(r);
      }
      if (skip) {
        httpd_respond_error(r, 500, "internal", "the request was refused without an answer");
        return httpd__queue(r);
      }
    }
    return MHD_YES;
  }

  if (*upload_size) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (r->discard) {
      /* Read and drop the rest so the client can read the answer; a body
       * that goes on much longer loses the answer: the connection closes. */
      r->discarded += n;
      return r->discarded > httpd__discard_limit(h) ? MHD_NO : MHD_YES;
    }
    int rc = httpd__append(r, upload_data, n);
    if (rc > 0) {
      httpd__too_large(r);
      r->discarded = n;
      /* MHD 0.9.75 queues no answer while a body is still arriving: the
       * answer waits in r->resp while the rest is read and dropped (see
       * HTTPD_MAX_DISCARD). Should a later MHD accept it now, even better. */
      if (MHD_queue_response(conn, r->status, r->resp) == MHD_YES) {
        MHD_destroy_response(r->resp);
        r->resp = NULL;
      }
      return MHD_YES;
    }
    if (rc < 0) {
      r->discard = true;
      httpd_respond_error(r, 503, "unavailable", "out of memory while reading the request body");
    }
    return MHD_YES;
  }

  /* The upload is complete (or this is a call after a resume). */
  if (r->resp) return httpd__queue(r);
  if (r->answered) return MHD_NO; /* answered, but building the response failed */
  if (r->owed) {
    /* Woken without an answer (cannot normally happen): wait again. */
    MHD_suspend_connection(conn);
    r->suspended = true;
    return MHD_YES;
  }
  r->owed = true;
  r->in_handler = true;
  h->cfg.on_request(r, h->cfg.ud);
  r->in_handler = false;
  if (r->resp) return httpd__queue(r);
  if (r->answered) return MHD_NO;
  MHD_suspend_connection(conn);
  r->suspended = true;
  return MHD_YES;
}

/* ---- lifecycle ------------------------------------------------------------------ */

int httpd_start(uv_loop_t *loop, const httpd_config *cfg, httpd **ret, char *err, size_t errlen) {
  httpd *h;
  int fd, rc;

  if (!loop || !cfg || !ret || !cfg->listen || !cfg->on_request) {
    httpd__seterr(err, errlen, "httpd: listen address and on_request are required");
    return -EINVAL;
  }
  h = calloc(1, sizeof *h);
  if (!h) {
    httpd__seterr(err, errlen, "httpd: out of memory");
    return -ENOMEM;
  }
  h->loop = loop;
  h->cfg = *cfg;
  h->cfg.listen = NULL; /* not kept: the caller owns the string */
  if (!h->cfg.max_body) h->cfg.max_body = HTTPD_DEFAULT_MAX_BODY;
  if (!h->cfg.max_connections) h->cfg.max_connections = HTTPD_DEFAULT_MAX_CONN;
  if (!h->cfg.max_per_ip) h->cfg.max_per_ip = h->cfg.max_connections > 1 ? h->cfg.max_connections / 2 : 1;
  if (!h->cfg.conn_timeout_s) h->cfg.conn_timeout_s = HTTPD_DEFAULT_TIMEOUT_S;

  if (strncmp(cfg->listen, "unix:", 5) == 0)
    fd = httpd__listen_unix(cfg->listen, cfg->listen + 5, &h->unix_path, err, errlen);
  else fd = httpd__listen_inet(cfg->listen, &h->port, err, errlen);
  if (fd < 0) {
    free(h);
    return fd;
  }
  h->listen_fd = fd;

  /* HTTPS options, when asked for; an empty array otherwise. */
  struct MHD_OptionItem tls_ops[3] = {
      {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}, {MHD_OPTION_END, 0, NULL}};
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (cfg->tls_cert_cb) {
    flags |= MHD_USE_TLS;
    tls_ops[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_CERT_CALLBACK2, 0, cfg->tls_cert_cb};
    if (cfg->tls_client_ca_pem)
      tls_ops[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, (void *)cfg->tls_client_ca_pem};
  }
  h->d = MHD_start_daemon(
      flags, 0, NULL, NULL, httpd__access, h, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)h->cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      (unsigned int)h->cfg.max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)h->cfg.conn_timeout_s,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTPD_CONN_MEMORY, MHD_OPTION_URI_LOG_CALLBACK,
      httpd__uri_log, h, MHD_OPTION_NOTIFY_COMPLETED, httpd__completed, h, MHD_OPTION_EXTERNAL_LOGGER,
      httpd__mhd_log, h, MHD_OPTION_ARRAY, tls_ops, MHD_OPTION_END);
  if (!h->d) {
    httpd__seterr(err, errlen, "listen %s: libmicrohttpd refused to start%s%s", cfg->listen,
                  h->mhd_errors ? ": " : "", h->mhd_errors ? h->mhd_last_error : "");
    rc = -EIO;
    goto fail_fd;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
  if (!info || info->epoll_fd < 0) {
    httpd__seterr(err, errlen, "listen %s: libmicrohttpd has no epoll fd", cfg->listen);
    rc = -EIO;
    goto fail_mhd;
  }
  rc = uv_poll_init(loop, &h->poll, info->epoll_fd);
  if (rc < 0) {
    httpd__seterr(err, errlen, "listen %s: uv_poll_init: %s", cfg->listen, uv_strerror(rc));
    goto fail_mhd;
  }
  /* uv_timer_init cannot fail on an initialised loop. */
  uv_timer_init(loop, &h->timer);
  h->poll.data = h;
  h->timer.data = h;
  h->open_handles = 2;
  uv_poll_start(&h->poll, UV_READABLE, httpd__on_poll);
  httpd__arm(h);
  *ret = h;
  return 0;

fail_mhd:
  MHD_stop_daemon(h->d); /* closes the listen socket it was given */
  fd = -1;
fail_fd:
  if (fd >= 0) close(fd);
  if (h->unix_path) {
    unlink(h->unix_path);
    free(h->unix_path);
  }
  free(h);
  return rc;
}

unsigned httpd_port(const httpd *h) { return h ? h->port : 0; }

unsigned httpd_pending(const httpd *h) { return h ? h->pending : 0; }

unsigned long httpd_mhd_errors(const httpd *h, const char **ret_last) {
  if (ret_last) *ret_last = h && h->mhd_errors ? h->mhd_last_error : NULL;
  return h ? h->mhd_errors : 0;
}

void httpd_stop_listening(httpd *h) {
  if (!h || !h->d) return;
  MHD_socket fd = MHD_quiesce_daemon(h->d);
  if (fd != MHD_INVALID_SOCKET) close(fd);
  h->listen_fd = -1;
  if (h->unix_path) {
    unlink(h->unix_path);
    free(h->unix_path);
    h->unix_path = NULL;
  }
  httpd__kick(h);
}

static void httpd__closed(uv_handle_t *hd) {
  httpd *h = hd->data;
  if (--h->open_handles > 0) return;
  void (*done)(void *) = h->done;
  void *arg = h->done_arg;
  free(h);
  if (done) done(arg);
}

void httpd_close(httpd *h, void (*done)(void *arg), void *arg) {
  if (!h || h->closing) return;
  h->closing = true;
  h->done = done;
  h->done_arg = arg;
  /* Stop watching MHD's epoll fd before MHD closes it. */
  uv_close((uv_handle_t *)&h->poll, httpd__closed);
  uv_close((uv_handle_t *)&h->timer, httpd__closed);
  /* MHD_stop_daemon panics on suspended connections: resume them (with no
   * answer); MHD then closes them and runs the completion callback. */
  for (httpd_req *r = h->reqs; r; r = r->next)
    if (r->suspended) {
      r->suspended = false;
      MHD_resume_connection(r->conn);
    }
  struct MHD_Daemon *d = h->d;
  h->d = NULL;
  MHD_stop_daemon(d); /* closes the listen socket unless quiesced */
  /* What is left is owed an answer by the handler: detach it, so the late
   * httpd_respond only frees it. */
  for (httpd_req *r = h->reqs, *nx; r; r = nx) {
    nx = r->next;
    r->h = NULL;
    r->prev = r->next = NULL;
  }
  h->reqs = NULL;
  h->pending = 0;
  if (h->unix_path) {
    unlink(h->unix_path);
    free(h->unix_path);
    h->unix_path = NULL;
  }
}
