/* registry_api: see registry_api.h. */
#include "registry_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "readers.h"
#include "reg_cache.h"
#include "registry_edit.h"
#include "timefmt.h"

typedef struct ra_req {
  col_app *app;
  httpd_req *req;
  bool all;      /* /v1/registry (else one kind) */
  bool unknown;  /* /v1/registry/unknown */
  cJSON *answer; /* unknown: built on the worker */
  reg_kind kind; /* !all */
  /* GET (worker thread) */
  uv_work_t work;
  int err;
  char errmsg[256];
  int64_t version, updated_ms;
  char *doc;
  /* PUT (writer thread) */
  wr_job job;
  reg_put put;
  int64_t new_version;
} ra_req;

/* 1 = /v1/registry, 2 = /v1/registry/{kind} (*kind set), 3 = /v1/registry/unknown, 0 = none. */
static int ra__which(const char *path, reg_kind *kind) {
  size_t n = strlen(REGISTRY_API_PATH);
  if (strncmp(path, REGISTRY_API_PATH, n) != 0) return 0;
  if (path[n] == '\0') return 1;
  if (path[n] != '/') return 0;
  if (strcmp(path + n + 1, "unknown") == 0) return 3;
  return reg_kind_parse(path + n + 1, kind) == 0 ? 2 : 0;
}

bool registry_api_match(const char *path) {
  reg_kind k;
  return ra__which(path, &k) != 0;
}

static bool ra__media(const char *ct, const char *want) {
  if (!ct) return false;
  while (*ct == ' ' || *ct == '\t') ct++;
  size_t n = strcspn(ct, ";");
  while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t')) n--;
  return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

httpd_verdict registry_api_on_headers(col_app *app, httpd_req *req) {
  const char *method = httpd_req_method(req);
  reg_kind kind;
  int which = ra__which(httpd_req_path(req), &kind);
  bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  if (which == 3 && !get) {
    httpd_req_add_header(req, "Allow", "GET, HEAD");
    httpd_respond_error(req, 405, "method_not_allowed", "%s takes GET, not %.20s", httpd_req_path(req),
                        method);
    return HTTPD_ANSWERED;
  }
  if (!get && strcmp(method, "PUT") != 0) {
    httpd_req_add_header(req, "Allow", "GET, HEAD, PUT");
    httpd_respond_error(req, 405, "method_not_allowed", "%s takes GET or PUT, not %.20s", httpd_req_path(req),
                        method);
    return HTTPD_ANSWERED;
  }
  const char *authz = httpd_req_header(req, "Authorization");
  auth_refusal no;
  bool ok = get ? auth_check_read_or_admin(&app->auth, authz, &no) : auth_check_admin(&app->auth, authz, &no);
  if (!ok) {
    if (no.status == 401) httpd_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"ferry\"");
    httpd_respond_error(req, no.status, no.code, "%s", no.msg);
    return HTTPD_ANSWERED;
  }
  if (!get) {
    const char *want = which == 1 ? "application/json" : "text/csv";
    const char *ct = httpd_req_header(req, "Content-Type");
    if (!ra__media(ct, want)) {
      httpd_respond_error(req, 415, "unsupported_media_type", "Content-Type must be %s, not \"%.60s\"", want,
                          ct ? ct : "");
      return HTTPD_ANSWERED;
    }
  }
  return HTTPD_READ_BODY;
}

static void ra__free(ra_req *ra) {
  cJSON_Delete(ra->answer);
  free(ra->doc);
  free(ra);
}

static void ra__unavailable(httpd_req *req, const char *why) {
  httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
  httpd_respond_error(req, 503, "unavailable", "%s", why);
}

/* ---- GET ---- */

/* Ids seen in events that the registry does not list. */
static cJSON *ra__unknown(const st_id_span *sp, size_t n, const reg_index *x, int mode) {
  static const char *const modes[] = {"accept", "flag", "reject"};
  cJSON *o = cJSON_CreateObject();
  cJSON *a[2] = {o ? cJSON_AddArrayToObject(o, "workers") : NULL,
                 o ? cJSON_AddArrayToObject(o, "workstations") : NULL};
  if (!a[0] || !a[1]) {
    cJSON_Delete(o);
    return NULL;
  }
  cJSON_AddStringToObject(o, "mode", modes[mode >= 0 && mode <= 2 ? mode : 0]);
  cJSON_AddNumberToObject(o, "registry_version", (double)reg_index_version(x));
  for (size_t i = 0; i < n; i++) {
    bool st = sp[i].kind == ST_ID_STATION;
    if (reg_index_find(x, st ? REG_STATIONS : REG_WORKERS, sp[i].id)) continue;
    cJSON *e = cJSON_CreateObject();
    if (!e) {
      cJSON_Delete(o);
      return NULL;
    }
    cJSON_AddItemToArray(a[st], e);
    cJSON_AddStringToObject(e, st ? "workstation_id" : "worker_id", sp[i].id);
    char t[TF_RFC3339_LEN];
    tf_format_ms(sp[i].first_ms, t);
    if (sp[i].seen) cJSON_AddStringToObject(e, "first_event", t);
    else cJSON_AddNullToObject(e, "first_event");
    tf_format_ms(sp[i].last_ms, t);
    if (sp[i].seen) cJSON_AddStringToObject(e, "last_event", t);
    else cJSON_AddNullToObject(e, "last_event");
  }
  return o;
}

static void ra__get_work(uv_work_t *w) {
  ra_req *ra = w->data;
  store *rd = NULL;
  int r = rd_pool_get(ra->app->readers, &rd, ra->errmsg, sizeof(ra->errmsg));
  if (r < 0) {
    ra->err = r;
    return;
  }
  if (ra->unknown) {
    st_id_span *sp = NULL;
    size_t n = 0;
    reg_index *x = NULL;
    r = rd->ops->id_spans(rd, &sp, &n);
    if (r == 0) r = reg_index_load(rd, &x);
    if (r == 0 && !(ra->answer = ra__unknown(sp, n, x, ra->app->cfg->unknown_ids))) r = -ENOMEM;
    free(sp);
    reg_index_free(x);
  } else {
    r = rd->ops->registry_get(rd, &ra->version, &ra->updated_ms, &ra->doc);
  }
  if (r < 0) {
    ra->err = r;
    snprintf(ra->errmsg, sizeof(ra->errmsg), "%s", rd->ops->last_error(rd));
  }
  rd_pool_put(ra->app->readers, rd, r < 0 && r != -ENOMEM);
}

static void ra__get_done(uv_work_t *w, int status) {
  ra_req *ra = w->data;
  col_app *app = ra->app;
  if (status < 0 || ra->err) {
    if (ra->err) flog_err("registry: reading the database failed: %s", ra->errmsg);
    ra__unavailable(ra->req, "the registry could not be read; retry later");
  } else if (ra->unknown) {
    httpd_respond_json(ra->req, 200, ra->answer);
    ra->answer = NULL;
  } else {
    cJSON *doc = ra->doc ? cJSON_Parse(ra->doc) : cJSON_CreateObject();
    if (doc && !ra->doc)
      for (int k = 0; k < REG_N_KINDS; k++) cJSON_AddArrayToObject(doc, reg_kind_name((reg_kind)k));
    if (!doc) {
      ra__unavailable(ra->req, "out of memory");
    } else if (ra->all) {
      cJSON *o = cJSON_CreateObject();
      char at[TF_RFC3339_LEN];
      cJSON_AddNumberToObject(o, "version", (double)ra->version);
      if (ra->version) {
        tf_format_ms(ra->updated_ms, at);
        cJSON_AddStringToObject(o, "updated_at", at);
      } else {
        cJSON_AddNullToObject(o, "updated_at");
      }
      for (const cJSON *it = doc->child; it; it = it->next)
        if (it->string) cJSON_AddItemToObject(o, it->string, cJSON_Duplicate(it, 1));
      cJSON_Delete(doc);
      httpd_respond_json(ra->req, 200, o);
    } else {
      char *csv = reg_kind_csv(doc, ra->kind);
      cJSON_Delete(doc);
      if (!csv) {
        ra__unavailable(ra->req, "out of memory");
      } else {
        char v[32];
        snprintf(v, sizeof(v), "%lld", (long long)ra->version);
        httpd_req_add_header(ra->req, "X-Registry-Version", v);
        httpd_req_add_header(ra->req, "Cache-Control", "no-store");
        httpd_respond(ra->req, 200, "text/csv; charset=utf-8", csv, strlen(csv));
        free(csv);
      }
    }
  }
  app->inflight--;
  ra__free(ra);
}

/* ---- PUT ---- */

static int ra__put_call(store *st, wr_job *job) {
  ra_req *ra = job->data;
  int r = st->ops->registry_put(st, reg_put_edit, &ra->put, tf_now_ms(), &ra->new_version);
  /* ingest sees the new version before the write is answered */
  if (r == 0 && reg_cache_load(ra->app->reg, st) < 0)
    flog_warn("registry: version %lld written but not yet in use (re-read within %d s)",
              (long long)ra->new_version, REG_CACHE_REFRESH_MS / 1000);
  return r;
}

static void ra__put_done(wr_job *job) {
  ra_req *ra = job->data;
  col_app *app = ra->app;
  if (job->err == -ENOMEM || job->call_ret == -ENOMEM) {
    ra__unavailable(ra->req, "out of memory");
  } else if (job->err) {
    flog_err("registry: writing the database failed: %s", job->errmsg);
    ra__unavailable(ra->req, "the registry could not be written; retry later");
  } else if (job->call_ret > 0) {
    char msg[400];
    reg_errors_first(&ra->put.errs, msg, sizeof(msg));
    cJSON *j = httpd_error_json("invalid_registry", msg);
    cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    if (e) {
      cJSON_AddItemToObject(e, "errors", reg_errors_json(&ra->put.errs));
      cJSON_AddNumberToObject(e, "total", (double)ra->put.errs.total);
    }
    httpd_respond_json(ra->req, 400, j);
  } else {
    flog_notice(
        "registry: version %lld written (%zu site(s), %zu line(s), %zu workstation(s), %zu worker(s), "
        "%zu agent(s))",
        (long long)ra->new_version, ra->put.counts[REG_SITES], ra->put.counts[REG_LINES],
        ra->put.counts[REG_STATIONS], ra->put.counts[REG_WORKERS], ra->put.counts[REG_AGENTS]);
    cJSON *o = reg_put_answer(&ra->put, ra->new_version);
    if (o) httpd_respond_json(ra->req, 200, o);
    else ra__unavailable(ra->req, "out of memory");
  }
  app->inflight--;
  ra__free(ra);
}

void registry_api_on_request(col_app *app, httpd_req *req) {
  ra_req *ra = calloc(1, sizeof(*ra));
  if (!ra) {
    ra__unavailable(req, "out of memory");
    return;
  }
  ra->app = app;
  ra->req = req;
  int which = ra__which(httpd_req_path(req), &ra->kind);
  ra->all = which == 1;
  ra->unknown = which == 3;
  const char *method = httpd_req_method(req);
  int r;
  if (strcmp(method, "PUT") == 0) {
    ra->put.csv = !ra->all;
    ra->put.kind = ra->kind;
    ra->put.body = httpd_req_body(req, &ra->put.len);
    ra->job.kind = WR_CALL;
    ra->job.call = ra__put_call;
    ra->job.bytes = ra->put.len;
    ra->job.done = ra__put_done;
    ra->job.data = ra;
    r = wr_submit(app->wr, &ra->job);
  } else {
    ra->work.data = ra;
    r = uv_queue_work(app->loop, &ra->work, ra__get_work, ra__get_done);
  }
  if (r < 0) {
    ra__free(ra);
    ra__unavailable(req,
                    r == -EAGAIN ? "the collector is busy; retry later" : "could not schedule the request");
    return;
  }
  app->inflight++;
}
