/* prom: see prom.h. */
#include "prom.h"

#include "activity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "prom_text.h"
#include "metrics_api.h"
#include "prom_models.h"
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
  prom_models snap_models;
  int64_t snap_stale; /* hours whose rollups are stale */
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
  metrics_result_clear(&p->snap_today);
  prom_models_clear(&p->snap_models);
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

static void prom__render(col_app *app, strbuf *b) {
  col_prom *p = app->prom;
  pt_head(b, "ferry_collector_build_info", "gauge", "The running collector's version.");
  pt_sample_u64(b, "ferry_collector_build_info",
                (pt_label[]){{"version", FERRY_VERSION}, {"revision", FERRY_GIT_REV}}, 2, 1);
  static const char *const events = "ferry_collector_events_total";
  pt_head(b, events, "counter", "Events in answered ingest batches, by agent and result.");
  for (size_t i = 0; i <= p->n_agents; i++) {
    const prom_agent *a = i < p->n_agents ? &p->agents[i] : &p->other;
    if (i == p->n_agents && !a->accepted && !a->duplicates && !a->rejected) break;
    pt_sample_u64(b, events, (pt_label[]){{"agent", a->id}, {"result", "accepted"}}, 2, a->accepted);
    pt_sample_u64(b, events, (pt_label[]){{"agent", a->id}, {"result", "duplicate"}}, 2, a->duplicates);
    pt_sample_u64(b, events, (pt_label[]){{"agent", a->id}, {"result", "rejected"}}, 2, a->rejected);
  }
  activity_prom(app->activity, b);
  const col_stats *s = &app->stats;
  pt_metric_u64(b, "ferry_collector_batches_total", "counter", "Ingest batches answered 200.", s->batches);
  pt_metric_u64(b, "ferry_collector_ingest_refused_total", "counter", "Ingest requests answered 4xx.",
                s->refused);
  pt_metric_u64(b, "ferry_collector_ingest_overloaded_total", "counter", "Ingest requests answered 503.",
                s->overloaded);
  pt_metric_u64(b, "ferry_collector_conflicts_total", "counter",
                "Events whose (agent_id, event_id) was stored with other content.", s->conflicts);
  pt_metric_u64(b, "ferry_collector_ingest_rate_limited_total", "counter",
                "Ingest requests answered 429 (agent over its rate or concurrency cap).", s->rate_limited);
  pt_metric_u64(b, "ferry_collector_ingest_busy_total", "counter",
                "Ingest requests answered 429 because max-ingest-inflight batches were applied and "
                "max-ingest-queue more (or max-ingest-queue-bytes of bodies) admitted.",
                s->busy);
  pt_metric_u64(b, "ferry_collector_ingest_queued_total", "counter",
                "Ingest batches that waited in the queue for a slot.", s->queued);
  pt_metric_u64(b, "ferry_collector_ingest_inflight", "gauge", "Ingest batches being applied.",
                rl_inflight(app->rl));
  pt_metric_u64(b, "ferry_collector_ingest_admitted", "gauge",
                "Ingest batches admitted and not applied yet (being read or waiting for a slot).",
                rl_pending(app->rl));
  pt_metric_u64(
      b, "ferry_collector_ingest_queued_bytes", "gauge",
      "Received body bytes of the ingest batches admitted and not applied yet (max-ingest-queue-bytes).",
      rl_pending_bytes(app->rl));
  pt_metric_u64(b, "ferry_collector_ingest_decoded", "gauge",
                "Ingest batches admitted at their headers that hold their slot: decoded, parsed or applied.",
                s->parsed);
  pt_metric_u64(b, "ferry_collector_ingest_decoded_max", "gauge",
                "The most ingest batches admitted at their headers decoded, parsed or applied at once since "
                "start (at most max-ingest-inflight).",
                s->parsed_max);
  pt_metric_u64(b, "ferry_collector_ingest_waiting", "gauge",
                "Agents refused at max-ingest-inflight and owed a place.", rl_waiting(app->rl, tf_mono_ms()));
  static const char *const dur = "ferry_collector_request_duration_seconds";
  pt_head(b, dur, "histogram", "Time from request headers to answer, by route.");
  for (size_t r = 0; r < PROM_N_ROUTES; r++) {
    const prom_hist *h = &p->hist[r];
    pt_histogram(b, dur, &(pt_label){"route", prom_routes[r]}, 1, prom_le, h->le, PROM_N_LE, h->count,
                 h->sum);
  }
  if (!p->have_snap) return;
  pt_head(b, "ferry_collector_agent_backlog", "gauge", "Events the agent last reported waiting to upload.");
  for (size_t i = 0; i < p->snap_n; i++)
    if (p->snap_agents[i].has_stats)
      pt_sample_i64(b, "ferry_collector_agent_backlog", &(pt_label){"agent", p->snap_agents[i].agent_id}, 1,
                    p->snap_agents[i].backlog);
  pt_head(b, "ferry_collector_agent_missing", "gauge",
          "Seqs of the agent's latest epoch neither received nor declared dropped.");
  for (size_t i = 0; i < p->snap_n; i++) {
    const st_agent_info *a = &p->snap_agents[i];
    int64_t missing = a->n_epochs ? (int64_t)a->epochs[a->latest].fig.missing : 0;
    pt_sample_i64(b, "ferry_collector_agent_missing", &(pt_label){"agent", a->agent_id}, 1, missing);
  }
  pt_metric_i64(b, "ferry_collector_rollup_stale_hours", "gauge",
                "Hours whose rollups ingest made stale and the writer has not rebuilt yet (metrics over them "
                "are computed from their events: exact, but slower).",
                p->snap_stale);
  const metrics_factory *f = &p->snap_today.factory;
  pt_metric_i64(b, "ferry_factory_today_workers", "gauge", "Workers with events or state time today (UTC).",
                (int64_t)f->workers);
  pt_metric_i64(b, "ferry_factory_today_workstations", "gauge", "Workstations in today's window (UTC).",
                (int64_t)f->workstations);
  pt_metric_i64(b, "ferry_factory_today_events", "gauge", "Deduplicated events with a timestamp today (UTC).",
                (int64_t)f->events);
  pt_metric_f64(b, "ferry_factory_today_working_seconds", "gauge",
                "Sum of workers' working time today (UTC).", (double)f->working_ms / 1000.0, 3);
  pt_metric_i64(b, "ferry_factory_today_units", "gauge", "Units counted today (UTC).", (int64_t)f->units);
  pt_metric_f64(b, "ferry_factory_today_avg_utilization_pct", "gauge", "Mean worker utilization today (UTC).",
                f->avg_utilization_pct, 3);
  prom_models_write(b, &p->snap_models);
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
  prom_models models;
  int64_t stale;
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
  if (r == 0) r = rd->ops->stale_hours(rd, &q->stale);
  if (r == 0) {
    int64_t now = tf_now_ms(), day0 = rollup_day_of_hour(rollup_hour_of(now)) * 86400000;
    st_metrics_query mq = {.from_ms = day0, .to_ms = day0 + 86400000};
    r = rd->ops->metrics(rd, &mq, &q->today);
  }
  if (r == 0) r = prom_models_read(rd, q->app->cfg->low_confidence_milli, tf_now_ms(), &q->models);
  if (r < 0) {
    q->err = r;
    snprintf(q->errmsg, sizeof(q->errmsg), "%s", rd->ops->last_error(rd));
  }
  rd_pool_put(q->app->readers, rd, r < 0 && r != -ENOMEM);
}

static void prom__answer(col_app *app, httpd_req *req) {
  strbuf b;
  sb_init(&b, PROM_PAGE_MAX);
  prom__render(app, &b);
  if (b.err == -ENOSPC) httpd_respond_error(req, 503, "unavailable", "the metrics page is over its bound");
  else if (b.err) httpd_respond_error(req, 503, "unavailable", "out of memory");
  else httpd_respond(req, 200, PT_CONTENT_TYPE, b.p, b.len);
  sb_clear(&b);
}

static void prom__done(uv_work_t *w, int status) {
  prom_req *q = w->data;
  col_app *app = q->app;
  col_prom *p = app->prom;
  p->refreshing = false;
  if (status == 0 && q->err == 0) {
    st_agents_free(p->snap_agents, p->snap_n);
    metrics_result_clear(&p->snap_today);
    p->snap_agents = q->agents;
    p->snap_n = q->n;
    p->snap_today = q->today;
    p->snap_stale = q->stale;
    prom_models_clear(&p->snap_models);
    p->snap_models = q->models;
    p->have_snap = true;
    p->snap_mono_ms = tf_mono_ms();
  } else {
    if (q->err) flog_warn("/metrics: reading the database failed: %s", q->errmsg);
    st_agents_free(q->agents, q->n);
    metrics_result_clear(&q->today);
    prom_models_clear(&q->models);
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
