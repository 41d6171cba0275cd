/* models_api: see models_api.h. */
#include "models_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_answer.h"
#include "metrics_api.h"
#include "metrics_query.h"
#include "readers.h"
#include "series.h"
#include "store_models.h"
#include "timefmt.h"

typedef struct mo_point {
  int64_t events, with_conf, conf_micro, low;
} mo_point;

typedef struct mo_camera {
  char key[MODELS_KEY_MAX];
  mo_point *points; /* n_buckets */
} mo_camera;

typedef struct mo_req {
  col_app *app;
  httpd_req *req;
  int64_t from_ms, to_ms;
  int low;
  bool step;
  series_bucket *buckets;
  size_t n_buckets;
  mo_camera *cams;
  size_t n_cams;
  models_set win, base;
  models_fig *figs;
  uv_work_t work;
  int err;
  char errmsg[256];
} mo_req;

int models_api_read(store *rd, int64_t from_ms, int64_t to_ms, models_set *win, models_set *base) {
  models_set_init(win);
  models_set_init(base);
  if (!rd->ops->models) return -ENOTSUP;
  models_set sets[2];
  models_set_init(&sets[0]);
  models_set_init(&sets[1]);
  sm_window w[2] = {{from_ms, to_ms}, {from_ms - MODELS_BASELINE_MS, from_ms}};
  int r = rd->ops->models(rd, w, 2, sets);
  *win = sets[0];
  *base = sets[1];
  return r;
}

static mo_point *mo__point(mo_req *m, const char *camera_key, size_t bucket) {
  size_t i = 0;
  while (i < m->n_cams && strcmp(m->cams[i].key, camera_key) != 0) i++;
  if (i == m->n_cams) {
    mo_camera *nc = realloc(m->cams, (m->n_cams + 1) * sizeof(*nc));
    if (!nc) return NULL;
    m->cams = nc;
    mo_camera *c = &m->cams[m->n_cams];
    snprintf(c->key, sizeof(c->key), "%s", camera_key);
    c->points = calloc(m->n_buckets, sizeof(*c->points));
    if (!c->points) return NULL;
    m->n_cams++;
  }
  return &m->cams[i].points[bucket];
}

static int mo__series(mo_req *m, store *rd) {
  int r = 0;
  for (size_t b = 0; r == 0 && b < m->n_buckets; b++) {
    models_set set;
    models_set_init(&set);
    sm_window w = {m->buckets[b].start_ms, m->buckets[b].end_ms};
    r = rd->ops->models(rd, &w, 1, &set);
    for (size_t i = 0; r == 0 && i < set.n; i++) {
      const models_cell *c = &set.e[i]->c;
      mo_point *p = mo__point(m, set.e[i]->camera, b);
      if (!p) {
        r = -ENOMEM;
        snprintf(m->errmsg, sizeof(m->errmsg), "out of memory");
        break;
      }
      p->events += c->events;
      p->with_conf += c->with_conf;
      p->conf_micro += c->conf_micro;
      for (int k = 0; k < m->low && k < MODELS_BINS; k++) p->low += c->hist[k];
    }
    models_set_clear(&set);
  }
  return r;
}

static int mo__cam_cmp(const void *a, const void *b) {
  return strcmp(((const mo_camera *)a)->key, ((const mo_camera *)b)->key);
}

static void mo__work(uv_work_t *w) {
  mo_req *m = w->data;
  store *rd = NULL;
  int r = rd_pool_get(m->app->readers, &rd, m->errmsg, sizeof(m->errmsg));
  if (r < 0) {
    m->err = r;
    return;
  }
  r = models_api_read(rd, m->from_ms, m->to_ms, &m->win, &m->base);
  if (r == 0 && m->step) r = mo__series(m, rd);
  if (r == 0 && m->win.n && !(m->figs = calloc(m->win.n, sizeof(*m->figs)))) r = -ENOMEM;
  if (r == 0) models_compute(&m->win, &m->base, m->low, m->figs);
  if (m->n_cams) qsort(m->cams, m->n_cams, sizeof(*m->cams), mo__cam_cmp);
  if (r < 0) {
    m->err = r;
    if (!m->errmsg[0])
      snprintf(m->errmsg, sizeof(m->errmsg), "%s",
               r == -ENOTSUP ? "not supported by this store" : rd->ops->last_error(rd));
  }
  rd_pool_put(m->app->readers, rd, r < 0 && r != -ENOMEM && r != -ENOTSUP);
}

static void mo__time(cJSON *o, const char *name, int64_t ms) {
  char buf[TF_RFC3339_LEN];
  tf_format_ms(ms, buf);
  cJSON_AddStringToObject(o, name, buf);
}

static void mo__id(cJSON *o, const char *name, const char *key) {
  const char *id = models_key_id(key);
  if (id) cJSON_AddStringToObject(o, name, id);
  else cJSON_AddNullToObject(o, name);
}

static void mo__num_or_null(cJSON *o, const char *name, bool has, double v) {
  if (has) cJSON_AddNumberToObject(o, name, v);
  else cJSON_AddNullToObject(o, name);
}

static const char *const mo_types[4] = {"working", "idle", "absent", "product_count"};

static cJSON *mo__row(const models_entry *e, const models_fig *f) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  mo__id(o, "camera_id", e->camera);
  mo__id(o, "model_version", e->model);
  cJSON_AddNumberToObject(o, "events", (double)f->events);
  cJSON_AddNumberToObject(o, "with_confidence", (double)f->with_conf);
  mo__num_or_null(o, "confidence_mean", f->has_conf, models_round4(f->conf_mean));
  mo__num_or_null(o, "confidence_p10", f->has_conf, f->conf_p10);
  mo__num_or_null(o, "low_confidence_rate", f->has_conf, models_round4(f->low_rate));
  cJSON *mix = cJSON_AddObjectToObject(o, "event_mix");
  for (int k = 0; mix && k < 4; k++) cJSON_AddNumberToObject(mix, mo_types[k], models_round4(f->mix[k]));
  cJSON *d = cJSON_AddObjectToObject(o, "drift");
  if (d) {
    cJSON_AddBoolToObject(d, "flagged", f->flagged);
    cJSON *rs = cJSON_AddArrayToObject(d, "reasons");
    if (rs && f->reason_rate) cJSON_AddItemToArray(rs, cJSON_CreateString(MODELS_REASON_RATE));
    if (rs && f->reason_mix) cJSON_AddItemToArray(rs, cJSON_CreateString(MODELS_REASON_MIX));
    if (rs && f->reason_version) cJSON_AddItemToArray(rs, cJSON_CreateString(MODELS_REASON_VERSION));
    cJSON_AddNumberToObject(d, "baseline_events", (double)f->baseline_events);
    if (f->baseline_model_key) mo__id(d, "baseline_model_version", f->baseline_model_key);
  }
  return o;
}

static cJSON *mo__json(const mo_req *m) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  mo__time(o, "from", m->from_ms);
  mo__time(o, "to", m->to_ms);
  cJSON_AddNumberToObject(o, "low_confidence_threshold", (double)m->low / 1000.0);
  cJSON *a = cJSON_AddArrayToObject(o, "models");
  for (size_t i = 0; a && i < m->win.n; i++) {
    cJSON *row = mo__row(m->win.e[i], &m->figs[i]);
    if (!row) goto oom;
    cJSON_AddItemToArray(a, row);
  }
  if (m->step) {
    cJSON_AddStringToObject(o, "step", "hour");
    cJSON *s = cJSON_AddArrayToObject(o, "series");
    for (size_t c = 0; s && c < m->n_cams; c++) {
      cJSON *cam = cJSON_CreateObject(), *pts;
      if (!cam) goto oom;
      cJSON_AddItemToArray(s, cam);
      mo__id(cam, "camera_id", m->cams[c].key);
      if (!(pts = cJSON_AddArrayToObject(cam, "points"))) goto oom;
      for (size_t b = 0; b < m->n_buckets; b++) {
        const mo_point *p = &m->cams[c].points[b];
        cJSON *pt = cJSON_CreateObject();
        if (!pt) goto oom;
        cJSON_AddItemToArray(pts, pt);
        mo__time(pt, "t", m->buckets[b].start_ms);
        mo__time(pt, "end", m->buckets[b].end_ms);
        cJSON_AddNumberToObject(pt, "events", (double)p->events);
        cJSON_AddNumberToObject(pt, "with_confidence", (double)p->with_conf);
        mo__num_or_null(
            pt, "confidence_mean", p->with_conf > 0,
            models_round4((double)p->conf_micro / (double)(p->with_conf ? p->with_conf : 1) / 1e6));
        mo__num_or_null(pt, "low_confidence_rate", p->with_conf > 0,
                        models_round4((double)p->low / (double)(p->with_conf ? p->with_conf : 1)));
      }
    }
  }
  return o;
oom:
  cJSON_Delete(o);
  return NULL;
}

static void mo__free(mo_req *m) {
  models_set_clear(&m->win);
  models_set_clear(&m->base);
  for (size_t i = 0; i < m->n_cams; i++) free(m->cams[i].points);
  free(m->cams);
  free(m->figs);
  free(m->buckets);
  free(m);
}

static void mo__done(uv_work_t *w, int status) {
  mo_req *m = w->data;
  col_app *app = m->app;
  if (status < 0) {
    api_shutting_down(m->req);
  } else if (m->err == -ENOTSUP) {
    httpd_respond_error(m->req, 501, "not_implemented", "model figures are not available on this database");
  } else if (m->err) {
    api_db_unavailable(m->req, "models", m->errmsg);
  } else {
    api_json(m->req, mo__json(m));
  }
  app->inflight--;
  mo__free(m);
}

void models_api_on_request(col_app *app, httpd_req *req) {
  static const char *const known[] = {"from", "to", "step", NULL};
  if (metrics_api_refuse_unknown(req, known)) return;
  const char *step = httpd_req_query(req, "step");
  if (step && strcmp(step, "hour") != 0) {
    api_bad_param(req, "step", "step: must be hour");
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
  if (step && series_count(from_ms, to_ms, SERIES_HOUR_MS) > SERIES_MAX_BUCKETS) {
    api_bad_param(req, "step", "step: more than 745 hours; ask for a shorter window");
    return;
  }
  mo_req *m = calloc(1, sizeof(*m));
  if (m && step) {
    m->step = true;
    m->n_buckets = series_count(from_ms, to_ms, SERIES_HOUR_MS);
    m->buckets = calloc(m->n_buckets, sizeof(*m->buckets));
    if (m->buckets) series_plan(from_ms, to_ms, SERIES_HOUR_MS, m->buckets, m->n_buckets);
  }
  if (!m || (m->step && !m->buckets)) {
    if (m) mo__free(m);
    api_no_memory(req);
    return;
  }
  models_set_init(&m->win);
  models_set_init(&m->base);
  m->app = app;
  m->req = req;
  m->from_ms = from_ms;
  m->to_ms = to_ms;
  m->low = app->cfg->low_confidence_milli;
  m->work.data = m;
  int r = uv_queue_work(app->loop, &m->work, mo__work, mo__done);
  if (r < 0) {
    mo__free(m);
    api_not_scheduled(req);
    return;
  }
  app->inflight++;
}
