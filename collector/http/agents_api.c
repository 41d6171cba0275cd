/* agents_api: GET /v1/agents (see agents_api.h). The database read runs on
 * the writer thread; only the JSON shaping happens on the loop. */
#include "agents_api.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "api_answer.h"
#include "activity.h"
#include "timefmt.h"

static void aa__time(cJSON *o, const char *name, int64_t ms) {
  char buf[TF_RFC3339_LEN];
  tf_format_ms(ms, buf);
  cJSON_AddStringToObject(o, name, buf);
}

static double aa__ms3(double s) { return round(s * 1000.0) / 1000.0; }

static void aa__figures(cJSON *o, const dlv_figures *f, bool contiguous) {
  cJSON_AddNumberToObject(o, "high_seq", (double)f->high_seq);
  if (contiguous) cJSON_AddNumberToObject(o, "contiguous_seq", (double)f->contiguous_seq);
  cJSON_AddNumberToObject(o, "received", (double)f->received);
  cJSON_AddNumberToObject(o, "dropped", (double)f->dropped);
  cJSON_AddNumberToObject(o, "missing", (double)f->missing);
}

cJSON *agents_api_json(const st_agent_info *agents, size_t n, const struct activity *act, const cu_table *cu,
                       uint64_t now_ms) {
  cJSON *root = cJSON_CreateObject();
  cJSON *list = root ? cJSON_AddArrayToObject(root, "agents") : NULL;
  if (!list) {
    cJSON_Delete(root);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    const st_agent_info *a = &agents[i];
    cJSON *o = cJSON_CreateObject();
    if (!o) goto oom;
    cJSON_AddItemToArray(list, o);
    const st_epoch_info *latest = a->n_epochs ? &a->epochs[a->latest] : NULL;
    static const dlv_figures none;
    cJSON_AddStringToObject(o, "agent_id", a->agent_id);
    if (latest) cJSON_AddStringToObject(o, "epoch", latest->epoch);
    else cJSON_AddNullToObject(o, "epoch");
    aa__time(o, "last_seen", a->last_seen);
    if (a->version[0]) cJSON_AddStringToObject(o, "version", a->version);
    else cJSON_AddNullToObject(o, "version");
    if (a->has_skew) cJSON_AddNumberToObject(o, "clock_skew_s", aa__ms3(a->clock_skew_s));
    else cJSON_AddNullToObject(o, "clock_skew_s");
    aa__figures(o, latest ? &latest->fig : &none, true);
    if (a->has_stats) {
      cJSON_AddNumberToObject(o, "backlog", (double)a->backlog);
      cJSON_AddNumberToObject(o, "oldest_pending_s", aa__ms3(a->oldest_pending_s));
    } else {
      cJSON_AddNullToObject(o, "backlog");
      cJSON_AddNullToObject(o, "oldest_pending_s");
    }
    cu_estimate est = cu_get(cu, a->agent_id, now_ms);
    if (est.has_trend)
      cJSON_AddNumberToObject(o, "backlog_trend_per_s", round(est.trend_per_s * 10.0) / 10.0);
    else cJSON_AddNullToObject(o, "backlog_trend_per_s");
    if (est.has_eta) cJSON_AddNumberToObject(o, "catch_up_s", round(est.catch_up_s));
    else cJSON_AddNullToObject(o, "catch_up_s");
    cJSON_AddNumberToObject(o, "conflicts", (double)a->conflicts);
    activity_agent_json(act, a->agent_id, o);
    cJSON *eps = cJSON_AddArrayToObject(o, "epochs");
    if (!eps) goto oom;
    for (size_t k = 0; k < a->n_epochs; k++) {
      const st_epoch_info *e = &a->epochs[k];
      cJSON *eo = cJSON_CreateObject();
      if (!eo) goto oom;
      cJSON_AddItemToArray(eps, eo);
      cJSON_AddStringToObject(eo, "epoch", e->epoch);
      aa__time(eo, "first_seen", e->first_seen);
      aa__time(eo, "last_seen", e->last_seen);
      aa__figures(eo, &e->fig, false);
    }
  }
  return root;
oom:
  cJSON_Delete(root);
  return NULL;
}

typedef struct aa_req {
  col_app *app;
  httpd_req *req;
  wr_job job;
} aa_req;

static void aa__done(wr_job *job) {
  aa_req *ar = job->data;
  col_app *app = ar->app;
  if (job->err) api_db_unavailable(ar->req, "agents", job->errmsg);
  else
    api_json(ar->req, agents_api_json(job->agents, job->n_agents, app->activity, app->catchup, tf_mono_ms()));
  st_agents_free(job->agents, job->n_agents);
  app->inflight--;
  free(ar);
}

void agents_api_on_request(col_app *app, httpd_req *req) {
  aa_req *ar = calloc(1, sizeof(*ar));
  if (!ar) {
    api_no_memory(req);
    return;
  }
  ar->app = app;
  ar->req = req;
  ar->job.kind = WR_LIST_AGENTS;
  ar->job.done = aa__done;
  ar->job.data = ar;
  int r = wr_submit(app->wr, &ar->job);
  if (r < 0) {
    free(ar);
    httpd_req_add_header(req, "Retry-After", COL_RETRY_AFTER_S);
    httpd_respond_error(req, 503, r == -EAGAIN ? "overloaded" : "shutting_down",
                        r == -EAGAIN ? "the collector is busy; retry later"
                                     : "the collector is shutting down");
    return;
  }
  app->inflight++;
}
