/* metrics_api: see metrics_api.h. */
#include "metrics_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_answer.h"
#include "log.h"
#include "metrics_filter.h"
#include "metrics_query.h"
#include "reg_cache.h"
#include "readers.h"
#include "registry_edit.h"
#include "timefmt.h"

typedef enum { MA_FACTORY, MA_WORKERS, MA_WORKER, MA_STATIONS, MA_STATION, MA_SITES, MA_NONE } ma_kind;

#define MA_WORKERS_PATH  METRICS_API_PREFIX "workers"
#define MA_STATIONS_PATH METRICS_API_PREFIX "workstations"

typedef struct ma_req {
  col_app *app;
  httpd_req *req;
  ma_kind kind;
  char id[MQ_ID_MAX + 1];
  st_metrics_query q;
  uv_work_t work;
  /* worker results */
  int err;
  char errmsg[256];
  bool known;
  metrics_result res;
  reg_index *reg; /* names (SPEC §6.6) */
  mf_filter filt; /* site= / line= */
  cJSON *sites;   /* MA_SITES: the answer's list, built on the worker */
} ma_req;

static ma_kind ma__kind(const char *path, char id[MQ_ID_MAX + 1], int *ret_idr) {
  *ret_idr = 0;
  if (strcmp(path, METRICS_API_PREFIX "factory") == 0) return MA_FACTORY;
  if (strcmp(path, METRICS_API_PREFIX "sites") == 0) return MA_SITES;
  if (strcmp(path, MA_WORKERS_PATH) == 0) return MA_WORKERS;
  if (strcmp(path, MA_STATIONS_PATH) == 0) return MA_STATIONS;
  int r = mq_path_id(path, MA_WORKERS_PATH "/", id);
  if (r != -ENOENT) {
    *ret_idr = r;
    return MA_WORKER;
  }
  r = mq_path_id(path, MA_STATIONS_PATH "/", id);
  if (r != -ENOENT) {
    *ret_idr = r;
    return MA_STATION;
  }
  return MA_NONE;
}

bool metrics_api_match(const char *path) {
  char id[MQ_ID_MAX + 1];
  int idr;
  return ma__kind(path, id, &idr) != MA_NONE;
}

#define MA_MAX_SITES 200 /* sites answered by /v1/metrics/sites (the first, by id) */

static int ma__cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* GET /v1/metrics/sites: the factory figures of each registered site (and of
 * the events of no site, when there are any), each through the site filter. */
static int ma__sites(ma_req *m, store *rd) {
  size_t n = 0;
  const reg_entry *sites = reg_index_all(m->reg, REG_SITES, &n);
  if (n > MA_MAX_SITES) n = MA_MAX_SITES; /* one query each: a bound on the work of one request */
  cJSON *a = cJSON_CreateArray();
  if (!a) return -ENOMEM;
  int r = 0;
  for (size_t i = 0; r == 0 && i <= n; i++) {
    const char *id = i < n ? sites[i].id : "";
    const rsite_filter *uf = m->filt.on ? &m->filt.f : NULL;
    if (uf && uf->sites && !bsearch(&id, uf->sites, uf->n_sites, sizeof(char *), ma__cmp_str)) continue;
    const char *one[1] = {id};
    rsite_filter f = {one, 1, uf ? uf->stations : NULL, uf ? uf->n_stations : 0};
    st_metrics_query q = m->q;
    q.filter = &f;
    metrics_result res = {0};
    r = rd->ops->metrics(rd, &q, &res);
    if (r < 0) break;
    if (i == n && res.factory.events == 0 && res.n_workers == 0) {
      metrics_result_clear(&res);
      continue; /* no events of no site: not listed */
    }
    cJSON *o = cJSON_CreateObject();
    if (!o) {
      metrics_result_clear(&res);
      r = -ENOMEM;
      break;
    }
    cJSON_AddItemToArray(a, o);
    if (i < n) cJSON_AddStringToObject(o, "site", id);
    else cJSON_AddNullToObject(o, "site");
    if (i < n && sites[i].name) cJSON_AddStringToObject(o, "name", sites[i].name);
    else cJSON_AddNullToObject(o, "name");
    metrics_api_factory_fields(o, &res);
    metrics_result_clear(&res);
  }
  if (r < 0) cJSON_Delete(a);
  else m->sites = a;
  return r;
}

static void ma__work(uv_work_t *w) {
  ma_req *m = w->data;
  store *rd = NULL;
  int r = rd_pool_get(m->app->readers, &rd, m->errmsg, sizeof(m->errmsg));
  if (r < 0) {
    m->err = r;
    return;
  }
  m->known = true;
  if (m->kind == MA_WORKER || m->kind == MA_STATION)
    r = rd->ops->id_known(rd, m->kind == MA_WORKER ? ST_ID_WORKER : ST_ID_STATION, m->id, &m->known);
  if (r == 0 && m->known && m->kind != MA_FACTORY) r = reg_index_load(rd, &m->reg);
  if (r == 0 && m->known && m->kind == MA_SITES) r = ma__sites(m, rd);
  else if (r == 0 && m->known) r = rd->ops->metrics(rd, &m->q, &m->res);
  if (r < 0) {
    m->err = r;
    snprintf(m->errmsg, sizeof(m->errmsg), "%s", rd->ops->last_error(rd));
  }
  rd_pool_put(m->app->readers, rd, r < 0 && r != -ENOMEM);
}

static void ma__time(cJSON *o, const char *name, int64_t ms) {
  char buf[TF_RFC3339_LEN];
  tf_format_ms(ms, buf);
  cJSON_AddStringToObject(o, name, buf);
}

static void ma__s(cJSON *o, const char *name, int64_t ms) {
  cJSON_AddNumberToObject(o, name, (double)ms / 1000.0);
}

/* The registry's names for an id, where it knows them. */
static void ma__names(cJSON *o, const reg_index *x, reg_kind kind, const char *id) {
  const reg_entry *e = reg_index_find(x, kind, id);
  if (!e) return;
  if (e->name) cJSON_AddStringToObject(o, "name", e->name);
  if (kind != REG_STATIONS) return;
  if (e->line) cJSON_AddStringToObject(o, "line", e->line);
  if (e->site) cJSON_AddStringToObject(o, "site", e->site);
}

static void ma__worker(cJSON *o, const char *id, const metrics_worker *w, const reg_index *x) {
  static const metrics_worker zero;
  if (!w) w = &zero;
  cJSON_AddStringToObject(o, "worker_id", id);
  ma__names(o, x, REG_WORKERS, id);
  ma__s(o, "working_s", w->working_ms);
  ma__s(o, "idle_s", w->idle_ms);
  ma__s(o, "absent_s", w->absent_ms);
  cJSON_AddNumberToObject(o, "utilization_pct", w->utilization_pct);
  cJSON_AddNumberToObject(o, "units", (double)w->units);
  cJSON_AddNumberToObject(o, "units_per_hour", w->units_per_hour);
}

static void ma__station(cJSON *o, const char *id, const metrics_station *s, const reg_index *x) {
  static const metrics_station zero;
  if (!s) s = &zero;
  cJSON_AddStringToObject(o, "workstation_id", id);
  ma__names(o, x, REG_STATIONS, id);
  ma__s(o, "occupancy_s", s->occupancy_ms);
  ma__s(o, "working_s", s->working_ms);
  cJSON_AddNumberToObject(o, "utilization_pct", s->utilization_pct);
  cJSON_AddNumberToObject(o, "units", (double)s->units);
  cJSON_AddNumberToObject(o, "units_per_hour", s->units_per_hour);
}

typedef struct ma_unknown {
  const char *const *allowed;
  char name[80];
  bool found;
} ma_unknown;

static int ma__check_param(void *arg, const char *k, const char *v) {
  ma_unknown *u = arg;
  (void)v;
  for (const char *const *a = u->allowed; *a; a++)
    if (strcmp(*a, k) == 0) return 0;
  snprintf(u->name, sizeof u->name, "%s", k);
  u->found = true;
  return 1;
}

int metrics_api_refuse_unknown(httpd_req *req, const char *const *allowed) {
  ma_unknown u = {.allowed = allowed};
  httpd_req_query_each(req, ma__check_param, &u);
  if (!u.found) return 0;
  char list[120] = "";
  size_t o = 0;
  for (const char *const *a = allowed; *a && o < sizeof list; a++)
    o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "", *a);
  for (char *p = u.name; *p; p++)
    if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) *p = '?';
  api_bad_param(req, u.name, "%s: unknown query parameter (this endpoint takes %s)", u.name, list);
  return 1;
}

void metrics_api_factory_fields(cJSON *o, const metrics_result *r) {
  const metrics_factory *f = &r->factory;
  cJSON_AddNumberToObject(o, "workers", (double)f->workers);
  cJSON_AddNumberToObject(o, "workstations", (double)f->workstations);
  cJSON_AddNumberToObject(o, "events", (double)f->events);
  ma__s(o, "working_s", f->working_ms);
  cJSON_AddNumberToObject(o, "units", (double)f->units);
  cJSON_AddNumberToObject(o, "units_per_hour", f->units_per_hour);
  cJSON_AddNumberToObject(o, "avg_utilization_pct", f->avg_utilization_pct);
  cJSON_AddNumberToObject(o, "utilization_pct", f->utilization_pct);
}

static cJSON *ma__json(const ma_req *m) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  ma__time(o, "from", m->q.from_ms);
  ma__time(o, "to", m->q.to_ms);
  const metrics_result *r = &m->res;
  switch (m->kind) {
    case MA_FACTORY: metrics_api_factory_fields(o, r); break;
    case MA_SITES: cJSON_AddItemReferenceToObject(o, "sites", m->sites); break;
    case MA_WORKER: ma__worker(o, m->id, metrics_find_worker(r, m->id), m->reg); break;
    case MA_STATION: ma__station(o, m->id, metrics_find_station(r, m->id), m->reg); break;
    case MA_WORKERS: {
      cJSON *a = cJSON_AddArrayToObject(o, "workers");
      for (size_t i = 0; a && i < r->n_workers; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        ma__worker(e, r->workers[i].worker_id, &r->workers[i], m->reg);
        cJSON_AddItemToArray(a, e);
      }
      break;
    }
    case MA_STATIONS: {
      cJSON *a = cJSON_AddArrayToObject(o, "workstations");
      for (size_t i = 0; a && i < r->n_stations; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e) break;
        ma__station(e, r->stations[i].workstation_id, &r->stations[i], m->reg);
        cJSON_AddItemToArray(a, e);
      }
      break;
    }
    default: break;
  }
  return o;
}

static void ma__done(uv_work_t *w, int status) {
  ma_req *m = w->data;
  col_app *app = m->app;
  if (status < 0) {
    api_shutting_down(m->req);
  } else if (m->err) {
    api_db_unavailable(m->req, "metrics", m->errmsg);
  } else if (!m->known) {
    httpd_respond_error(m->req, 404, "not_found", "no %s \"%s\" was ever seen",
                        m->kind == MA_WORKER ? "worker" : "workstation", m->id);
  } else {
    api_json(m->req, ma__json(m));
  }
  metrics_result_clear(&m->res);
  reg_index_free(m->reg);
  mf_clear(&m->filt);
  cJSON_Delete(m->sites);
  app->inflight--;
  free(m);
}

void metrics_api_on_request(col_app *app, httpd_req *req) {
  ma_req *m = calloc(1, sizeof(*m));
  if (!m) {
    api_no_memory(req);
    return;
  }
  int idr;
  m->kind = ma__kind(httpd_req_path(req), m->id, &idr);
  if (m->kind == MA_NONE) {
    free(m);
    httpd_respond_error(req, 404, "not_found", "no such endpoint: %.100s", httpd_req_path(req));
    return;
  }
  if (idr == -E2BIG) {
    free(m);
    httpd_respond_error(req, 404, "not_found", "no such id (longer than %d bytes)", MQ_ID_MAX);
    return;
  }
  if (idr < 0) {
    free(m);
    api_bad_param(req, NULL, "id: badly percent-encoded or not UTF-8");
    return;
  }
  static const char *const known[] = {"from", "to", "site", "line", "workstation", NULL};
  if (metrics_api_refuse_unknown(req, known)) {
    free(m);
    return;
  }
  const char *param = NULL;
  char msg[200];
  if (mq_window(httpd_req_query(req, "from"), httpd_req_query(req, "to"), tf_now_ms(), &m->q.from_ms,
                &m->q.to_ms, &param, msg, sizeof(msg)) < 0) {
    free(m);
    api_bad_param(req, param, "%s", msg);
    return;
  }
  reg_ref *reg = reg_cache_acquire(app->reg);
  int fr = mf_parse(req, reg_ref_index(reg), &m->filt, &param, msg, sizeof(msg));
  reg_cache_release(app->reg, reg);
  if (fr < 0) {
    free(m);
    if (fr == -ENOMEM) api_no_memory(req);
    else api_bad_param(req, param, "%s", msg);
    return;
  }
  if (m->filt.on) m->q.filter = &m->filt.f;
  if (m->kind == MA_WORKER) m->q.worker_id = m->id;
  if (m->kind == MA_STATION) m->q.workstation_id = m->id;
  m->app = app;
  m->req = req;
  m->work.data = m;
  int r = uv_queue_work(app->loop, &m->work, ma__work, ma__done);
  if (r < 0) {
    mf_clear(&m->filt);
    free(m);
    api_not_scheduled(req);
    return;
  }
  app->inflight++;
}
