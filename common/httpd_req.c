/* httpd_req: what a handler does with a request — read its method, path,
 * headers, query and body, keep its own data on it, and answer it (JSON and
 * the {"error":{"code","message"}} shape included). Split from httpd.c, which
 * keeps driving libmicrohttpd from the loop; both work on the structs in
 * httpd_int.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "httpd.h"
#include "httpd_int.h"

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
