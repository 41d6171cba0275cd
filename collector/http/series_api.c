/* series_api: see series_api.h. */
#include "series_api.h"

#include "metrics_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_answer.h"
#include "metrics_filter.h"
#include "metrics_query.h"
#include "reg_cache.h"
#include "readers.h"
#include "series.h"
#include "timefmt.h"

typedef struct sa_point {
  int64_t units, events;
} sa_point;

typedef struct se_req {
  col_app *app;
  httpd_req *req;
  int64_t from_ms, to_ms, step_ms;
  const char *step_name;
  series_bucket buckets[SERIES_MAX_BUCKETS];
  sa_point points[SERIES_MAX_BUCKETS];
  size_t n;
  uv_work_t work;
  int err;
  char errmsg[256];
  mf_filter filt; /* site= / line= */
} se_req;

static void se__work(uv_work_t *w) {
  se_req *q = w->data;
  store *rd = NULL;
  int r = rd_pool_get(q->app->readers, &rd, q->errmsg, sizeof(q->errmsg));
  if (r < 0) {
    q->err = r;
    return;
  }
  for (size_t i = 0; i < q->n && r == 0; i++) {
    st_metrics_query mq = {.from_ms = q->buckets[i].start_ms,
                           .to_ms = q->buckets[i].end_ms,
                           .filter = q->filt.on ? &q->filt.f : NULL};
    metrics_result res = {0};
    r = rd->ops->metrics(rd, &mq, &res);
    if (r == 0) {
      q->points[i].units = res.factory.units;
      q->points[i].events = res.factory.events;
      metrics_result_clear(&res);
    }
  }
  if (r < 0) {
    q->err = r;
    snprintf(q->errmsg, sizeof(q->errmsg), "%s", rd->ops->last_error(rd));
  }
  rd_pool_put(q->app->readers, rd, r < 0 && r != -ENOMEM);
}

static void se__time(cJSON *o, const char *name, int64_t ms) {
  char buf[TF_RFC3339_LEN];
  tf_format_ms(ms, buf);
  cJSON_AddStringToObject(o, name, buf);
}

static cJSON *se__json(const se_req *q) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  se__time(o, "from", q->from_ms);
  se__time(o, "to", q->to_ms);
  cJSON_AddStringToObject(o, "step", q->step_name);
  cJSON *a = cJSON_AddArrayToObject(o, "points");
  if (!a) goto oom;
  for (size_t i = 0; i < q->n; i++) {
    cJSON *p = cJSON_CreateObject();
    if (!p) goto oom;
    cJSON_AddItemToArray(a, p);
    se__time(p, "t", q->buckets[i].start_ms);
    se__time(p, "end", q->buckets[i].end_ms);
    cJSON_AddNumberToObject(p, "units", (double)q->points[i].units);
    cJSON_AddNumberToObject(p, "events", (double)q->points[i].events);
  }
  return o;
oom:
  cJSON_Delete(o);
  return NULL;
}

static void se__done(uv_work_t *w, int status) {
  se_req *q = w->data;
  col_app *app = q->app;
  if (status < 0) api_shutting_down(q->req);
  else if (q->err) api_db_unavailable(q->req, "series", q->errmsg);
  else api_json(q->req, se__json(q));
  app->inflight--;
  mf_clear(&q->filt);
  free(q);
}

void series_api_on_request(col_app *app, httpd_req *req) {
  static const char *const known[] = {"from", "to", "step", "site", "line", "workstation", NULL};
  if (metrics_api_refuse_unknown(req, known)) return;
  const char *step = httpd_req_query(req, "step");
  int64_t step_ms = series_step_ms(step);
  if (step_ms < 0) {
    api_bad_param(req, "step", "step: must be hour or day");
    return;
  }
  int64_t from_ms, to_ms;
  const char *param = NULL;
  char msg[200];
  if (mq_window(httpd_req_query(req, "from"), httpd_req_query(req, "to"), tf_now_ms(), &from_ms, &to_ms,
                &param, msg, sizeof(msg)) < 0) {
    api_bad_param(req, param, "%s", msg);
    return;
  }
  if (series_count(from_ms, to_ms, step_ms) > SERIES_MAX_BUCKETS) {
    api_bad_param(req, "step", "step: more than 745 buckets; use step=day for windows over 31 days");
    return;
  }
  se_req *q = calloc(1, sizeof(*q));
  if (!q) {
    api_no_memory(req);
    return;
  }
  q->app = app;
  q->req = req;
  q->from_ms = from_ms;
  q->to_ms = to_ms;
  q->step_ms = step_ms;
  q->step_name = step_ms == SERIES_DAY_MS ? "day" : "hour";
  q->n = series_plan(from_ms, to_ms, step_ms, q->buckets, SERIES_MAX_BUCKETS);
  reg_ref *reg = reg_cache_acquire(app->reg);
  int fr = mf_parse(req, reg_ref_index(reg), &q->filt, &param, msg, sizeof(msg));
  reg_cache_release(app->reg, reg);
  if (fr < 0) {
    free(q);
    if (fr == -ENOMEM) api_no_memory(req);
    else api_bad_param(req, param, "%s", msg);
    return;
  }
  q->work.data = q;
  int r = uv_queue_work(app->loop, &q->work, se__work, se__done);
  if (r < 0) {
    mf_clear(&q->filt);
    free(q);
    api_not_scheduled(req);
    return;
  }
  app->inflight++;
}
