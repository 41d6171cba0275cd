/* rollup.c: hour buckets for metrics at scale (see rollup.h for why the
 * figures are additive over hours and how a store drives this). The buckets
 * come from the same core as metrics_compute, with hour-wide buckets instead
 * of one window-wide bucket; the combination derives the final doubles with
 * metrics__derive, so both paths agree exactly. */
#include "rollup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

int64_t rollup_hour_of(int64_t ts_ms) { return floor_div(ts_ms, ROLLUP_HOUR_MS); }

int64_t rollup_day_of_hour(int64_t hour) { return floor_div(hour, 24); }

/* First ms of an hour, saturated at the int64 range. */
static int64_t hour_start(int64_t h) {
  const int64_t lim = INT64_MAX / ROLLUP_HOUR_MS;
  if (h > lim) return INT64_MAX;
  if (h < -lim) return INT64_MIN;
  return h * ROLLUP_HOUR_MS;
}

void rollup_build_fetch_range(int64_t h0, int64_t h1, int64_t max_state_ms, int64_t *ret_lo_ms,
                              int64_t *ret_hi_ms) {
  metrics_fetch_range(hour_start(h0), hour_start(h1), max_state_ms, ret_lo_ms, ret_hi_ms);
}

void rollup_buckets_clear(rollup_buckets *b) {
  if (!b) return;
  free(b->workers);
  free(b->stations);
  free(b->hours);
  free(b->ids_);
  memset(b, 0, sizeof *b);
}

int rollup_build(const metrics_event *evs, size_t n, int64_t max_state_ms, int64_t h0, int64_t h1,
                 rollup_buckets *ret) {
  return rollup_build_clip(evs, n, max_state_ms, h0, h1, NULL, ret);
}

int rollup_build_clip(const metrics_event *evs, size_t n, int64_t max_state_ms, int64_t h0, int64_t h1,
                      const metrics_clip *clip, rollup_buckets *ret) {
  metrics__grid g;
  rollup_buckets b = {0};
  const int64_t hour_lim = INT64_MAX / ROLLUP_HOUR_MS;
  if (h0 >= h1 || h0 < -hour_lim || h1 > hour_lim) return -EINVAL;
  int r = metrics__grid_compute_grouped(evs, n, max_state_ms, h0 * ROLLUP_HOUR_MS, ROLLUP_HOUR_MS,
                                        (size_t)(h1 - h0), NULL, 0, clip, &g);
  if (r < 0) return r;

  size_t nh = 0, idlen = 0;
  for (size_t k = 0; k < g.count; k++)
    if (g.bucket_events[k]) nh++;
  for (size_t i = 0; i < g.nw; i++) idlen += strlen(g.worker_ids[g.w[i].id]) + 1;
  for (size_t i = 0; i < g.ns; i++) idlen += strlen(g.station_ids[g.s[i].id]) + 1;
  b.workers = calloc(g.nw ? g.nw : 1, sizeof *b.workers);
  b.stations = calloc(g.ns ? g.ns : 1, sizeof *b.stations);
  b.hours = calloc(nh ? nh : 1, sizeof *b.hours);
  b.ids_ = malloc(idlen ? idlen : 1);
  if (!b.workers || !b.stations || !b.hours || !b.ids_) {
    rollup_buckets_clear(&b);
    metrics__grid_clear(&g);
    return -ENOMEM;
  }

  /* Each id is stored once per row; rows of one id in different hours could
   * share, but per-row copies keep the layout simple and bounded by the rows. */
  char *p = b.ids_;
  for (size_t i = 0; i < g.nw; i++) {
    const metrics__wrow *w = &g.w[i];
    size_t l = strlen(g.worker_ids[w->id]) + 1;
    memcpy(p, g.worker_ids[w->id], l);
    b.workers[i] = (rollup_worker_hour){.hour = h0 + (int64_t)w->bucket,
                                        .worker_id = p,
                                        .working_ms = w->working_ms,
                                        .idle_ms = w->idle_ms,
                                        .absent_ms = w->absent_ms,
                                        .units = w->units,
                                        .events = w->events};
    p += l;
  }
  for (size_t i = 0; i < g.ns; i++) {
    const metrics__srow *s = &g.s[i];
    size_t l = strlen(g.station_ids[s->id]) + 1;
    memcpy(p, g.station_ids[s->id], l);
    b.stations[i] = (rollup_station_hour){.hour = h0 + (int64_t)s->bucket,
                                          .workstation_id = p,
                                          .occupancy_ms = s->occupancy_ms,
                                          .working_ms = s->working_ms,
                                          .units = s->units,
                                          .events = s->events,
                                          .state_ms = s->state_ms};
    p += l;
  }
  for (size_t k = 0; k < g.count; k++)
    if (g.bucket_events[k])
      b.hours[b.n_hours++] =
          (rollup_hour){.hour = h0 + (int64_t)k, .events = g.bucket_events[k], .units = g.bucket_units[k]};
  b.n_workers = g.nw;
  b.n_stations = g.ns;
  b.h0 = h0;
  b.h1 = h1;
  metrics__grid_clear(&g);
  *ret = b;
  return 0;
}

void rollup_stale_hours(const metrics_event *e, const int64_t *next_state_ts_ms, int64_t max_state_ms,
                        int64_t *ret_h0, int64_t *ret_h1) {
  int64_t h0 = rollup_hour_of(e->ts_ms), h1 = h0 + 1;
  if (e->type != METRICS_PRODUCT_COUNT) {
    int64_t end;
    if (max_state_ms < 0) max_state_ms = 0;
    if (__builtin_add_overflow(e->ts_ms, max_state_ms, &end)) end = INT64_MAX;
    if (next_state_ts_ms && *next_state_ts_ms < end) end = *next_state_ts_ms;
    if (end > e->ts_ms) {
      int64_t last = rollup_hour_of(end - 1) + 1;
      if (last > h1) h1 = last;
    }
  }
  *ret_h0 = h0;
  *ret_h1 = h1;
}

int rollup_plan_window(int64_t from_ms, int64_t to_ms, int64_t max_state_ms, rollup_plan *ret) {
  rollup_plan p = {.from_ms = from_ms, .to_ms = to_ms};
  /* Far from any real timestamp; keeps the hour arithmetic below in range. */
  if (from_ms >= to_ms || max_state_ms < 0 || from_ms < INT64_MIN / 2 || to_ms > INT64_MAX / 2)
    return -EINVAL;
  int64_t h_lo = -floor_div(-from_ms, ROLLUP_HOUR_MS); /* ceil */
  int64_t h_hi = floor_div(to_ms, ROLLUP_HOUR_MS);
  if (h_lo >= h_hi) {
    p.h_lo = p.h_hi = rollup_hour_of(from_ms);
    p.edges[p.n_edges++] = (rollup_edge){.from_ms = from_ms, .to_ms = to_ms};
  } else {
    p.h_lo = h_lo;
    p.h_hi = h_hi;
    if (from_ms < h_lo * ROLLUP_HOUR_MS)
      p.edges[p.n_edges++] = (rollup_edge){.from_ms = from_ms, .to_ms = h_lo * ROLLUP_HOUR_MS};
    if (h_hi * ROLLUP_HOUR_MS < to_ms)
      p.edges[p.n_edges++] = (rollup_edge){.from_ms = h_hi * ROLLUP_HOUR_MS, .to_ms = to_ms};
  }
  p.d_lo = p.d_hi = 0;
  if (p.h_lo < p.h_hi) {
    int64_t d_lo = -floor_div(-p.h_lo, 24), d_hi = floor_div(p.h_hi, 24);
    if (d_lo < d_hi) p.d_lo = d_lo, p.d_hi = d_hi;
  }
  for (size_t i = 0; i < p.n_edges; i++)
    metrics_fetch_range(p.edges[i].from_ms, p.edges[i].to_ms, max_state_ms, &p.edges[i].fetch_lo_ms,
                        &p.edges[i].fetch_hi_ms);
  *ret = p;
  return 0;
}

/* ---- the accumulator: one open-addressing hash table per id kind ---- */

enum { ACC_FIELDS = 5 };

typedef struct acc_entry {
  char *id;              /* owned; NULL = empty slot */
  int64_t v[ACC_FIELDS]; /* worker: working, idle, absent, units, events;
                            station: occupancy, working, units, events, state_ms */
  int member;
} acc_entry;

typedef struct acc_table {
  acc_entry *slots;
  size_t cap, n; /* cap is a power of two; n ≤ cap / 2 */
} acc_table;

struct rollup_acc {
  acc_table workers, stations;
  int64_t events, units;
};

static uint64_t hash_str(const char *s) {
  uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
  return h;
}

static int table_grow(acc_table *t) {
  size_t cap = t->cap ? t->cap * 2 : 64;
  acc_entry *slots = calloc(cap, sizeof *slots);
  if (!slots) return -ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->slots[i].id) continue;
    size_t j = (size_t)hash_str(t->slots[i].id) & (cap - 1);
    while (slots[j].id) j = (j + 1) & (cap - 1);
    slots[j] = t->slots[i];
  }
  free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return 0;
}

/* The entry of id, created (zeroed) when new; NULL on ENOMEM. */
static acc_entry *table_get(acc_table *t, const char *id) {
  if (t->cap == 0 || (t->n + 1) * 2 > t->cap)
    if (table_grow(t) < 0) return NULL;
  size_t j = (size_t)hash_str(id) & (t->cap - 1);
  while (t->slots[j].id) {
    if (strcmp(t->slots[j].id, id) == 0) return &t->slots[j];
    j = (j + 1) & (t->cap - 1);
  }
  size_t l = strlen(id) + 1;
  char *copy = malloc(l);
  if (!copy) return NULL;
  memcpy(copy, id, l);
  t->slots[j].id = copy;
  t->n++;
  return &t->slots[j];
}

static void table_free(acc_table *t) {
  for (size_t i = 0; i < t->cap; i++) free(t->slots[i].id);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

rollup_acc *rollup_acc_new(void) { return calloc(1, sizeof(rollup_acc)); }

rollup_acc *rollup_acc_free(rollup_acc *a) {
  if (!a) return NULL;
  table_free(&a->workers);
  table_free(&a->stations);
  free(a);
  return NULL;
}

static int acc_add(acc_table *t, const char *id, const int64_t v[ACC_FIELDS], int member) {
  acc_entry *e = table_get(t, id);
  if (!e) return -ENOMEM;
  for (int i = 0; i < ACC_FIELDS; i++) e->v[i] += v[i];
  e->member |= member;
  return 0;
}

int rollup_acc_add_worker(rollup_acc *a, const rollup_worker_hour *row) {
  const int64_t v[ACC_FIELDS] = {row->working_ms, row->idle_ms, row->absent_ms, row->units, row->events};
  int member = row->events > 0 || row->working_ms > 0 || row->idle_ms > 0 || row->absent_ms > 0;
  return acc_add(&a->workers, row->worker_id, v, member);
}

int rollup_acc_add_station(rollup_acc *a, const rollup_station_hour *row) {
  const int64_t v[ACC_FIELDS] = {row->occupancy_ms, row->working_ms, row->units, row->events, row->state_ms};
  int member = row->events > 0 || row->state_ms > 0;
  return acc_add(&a->stations, row->workstation_id, v, member);
}

void rollup_acc_add_hour(rollup_acc *a, const rollup_hour *row) {
  a->events += row->events;
  a->units += row->units;
}

int rollup_acc_add_result(rollup_acc *a, const metrics_result *edge) {
  for (size_t i = 0; i < edge->n_workers; i++) {
    const metrics_worker *w = &edge->workers[i];
    const int64_t v[ACC_FIELDS] = {w->working_ms, w->idle_ms, w->absent_ms, w->units, w->events};
    if (acc_add(&a->workers, w->worker_id, v, 1) < 0) return -ENOMEM;
  }
  for (size_t i = 0; i < edge->n_stations; i++) {
    const metrics_station *s = &edge->stations[i];
    const int64_t v[ACC_FIELDS] = {s->occupancy_ms, s->working_ms, s->units, s->events, 0};
    if (acc_add(&a->stations, s->workstation_id, v, 1) < 0) return -ENOMEM;
  }
  a->events += edge->factory.events;
  a->units += edge->factory.units;
  return 0;
}

static int entryp_cmp(const void *pa, const void *pb) {
  const acc_entry *a = *(const acc_entry *const *)pa, *b = *(const acc_entry *const *)pb;
  return strcmp(a->id, b->id);
}

/* Members of t, sorted by id; *ret_n set. NULL on ENOMEM. */
static acc_entry **table_members(const acc_table *t, size_t *ret_n, size_t *idlen) {
  acc_entry **v = malloc((t->n ? t->n : 1) * sizeof *v);
  size_t m = 0;
  if (!v) return NULL;
  for (size_t i = 0; i < t->cap; i++)
    if (t->slots[i].id && t->slots[i].member) {
      v[m++] = &t->slots[i];
      *idlen += strlen(t->slots[i].id) + 1;
    }
  if (m > 1) qsort(v, m, sizeof *v, entryp_cmp);
  *ret_n = m;
  return v;
}

int rollup_acc_finish(rollup_acc *a, int64_t from_ms, int64_t to_ms, metrics_result *ret) {
  metrics_result res = {.from_ms = from_ms, .to_ms = to_ms};
  size_t nw = 0, ns = 0, idlen = 0;
  int r = -ENOMEM;
  if (from_ms >= to_ms) return -EINVAL;
  acc_entry **ws = table_members(&a->workers, &nw, &idlen);
  acc_entry **ss = table_members(&a->stations, &ns, &idlen);
  if (!ws || !ss) goto out;
  res.workers = calloc(nw ? nw : 1, sizeof *res.workers);
  res.stations = calloc(ns ? ns : 1, sizeof *res.stations);
  res.ids_ = malloc(idlen ? idlen : 1);
  if (!res.workers || !res.stations || !res.ids_) goto out;
  char *p = res.ids_;
  for (size_t i = 0; i < nw; i++) {
    size_t l = strlen(ws[i]->id) + 1;
    memcpy(p, ws[i]->id, l);
    const int64_t *v = ws[i]->v;
    res.workers[i] = (metrics_worker){.worker_id = p,
                                      .working_ms = v[0],
                                      .idle_ms = v[1],
                                      .absent_ms = v[2],
                                      .units = v[3],
                                      .events = v[4]};
    p += l;
  }
  for (size_t i = 0; i < ns; i++) {
    size_t l = strlen(ss[i]->id) + 1;
    memcpy(p, ss[i]->id, l);
    const int64_t *v = ss[i]->v;
    res.stations[i] = (metrics_station){
        .workstation_id = p, .occupancy_ms = v[0], .working_ms = v[1], .units = v[2], .events = v[3]};
    p += l;
  }
  res.n_workers = nw;
  res.n_stations = ns;
  res.factory.events = a->events;
  res.factory.units = a->units;
  metrics__derive(&res);
  *ret = res;
  memset(&res, 0, sizeof res);
  r = 0;
out:
  metrics_result_clear(&res);
  free(ws);
  free(ss);
  return r;
}

int rollup_combine(const rollup_plan *plan, const rollup_buckets *rows, const metrics_result *edges,
                   size_t n_edges, metrics_result *ret) {
  int r = -EINVAL;
  if (n_edges != plan->n_edges) return -EINVAL;
  for (size_t i = 0; i < n_edges; i++)
    if (edges[i].from_ms != plan->edges[i].from_ms || edges[i].to_ms != plan->edges[i].to_ms) return -EINVAL;
  rollup_acc *a = rollup_acc_new();
  if (!a) return -ENOMEM;
  if (rows) {
    for (size_t i = 0; i < rows->n_workers; i++) {
      const rollup_worker_hour *w = &rows->workers[i];
      if (w->hour < plan->h_lo || w->hour >= plan->h_hi) continue;
      if ((r = rollup_acc_add_worker(a, w)) < 0) goto out;
    }
    for (size_t i = 0; i < rows->n_stations; i++) {
      const rollup_station_hour *s = &rows->stations[i];
      if (s->hour < plan->h_lo || s->hour >= plan->h_hi) continue;
      if ((r = rollup_acc_add_station(a, s)) < 0) goto out;
    }
    for (size_t i = 0; i < rows->n_hours; i++) {
      const rollup_hour *h = &rows->hours[i];
      if (h->hour < plan->h_lo || h->hour >= plan->h_hi) continue;
      rollup_acc_add_hour(a, h);
    }
  }
  for (size_t i = 0; i < n_edges; i++)
    if ((r = rollup_acc_add_result(a, &edges[i])) < 0) goto out;
  r = rollup_acc_finish(a, plan->from_ms, plan->to_ms, ret);
out:
  rollup_acc_free(a);
  return r;
}
