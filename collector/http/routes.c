/* routes: the collector's request routing (see routes.h). Authentication
 * happens in on_headers, before any body byte is read. */
#include "routes.h"

#include "activity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agents_api.h"
#include "httpd_route.h"
#include "export_api.h"
#include "ids_api.h"
#include "ingest.h"
#include "metrics_api.h"
#include "models_api.h"
#include "prom.h"
#include "registry_api.h"
#include "series_api.h"
#include "static_assets.h"
#include "timefmt.h"

typedef enum {
  RT_INGEST,
  RT_AGENTS,
  RT_METRICS_API,
  RT_PROM,
  RT_HEALTHZ,
  RT_READYZ,
  RT_SERIES,
  RT_MODELS,
  RT_EXPORT,
  RT_WORKERS,
  RT_STATIONS,
  RT_REGISTRY
} rt_id;

#define RT_READ_AUTH 0x1 /* needs the read token */

/* Exact paths first: the metrics family (METRICS_API_PREFIX) must not take
 * /v1/metrics/series. */
static const httpd_route rt_table[] = {
    {RT_INGEST, "/v1/ingest", NULL, "POST", 0},
    {RT_AGENTS, "/v1/agents", NULL, "GET", RT_READ_AUTH},
    {RT_PROM, "/metrics", NULL, "GET", RT_READ_AUTH},
    {RT_HEALTHZ, "/healthz", NULL, "GET", 0},
    {RT_READYZ, "/readyz", NULL, "GET", 0},
    {RT_SERIES, SERIES_API_PATH, NULL, "GET", RT_READ_AUTH},
    {RT_MODELS, MODELS_API_PATH, NULL, "GET", RT_READ_AUTH},
    {RT_EXPORT, EXPORT_API_PATH, NULL, "GET", RT_READ_AUTH},
    {RT_METRICS_API, NULL, metrics_api_match, "GET", RT_READ_AUTH},
    {RT_WORKERS, IDS_API_WORKERS, NULL, "GET", RT_READ_AUTH},
    {RT_STATIONS, IDS_API_STATIONS, NULL, "GET", RT_READ_AUTH},
    {RT_REGISTRY, NULL, registry_api_match, NULL, 0}, /* methods and tokens: registry_api_on_headers */
};
#define RT_N (sizeof(rt_table) / sizeof(rt_table[0]))

httpd_verdict routes_on_headers(httpd_req *req, void *ud) {
  col_app *app = ud;
  const char *path = httpd_req_path(req);
  const char *method = httpd_req_method(req);
  const sa_asset *asset = static_assets_find(path); /* public: page, assets, openapi.json */
  if (asset) {
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
      static_assets_respond(req, asset);
    } else {
      httpd_req_add_header(req, "Allow", "GET, HEAD");
      httpd_respond_error(req, 405, "method_not_allowed", "%s takes GET, not %.20s", path, method);
    }
    return HTTPD_ANSWERED;
  }
  const httpd_route *rt = httpd_route_find(rt_table, RT_N, path);
  if (!rt) {
    httpd_respond_error(req, 404, "not_found", "no such endpoint: %.100s", path);
    return HTTPD_ANSWERED;
  }
  rt_id id = (rt_id)rt->id;
  if (!httpd_route_method_ok(rt, method)) {
    httpd_req_add_header(req, "Allow", httpd_route_allow(rt));
    httpd_respond_error(req, 405, "method_not_allowed", "%s takes %s, not %.20s", path, rt->method, method);
    return HTTPD_ANSWERED;
  }
  if (id == RT_HEALTHZ) {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    httpd_respond_json(req, 200, j);
    return HTTPD_ANSWERED;
  }
  if (app->stopping && id != RT_READYZ) {
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, "shutting_down", "the collector is shutting down; retry later");
    return HTTPD_ANSWERED;
  }
  if (id == RT_REGISTRY) return registry_api_on_headers(app, req);
  if (rt->flags & RT_READ_AUTH) {
    auth_refusal no;
    if (!auth_check_read(&app->auth, httpd_req_header(req, "Authorization"), &no)) {
      if (no.status == 401) httpd_req_add_header(req, "WWW-Authenticate", "Bearer realm=\"ferry\"");
      /* a request without a token is the dashboard asking for one: only a
       * token that was refused is worth a line */
      if (app->activity && httpd_req_header(req, "Authorization"))
        activity_refused(app->activity, no.status, no.code, no.msg, httpd_req_client(req), NULL,
                         httpd_req_id(req));
      httpd_respond_error(req, no.status, no.code, "%s", no.msg);
      return HTTPD_ANSWERED;
    }
  }
  if (id == RT_INGEST) return ingest_on_headers(app, req);
  return HTTPD_READ_BODY;
}

typedef struct rz_req {
  col_app *app;
  httpd_req *req;
  wr_job job;
} rz_req;

static void rz__not_ready(httpd_req *req, const char *why) {
  cJSON *j = httpd_error_json("not_ready", why);
  if (j) cJSON_AddStringToObject(j, "status", "unavailable");
  httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
  httpd_respond_json(req, 503, j);
}

static void rz__done(wr_job *job) {
  rz_req *rz = job->data;
  if (job->err) {
    char why[300];
    snprintf(why, sizeof(why), "database: %s", job->errmsg);
    rz__not_ready(rz->req, why);
  } else {
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    httpd_respond_json(rz->req, 200, j);
  }
  rz->app->inflight--;
  free(rz);
}

static void rt__readyz(col_app *app, httpd_req *req) {
  char why[300];
  if (app->stopping) {
    rz__not_ready(req, "shutting down");
    return;
  }
  /* unhealthy after a database error: ping anyway — a ping that works (the
   * store may have reconnected) is what makes the collector ready again */
  bool healthy = wr_healthy(app->wr, NULL, why, sizeof(why));
  rz_req *rz = calloc(1, sizeof(*rz));
  if (!rz) {
    rz__not_ready(req, "out of memory");
    return;
  }
  rz->app = app;
  rz->req = req;
  rz->job.kind = WR_PING;
  rz->job.done = rz__done;
  rz->job.data = rz;
  int r = wr_submit(app->wr, &rz->job);
  if (r < 0) {
    free(rz);
    rz__not_ready(req, !healthy ? why : r == -EAGAIN ? "the database writer queue is full" : "shutting down");
    return;
  }
  app->inflight++;
}

void routes_on_request(httpd_req *req, void *ud) {
  col_app *app = ud;
  const httpd_route *rt = httpd_route_find(rt_table, RT_N, httpd_req_path(req));
  switch (rt ? (int)rt->id : -1) {
    case RT_INGEST: ingest_on_request(app, req); return;
    case RT_AGENTS: agents_api_on_request(app, req); return;
    case RT_METRICS_API: metrics_api_on_request(app, req); return;
    case RT_PROM: prom_on_request(app, req); return;
    case RT_READYZ: rt__readyz(app, req); return;
    case RT_SERIES: series_api_on_request(app, req); return;
    case RT_MODELS: models_api_on_request(app, req); return;
    case RT_EXPORT: export_api_on_request(app, req); return;
    case RT_WORKERS: ids_api_on_request(app, req, false); return;
    case RT_STATIONS: ids_api_on_request(app, req, true); return;
    case RT_REGISTRY: registry_api_on_request(app, req); return;
    default: httpd_respond_error(req, 500, "internal", "unrouted request"); return;
  }
}
