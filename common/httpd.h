/* httpd: an HTTP/1.1 server built on libmicrohttpd and driven from a libuv
 * loop: MHD runs in "external select" mode with epoll; its epoll fd is watched
 * with a uv_poll and its timeout with a uv_timer, so every callback runs on the
 * loop thread and nothing here blocks.
 *
 * A request reaches the program twice: on_headers once the headers are in
 * (authenticate there, before any body is read), and on_request once the
 * whole body is in. A handler answers with exactly one httpd_respond*() call,
 * either inside on_request or later from the loop thread (the connection is
 * suspended meanwhile) — that is how the agent answers 202 only after its
 * journal commit is durable. Bodies over max_body get 413 without reaching
 * on_request. */
#ifndef FERRY_HTTPD_H
#define FERRY_HTTPD_H

#include <stddef.h>
#include <sys/types.h>
#include <uv.h>
#include <cjson/cJSON.h>

typedef struct httpd httpd;
typedef struct httpd_req httpd_req;

/* What a handler decided once the headers are in. An answer is never an int
 * shared with error codes: see docs/design.md, "Errors and answers". */
typedef enum {
  HTTPD_READ_BODY = 0, /* go on: read the body, then on_request */
  HTTPD_ANSWERED = 1,  /* answered with httpd_respond*(): skip the body */
} httpd_verdict;

typedef struct httpd_config {
  /* "A.B.C.D:PORT", "[IPv6]:PORT" (port 0 = ephemeral, see httpd_port) or
   * "unix:/path" (a stale socket file there is replaced, any other file is
   * refused; mode 0660; removed again on stop). Host names are refused:
   * nothing is resolved. */
  const char *listen;
  /* bytes; 0 = 1 MiB. A Content-Length over it → 413 before any body is
   * read. A chunked body over it → 413 once the rest has been read and
   * dropped (MHD 0.9.75 cannot answer mid-upload); a body that goes on for
   * more than another max_body (at most 16 MiB) gets its connection closed. */
  size_t max_body;
  unsigned max_connections; /* 0 = 256 */
  /* connections from one IP address at once; 0 = half of max_connections,
   * so one misbehaving host (idle or slowloris connections) cannot take
   * every slot and the health endpoints stay reachable from elsewhere */
  unsigned max_per_ip;
  unsigned conn_timeout_s; /* idle connection timeout; 0 = 30 */
  /* HTTPS (GnuTLS) when tls_cert_cb is set: a gnutls_certificate_retrieve_function3 *
   * asked for the certificate at every handshake (so it may change while
   * serving). tls_client_ca_pem (PEM text, kept by the caller while serving)
   * makes the server ask clients for a certificate; the handler checks it
   * (httpd_req_tls_session). */
  void *tls_cert_cb;
  const char *tls_client_ca_pem;
  /* Headers are in (a Content-Length over max_body was already answered 413
   * without calling this). Return HTTPD_READ_BODY to go on reading the body;
   * or answer with httpd_respond*() and return HTTPD_ANSWERED to skip the
   * body (HTTPD_ANSWERED without an answer gets a 500). May be NULL. */
  httpd_verdict (*on_headers)(httpd_req *req, void *ud);
  /* The body is in (or there is none). Must lead to exactly one httpd_respond*. */
  void (*on_request)(httpd_req *req, void *ud);
  /* Optional: called once per answered request, as the answer is queued,
   * with the seconds since its headers arrived (for latency metrics). */
  void (*on_answer)(const httpd_req *req, unsigned status, double seconds, void *ud);
  void *ud;
} httpd_config;

/* Bind and start serving on loop. Returns 0, or a negative errno with a
 * message in err (e.g. "listen 127.0.0.1:8787: Address already in use"). */
int httpd_start(uv_loop_t *loop, const httpd_config *cfg, httpd **ret, char *err, size_t errlen);
/* The bound TCP port (useful with port 0), or 0 for a Unix socket. */
unsigned httpd_port(const httpd *h);
/* How many messages libmicrohttpd logged (they are counted, not printed);
 * *ret_last (may be NULL) gets the latest one or NULL. */
unsigned long httpd_mhd_errors(const httpd *h, const char **ret_last);
/* Stop accepting new connections (the listen socket is closed, a Unix
 * socket file removed); requests in progress go on. */
void httpd_stop_listening(httpd *h);
/* Number of requests received (headers in) but not yet answered; a request
 * whose client leaves before on_request stops counting then. */
unsigned httpd_pending(const httpd *h);
/* Stop everything and free; requests not yet answered get nothing (their
 * connections are closed). Closes the uv handles; done(arg) runs once they
 * are closed. A request the handler still owes an answer stays valid: the
 * handler must still call httpd_respond*() on it (which then only frees it),
 * so a late commit callback never touches freed memory. Not to be called
 * from inside on_headers/on_request (MHD would be stopped mid-callback). */
void httpd_close(httpd *h, void (*done)(void *arg), void *arg);

const char *httpd_req_method(const httpd_req *r);
/* Path as sent (not percent-decoded), without the query string; for an
 * absolute-form target ("http://host/p?q") just "/p". */
const char *httpd_req_path(const httpd_req *r);
/* The request's id: its X-Request-ID when that is 1-128 visible ASCII,
 * else one made here (16 hex digits); every answer carries it back in
 * X-Request-ID. NULL before the headers are in. */
const char *httpd_req_id(const httpd_req *r);
/* The client's IP address as text ("" for a Unix socket). */
const char *httpd_req_client(const httpd_req *r);
/* Header value (case-insensitive name) or NULL. */
const char *httpd_req_header(const httpd_req *r, const char *name);
/* Query argument, percent-decoded by MHD, or NULL; "k" without '=' gives "".
 * NOTE: MHD turns a literal '+' into ' ' (form encoding) and "%2B" into '+';
 * callers that want '+' (RFC 3339 offsets) must map ' ' back themselves. */
const char *httpd_req_query(const httpd_req *r, const char *name);
/* Calls fn for every query argument; stops when fn returns nonzero. */
void httpd_req_query_each(const httpd_req *r, int (*fn)(void *arg, const char *k, const char *v), void *arg);
/* The body received so far (complete in on_request), NUL-terminated (the
 * NUL is not counted; the body itself may hold NULs); never NULL. */
const char *httpd_req_body(const httpd_req *r, size_t *ret_len);
/* One pointer of handler state per request. It is the handler's: httpd
 * never looks at it. If a free function is set, httpd calls it once when the
 * request object is freed — after the answer is sent, after the client went
 * away, or when the late answer to a request of a closed server is given —
 * including for requests that never reached on_request (a 413 after
 * on_headers, a client that left mid-body). Without one, the handler must
 * free the data itself, and cannot count on on_request being reached. */
void httpd_req_set_data(httpd_req *r, void *data);
void *httpd_req_get_data(const httpd_req *r);
void httpd_req_set_data_free(httpd_req *r, void (*data_free)(void *data));
/* 1 while the request's connection is still with the server (a deferred
 * handler may skip work for a client that is gone; answering is still
 * required, and safe). Note a suspended connection's disconnect is only
 * noticed when it is resumed, so this is a hint. */
int httpd_req_connected(const httpd_req *r);

/* The gnutls_session_t of the request's connection, or NULL (plain HTTP,
 * or the client is gone). */
void *httpd_req_tls_session(const httpd_req *r);

/* Add a response header (before the respond call). */
void httpd_req_add_header(httpd_req *r, const char *name, const char *value);
/* Answer. body is copied. Safe to call from on_headers, on_request, or later
 * from the loop thread (also after the client left, or after httpd_close).
 * After this the request object must not be touched. content_type NULL →
 * application/octet-stream. For HEAD, MHD sends the headers (with the
 * Content-Length of body) and no body: handlers may treat HEAD as GET.
 * Errors MHD answers by itself (malformed request line or headers, headers
 * over 32 KiB) carry MHD's own small HTML body, not the JSON error. */
void httpd_respond(httpd_req *r, unsigned status, const char *content_type, const char *body, size_t len);
/* A streamed answer (chunked): read(arg, buf, max) is called on the loop
 * thread for the next bytes and returns how many it put in buf (> 0), 0 when
 * it has none yet (the connection then sleeps until httpd_stream_wake),
 * HTTPD_STREAM_END at the end, or HTTPD_STREAM_ERROR to cut the connection.
 * done(arg) is called exactly once when the answer is finished or the client
 * left (also when this returns NULL after answering 503 itself); after it the
 * handle must not be used. Headers added before are sent. */
typedef struct httpd_stream httpd_stream;
typedef ssize_t (*httpd_stream_fn)(void *arg, char *buf, size_t max);
#define HTTPD_STREAM_END   (-1)
#define HTTPD_STREAM_ERROR (-2)
httpd_stream *httpd_respond_stream(httpd_req *r, unsigned status, const char *content_type,
                                   httpd_stream_fn read, void (*done)(void *arg), void *arg);
/* Loop thread: more bytes (or the end) are ready for a sleeping stream. */
void httpd_stream_wake(httpd_stream *st);
/* Answer with JSON (Cache-Control: no-store); takes ownership of json. */
void httpd_respond_json(httpd_req *r, unsigned status, cJSON *json);
/* Answer {"error":{"code":code,"message":...}}. */
void httpd_respond_error(httpd_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Build the SPEC's JSON error object (caller owns it), to extend (e.g. "errors"). */
cJSON *httpd_error_json(const char *code, const char *message);

#endif
