/* test_collector_metrics_prop: a seeded property test of the metrics rules.
 * Random small factories (few workers and stations, ties, duplicate
 * (agent_id, event_id) keys with other content, events near hour boundaries)
 * are fed one batch at a time, in random arrival order, into a model store
 * that keeps the first stored copy of each key and maintains hour buckets the
 * way a real store must (rollup_stale_hours → rollup_build → replace rows).
 * After each batch and at the end, random windows are computed three ways —
 * metrics_compute on all events and on just the fetch range, and the rollup
 * path (bucket rows + exact edges) — and compared with a brute-force reference
 * written here from the SPEC's sentences, not from metrics.c.
 *
 * Usage: test_collector_metrics_prop [SEED [CASES]] | --case CASE_SEED.
 * A failing case prints the seed that reproduces it alone. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"
#include "rollup.h"

#define S  INT64_C(1000)
#define M  (60 * S)
#define H  (60 * M)
#define T0 INT64_C(1772352000000) /* hour-aligned */

/* ---- PRNG: splitmix64, reproducible across platforms ---- */
static uint64_t rng_state;
static uint64_t rnd(void) {
  uint64_t z = (rng_state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}
static int64_t rnd_in(int64_t lo, int64_t hi) { /* [lo, hi) */
  return lo + (int64_t)(rnd() % (uint64_t)(hi - lo));
}
static int chance(int pct) { return (int)(rnd() % 100) < pct; }

static const char *const WORKERS[] = {"w1", "w2", "W3", "\xC3\xA9"};
static const char *const STATIONS[] = {"A", "B", "\xCE\xA9"};
static const char *const AGENTS[] = {"a1", "a2"};
static const char *const EIDS[] = {"e0", "e1",  "e2",  "e3",  "e4",  "e5", "e6", "e7", "e8",  "e9",
                                   "E1", "e10", "e11", "e12", "e13", "x",  "y",  "z",  "e14", "e15"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
static const int64_t CAPS[] = {0, 1, 7 * M, 10 * M, 59 * M, H, 90 * M, 150 * M};

/* ---- the reference: direct readings of SPEC §3, O(n²), no shared code ---- */

static int bytes_cmp(const char *a, const char *b) {
  const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
  while (*x && *x == *y) x++, y++;
  return (int)*x - (int)*y;
}

static int is_state(metrics_type t) { return t != METRICS_PRODUCT_COUNT; }

/* "in timestamp order (ties broken by event_id, then agent_id, in byte order)" */
static int ref_before(const metrics_event *a, const metrics_event *b) {
  if (a->ts_ms != b->ts_ms) return a->ts_ms < b->ts_ms;
  int c = bytes_cmp(a->event_id, b->event_id);
  if (c) return c < 0;
  return bytes_cmp(a->agent_id, b->agent_id) < 0;
}

static int same(const char *a, const char *b) { return a && b && bytes_cmp(a, b) == 0; }

static int64_t overlap(int64_t s, int64_t e, int64_t f, int64_t t) {
  int64_t a = s > f ? s : f, b = e < t ? e : t;
  return b > a ? b - a : 0;
}

typedef struct ref_worker {
  const char *id;
  int64_t working, idle, absent, units;
  double util, uph;
} ref_worker;
typedef struct ref_station {
  const char *id;
  int64_t occ, working, units;
  double util, uph;
} ref_station;
typedef struct ref_result {
  ref_worker w[16];
  size_t nw;
  ref_station s[16];
  size_t ns;
  int64_t events, units, working;
  double uph, avg;
} ref_result;

#define MAXEV 64

static void ref_compute(const metrics_event *d, size_t n, int64_t f, int64_t t, int64_t cap, ref_result *r) {
  int64_t end[MAXEV];
  memset(r, 0, sizeof *r);
  /* Each state lasts until the worker's next state event, at most cap. */
  for (size_t i = 0; i < n; i++) {
    end[i] = d[i].ts_ms;
    if (!is_state(d[i].type)) continue;
    int best = -1;
    for (size_t j = 0; j < n; j++)
      if (j != i && is_state(d[j].type) && same(d[j].worker_id, d[i].worker_id) && ref_before(&d[i], &d[j]) &&
          (best < 0 || ref_before(&d[j], &d[best])))
        best = (int)j;
    end[i] = d[i].ts_ms + cap;
    if (best >= 0 && d[best].ts_ms < end[i]) end[i] = d[best].ts_ms;
  }
  /* Ids seen, sorted by bytes (insertion sort). */
  const char *wid[16], *sid[16];
  size_t nwid = 0, nsid = 0;
  for (size_t i = 0; i < n; i++) {
    if (d[i].worker_id) {
      size_t k = 0;
      while (k < nwid && !same(wid[k], d[i].worker_id)) k++;
      if (k == nwid) wid[nwid++] = d[i].worker_id;
    }
    size_t k = 0;
    while (k < nsid && !same(sid[k], d[i].workstation_id)) k++;
    if (k == nsid) sid[nsid++] = d[i].workstation_id;
  }
  for (size_t i = 1; i < nwid; i++)
    for (size_t j = i; j > 0 && bytes_cmp(wid[j - 1], wid[j]) > 0; j--) {
      const char *x = wid[j];
      wid[j] = wid[j - 1];
      wid[j - 1] = x;
    }
  for (size_t i = 1; i < nsid; i++)
    for (size_t j = i; j > 0 && bytes_cmp(sid[j - 1], sid[j]) > 0; j--) {
      const char *x = sid[j];
      sid[j] = sid[j - 1];
      sid[j - 1] = x;
    }

  double util_sum = 0;
  int util_n = 0;
  for (size_t k = 0; k < nwid; k++) {
    ref_worker w = {.id = wid[k]};
    int member = 0;
    for (size_t i = 0; i < n; i++) {
      if (!same(d[i].worker_id, wid[k])) continue;
      int in = d[i].ts_ms >= f && d[i].ts_ms < t;
      if (in) member = 1;
      if (d[i].type == METRICS_PRODUCT_COUNT) {
        if (in) w.units += d[i].count;
        continue;
      }
      int64_t o = overlap(d[i].ts_ms, end[i], f, t);
      if (o > 0) member = 1;
      if (d[i].type == METRICS_WORKING) w.working += o;
      if (d[i].type == METRICS_IDLE) w.idle += o;
      if (d[i].type == METRICS_ABSENT) w.absent += o;
    }
    if (!member) continue;
    w.util = w.working + w.idle ? 100.0 * (double)w.working / (double)(w.working + w.idle) : 0;
    w.uph = w.working ? (double)w.units / ((double)w.working / 1000.0 / 3600.0) : 0;
    if (w.working + w.idle > 0) util_sum += w.util, util_n++;
    r->working += w.working;
    r->w[r->nw++] = w;
  }
  for (size_t k = 0; k < nsid; k++) {
    ref_station s = {.id = sid[k]};
    int member = 0;
    int64_t pts[2 * MAXEV + 2];
    size_t np = 0;
    pts[np++] = f;
    pts[np++] = t;
    for (size_t i = 0; i < n; i++) {
      if (!same(d[i].workstation_id, sid[k])) continue;
      int in = d[i].ts_ms >= f && d[i].ts_ms < t;
      if (in) member = 1;
      if (d[i].type == METRICS_PRODUCT_COUNT) {
        if (in) s.units += d[i].count;
        continue;
      }
      if (overlap(d[i].ts_ms, end[i], f, t) > 0) member = 1;
      if (d[i].ts_ms > f && d[i].ts_ms < t) pts[np++] = d[i].ts_ms;
      if (end[i] > f && end[i] < t) pts[np++] = end[i];
    }
    if (!member) continue;
    /* Elementary segments between consecutive points: covered or not. */
    for (size_t i = 1; i < np; i++)
      for (size_t j = i; j > 0 && pts[j - 1] > pts[j]; j--) {
        int64_t x = pts[j];
        pts[j] = pts[j - 1];
        pts[j - 1] = x;
      }
    for (size_t p = 0; p + 1 < np; p++) {
      int64_t a = pts[p], b = pts[p + 1];
      if (a == b) continue;
      int occ = 0, wrk = 0;
      for (size_t i = 0; i < n; i++) {
        if (!same(d[i].workstation_id, sid[k]) || !is_state(d[i].type)) continue;
        if (d[i].ts_ms <= a && end[i] >= b) {
          if (d[i].type != METRICS_ABSENT) occ = 1;
          if (d[i].type == METRICS_WORKING) wrk = 1;
        }
      }
      if (occ) s.occ += b - a;
      if (wrk) s.working += b - a;
    }
    s.util = s.occ ? 100.0 * (double)s.working / (double)s.occ : 0;
    s.uph = s.occ ? (double)s.units / ((double)s.occ / 1000.0 / 3600.0) : 0;
    r->s[r->ns++] = s;
  }
  for (size_t i = 0; i < n; i++)
    if (d[i].ts_ms >= f && d[i].ts_ms < t) {
      r->events++;
      if (d[i].type == METRICS_PRODUCT_COUNT) r->units += d[i].count;
    }
  r->uph = (double)r->units / ((double)(t - f) / 1000.0 / 3600.0);
  r->avg = util_n ? util_sum / util_n : 0;
}

static int close_enough(double a, double b) { return fabs(a - b) <= 1e-9 * (fabs(a) > 1 ? fabs(a) : 1); }

/* Compare a result with the reference; returns 0 when equal. */
static int cmp_ref(const metrics_result *m, const ref_result *r, const char *what) {
  int before = check_failures_;
  CHECK_EQ_INT(m->n_workers, r->nw);
  CHECK_EQ_INT(m->n_stations, r->ns);
  if (m->n_workers == r->nw)
    for (size_t i = 0; i < r->nw; i++) {
      const metrics_worker *w = &m->workers[i];
      CHECK_EQ_STR(w->worker_id, r->w[i].id);
      CHECK_EQ_INT(w->working_ms, r->w[i].working);
      CHECK_EQ_INT(w->idle_ms, r->w[i].idle);
      CHECK_EQ_INT(w->absent_ms, r->w[i].absent);
      CHECK_EQ_INT(w->units, r->w[i].units);
      CHECK(close_enough(w->utilization_pct, r->w[i].util));
      CHECK(close_enough(w->units_per_hour, r->w[i].uph));
    }
  if (m->n_stations == r->ns)
    for (size_t i = 0; i < r->ns; i++) {
      const metrics_station *s = &m->stations[i];
      CHECK_EQ_STR(s->workstation_id, r->s[i].id);
      CHECK_EQ_INT(s->occupancy_ms, r->s[i].occ);
      CHECK_EQ_INT(s->working_ms, r->s[i].working);
      CHECK_EQ_INT(s->units, r->s[i].units);
      CHECK(close_enough(s->utilization_pct, r->s[i].util));
      CHECK(close_enough(s->units_per_hour, r->s[i].uph));
    }
  CHECK_EQ_INT(m->factory.workers, r->nw);
  CHECK_EQ_INT(m->factory.workstations, r->ns);
  CHECK_EQ_INT(m->factory.events, r->events);
  CHECK_EQ_INT(m->factory.units, r->units);
  CHECK_EQ_INT(m->factory.working_ms, r->working);
  CHECK(close_enough(m->factory.units_per_hour, r->uph));
  CHECK(close_enough(m->factory.avg_utilization_pct, r->avg));
  if (check_failures_ != before) fprintf(stderr, "  (in %s)\n", what);
  return check_failures_ != before;
}

/* Two results of this module must agree exactly, doubles included. */
static int cmp_exact(const metrics_result *a, const metrics_result *b, const char *what) {
  int before = check_failures_;
  CHECK_EQ_INT(a->n_workers, b->n_workers);
  CHECK_EQ_INT(a->n_stations, b->n_stations);
  if (a->n_workers == b->n_workers)
    for (size_t i = 0; i < a->n_workers; i++) {
      const metrics_worker *x = &a->workers[i], *y = &b->workers[i];
      CHECK_EQ_STR(x->worker_id, y->worker_id);
      CHECK(x->working_ms == y->working_ms && x->idle_ms == y->idle_ms && x->absent_ms == y->absent_ms &&
            x->units == y->units && x->events == y->events);
      CHECK(x->utilization_pct == y->utilization_pct && x->units_per_hour == y->units_per_hour);
    }
  if (a->n_stations == b->n_stations)
    for (size_t i = 0; i < a->n_stations; i++) {
      const metrics_station *x = &a->stations[i], *y = &b->stations[i];
      CHECK_EQ_STR(x->workstation_id, y->workstation_id);
      CHECK(x->occupancy_ms == y->occupancy_ms && x->working_ms == y->working_ms && x->units == y->units &&
            x->events == y->events);
      CHECK(x->utilization_pct == y->utilization_pct && x->units_per_hour == y->units_per_hour);
    }
  CHECK(memcmp(&a->factory, &b->factory, sizeof a->factory) == 0);
  if (check_failures_ != before) fprintf(stderr, "  (in %s)\n", what);
  return check_failures_ != before;
}

/* ---- the model store: first stored copy wins, buckets kept up to date ---- */

typedef struct store {
  metrics_event ev[MAXEV];
  size_t n;
  rollup_worker_hour *wr;
  size_t nwr;
  rollup_station_hour *sr;
  size_t nsr;
  rollup_hour *hr;
  size_t nhr;
  int64_t cap;
} store;

static int store_has_key(const store *s, const metrics_event *e) {
  for (size_t i = 0; i < s->n; i++)
    if (same(s->ev[i].agent_id, e->agent_id) && same(s->ev[i].event_id, e->event_id)) return 1;
  return 0;
}

/* ts of the worker's next state event after e (e itself excluded); 0 = none. */
static int store_next(const store *s, const metrics_event *e, int64_t *ret) {
  int best = -1;
  for (size_t j = 0; j < s->n; j++) {
    const metrics_event *x = &s->ev[j];
    if (x == e || !is_state(x->type) || !same(x->worker_id, e->worker_id)) continue;
    if (!ref_before(e, x)) continue;
    if (best < 0 || ref_before(x, &s->ev[best])) best = (int)j;
  }
  if (best < 0) return 0;
  *ret = s->ev[best].ts_ms;
  return 1;
}

static size_t store_fetch(const store *s, int64_t lo, int64_t hi, metrics_event *out) {
  size_t m = 0;
  for (size_t i = 0; i < s->n; i++)
    if (s->ev[i].ts_ms >= lo && s->ev[i].ts_ms < hi) out[m++] = s->ev[i];
  return m;
}

/* Recompute the buckets of [h0, h1) and replace the stored rows. */
static void store_refresh(store *s, int64_t h0, int64_t h1) {
  metrics_event buf[MAXEV];
  int64_t lo, hi;
  rollup_build_fetch_range(h0, h1, s->cap, &lo, &hi);
  size_t n = store_fetch(s, lo, hi, buf);
  rollup_buckets b;
  int rc = rollup_build(buf, n, s->cap, h0, h1, &b);
  CHECK_EQ_INT(rc, 0);
  if (rc) return;
  size_t k = 0;
  for (size_t i = 0; i < s->nwr; i++)
    if (s->wr[i].hour < h0 || s->wr[i].hour >= h1) s->wr[k++] = s->wr[i];
    else free((char *)s->wr[i].worker_id);
  s->nwr = k;
  k = 0;
  for (size_t i = 0; i < s->nsr; i++)
    if (s->sr[i].hour < h0 || s->sr[i].hour >= h1) s->sr[k++] = s->sr[i];
    else free((char *)s->sr[i].workstation_id);
  s->nsr = k;
  k = 0;
  for (size_t i = 0; i < s->nhr; i++)
    if (s->hr[i].hour < h0 || s->hr[i].hour >= h1) s->hr[k++] = s->hr[i];
  s->nhr = k;
  s->wr = realloc(s->wr, (s->nwr + b.n_workers + 1) * sizeof *s->wr);
  s->sr = realloc(s->sr, (s->nsr + b.n_stations + 1) * sizeof *s->sr);
  s->hr = realloc(s->hr, (s->nhr + b.n_hours + 1) * sizeof *s->hr);
  if (!s->wr || !s->sr || !s->hr) abort();
  for (size_t i = 0; i < b.n_workers; i++) {
    CHECK(b.workers[i].hour >= h0 && b.workers[i].hour < h1);
    s->wr[s->nwr] = b.workers[i];
    s->wr[s->nwr++].worker_id = strdup(b.workers[i].worker_id);
  }
  for (size_t i = 0; i < b.n_stations; i++) {
    CHECK(b.stations[i].hour >= h0 && b.stations[i].hour < h1);
    s->sr[s->nsr] = b.stations[i];
    s->sr[s->nsr++].workstation_id = strdup(b.stations[i].workstation_id);
  }
  for (size_t i = 0; i < b.n_hours; i++) s->hr[s->nhr++] = b.hours[i];
  rollup_buckets_clear(&b);
}

static void store_free(store *s) {
  for (size_t i = 0; i < s->nwr; i++) free((char *)s->wr[i].worker_id);
  for (size_t i = 0; i < s->nsr; i++) free((char *)s->sr[i].workstation_id);
  free(s->wr);
  free(s->sr);
  free(s->hr);
  memset(s, 0, sizeof *s);
}

/* Apply the stale ranges of the events in `changed` (already inserted in, or
 * deleted from, the store). */
static void store_update(store *s, const metrics_event *changed, size_t nchanged) {
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  int hull = chance(50);
  for (size_t i = 0; i < nchanged; i++) {
    int64_t next, h0, h1;
    const metrics_event *e = &changed[i];
    /* find e in the store (for "excluding itself"); a deleted e is not there */
    const metrics_event *self = e;
    for (size_t j = 0; j < s->n; j++)
      if (same(s->ev[j].agent_id, e->agent_id) && same(s->ev[j].event_id, e->event_id)) self = &s->ev[j];
    int have = is_state(e->type) && store_next(s, self, &next);
    rollup_stale_hours(e, have && chance(80) ? &next : NULL, s->cap, &h0, &h1);
    CHECK(h0 < h1);
    if (hull) {
      if (h0 < lo) lo = h0;
      if (h1 > hi) hi = h1;
    } else {
      store_refresh(s, h0, h1);
    }
  }
  if (hull && lo < hi) store_refresh(s, lo, hi);
}

/* ---- one window, every path ---- */

static void check_window(store *s, int64_t f, int64_t t, int full) {
  ref_result ref;
  metrics_result all, part, comb;
  metrics_event buf[MAXEV];
  char what[128];

  ref_compute(s->ev, s->n, f, t, s->cap, &ref);

  int rc = metrics_compute(s->ev, s->n, f, t, s->cap, &all);
  CHECK_EQ_INT(rc, 0);
  if (rc) return;
  snprintf(what, sizeof what, "metrics_compute all, window [%+" PRId64 ", %+" PRId64 ")", f - T0, t - T0);
  cmp_ref(&all, &ref, what);

  if (full) {
    int64_t lo, hi;
    metrics_fetch_range(f, t, s->cap, &lo, &hi);
    size_t n = store_fetch(s, lo, hi, buf);
    rc = metrics_compute(buf, n, f, t, s->cap, &part);
    CHECK_EQ_INT(rc, 0);
    if (!rc) {
      snprintf(what, sizeof what, "metrics_compute fetch range");
      cmp_exact(&part, &all, what);
      metrics_result_clear(&part);
    }
  }

  /* The rollup path. */
  rollup_plan plan;
  metrics_result edges[2];
  CHECK_EQ_INT(rollup_plan_window(f, t, s->cap, &plan), 0);
  size_t ne = 0;
  for (; ne < plan.n_edges; ne++) {
    size_t n = store_fetch(s, plan.edges[ne].fetch_lo_ms, plan.edges[ne].fetch_hi_ms, buf);
    rc = metrics_compute(buf, n, plan.edges[ne].from_ms, plan.edges[ne].to_ms, s->cap, &edges[ne]);
    CHECK_EQ_INT(rc, 0);
    if (rc) break;
  }
  if (ne == plan.n_edges) {
    rollup_buckets rows = {.workers = s->wr,
                           .n_workers = s->nwr,
                           .stations = s->sr,
                           .n_stations = s->nsr,
                           .hours = s->hr,
                           .n_hours = s->nhr};
    rc = rollup_combine(&plan, &rows, edges, ne, &comb);
    CHECK_EQ_INT(rc, 0);
    if (!rc) {
      snprintf(what, sizeof what, "rollup_combine, window [%+" PRId64 ", %+" PRId64 ")", f - T0, t - T0);
      if (!cmp_exact(&comb, &all, what)) cmp_ref(&comb, &ref, what);
      metrics_result_clear(&comb);
    }
    if (full) {
      /* Streamed and pre-aggregated per id, as SQL SUM ... GROUP BY would. */
      rollup_acc *a = rollup_acc_new();
      CHECK(a != NULL);
      for (size_t i = 0; a && i < s->nwr; i++) {
        if (s->wr[i].hour < plan.h_lo || s->wr[i].hour >= plan.h_hi) continue;
        rollup_worker_hour sum = s->wr[i];
        int dup = 0;
        for (size_t j = 0; j < i; j++)
          if (s->wr[j].hour >= plan.h_lo && s->wr[j].hour < plan.h_hi &&
              same(s->wr[j].worker_id, sum.worker_id))
            dup = 1;
        if (dup) continue;
        for (size_t j = i + 1; j < s->nwr; j++)
          if (s->wr[j].hour >= plan.h_lo && s->wr[j].hour < plan.h_hi &&
              same(s->wr[j].worker_id, sum.worker_id)) {
            sum.working_ms += s->wr[j].working_ms, sum.idle_ms += s->wr[j].idle_ms;
            sum.absent_ms += s->wr[j].absent_ms, sum.units += s->wr[j].units;
            sum.events += s->wr[j].events;
          }
        CHECK_EQ_INT(rollup_acc_add_worker(a, &sum), 0);
      }
      for (size_t i = 0; a && i < s->nsr; i++)
        if (s->sr[i].hour >= plan.h_lo && s->sr[i].hour < plan.h_hi)
          CHECK_EQ_INT(rollup_acc_add_station(a, &s->sr[i]), 0);
      for (size_t i = 0; a && i < s->nhr; i++)
        if (s->hr[i].hour >= plan.h_lo && s->hr[i].hour < plan.h_hi) rollup_acc_add_hour(a, &s->hr[i]);
      for (size_t i = 0; a && i < ne; i++) CHECK_EQ_INT(rollup_acc_add_result(a, &edges[i]), 0);
      if (a) {
        CHECK_EQ_INT(rollup_acc_finish(a, f, t, &comb), 0);
        cmp_exact(&comb, &all, "rollup_acc pre-aggregated");
        metrics_result_clear(&comb);
      }
      rollup_acc_free(a);
    }
  }
  for (size_t i = 0; i < ne; i++) metrics_result_clear(&edges[i]);
  metrics_result_clear(&all);
}

static int64_t random_time(const metrics_event *pool, size_t n) {
  switch (rnd() % 4) {
    case 0:
      if (n) return pool[rnd() % n].ts_ms + (chance(50) ? 0 : rnd_in(-2, 3));
      /* fallthrough */
    case 1: return T0 + rnd_in(-1, 5) * H + rnd_in(-3, 4) * (chance(50) ? 1 : M);
    default: return rnd_in(T0 - H, T0 + 4 * H);
  }
}

static void random_window(const store *s, int64_t *f, int64_t *t) {
  do {
    *f = chance(20) ? T0 + rnd_in(-2, 5) * H : random_time(s->ev, s->n) - rnd_in(0, 2 * H);
    *t = chance(20) ? T0 + rnd_in(-1, 6) * H : chance(30) ? *f + rnd_in(1, 3 * M) : *f + rnd_in(1, 6 * H);
  } while (*t <= *f);
}

static void run_case(uint64_t seed) {
  metrics_event arrivals[MAXEV];
  store s = {0};
  rng_state = seed;
  s.cap = CAPS[rnd() % NELEM(CAPS)];
  size_t nw = 1 + rnd() % NELEM(WORKERS), ns = 1 + rnd() % NELEM(STATIONS);
  size_t neid = 2 + rnd() % (NELEM(EIDS) - 2);
  size_t n = rnd() % 40;
  for (size_t i = 0; i < n; i++) {
    metrics_event *e = &arrivals[i];
    if (i > 0 && chance(8)) { /* an exact copy, arriving again */
      *e = arrivals[rnd() % i];
      continue;
    }
    e->event_id = EIDS[rnd() % neid];
    e->agent_id = AGENTS[rnd() % NELEM(AGENTS)];
    e->ts_ms = random_time(arrivals, i);
    e->type = (metrics_type)(rnd() % 4);
    e->worker_id = WORKERS[rnd() % nw];
    if (e->type == METRICS_PRODUCT_COUNT && chance(30)) e->worker_id = NULL;
    e->workstation_id = STATIONS[rnd() % ns];
    e->count = e->type == METRICS_PRODUCT_COUNT ? rnd_in(1, 1000) : rnd_in(0, 3);
  }
  /* Arrivals come in batches; a batch is stored (first copy of a key wins),
   * then the buckets its new events made stale are recomputed. */
  for (size_t i = 0; i < n;) {
    size_t bn = 1 + rnd() % 4;
    metrics_event fresh[4];
    size_t nf = 0;
    for (size_t j = 0; j < bn && i < n; j++, i++) {
      if (store_has_key(&s, &arrivals[i])) continue;
      s.ev[s.n++] = arrivals[i];
      fresh[nf++] = arrivals[i];
    }
    store_update(&s, fresh, nf);
    if (s.n && chance(5)) { /* a retention delete */
      size_t k = rnd() % s.n;
      metrics_event gone = s.ev[k];
      s.ev[k] = s.ev[--s.n];
      store_update(&s, &gone, 1);
    }
    int64_t f, t;
    random_window(&s, &f, &t);
    check_window(&s, f, t, 0);
  }
  /* The incrementally kept rows equal a full rebuild. */
  rollup_buckets full;
  /* Sometimes over a wide span of mostly empty hours (the core then groups
   * its records by sorting instead of by counting). */
  int64_t h0 = rollup_hour_of(T0) - 3 - (chance(25) ? 40000 : 0), h1 = rollup_hour_of(T0) + 9;
  if (rollup_build(s.ev, s.n, s.cap, h0, h1, &full) == 0) {
    int before = check_failures_;
    CHECK_EQ_INT(full.n_workers, s.nwr);
    CHECK_EQ_INT(full.n_stations, s.nsr);
    CHECK_EQ_INT(full.n_hours, s.nhr);
    for (size_t i = 0; i < full.n_workers; i++) {
      int found = 0;
      for (size_t j = 0; j < s.nwr; j++) {
        const rollup_worker_hour *a = &full.workers[i], *b = &s.wr[j];
        if (a->hour == b->hour && same(a->worker_id, b->worker_id))
          found = a->working_ms == b->working_ms && a->idle_ms == b->idle_ms &&
                  a->absent_ms == b->absent_ms && a->units == b->units && a->events == b->events;
      }
      CHECK(found);
    }
    for (size_t i = 0; i < full.n_stations; i++) {
      int found = 0;
      for (size_t j = 0; j < s.nsr; j++) {
        const rollup_station_hour *a = &full.stations[i], *b = &s.sr[j];
        if (a->hour == b->hour && same(a->workstation_id, b->workstation_id))
          found = a->occupancy_ms == b->occupancy_ms && a->working_ms == b->working_ms &&
                  a->units == b->units && a->events == b->events && a->state_ms == b->state_ms;
      }
      CHECK(found);
    }
    for (size_t i = 0; i < full.n_hours; i++) {
      int found = 0;
      for (size_t j = 0; j < s.nhr; j++)
        if (full.hours[i].hour == s.hr[j].hour)
          found = full.hours[i].events == s.hr[j].events && full.hours[i].units == s.hr[j].units;
      CHECK(found);
    }
    if (check_failures_ != before) fprintf(stderr, "  (incremental rows != full rebuild)\n");
    rollup_buckets_clear(&full);
  } else {
    CHECK(0);
  }
  for (int w = 0; w < 4; w++) {
    int64_t f, t;
    random_window(&s, &f, &t);
    check_window(&s, f, t, 1);
  }
  store_free(&s);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--case") == 0) { /* rerun one failing case */
    run_case(strtoull(argv[2], NULL, 0));
    return check_finish("test_collector_metrics_prop");
  }
  uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : UINT64_C(20260301);
  long cases = argc > 2 ? strtol(argv[2], NULL, 10) : 4000;
  int failed_cases = 0;
  long c = 0;
  for (; c < cases && failed_cases < 5; c++) {
    uint64_t case_seed = seed * UINT64_C(1000003) + (uint64_t)c;
    int before = check_failures_;
    run_case(case_seed);
    if (check_failures_ != before) {
      failed_cases++;
      fprintf(stderr, "case %ld failed (master seed %" PRIu64 "); rerun: %s --case %" PRIu64 "\n", c, seed,
              argv[0], case_seed);
    }
  }
  printf("test_collector_metrics_prop: seed %" PRIu64 ", %ld cases\n", seed, c);
  return check_finish("test_collector_metrics_prop");
}
