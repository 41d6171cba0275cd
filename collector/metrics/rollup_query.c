/* rollup_query: see rollup_query.h. */
#include "rollup_query.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* The backend's capped read, or its whole read when it has none. */
static int rq__read(void *ctx, int64_t lo, int64_t hi, const char *worker, const rsl_keys *keys, size_t max,
                    rsl_hist *hist, rsl_events_fn fn, void *arg) {
  const rq_backend *be = ctx;
  if (be->read_capped) return be->read_capped(be->ctx, lo, hi, worker, keys, max, hist, fn, arg);
  return be->events(be->ctx, lo, hi, worker, fn, arg);
}

static int rq__sliced(const rq_backend *be, int64_t lo, int64_t hi, const char *worker, rsl_slice_fn fn,
                      void *arg) {
  return rsl_run(rq__read, (void *)be, be->max_state_ms, lo, hi, worker, be->slice_events, fn, arg);
}

static int rq__fail(const rq_backend *be, const char *what, int r) {
  if (r < 0)
    snprintf(be->err, be->errlen, "%s: %s", what, r == -ENOMEM ? "out of memory" : "corrupt event row");
  return r;
}

typedef struct rq_each_arg {
  const rq_backend *be;
  int64_t h0, h1;
  const rq_build_use *use;
} rq_each_arg;

static int rq__each_fn(void *arg, const metrics_event *ev, const char *const *sites, size_t n,
                       const metrics_clip *clip) {
  rq_each_arg *a = arg;
  int r = 0;
  if (a->use->buckets) {
    rollup_buckets b;
    r = rq__fail(a->be, "rebuild hours",
                 rollup_build_clip(ev, n, a->be->max_state_ms, a->h0, a->h1, clip, &b));
    if (r == 0) {
      r = a->use->buckets(a->use->u, &b);
      rollup_buckets_clear(&b);
    }
  }
  if (r == 0 && a->use->site) {
    rsite_rows rows;
    r = rq__fail(a->be, "rebuild site hours",
                 rsite_build_clip(ev, sites, n, a->be->max_state_ms, a->h0 * ROLLUP_HOUR_MS, ROLLUP_HOUR_MS,
                                  (size_t)(a->h1 - a->h0), clip, &rows));
    if (r == 0) {
      r = a->use->site(a->use->u, &rows);
      rsite_rows_clear(&rows);
    }
  }
  return r;
}

int rq_build_each(const rq_backend *be, int64_t h0, int64_t h1, const char *worker, const rq_build_use *use) {
  int64_t lo, hi;
  if (h0 >= h1) return 0;
  rollup_build_fetch_range(h0, h1, be->max_state_ms, &lo, &hi);
  rq_each_arg a = {be, h0, h1, use};
  return rq__sliced(be, lo, hi, worker, rq__each_fn, &a);
}

typedef struct rq_q {
  const rq_backend *be;
  const st_metrics_query *q;
  rollup_acc *acc;
  bool want_workers, want_stations;
} rq_q;

/* Stored rows of [a, b) — whole days (day rows) or hours (hour rows). */
static int rq__rows(rq_q *c, bool days, int64_t a, int64_t b) {
  const rq_backend *be = c->be;
  int r = 0;
  if (a >= b) return 0;
  const rsite_filter *f = c->q->filter;
  if (f) {
    if (c->want_workers) r = be->sum_site(be->ctx, RQ_WORKERS, days, a, b, c->q->worker_id, f, c->acc);
    if (r == 0 && c->want_stations)
      r = be->sum_site(be->ctx, RQ_STATIONS, days, a, b, c->q->workstation_id, f, c->acc);
    if (r == 0) r = be->sum_site(be->ctx, RQ_TOTALS, days, a, b, NULL, f, c->acc);
    return r;
  }
  if (c->want_workers) r = be->sum(be->ctx, RQ_WORKERS, days, a, b, c->q->worker_id, c->acc);
  if (r == 0 && c->want_stations) r = be->sum(be->ctx, RQ_STATIONS, days, a, b, c->q->workstation_id, c->acc);
  if (r == 0) r = be->sum(be->ctx, RQ_TOTALS, days, a, b, NULL, c->acc);
  return r;
}

static int rq__built_site_use(void *u, const rsite_rows *rows) {
  rq_q *c = u;
  return rsite_acc_add(c->acc, rows, c->q->filter, c->want_workers, c->want_stations, c->q->worker_id,
                       c->q->workstation_id);
}

/* Dirty hours are built this many at a time (each in slices of at most
 * be->slice_events events, rollup_slices.h): a piece is a few hours, so
 * its fetch range's lead-in (max_state before it) is read once per few
 * hours. Each hour's buckets depend only on the events the fetch range
 * gives it, so the pieces add up to what one build of [a, b) gives. */
#define RQ_BUILD_HOURS 4

/* Dirty hours [a, b): built from the events now. */
static int rq__built_piece(rq_q *c, int64_t a, int64_t b);

static int rq__built(rq_q *c, int64_t a, int64_t b) {
  int r = 0;
  for (int64_t h = a; r == 0 && h < b; h += RQ_BUILD_HOURS)
    r = rq__built_piece(c, h, b - h < RQ_BUILD_HOURS ? b : h + RQ_BUILD_HOURS);
  return r;
}

static int rq__built_buckets(void *u, const rollup_buckets *bk) {
  rq_q *c = u;
  int r = 0;
  for (size_t i = 0; r == 0 && c->want_workers && i < bk->n_workers; i++)
    r = rollup_acc_add_worker(c->acc, &bk->workers[i]);
  for (size_t i = 0; r == 0 && c->want_stations && i < bk->n_stations; i++)
    r = rollup_acc_add_station(c->acc, &bk->stations[i]);
  for (size_t i = 0; r == 0 && i < bk->n_hours; i++) rollup_acc_add_hour(c->acc, &bk->hours[i]);
  return r;
}

static int rq__built_piece(rq_q *c, int64_t a, int64_t b) {
  const char *w = c->want_stations ? NULL : c->q->worker_id;
  rq_build_use use = {.u = c};
  if (c->q->filter) use.site = rq__built_site_use;
  else use.buckets = rq__built_buckets;
  if (c->be->build_turn) c->be->build_turn(c->be->ctx, true);
  int r = rq_build_each(c->be, a, b, w, &use);
  if (c->be->build_turn) c->be->build_turn(c->be->ctx, false);
  return r;
}

static bool rq__dirty_in(const int64_t *d, size_t n, int64_t a, int64_t b) {
  size_t lo = 0, hi = n; /* first >= a */
  while (lo < hi) {
    size_t m = (lo + hi) / 2;
    if (d[m] < a) lo = m + 1;
    else hi = m;
  }
  return lo < n && d[lo] < b;
}

/* Hours [a, b) inside one day: clean runs from hour rows, dirty runs built. */
static int rq__hours(rq_q *c, const int64_t *d, size_t nd, int64_t a, int64_t b) {
  int r = 0;
  int64_t h = a;
  while (r == 0 && h < b) {
    bool dirty = rq__dirty_in(d, nd, h, h + 1);
    int64_t e = h + 1;
    while (e < b && rq__dirty_in(d, nd, e, e + 1) == dirty) e++;
    r = dirty ? rq__built(c, h, e) : rq__rows(c, false, h, e);
    h = e;
  }
  return r;
}

static int rq__whole_hours(rq_q *c, int64_t h_lo, int64_t h_hi) {
  int64_t *d = NULL;
  size_t nd = 0;
  int r = c->be->dirty_hours(c->be->ctx, h_lo, h_hi, &d, &nd);
  int64_t h = h_lo;
  while (r == 0 && h < h_hi) {
    int64_t day = rollup_day_of_hour(h), day_end = (day + 1) * 24;
    if (h == day * 24 && day_end <= h_hi && !rq__dirty_in(d, nd, h, day_end)) {
      int64_t e = day_end; /* a run of whole clean days */
      while (e + 24 <= h_hi && !rq__dirty_in(d, nd, e, e + 24)) e += 24;
      r = rq__rows(c, true, day, rollup_day_of_hour(e));
      h = e;
    } else {
      int64_t e = day_end < h_hi ? day_end : h_hi;
      r = rq__hours(c, d, nd, h, e);
      h = e;
    }
  }
  free(d);
  return r;
}

typedef struct rq_edge_arg {
  rq_q *c;
  const rollup_edge *e;
} rq_edge_arg;

static int rq__edge_fn(void *arg, const metrics_event *ev, const char *const *sites, size_t n,
                       const metrics_clip *clip) {
  rq_edge_arg *a = arg;
  const rq_backend *be = a->c->be;
  const st_metrics_query *q = a->c->q;
  int r;
  if (q->filter) { /* the edge's site rows, filtered */
    rsite_rows rows;
    r = rsite_build_clip(ev, sites, n, be->max_state_ms, a->e->from_ms, a->e->to_ms - a->e->from_ms, 1, clip,
                         &rows);
    if (r == 0)
      r = rsite_acc_add(a->c->acc, &rows, q->filter, a->c->want_workers, a->c->want_stations, q->worker_id,
                        q->workstation_id);
    rsite_rows_clear(&rows);
    return rq__fail(be, "compute metrics", r);
  }
  metrics_result res;
  r = metrics_compute_clip(ev, n, a->e->from_ms, a->e->to_ms, be->max_state_ms, clip, &res);
  if (r < 0) return rq__fail(be, "compute metrics", r);
  r = rollup_acc_add_result(a->c->acc, &res);
  metrics_result_clear(&res);
  return r;
}

static int rq__edge(rq_q *c, const rollup_edge *e) {
  const char *w = c->want_stations ? NULL : c->q->worker_id;
  rq_edge_arg a = {c, e};
  return rq__sliced(c->be, e->fetch_lo_ms, e->fetch_hi_ms, w, rq__edge_fn, &a);
}

int rq_metrics(const rq_backend *be, const st_metrics_query *q, metrics_result *ret) {
  rollup_plan plan;
  if (rollup_plan_window(q->from_ms, q->to_ms, be->max_state_ms, &plan) < 0) {
    snprintf(be->err, be->errlen, "bad window");
    return -EINVAL;
  }
  rq_q c = {
      .be = be,
      .q = q,
      .acc = rollup_acc_new(),
      .want_workers = q->workstation_id == NULL || q->worker_id != NULL,
      .want_stations = q->worker_id == NULL || q->workstation_id != NULL,
  };
  if (!c.acc) return -ENOMEM;
  bool opened = false;
  int r = be->begin_read ? be->begin_read(be->ctx, &opened) : 0;
  if (r == 0 && plan.h_lo < plan.h_hi) r = rq__whole_hours(&c, plan.h_lo, plan.h_hi);
  for (size_t i = 0; r == 0 && i < plan.n_edges; i++) r = rq__edge(&c, &plan.edges[i]);
  if (be->end_read) be->end_read(be->ctx, opened);
  if (r == 0) r = rollup_acc_finish(c.acc, q->from_ms, q->to_ms, ret);
  if (r == -ENOMEM) snprintf(be->err, be->errlen, "out of memory");
  rollup_acc_free(c.acc);
  return r;
}
