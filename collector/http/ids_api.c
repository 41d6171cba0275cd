/* ids_api: see ids_api.h. The answer is built on the worker thread (the
 * registry may be large); the loop only sends it. */
#include "ids_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "readers.h"
#include "registry_edit.h"
#include "timefmt.h"

typedef struct ia_req {
  col_app *app;
  httpd_req *req;
  bool stations;
  uv_work_t work;
  int err;
  char errmsg[256];
  cJSON *answer;
} ia_req;

static void ia__time(cJSON *o, const char *name, bool set, int64_t ms) {
  char buf[TF_RFC3339_LEN];
  if (!set) {
    cJSON_AddNullToObject(o, name);
    return;
  }
  tf_format_ms(ms, buf);
  cJSON_AddStringToObject(o, name, buf);
}

static void ia__str(cJSON *o, const char *name, const char *v) {
  if (v) cJSON_AddStringToObject(o, name, v);
  else cJSON_AddNullToObject(o, name);
}

/* One entry: span (may be NULL) and registry entry (may be NULL). */
static cJSON *ia__entry(bool stations, const char *id, const st_id_span *sp, const reg_entry *re,
                        const reg_index *x) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, stations ? "workstation_id" : "worker_id", id);
  ia__str(o, "name", re ? re->name : NULL);
  (void)x;
  if (stations) {
    ia__str(o, "line", re ? re->line : NULL);
    ia__str(o, "site", re ? re->site : NULL);
  }
  ia__time(o, "first_event", sp && sp->seen, sp ? sp->first_ms : 0);
  ia__time(o, "last_event", sp && sp->seen, sp ? sp->last_ms : 0);
  cJSON_AddBoolToObject(o, "registered", re != NULL);
  return o;
}

static void ia__work(uv_work_t *w) {
  ia_req *ia = w->data;
  store *rd = NULL;
  int r = rd_pool_get(ia->app->readers, &rd, ia->errmsg, sizeof(ia->errmsg));
  if (r < 0) {
    ia->err = r;
    return;
  }
  st_id_span *spans = NULL;
  size_t n = 0;
  reg_index *x = NULL;
  r = rd->ops->id_spans(rd, &spans, &n);
  if (r == 0) r = reg_index_load(rd, &x);
  if (r < 0) {
    ia->err = r;
    snprintf(ia->errmsg, sizeof(ia->errmsg), "%s", r == -ENOMEM ? "out of memory" : rd->ops->last_error(rd));
  }
  rd_pool_put(ia->app->readers, rd, r < 0 && r != -ENOMEM);
  if (r == 0) {
    st_id_kind kind = ia->stations ? ST_ID_STATION : ST_ID_WORKER;
    size_t nreg = 0, i = 0, j = 0;
    const reg_entry *reg = reg_index_all(x, ia->stations ? REG_STATIONS : REG_WORKERS, &nreg);
    while (i < n && spans[i].kind != kind) i++;
    cJSON *o = cJSON_CreateObject();
    cJSON *a = o ? cJSON_AddArrayToObject(o, ia->stations ? "workstations" : "workers") : NULL;
    while (a && ((i < n && spans[i].kind == kind) || j < nreg)) {
      bool has_span = i < n && spans[i].kind == kind;
      int c = !has_span ? 1 : j >= nreg ? -1 : strcmp(spans[i].id, reg[j].id);
      cJSON *e = ia__entry(ia->stations, c <= 0 ? spans[i].id : reg[j].id, c <= 0 ? &spans[i] : NULL,
                           c >= 0 ? &reg[j] : NULL, x);
      if (!e) {
        cJSON_Delete(o);
        o = NULL;
        break;
      }
      cJSON_AddItemToArray(a, e);
      if (c <= 0) i++;
      if (c >= 0) j++;
    }
    if (o) cJSON_AddNumberToObject(o, "registry_version", (double)reg_index_version(x));
    ia->answer = o;
    if (!o) {
      ia->err = -ENOMEM;
      snprintf(ia->errmsg, sizeof(ia->errmsg), "out of memory");
    }
  }
  free(spans);
  reg_index_free(x);
}

static void ia__done(uv_work_t *w, int status) {
  ia_req *ia = w->data;
  col_app *app = ia->app;
  if (status < 0 || ia->err) {
    if (ia->err)
      flog_err("%s: reading the database failed: %s", ia->stations ? IDS_API_STATIONS : IDS_API_WORKERS,
               ia->errmsg);
    httpd_req_add_header(ia->req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(ia->req, 503, "unavailable", "the database could not be read; retry later");
    cJSON_Delete(ia->answer);
  } else {
    httpd_respond_json(ia->req, 200, ia->answer);
  }
  app->inflight--;
  free(ia);
}

void ids_api_on_request(col_app *app, httpd_req *req, bool stations) {
  ia_req *ia = calloc(1, sizeof(*ia));
  if (!ia) {
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, "unavailable", "out of memory");
    return;
  }
  ia->app = app;
  ia->req = req;
  ia->stations = stations;
  ia->work.data = ia;
  int r = uv_queue_work(app->loop, &ia->work, ia__work, ia__done);
  if (r < 0) {
    free(ia);
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, "unavailable", "could not schedule the query; retry later");
    return;
  }
  app->inflight++;
}
