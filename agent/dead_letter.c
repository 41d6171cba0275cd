/* dead_letter: the local API over the journal's dead-letter operations and
 * the command-line client that calls it. See dead_letter.h. */
#include "dead_letter.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ingest.h"
#include "version.h"

struct dl_api {
  dl_api_config cfg;
  unsigned inflight;
  bool stopping, drained_sent;
};

typedef struct dl_req {
  journal_dl op;
  dl_api *api;
  httpd_req *req;
} dl_req;

int dl_api_new(const dl_api_config *cfg, dl_api **ret) {
  dl_api *d = calloc(1, sizeof(*d));
  if (!d) return -ENOMEM;
  d->cfg = *cfg;
  if (!d->cfg.export_max_bytes) d->cfg.export_max_bytes = 64u << 20;
  *ret = d;
  return 0;
}

bool dl_api_owns(const char *path) {
  size_t n = strlen(DL_PATH_PREFIX);
  return strncmp(path, DL_PATH_PREFIX, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Which operation a method + path asks for; -1 unknown path, -2 wrong method. */
static int route(const char *method, const char *path, journal_dl_kind *ret) {
  bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  bool post = strcmp(method, "POST") == 0;
  if (strcmp(path, DL_PATH_PREFIX) == 0 || strcmp(path, DL_PATH_PREFIX "/export") == 0) {
    *ret = JOURNAL_DL_EXPORT;
    return get ? 0 : -2;
  }
  if (strcmp(path, DL_PATH_PREFIX "/requeue") == 0) {
    *ret = JOURNAL_DL_REQUEUE;
    return post ? 0 : -2;
  }
  if (strcmp(path, DL_PATH_PREFIX "/purge") == 0) {
    *ret = JOURNAL_DL_PURGE;
    return post ? 0 : -2;
  }
  return -1;
}

httpd_verdict dl_api_on_headers(dl_api *d, httpd_req *req) {
  journal_dl_kind kind;
  int r = route(httpd_req_method(req), httpd_req_path(req), &kind);
  if (r == -1) {
    httpd_respond_error(req, 404, "not_found",
                        "no such dead-letter endpoint; use " DL_PATH_PREFIX ", " DL_PATH_PREFIX
                        "/requeue or " DL_PATH_PREFIX "/purge");
    return HTTPD_ANSWERED;
  }
  if (!ingest_token_ok(d->cfg.token, httpd_req_header(req, "Authorization"))) {
    httpd_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"ferry-agent\"");
    httpd_respond_error(req, 401, "unauthorized",
                        "send the agent's ingest token as \"Authorization: Bearer TOKEN\"");
    return HTTPD_ANSWERED;
  }
  if (r == -2) {
    bool export = kind == JOURNAL_DL_EXPORT;
    httpd_req_add_header(req, "Allow", export ? "GET, HEAD" : "POST");
    httpd_respond_error(req, 405, "method_not_allowed", "%s %s: use %s", httpd_req_method(req),
                        httpd_req_path(req), export ? "GET" : "POST");
    return HTTPD_ANSWERED;
  }
  return HTTPD_READ_BODY;
}

static void maybe_drained(dl_api *d) {
  if (d->stopping && d->inflight == 0 && !d->drained_sent) {
    d->drained_sent = true;
    if (d->cfg.on_drained) d->cfg.on_drained(d->cfg.ud);
  }
}

static void on_dl_done(journal_dl *op) {
  dl_req *q = op->data;
  dl_api *d = q->api;
  if (op->status != 0) {
    httpd_req_add_header(q->req, "Retry-After", "5");
    httpd_respond_error(q->req, 503, "unavailable", "dead-letter %s failed: %s",
                        op->kind == JOURNAL_DL_EXPORT    ? "export"
                        : op->kind == JOURNAL_DL_REQUEUE ? "requeue"
                                                         : "purge",
                        op->error[0] ? op->error : strerror(-op->status));
  } else if (op->kind == JOURNAL_DL_EXPORT) {
    char n[24];
    snprintf(n, sizeof(n), "%lld", (long long)op->count);
    httpd_req_add_header(q->req, "Ferry-Count", n);
    if (op->truncated) httpd_req_add_header(q->req, "Ferry-Truncated", "1");
    httpd_respond(q->req, 200, "application/x-ndjson", op->out ? op->out : "", op->out_len);
  } else {
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddNumberToObject(o, "count", (double)op->count);
      if (op->kind == JOURNAL_DL_REQUEUE) cJSON_AddNumberToObject(o, "duplicates", (double)op->duplicates);
      httpd_respond_json(q->req, 200, o);
    } else {
      httpd_respond_error(q->req, 500, "internal", "out of memory");
    }
    if (op->kind == JOURNAL_DL_REQUEUE && op->count > 0 && d->cfg.on_requeued) d->cfg.on_requeued(d->cfg.ud);
  }
  free(op->out);
  free(q);
  d->inflight--;
  maybe_drained(d);
}

void dl_api_on_request(dl_api *d, httpd_req *req) {
  journal_dl_kind kind;
  if (route(httpd_req_method(req), httpd_req_path(req), &kind) != 0) {
    httpd_respond_error(req, 404, "not_found", "no such endpoint");
    return;
  }
  if (d->stopping) {
    httpd_req_add_header(req, "Retry-After", "5");
    httpd_respond_error(req, 503, "unavailable", "the agent is shutting down");
    return;
  }
  dl_req *q = calloc(1, sizeof(*q));
  if (!q) {
    httpd_respond_error(req, 503, "unavailable", "out of memory");
    return;
  }
  q->api = d;
  q->req = req;
  q->op.kind = kind;
  q->op.out_fd = -1;
  q->op.max_bytes = d->cfg.export_max_bytes;
  q->op.done = on_dl_done;
  q->op.data = q;
  int r = journal_dead_letter(d->cfg.j, &q->op);
  if (r < 0) {
    free(q);
    httpd_req_add_header(req, "Retry-After", "5");
    httpd_respond_error(req, 503, "unavailable", "the journal is not taking requests (%s)", strerror(-r));
    return;
  }
  d->inflight++;
}

unsigned dl_api_inflight(const dl_api *d) { return d->inflight; }

void dl_api_stop(dl_api *d) {
  d->stopping = true;
  maybe_drained(d);
}

void dl_api_free(dl_api *d) { free(d); }

/* ---- CLI ------------------------------------------------------------------- */

int dl_cli_base_url(const char *listen, char *out, size_t outlen, const char **ret_unix_path) {
  *ret_unix_path = NULL;
  if (!listen) return -EINVAL;
  if (strncmp(listen, "unix:", 5) == 0) {
    if (listen[5] != '/') return -EINVAL;
    *ret_unix_path = listen + 5;
    snprintf(out, outlen, "http://localhost");
    return 0;
  }
  const char *colon = strrchr(listen, ':');
  if (!colon || colon == listen || !colon[1]) return -EINVAL;
  size_t hl = (size_t)(colon - listen);
  const char *host = listen;
  if ((hl == 7 && strncmp(listen, "0.0.0.0", 7) == 0)) {
    host = "127.0.0.1";
    hl = 9;
  } else if ((hl == 4 && strncmp(listen, "[::]", 4) == 0)) {
    host = "[::1]";
    hl = 5;
  }
  int n = snprintf(out, outlen, "http://%.*s:%s", (int)hl, host, colon + 1);
  return n > 0 && (size_t)n < outlen ? 0 : -EINVAL;
}

int dl_cli_run(const agent_config *cfg, const char *action, FILE *out, FILE *errout) {
  const char *path;
  bool post = true;
  if (strcmp(action, "export") == 0) {
    path = DL_PATH_PREFIX;
    post = false;
  } else if (strcmp(action, "requeue") == 0) {
    path = DL_PATH_PREFIX "/requeue";
  } else if (strcmp(action, "purge") == 0) {
    path = DL_PATH_PREFIX "/purge";
  } else {
    fprintf(errout, "ferry-agent dead-letter: unknown action \"%s\" (export, requeue or purge)\n", action);
    return 2;
  }
  char base[600], url[700];
  const char *unix_path;
  if (dl_cli_base_url(cfg->listen, base, sizeof(base), &unix_path) < 0) {
    fprintf(errout, "ferry-agent dead-letter: listen: cannot use \"%s\"\n", cfg->listen);
    return 2;
  }
  snprintf(url, sizeof(url), "%s%s", base, path);

  CURL *e = curl_easy_init();
  if (!e) {
    fprintf(errout, "ferry-agent dead-letter: cannot initialise libcurl\n");
    return 1;
  }
  struct curl_slist *hdrs = NULL;
  char *auth = NULL;
  if (cfg->ingest_token) {
    size_t n = strlen(cfg->ingest_token) + sizeof("Authorization: Bearer ");
    auth = malloc(n);
    if (auth) {
      snprintf(auth, n, "Authorization: Bearer %s", cfg->ingest_token);
      hdrs = curl_slist_append(hdrs, auth);
    }
  }
  char errbuf[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(e, CURLOPT_URL, url);
  if (unix_path) curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, unix_path);
  if (post) {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "ferry-agent-cli/" FERRY_VERSION);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 300000L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);

  /* The agent builds the whole answer in memory anyway (bounded there); take
   * it here too and print it once the status says it is the export, not an error. */
  char *body = NULL;
  size_t body_len = 0;
  FILE *mem = open_memstream(&body, &body_len);
  if (!mem) {
    fprintf(errout, "ferry-agent dead-letter: out of memory\n");
    curl_easy_cleanup(e);
    curl_slist_free_all(hdrs);
    free(auth);
    return 1;
  }
  curl_easy_setopt(e, CURLOPT_WRITEDATA, mem); /* libcurl's default: fwrite to FILE * */

  CURLcode res = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  struct curl_header *th = NULL;
  bool truncated = curl_easy_header(e, "Ferry-Truncated", 0, CURLH_HEADER, -1, &th) == CURLHE_OK;
  fclose(mem);
  int rc = 0;
  if (res != CURLE_OK) {
    fprintf(errout, "ferry-agent dead-letter: cannot reach the agent at %s%s: %s\n", unix_path ? "unix:" : "",
            unix_path ? unix_path : base, errbuf[0] ? errbuf : curl_easy_strerror(res));
    rc = 1;
  } else if (status != 200) {
    fprintf(errout, "ferry-agent dead-letter: the agent answered %ld: %.*s\n", status,
            (int)(body_len > 1000 ? 1000 : body_len), body ? body : "");
    rc = 1;
  } else {
    if (body_len) fwrite(body, 1, body_len, out);
    if (!post && truncated)
      fprintf(errout, "ferry-agent dead-letter: export truncated at the agent's answer limit\n");
    if (post && (body_len == 0 || body[body_len - 1] != '\n')) fputc('\n', out);
    fflush(out);
  }
  free(body);
  curl_easy_cleanup(e);
  curl_slist_free_all(hdrs);
  if (auth) {
    explicit_bzero(auth, strlen(auth));
    free(auth);
  }
  return rc;
}
