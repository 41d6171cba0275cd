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
 * object is detached from the server and the late httpd_respond frees it. */
#include "httpd.h"
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
 * arriving. We drop up to this much more (max_body, capped here) before we
 * give up on answering and close the connection. */
#define HTTPD_MAX_DISCARD       ((size_t)16 << 20)
/* Upper bound for one timer arm, so a huge MHD timeout cannot overflow. */
#define HTTPD_MAX_TIMER_MS      (3600u * 1000u)

typedef struct httpd_hdr {
  struct httpd_hdr *next;
  char *name;
  char *value;
} httpd_hdr;

struct httpd_req {
  httpd *h;                    /* NULL once httpd_close detached it */
  struct MHD_Connection *conn; /* NULL once MHD completed the request */
  httpd_req *prev, *next;      /* h->reqs: every request object alive */
  char *target;                /* request target as sent (copy) */
  char *path;                  /* target without query: points into target */
  char *method;
  char *body; /* NUL-terminated; len bytes used, cap allocated (+1) */
  size_t len, cap;
  size_t discarded; /* body bytes dropped after the answer was decided */
  httpd_hdr *hdrs;  /* response headers to add */
  void *data;
  void (*data_free)(void *data);
  struct MHD_Response *resp; /* answer waiting to be queued */
  unsigned status;
  bool started;         /* the access handler has seen it: counted in pending */
  bool owed;            /* on_request ran: exactly one answer is owed */
  bool answered;        /* httpd_respond ran */
  bool suspended;       /* MHD connection suspended, waiting for the answer */
  bool mhd_done;        /* MHD's completion callback ran */
  bool discard;         /* answer already decided (413...): swallow the body */
  bool in_handler;      /* inside the access handler: it queues r->resp itself */
  uint64_t t0_ns;       /* uv_hrtime when the headers were in (on_answer) */
  char id[129];         /* X-Request-ID: the client's (1-128 visible ASCII) or made here */
  char client[64];      /* client address, "" for a Unix socket */
  httpd_stream *stream; /* a streamed answer's state (owned by its MHD response) */
};

/* A streamed answer: owned by its MHD response (freed with it), linked to
 * its request while both live. */
struct httpd_stream {
  httpd_req *r; /* NULL once the request object is gone */
  httpd_stream_fn read;
  void (*done)(void *arg);
  void *arg;
};

struct httpd {
  uv_loop_t *loop;
  struct MHD_Daemon *d;
  uv_poll_t poll;
  uv_timer_t timer;
  httpd_config cfg;
  int listen_fd; /* -1 after quiesce, or owned by MHD while serving */
  unsigned port;
  char *unix_path; /* socket file we created, removed on stop */
  httpd_req *reqs;
  unsigned pending;
  bool kick; /* a "run soon" was asked for during MHD_run */
  bool in_run;
  bool closing;
  int open_handles;
  void (*done)(void *arg);
  void *done_arg;
  unsigned long mhd_errors;
  char mhd_last_error[160];
};

/* ---- small helpers -------------------------------------------------------- */

static char *httpd__strdup(const char *s) {
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
static void httpd__kick(httpd *h) {
  h->kick = true;
  if (h->d && !h->in_run) uv_timer_start(&h->timer, httpd__on_timer, 0, 0);
}

/* ---- request objects ------------------------------------------------------- */

static void httpd__req_free(httpd_req *r) {
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
  return h->cfg.max_body < HTTPD_MAX_DISCARD ? h->cfg.max_body : HTTPD_MAX_DISCARD;
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
      return httpd__queue(r);
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

/* ---- request accessors ------------------------------------------------------ */

const char *httpd_req_method(const httpd_req *r) { return r->method ? r->method : ""; }

const char *httpd_req_path(const httpd_req *r) { return r->path; }

const char *httpd_req_header(const httpd_req *r, const char *name) {
  if (!r->conn || !name) return NULL;
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *httpd_req_query(const httpd_req *r, const char *name) {
  if (!r->conn || !name) return NULL;
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct httpd__each {
  int (*fn)(void *arg, const char *k, const char *v);
  void *arg;
};

static enum MHD_Result httpd__each_cb(void *cls, enum MHD_ValueKind kind, const char *k, const char *v) {
  struct httpd__each *e = cls;
  (void)kind;
  return e->fn(e->arg, k, v ? v : "") ? MHD_NO : MHD_YES;
}

void httpd_req_query_each(const httpd_req *r, int (*fn)(void *arg, const char *k, const char *v), void *arg) {
  struct httpd__each e = {fn, arg};
  if (!r->conn || !fn) return;
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, httpd__each_cb, &e);
}

const char *httpd_req_body(const httpd_req *r, size_t *ret_len) {
  if (ret_len) *ret_len = r->len;
  return r->body ? r->body : "";
}

void httpd_req_set_data(httpd_req *r, void *data) { r->data = data; }

void *httpd_req_get_data(const httpd_req *r) { return r->data; }

void httpd_req_set_data_free(httpd_req *r, void (*data_free)(void *data)) { r->data_free = data_free; }

int httpd_req_connected(const httpd_req *r) { return r->h && r->conn && !r->mhd_done; }

void *httpd_req_tls_session(const httpd_req *r) {
  if (!r->conn || r->mhd_done) return NULL;
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  return ci ? ci->tls_session : NULL;
}

void httpd_req_add_header(httpd_req *r, const char *name, const char *value) {
  httpd_hdr *x = calloc(1, sizeof *x);
  if (!x) return;
  x->name = httpd__strdup(name);
  x->value = httpd__strdup(value);
  if (!x->name || !x->value) {
    free(x->name);
    free(x->value);
    free(x);
    return;
  }
  /* Keep insertion order: append. */
  httpd_hdr **pp = &r->hdrs;
  while (*pp) pp = &(*pp)->next;
  *pp = x;
}

/* ---- answers ---------------------------------------------------------------- */

void httpd_respond(httpd_req *r, unsigned status, const char *content_type, const char *body, size_t len) {
  if (!r || r->answered) return; /* a second answer is a handler bug: ignore it */
  r->answered = true;
  if (r->h && r->started && r->h->pending) r->h->pending--;
  if (r->h && r->started && r->h->cfg.on_answer)
    r->h->cfg.on_answer(r, status, (double)(uv_hrtime() - r->t0_ns) / 1e9, r->h->cfg.ud);
  if (!r->h || r->mhd_done) {
    /* The server was closed, or MHD already forgot the connection. */
    httpd__req_free(r);
    return;
  }
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, (void *)(body ? body : ""), MHD_RESPMEM_MUST_COPY);
  if (resp) {
    for (httpd_hdr *x = r->hdrs; x; x = x->next) MHD_add_response_header(resp, x->name, x->value);
    if (r->id[0]) MHD_add_response_header(resp, "X-Request-ID", r->id);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            content_type && *content_type ? content_type : "application/octet-stream");
  }
  r->resp = resp; /* NULL: the access handler closes the connection */
  r->status = status;
  if (r->suspended) {
    r->suspended = false;
    MHD_resume_connection(r->conn);
    httpd__kick(r->h);
  }
  /* Otherwise the access handler is on the stack (or will be called again
   * for this request) and queues r->resp itself. */
}

static ssize_t httpd__stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  httpd_stream *st = cls;
  httpd_req *r = st->r;
  (void)pos;
  if (!r || !r->conn || !r->h || r->h->closing) return MHD_CONTENT_READER_END_WITH_ERROR;
  ssize_t n = st->read(st->arg, buf, max);
  if (n > 0) return n;
  if (n == HTTPD_STREAM_END) return MHD_CONTENT_READER_END_OF_STREAM;
  if (n != 0) return MHD_CONTENT_READER_END_WITH_ERROR;
  /* nothing yet: sleep until httpd_stream_wake (MHD would call again at once) */
  MHD_suspend_connection(r->conn);
  r->suspended = true;
  return 0;
}

static void httpd__stream_free(void *cls) {
  httpd_stream *st = cls;
  if (st->r) st->r->stream = NULL;
  if (st->done) st->done(st->arg);
  free(st);
}

httpd_stream *httpd_respond_stream(httpd_req *r, unsigned status, const char *content_type,
                                   httpd_stream_fn read, void (*done)(void *arg), void *arg) {
  httpd_stream *st = calloc(1, sizeof(*st));
  if (!r || r->answered || !st || !r->h || r->mhd_done) {
    free(st);
    if (r && !r->answered) httpd_respond_error(r, 503, "unavailable", "out of memory");
    return NULL;
  }
  *st = (httpd_stream){.r = r, .read = read, .done = done, .arg = arg};
  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024,
                                                                httpd__stream_read, st, httpd__stream_free);
  if (!resp) {
    free(st);
    httpd_respond_error(r, 503, "unavailable", "out of memory");
    return NULL;
  }
  r->answered = true;
  if (r->started && r->h->pending) r->h->pending--;
  if (r->started && r->h->cfg.on_answer)
    r->h->cfg.on_answer(r, status, (double)(uv_hrtime() - r->t0_ns) / 1e9, r->h->cfg.ud);
  for (httpd_hdr *x = r->hdrs; x; x = x->next) MHD_add_response_header(resp, x->name, x->value);
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          content_type && *content_type ? content_type : "application/octet-stream");
  r->stream = st;
  r->resp = resp;
  r->status = status;
  if (r->suspended) {
    r->suspended = false;
    MHD_resume_connection(r->conn);
    httpd__kick(r->h);
  }
  return st;
}

void httpd_stream_wake(httpd_stream *st) {
  httpd_req *r = st ? st->r : NULL;
  if (!r || !r->suspended || !r->conn || !r->h) return;
  r->suspended = false;
  MHD_resume_connection(r->conn);
  httpd__kick(r->h);
}

void httpd_respond_json(httpd_req *r, unsigned status, cJSON *json) {
  char *s = json ? cJSON_PrintUnformatted(json) : NULL;
  cJSON_Delete(json);
  if (!s) {
    static const char oom[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory building the answer\"}}";
    httpd_req_add_header(r, "Cache-Control", "no-store");
    httpd_respond(r, 500, "application/json", oom, sizeof oom - 1);
    return;
  }
  httpd_req_add_header(r, "Cache-Control", "no-store");
  httpd_respond(r, status, "application/json", s, strlen(s));
  free(s);
}

cJSON *httpd_error_json(const char *code, const char *message) {
  cJSON *root = cJSON_CreateObject();
  cJSON *e = cJSON_AddObjectToObject(root, "error");
  if (!e || !cJSON_AddStringToObject(e, "code", code ? code : "error") ||
      !cJSON_AddStringToObject(e, "message", message ? message : "")) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

void httpd_respond_error(httpd_req *r, unsigned status, const char *code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  httpd_respond_json(r, status, httpd_error_json(code, msg));
}
