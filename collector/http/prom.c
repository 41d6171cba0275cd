/* prom: see prom.h. */
#include "prom.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics_api.h"
#include "readers.h"
#include "rollup.h"
#include "timefmt.h"
#include "version.h"

static const char *const prom_routes[] = {"ingest",
                                          "agents",
                                          "metrics_factory",
                                          "metrics_workers",
                                          "metrics_worker",
                                          "metrics_workstations",
                                          "metrics_workstation",
                                          "metrics",
                                          "healthz",
                                          "readyz",
                                          "metrics_series",
                                          "other"};
#define PROM_N_ROUTES (sizeof(prom_routes) / sizeof(prom_routes[0]))
static const double prom_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define PROM_N_LE (sizeof(prom_le) / sizeof(prom_le[0]))

typedef struct prom_agent {
  char id[65];
  uint64_t accepted, duplicates, rejected;
} prom_agent;

typedef struct prom_hist {
  uint64_t le[PROM_N_LE];
  uint64_t count;
  double sum;
} prom_hist;

struct col_prom {
  prom_agent *agents;
  size_t n_agents, cap_agents;
  prom_agent other;
  prom_hist hist[PROM_N_ROUTES];
  /* the database snapshot, refreshed at most every PROM_CACHE_MS */
  uint64_t snap_mono_ms;
  bool have_snap;
  st_agent_info *snap_agents;
  size_t snap_n;
  metrics_result snap_today;
  bool refreshing;
};

col_prom *prom_new(void) {
  col_prom *p = calloc(1, sizeof(*p));
  if (p) snprintf(p->other.id, sizeof(p->other.id), "other");
  return p;
}

void prom_free(col_prom *p) {
  if (!p) return;
  free(p->agents);
  st_agents_free(p->snap_agents, p->snap_n);
  metrics_result_free(&p->snap_today);
  free(p);
}

static prom_agent *prom__agent(col_prom *p, const char *id) {
  size_t lo = 0, hi = p->n_agents; /* sorted by id */
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    int c = strcmp(p->agents[m].id, id);
    if (c == 0) return &p->agents[m];
    if (c < 0) lo = m + 1;
    else hi = m;
  }
  if (p->n_agents >= PROM_MAX_AGENTS) return &p->other;
  if (p->n_agents == p->cap_agents) {
    size_t cap = p->cap_agents ? p->cap_agents * 2 : 16;
    prom_agent *n = realloc(p->agents, cap * sizeof(*n));
    if (!n) return &p->other;
    p->agents = n;
    p->cap_agents = cap;
  }
  memmove(&p->agents[lo + 1], &p->agents[lo], (p->n_agents - lo) * sizeof(*p->agents));
  memset(&p->agents[lo], 0, sizeof(*p->agents));
  snprintf(p->agents[lo].id, sizeof(p->agents[lo].id), "%s", id);
  p->n_agents++;
  return &p->agents[lo];
}

void prom_count_batch(col_prom *p, const char *agent_id, uint64_t accepted, uint64_t duplicates,
                      uint64_t rejected) {
  if (!p) return;
  prom_agent *a = prom__agent(p, agent_id);
  a->accepted += accepted;
  a->duplicates += duplicates;
  a->rejected += rejected;
}

static size_t prom__route(const char *path) {
  static const struct {
    const char *path;
    size_t i;
    bool prefix;
  } map[] = {
      {"/v1/ingest", 0, false},
      {"/v1/agents", 1, false},
      {"/v1/metrics/factory", 2, false},
      {"/v1/metrics/workers", 3, false},
      {"/v1/metrics/workers/", 4, true},
      {"/v1/metrics/workstations", 5, false},
      {"/v1/metrics/workstations/", 6, true},
      {"/metrics", 7, false},
      {"/healthz", 8, false},
      {"/readyz", 9, false},
      {"/v1/metrics/series", 10, false},
  };
  for (size_t i = 0; path && i < sizeof(map) / sizeof(map[0]); i++) {
    if (map[i].prefix ? strncmp(path, map[i].path, strlen(map[i].path)) == 0 : strcmp(path, map[i].path) == 0)
      return map[i].i;
  }
  return PROM_N_ROUTES - 1;
}

void prom_on_answer(const httpd_req *req, unsigned status, double seconds, void *ud) {
  (void)status;
  col_app *app = ud;
  if (!app->prom) return;
  prom_hist *h = &app->prom->hist[prom__route(httpd_req_path(req))];
  for (size_t i = 0; i < PROM_N_LE; i++)
    if (seconds <= prom_le[i]) h->le[i]++;
  h->count++;
  h->sum += seconds;
}

/* ---- rendering ---------------------------------------------------------- */

typedef struct pbuf {
  char *s;
  size_t n, cap;
  bool oom;
} pbuf;

__attribute__((format(printf, 2, 3))) static void pb(pbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
    va_end(ap);
    if (k < 0) {
      b->oom = true;
      return;
    }
    if (b->s && b->n + (size_t)k < b->cap) {
      b->n += (size_t)k;
      return;
    }
    size_t cap = b->cap ? b->cap * 2 : 16384;
    while (cap <= b->n + (size_t)k) cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
      b->oom = true;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
}

/* A label value: backslash, quote and newline escaped. */
static const char *prom__esc(const char *v, char *out, size_t outlen) {
  size_t n = 0;
  for (; *v && n + 3 < outlen; v++) {
    if (*v == '\\' || *v == '"') {
      out[n++] = '\\';
      out[n++] = *v;
    } else if (*v == '\n') {
      out[n++] = '\\';
      out[n++] = 'n';
    } else out[n++] = *v;
  }
  out[n] = '\0';
  return out;
}

static void prom__render(col_app *app, pbuf *b) {
  col_prom *p = app->prom;
  char e[160];
  pb(b,
     "# HELP ferry_collector_build_info The running collector's version.\n"
     "# TYPE ferry_collector_build_info gauge\n"
     "ferry_collector_build_info{version=\"%s\",revision=\"%s\"} 1\n",
     FERRY_VERSION, FERRY_GIT_REV);
  pb(b, "# HELP ferry_collector_events_total Events in answered ingest batches, by agent and result.\n"
        "# TYPE ferry_collector_events_total counter\n");
  for (size_t i = 0; i <= p->n_agents; i++) {
    const prom_agent *a = i < p->n_agents ? &p->agents[i] : &p->other;
    if (i == p->n_agents && !a->accepted && !a->duplicates && !a->rejected) break;
    prom__esc(a->id, e, sizeof(e));
    pb(b, "ferry_collector_events_total{agent=\"%s\",result=\"accepted\"} %llu\n", e,
       (unsigned long long)a->accepted);
    pb(b, "ferry_collector_events_total{agent=\"%s\",result=\"duplicate\"} %llu\n", e,
       (unsigned long long)a->duplicates);
    pb(b, "ferry_collector_events_total{agent=\"%s\",result=\"rejected\"} %llu\n", e,
       (unsigned long long)a->rejected);
  }
  const col_stats *s = &app->stats;
  pb(b,
     "# HELP ferry_collector_batches_total Ingest batches answered 200.\n"
     "# TYPE ferry_collector_batches_total counter\nferry_collector_batches_total %llu\n"
     "# HELP ferry_collector_ingest_refused_total Ingest requests answered 4xx.\n"
     "# TYPE ferry_collector_ingest_refused_total counter\nferry_collector_ingest_refused_total %llu\n"
     "# HELP ferry_collector_ingest_overloaded_total Ingest requests answered 503.\n"
     "# TYPE ferry_collector_ingest_overloaded_total counter\nferry_collector_ingest_overloaded_total %llu\n"
     "# HELP ferry_collector_conflicts_total Events whose (agent_id, event_id) was stored with other "
     "content.\n"
     "# TYPE ferry_collector_conflicts_total counter\nferry_collector_conflicts_total %llu\n"
     "# HELP ferry_collector_ingest_rate_limited_total Ingest requests answered 429 (agent over its rate or "
     "concurrency cap).\n"
     "# TYPE ferry_collector_ingest_rate_limited_total counter\nferry_collector_ingest_rate_limited_total "
     "%llu\n",
     (unsigned long long)s->batches, (unsigned long long)s->refused, (unsigned long long)s->overloaded,
     (unsigned long long)s->conflicts, (unsigned long long)s->rate_limited);
  pb(b, "# HELP ferry_collector_request_duration_seconds Time from request headers to answer, by route.\n"
        "# TYPE ferry_collector_request_duration_seconds histogram\n");
  for (size_t r = 0; r < PROM_N_ROUTES; r++) {
    const prom_hist *h = &p->hist[r];
    for (size_t i = 0; i < PROM_N_LE; i++)
      pb(b, "ferry_collector_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", prom_routes[r],
         prom_le[i], (unsigned long long)h->le[i]);
    pb(b,
       "ferry_collector_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
       "ferry_collector_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
       "ferry_collector_request_duration_seconds_count{route=\"%s\"} %llu\n",
       prom_routes[r], (unsigned long long)h->count, prom_routes[r], h->sum, prom_routes[r],
       (unsigned long long)h->count);
  }
  if (!p->have_snap) return;
  pb(b, "# HELP ferry_collector_agent_backlog Events the agent last reported waiting to upload.\n"
        "# TYPE ferry_collector_agent_backlog gauge\n");
  for (size_t i = 0; i < p->snap_n; i++)
    if (p->snap_agents[i].has_stats)
      pb(b, "ferry_collector_agent_backlog{agent=\"%s\"} %lld\n",
         prom__esc(p->snap_agents[i].agent_id, e, sizeof(e)), (long long)p->snap_agents[i].backlog);
  pb(b, "# HELP ferry_collector_agent_missing Seqs of the agent's latest epoch neither received nor declared "
        "dropped.\n"
        "# TYPE ferry_collector_agent_missing gauge\n");
  for (size_t i = 0; i < p->snap_n; i++) {
    const st_agent_info *a = &p->snap_agents[i];
    long long missing = a->n_epochs ? (long long)a->epochs[a->latest].fig.missing : 0;
    pb(b, "ferry_collector_agent_missing{agent=\"%s\"} %lld\n", prom__esc(a->agent_id, e, sizeof(e)),
       missing);
  }
  const metrics_factory *f = &p->snap_today.factory;
  pb(b,
     "# HELP ferry_factory_today_workers Workers with events or state time today (UTC).\n"
     "# TYPE ferry_factory_today_workers gauge\nferry_factory_today_workers %lld\n"
     "# HELP ferry_factory_today_workstations Workstations in today's window (UTC).\n"
     "# TYPE ferry_factory_today_workstations gauge\nferry_factory_today_workstations %lld\n"
     "# HELP ferry_factory_today_events Deduplicated events with a timestamp today (UTC).\n"
     "# TYPE ferry_factory_today_events gauge\nferry_factory_today_events %lld\n"
     "# HELP ferry_factory_today_working_seconds Sum of workers' working time today (UTC).\n"
     "# TYPE ferry_factory_today_working_seconds gauge\nferry_factory_today_working_seconds %.3f\n"
     "# HELP ferry_factory_today_units Units counted today (UTC).\n"
     "# TYPE ferry_factory_today_units gauge\nferry_factory_today_units %lld\n"
     "# HELP ferry_factory_today_avg_utilization_pct Mean worker utilization today (UTC).\n"
     "# TYPE ferry_factory_today_avg_utilization_pct gauge\nferry_factory_today_avg_utilization_pct %.3f\n",
     (long long)f->workers, (long long)f->workstations, (long long)f->events, (double)f->working_ms / 1000.0,
     (long long)f->units, f->avg_utilization_pct);
}

/* ---- the scrape --------------------------------------------------------- */

typedef struct prom_req {
  col_app *app;
  httpd_req *req;
  uv_work_t work;
  int err;
  char errmsg[256];
  st_agent_info *agents;
  size_t n;
  metrics_result today;
} prom_req;

static void prom__work(uv_work_t *w) {
  prom_req *q = w->data;
  store *rd = NULL;
  int r = rd_pool_get(q->app->readers, &rd, q->errmsg, sizeof(q->errmsg));
  if (r < 0) {
    q->err = r;
    return;
  }
  r = rd->ops->list_agents(rd, &q->agents, &q->n);
  if (r == 0) {
    int64_t now = tf_now_ms(), day0 = rollup_day_of_hour(rollup_hour_of(now)) * 86400000;
    st_metrics_query mq = {.from_ms = day0, .to_ms = day0 + 86400000};
    r = rd->ops->metrics(rd, &mq, &q->today);
  }
  if (r < 0) {
    q->err = r;
    snprintf(q->errmsg, sizeof(q->errmsg), "%s", rd->ops->last_error(rd));
  }
  rd_pool_put(q->app->readers, rd, r < 0 && r != -ENOMEM);
}

static void prom__answer(col_app *app, httpd_req *req) {
  pbuf b = {0};
  prom__render(app, &b);
  if (b.oom) httpd_respond_error(req, 503, "unavailable", "out of memory");
  else httpd_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.s, b.n);
  free(b.s);
}

static void prom__done(uv_work_t *w, int status) {
  prom_req *q = w->data;
  col_app *app = q->app;
  col_prom *p = app->prom;
  p->refreshing = false;
  if (status == 0 && q->err == 0) {
    st_agents_free(p->snap_agents, p->snap_n);
    metrics_result_free(&p->snap_today);
    p->snap_agents = q->agents;
    p->snap_n = q->n;
    p->snap_today = q->today;
    p->have_snap = true;
    p->snap_mono_ms = tf_mono_ms();
  } else {
    if (q->err) flog_warn("/metrics: reading the database failed: %s", q->errmsg);
    st_agents_free(q->agents, q->n);
    metrics_result_free(&q->today);
  }
  prom__answer(app, q->req); /* a failed read still answers the in-memory counters */
  app->inflight--;
  free(q);
}

void prom_on_request(col_app *app, httpd_req *req) {
  col_prom *p = app->prom;
  if (p->refreshing || (p->have_snap && tf_mono_ms() - p->snap_mono_ms < PROM_CACHE_MS)) {
    prom__answer(app, req);
    return;
  }
  prom_req *q = calloc(1, sizeof(*q));
  if (!q) {
    prom__answer(app, req);
    return;
  }
  q->app = app;
  q->req = req;
  q->work.data = q;
  if (uv_queue_work(app->loop, &q->work, prom__work, prom__done) < 0) {
    free(q);
    prom__answer(app, req);
    return;
  }
  p->refreshing = true;
  app->inflight++;
}
