/* metrics.c: the one implementation of SPEC §3's productivity rules. The exact
 * window computation and the hour-bucket builder of rollup.c share the same
 * core (metrics__grid_compute), so the two paths cannot drift apart: the
 * window is simply one bucket. See metrics.h for the rules. */
#include "metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *nz(const char *s) { return s ? s : ""; }

static int64_t sat_add(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
  return a + b;
}

static int is_state(metrics_type t) {
  return t == METRICS_WORKING || t == METRICS_IDLE || t == METRICS_ABSENT;
}

int metrics_event_cmp(const metrics_event *a, const metrics_event *b) {
  if (a->ts_ms != b->ts_ms) return a->ts_ms < b->ts_ms ? -1 : 1;
  int c = strcmp(nz(a->event_id), nz(b->event_id));
  if (c) return c;
  return strcmp(nz(a->agent_id), nz(b->agent_id));
}

size_t metrics_worker_intervals(const metrics_event *evs, size_t n, int64_t max_state_ms,
                                metrics_interval *out) {
  size_t m = 0;
  size_t i = 0;
  if (max_state_ms < 0) max_state_ms = 0;
  while (i < n && !is_state(evs[i].type)) i++;
  while (i < n) {
    size_t next = i + 1;
    while (next < n && !is_state(evs[next].type)) next++;
    int64_t end = sat_add(evs[i].ts_ms, max_state_ms);
    if (next < n && evs[next].ts_ms < end) end = evs[next].ts_ms;
    out[m].start_ms = evs[i].ts_ms;
    out[m].end_ms = end;
    out[m].type = evs[i].type;
    out[m].workstation_id = evs[i].workstation_id;
    out[m].event_index = i;
    m++;
    i = next;
  }
  return m;
}

static int span_cmp(const void *pa, const void *pb) {
  const metrics_span *a = pa, *b = pb;
  if (a->start_ms != b->start_ms) return a->start_ms < b->start_ms ? -1 : 1;
  if (a->end_ms != b->end_ms) return a->end_ms < b->end_ms ? -1 : 1;
  return 0;
}

/* Union sweep over spans fed in order of start. */
typedef struct sweep {
  int64_t total, cur_s, cur_e;
  int open;
} sweep;

static void sweep_add(sweep *w, int64_t s, int64_t e) {
  if (e <= s) return;
  if (!w->open) {
    w->cur_s = s, w->cur_e = e, w->open = 1;
  } else if (s > w->cur_e) {
    w->total += w->cur_e - w->cur_s;
    w->cur_s = s, w->cur_e = e;
  } else if (e > w->cur_e) {
    w->cur_e = e;
  }
}

static int64_t sweep_done(sweep *w) {
  if (w->open) w->total += w->cur_e - w->cur_s;
  w->open = 0;
  return w->total;
}

int64_t metrics_union_ms(metrics_span *spans, size_t n) {
  sweep w = {0};
  if (n > 1) qsort(spans, n, sizeof *spans, span_cmp);
  for (size_t i = 0; i < n; i++) sweep_add(&w, spans[i].start_ms, spans[i].end_ms);
  return sweep_done(&w);
}

void metrics_fetch_range(int64_t from_ms, int64_t to_ms, int64_t max_state_ms, int64_t *ret_lo_ms,
                         int64_t *ret_hi_ms) {
  if (max_state_ms < 0) max_state_ms = 0;
  *ret_lo_ms = sat_add(from_ms, -max_state_ms);
  *ret_hi_ms = to_ms;
}

/* ---- interning: id string → dense index, by hashing (no strcmp sorts of
 * every event); the few unique ids are sorted once at the end ---- */

typedef struct intern {
  const char **ids; /* unique ids in order of first sight */
  size_t n, cap_ids;
  uint32_t *slots; /* index + 1 into ids; 0 = empty */
  size_t cap;      /* power of two, n ≤ cap / 2 */
} intern;

static uint64_t hash_str(const char *s) {
  uint64_t h = UINT64_C(1469598103934665603); /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
  return h;
}

static int intern_grow(intern *t) {
  size_t cap = t->cap ? t->cap * 2 : 64;
  uint32_t *slots = calloc(cap, sizeof *slots);
  const char **ids = realloc(t->ids, (cap / 2) * sizeof *ids);
  if (!slots || !ids) {
    free(slots);
    if (ids) t->ids = ids;
    return -ENOMEM;
  }
  t->ids = ids;
  for (size_t i = 0; i < t->n; i++) {
    size_t j = (size_t)hash_str(ids[i]) & (cap - 1);
    while (slots[j]) j = (j + 1) & (cap - 1);
    slots[j] = (uint32_t)(i + 1);
  }
  free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return 0;
}

/* Index of id (added when new) in *ret; 0 or -ENOMEM. */
static int intern_get(intern *t, const char *id, size_t *ret) {
  if ((t->n + 1) * 2 > t->cap) {
    if (t->n >= UINT32_MAX / 4) return -ENOMEM;
    if (intern_grow(t) < 0) return -ENOMEM;
  }
  size_t j = (size_t)hash_str(id) & (t->cap - 1);
  while (t->slots[j]) {
    size_t k = t->slots[j] - 1;
    if (strcmp(t->ids[k], id) == 0) {
      *ret = k;
      return 0;
    }
    j = (j + 1) & (t->cap - 1);
  }
  t->ids[t->n] = id;
  t->slots[j] = (uint32_t)(t->n + 1);
  *ret = t->n++;
  return 0;
}

static int strp_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sort the unique ids (strcmp) and fill rank[first-sight index] = sorted
 * position. The intern table keeps no slots afterwards. */
static int intern_sort(intern *t, size_t **ret_rank) {
  size_t *rank = malloc((t->n ? t->n : 1) * sizeof *rank);
  const char **sorted = malloc((t->n ? t->n : 1) * sizeof *sorted);
  if (!rank || !sorted) {
    free(rank);
    free(sorted);
    return -ENOMEM;
  }
  if (t->n) memcpy(sorted, t->ids, t->n * sizeof *sorted);
  if (t->n > 1) qsort(sorted, t->n, sizeof *sorted, strp_cmp);
  /* Every id is in the hash: look each sorted one up to learn its old index. */
  for (size_t r = 0; r < t->n; r++) {
    size_t old = 0;
    (void)intern_get(t, sorted[r], &old); /* present: cannot allocate */
    rank[old] = r;
  }
  free(t->ids);
  free(t->slots);
  t->ids = sorted;
  t->slots = NULL;
  t->cap = 0;
  *ret_rank = rank;
  return 0;
}

static void intern_free(intern *t) {
  free(t->ids);
  free(t->slots);
  memset(t, 0, sizeof *t);
}

/* ---- the core ---- */

enum { REC_WORKING = METRICS_WORKING, REC_IDLE = METRICS_IDLE, REC_ABSENT = METRICS_ABSENT, REC_EVENT = 3 };

/* One contribution to a (bucket, id) cell: a piece of a state interval cut to
 * the bucket, or an event with ts in the bucket. */
typedef struct rec {
  size_t bucket, id;
  int64_t s, e;  /* piece [s, e); for REC_EVENT: s = e = ts */
  int64_t units; /* REC_EVENT: product_count units, else 0 */
  int kind;
} rec;

typedef struct recs {
  rec *v;
  size_t n, cap;
} recs;

static int recs_push(recs *r, rec x) {
  if (r->n == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 64;
    rec *v = realloc(r->v, cap * sizeof *v);
    if (!v) return -ENOMEM;
    r->v = v, r->cap = cap;
  }
  r->v[r->n++] = x;
  return 0;
}

static int rec_cmp(const void *pa, const void *pb) {
  const rec *a = pa, *b = pb;
  if (a->bucket != b->bucket) return a->bucket < b->bucket ? -1 : 1;
  if (a->id != b->id) return a->id < b->id ? -1 : 1;
  if (a->s != b->s) return a->s < b->s ? -1 : 1;
  if (a->e != b->e) return a->e < b->e ? -1 : 1;
  return a->kind - b->kind;
}

static int rec_start_cmp(const void *pa, const void *pb) {
  const rec *a = pa, *b = pb;
  if (a->s != b->s) return a->s < b->s ? -1 : 1;
  if (a->e != b->e) return a->e < b->e ? -1 : 1;
  return a->kind - b->kind;
}

/* Order records by (bucket, id), and by start within a cell when by_start.
 * A counting sort over the cells when there are not too many of them (the
 * usual case: one window, or a few hours), else a comparison sort. */
static int recs_group(recs *r, size_t count, size_t nid, int by_start) {
  if (r->n < 2) return 0;
  uint64_t cells = (uint64_t)count * (uint64_t)(nid ? nid : 1);
  if (cells > (uint64_t)r->n * 4 + 65536) {
    qsort(r->v, r->n, sizeof *r->v, rec_cmp);
    return 0;
  }
  size_t *pos = calloc((size_t)cells + 1, sizeof *pos);
  rec *out = malloc(r->n * sizeof *out);
  if (!pos || !out) {
    free(pos);
    free(out);
    return -ENOMEM;
  }
  for (size_t i = 0; i < r->n; i++) pos[r->v[i].bucket * nid + r->v[i].id + 1]++;
  for (size_t c = 1; c <= cells; c++) pos[c] += pos[c - 1];
  for (size_t i = 0; i < r->n; i++) out[pos[r->v[i].bucket * nid + r->v[i].id]++] = r->v[i];
  free(pos);
  free(r->v);
  r->v = out;
  r->cap = r->n;
  if (by_start)
    for (size_t i = 0; i < r->n;) {
      size_t j = i + 1, sorted = 1;
      for (; j < r->n && r->v[j].bucket == r->v[i].bucket && r->v[j].id == r->v[i].id; j++)
        if (rec_start_cmp(&r->v[j - 1], &r->v[j]) > 0) sorted = 0;
      if (!sorted) qsort(r->v + i, j - i, sizeof *r->v, rec_start_cmp);
      i = j;
    }
  return 0;
}

/* A state event's place in the per-worker timelines: worker rank, then
 * timeline order (strings compared only on equal ts). */
typedef struct stref {
  size_t w;
  const metrics_event *e;
} stref;

static int stref_cmp(const void *pa, const void *pb) {
  const stref *a = pa, *b = pb;
  if (a->w != b->w) return a->w < b->w ? -1 : 1;
  return metrics_event_cmp(a->e, b->e);
}

void metrics__grid_clear(metrics__grid *g) {
  if (!g) return;
  free(g->worker_ids);
  free(g->station_ids);
  free(g->w);
  free(g->s);
  free(g->bucket_events);
  free(g->bucket_units);
  memset(g, 0, sizeof *g);
}

int metrics__grid_compute(const metrics_event *evs, size_t n, int64_t max_state_ms, int64_t lo, int64_t width,
                          size_t count, metrics__grid *ret) {
  return metrics__grid_compute_grouped(evs, n, max_state_ms, lo, width, count, NULL, 0, NULL, ret);
}

int metrics__grid_compute_grouped(const metrics_event *evs, size_t n, int64_t max_state_ms, int64_t lo,
                                  int64_t width, size_t count, const size_t *group, size_t ngroups,
                                  const metrics_clip *clip, metrics__grid *ret) {
  metrics__grid g = {0};
  intern wt = {0}, stt = {0};
  size_t *widx = NULL, *sidx = NULL, *wrank = NULL, *srank = NULL;
  stref *st = NULL;
  metrics_event *run = NULL;
  metrics_interval *iv = NULL;
  recs wr = {0}, sr = {0};
  size_t nst = 0;
  int r = -ENOMEM;

  if (width <= 0 || count == 0 || max_state_ms < 0) return -EINVAL;
  int64_t span, hi;
  if (count > (size_t)INT64_MAX || __builtin_mul_overflow((int64_t)count, width, &span) ||
      __builtin_add_overflow(lo, span, &hi))
    return -EINVAL;
  /* What is counted: events with ts in [c_lo, c_hi), state time inside it. */
  int64_t c_lo = lo, c_hi = hi;
  if (clip) {
    if (clip->lo_ms > c_lo) c_lo = clip->lo_ms;
    if (clip->hi_ms < c_hi) c_hi = clip->hi_ms;
  }

  for (size_t i = 0; i < n; i++) {
    if (!evs[i].workstation_id) return -EINVAL;
    if (is_state(evs[i].type)) {
      if (!evs[i].worker_id) return -EINVAL;
      nst++;
    } else if (evs[i].type != METRICS_PRODUCT_COUNT) {
      return -EINVAL;
    }
  }

  g.count = count;
  g.bucket_events = calloc(count, sizeof *g.bucket_events);
  g.bucket_units = calloc(count, sizeof *g.bucket_units);
  widx = malloc((n ? n : 1) * sizeof *widx);
  sidx = malloc((n ? n : 1) * sizeof *sidx);
  st = malloc((nst ? nst : 1) * sizeof *st);
  run = malloc((nst ? nst : 1) * sizeof *run);
  iv = malloc((nst ? nst : 1) * sizeof *iv);
  if (!g.bucket_events || !g.bucket_units || !widx || !sidx || !st || !run || !iv) goto out;

  /* Dense ids, then ranks in strcmp order. */
  for (size_t i = 0; i < n; i++) {
    widx[i] = SIZE_MAX;
    if (evs[i].worker_id && intern_get(&wt, evs[i].worker_id, &widx[i]) < 0) goto out;
    if (intern_get(&stt, evs[i].workstation_id, &sidx[i]) < 0) goto out;
  }
  if (intern_sort(&wt, &wrank) < 0 || intern_sort(&stt, &srank) < 0) goto out;
  for (size_t i = 0; i < n; i++) {
    if (widx[i] != SIZE_MAX) widx[i] = wrank[widx[i]];
    sidx[i] = srank[sidx[i]];
  }
  g.worker_ids = wt.ids, g.n_worker_ids = wt.n, wt.ids = NULL;
  g.station_ids = stt.ids, g.n_station_ids = stt.n, stt.ids = NULL;

  /* Events with ts in [lo, hi): counts, units, and membership records. */
  for (size_t i = 0, j = 0; i < n; i++) {
    const metrics_event *e = &evs[i];
    if (is_state(e->type)) st[j++] = (stref){.w = widx[i], .e = e};
    if (e->ts_ms < c_lo || e->ts_ms >= c_hi) continue;
    size_t b = (size_t)((e->ts_ms - lo) / width);
    int64_t units = e->type == METRICS_PRODUCT_COUNT ? e->count : 0;
    g.bucket_events[b]++;
    g.bucket_units[b] += units;
    rec x = {.bucket = b, .s = e->ts_ms, .e = e->ts_ms, .units = units, .kind = REC_EVENT};
    if (widx[i] != SIZE_MAX) {
      x.id = group ? widx[i] * ngroups + group[i] : widx[i];
      if (recs_push(&wr, x) < 0) goto out;
    }
    x.id = group ? group[i] : sidx[i];
    if (recs_push(&sr, x) < 0) goto out;
  }

  /* State intervals, worker by worker, cut into bucket pieces. */
  if (nst > 1) qsort(st, nst, sizeof *st, stref_cmp);
  for (size_t i = 0; i < nst;) {
    size_t j = i;
    for (; j < nst && st[j].w == st[i].w; j++) run[j - i] = *st[j].e;
    size_t m = metrics_worker_intervals(run, j - i, max_state_ms, iv);
    for (size_t k = 0; k < m; k++) {
      int64_t cs = iv[k].start_ms > c_lo ? iv[k].start_ms : c_lo;
      int64_t ce = iv[k].end_ms < c_hi ? iv[k].end_ms : c_hi;
      if (cs >= ce) continue; /* zero length, or outside the buckets */
      size_t ei = (size_t)(st[i + iv[k].event_index].e - evs);
      size_t sid = group ? group[ei] : sidx[ei];
      size_t wid = group ? st[i].w * ngroups + group[ei] : st[i].w;
      size_t b0 = (size_t)((cs - lo) / width), b1 = (size_t)((ce - 1 - lo) / width);
      for (size_t b = b0; b <= b1; b++) {
        int64_t bs = lo + (int64_t)b * width, be = bs + width;
        rec x = {
            .bucket = b, .id = wid, .s = cs > bs ? cs : bs, .e = ce < be ? ce : be, .kind = (int)iv[k].type};
        if (recs_push(&wr, x) < 0) goto out;
        x.id = sid;
        if (recs_push(&sr, x) < 0) goto out;
      }
    }
    i = j;
  }

  /* Fold worker records into rows. */
  if (recs_group(&wr, count, group ? g.n_worker_ids * ngroups : g.n_worker_ids, 0) < 0) goto out;
  g.w = malloc((wr.n ? wr.n : 1) * sizeof *g.w);
  if (!g.w) goto out;
  for (size_t i = 0; i < wr.n;) {
    metrics__wrow row = {.bucket = wr.v[i].bucket, .id = wr.v[i].id};
    size_t j = i;
    for (; j < wr.n && wr.v[j].bucket == row.bucket && wr.v[j].id == row.id; j++) {
      const rec *x = &wr.v[j];
      switch (x->kind) {
        case REC_WORKING: row.working_ms += x->e - x->s; break;
        case REC_IDLE: row.idle_ms += x->e - x->s; break;
        case REC_ABSENT: row.absent_ms += x->e - x->s; break;
        default: row.events++, row.units += x->units; break;
      }
    }
    g.w[g.nw++] = row;
    i = j;
  }

  /* Fold station records: sorted by start within a cell, so one pass keeps
   * both unions (working-or-idle, and working alone). */
  if (recs_group(&sr, count, group ? ngroups : g.n_station_ids, 1) < 0) goto out;
  g.s = malloc((sr.n ? sr.n : 1) * sizeof *g.s);
  if (!g.s) goto out;
  for (size_t i = 0; i < sr.n;) {
    metrics__srow row = {.bucket = sr.v[i].bucket, .id = sr.v[i].id};
    sweep occ = {0}, wrk = {0};
    size_t j = i;
    for (; j < sr.n && sr.v[j].bucket == row.bucket && sr.v[j].id == row.id; j++) {
      const rec *x = &sr.v[j];
      if (x->kind == REC_EVENT) {
        row.events++, row.units += x->units;
        continue;
      }
      row.state_ms += x->e - x->s;
      if (x->kind == REC_WORKING || x->kind == REC_IDLE) sweep_add(&occ, x->s, x->e);
      if (x->kind == REC_WORKING) sweep_add(&wrk, x->s, x->e);
    }
    row.occupancy_ms = sweep_done(&occ);
    row.working_ms = sweep_done(&wrk);
    g.s[g.ns++] = row;
    i = j;
  }

  *ret = g;
  memset(&g, 0, sizeof g);
  r = 0;
out:
  metrics__grid_clear(&g);
  intern_free(&wt);
  intern_free(&stt);
  free(widx);
  free(sidx);
  free(wrank);
  free(srank);
  free(st);
  free(run);
  free(iv);
  free(wr.v);
  free(sr.v);
  return r;
}

void metrics__derive(metrics_result *r) {
  double util_sum = 0;
  int64_t util_n = 0, working = 0, working_idle = 0;
  for (size_t i = 0; i < r->n_workers; i++) {
    metrics_worker *w = &r->workers[i];
    int64_t wi = w->working_ms + w->idle_ms;
    w->utilization_pct = wi > 0 ? 100.0 * (double)w->working_ms / (double)wi : 0.0;
    w->units_per_hour =
        w->working_ms > 0 ? (double)w->units * (double)METRICS_MS_PER_HOUR / (double)w->working_ms : 0.0;
    if (wi > 0) util_sum += w->utilization_pct, util_n++;
    working += w->working_ms;
    working_idle += wi;
  }
  for (size_t i = 0; i < r->n_stations; i++) {
    metrics_station *s = &r->stations[i];
    s->utilization_pct = s->occupancy_ms > 0 ? 100.0 * (double)s->working_ms / (double)s->occupancy_ms : 0.0;
    s->units_per_hour =
        s->occupancy_ms > 0 ? (double)s->units * (double)METRICS_MS_PER_HOUR / (double)s->occupancy_ms : 0.0;
  }
  int64_t span;
  if (__builtin_sub_overflow(r->to_ms, r->from_ms, &span)) span = 0;
  r->factory.workers = (int64_t)r->n_workers;
  r->factory.workstations = (int64_t)r->n_stations;
  r->factory.working_ms = working;
  r->factory.units_per_hour =
      span > 0 ? (double)r->factory.units * (double)METRICS_MS_PER_HOUR / (double)span : 0.0;
  r->factory.avg_utilization_pct = util_n > 0 ? util_sum / (double)util_n : 0.0;
  r->factory.utilization_pct = working_idle > 0 ? 100.0 * (double)working / (double)working_idle : 0.0;
}

int metrics_compute(const metrics_event *evs, size_t n, int64_t from_ms, int64_t to_ms, int64_t max_state_ms,
                    metrics_result *ret) {
  return metrics_compute_clip(evs, n, from_ms, to_ms, max_state_ms, NULL, ret);
}

int metrics_compute_clip(const metrics_event *evs, size_t n, int64_t from_ms, int64_t to_ms,
                         int64_t max_state_ms, const metrics_clip *clip, metrics_result *ret) {
  metrics__grid g;
  metrics_result res = {0};
  int64_t width;
  if (from_ms >= to_ms || max_state_ms < 0 || __builtin_sub_overflow(to_ms, from_ms, &width)) return -EINVAL;
  int r = metrics__grid_compute_grouped(evs, n, max_state_ms, from_ms, width, 1, NULL, 0, clip, &g);
  if (r < 0) return r;

  /* Every row has an event or positive state time: every row is a member. */
  size_t idlen = 0;
  for (size_t i = 0; i < g.nw; i++) idlen += strlen(g.worker_ids[g.w[i].id]) + 1;
  for (size_t i = 0; i < g.ns; i++) idlen += strlen(g.station_ids[g.s[i].id]) + 1;
  res.workers = calloc(g.nw ? g.nw : 1, sizeof *res.workers);
  res.stations = calloc(g.ns ? g.ns : 1, sizeof *res.stations);
  res.ids_ = malloc(idlen ? idlen : 1);
  if (!res.workers || !res.stations || !res.ids_) {
    metrics_result_clear(&res);
    metrics__grid_clear(&g);
    return -ENOMEM;
  }
  char *p = res.ids_;
  for (size_t i = 0; i < g.nw; i++) {
    const metrics__wrow *w = &g.w[i];
    size_t l = strlen(g.worker_ids[w->id]) + 1;
    memcpy(p, g.worker_ids[w->id], l);
    res.workers[i] = (metrics_worker){.worker_id = p,
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
    res.stations[i] = (metrics_station){.workstation_id = p,
                                        .occupancy_ms = s->occupancy_ms,
                                        .working_ms = s->working_ms,
                                        .units = s->units,
                                        .events = s->events};
    p += l;
  }
  res.n_workers = g.nw;
  res.n_stations = g.ns;
  res.from_ms = from_ms;
  res.to_ms = to_ms;
  res.factory.events = g.bucket_events[0];
  res.factory.units = g.bucket_units[0];
  metrics__grid_clear(&g);
  metrics__derive(&res);
  *ret = res;
  return 0;
}

void metrics_result_clear(metrics_result *r) {
  if (!r) return;
  free(r->workers);
  free(r->stations);
  free(r->ids_);
  memset(r, 0, sizeof *r);
}

const metrics_worker *metrics_find_worker(const metrics_result *r, const char *worker_id) {
  size_t lo = 0, hi = r->n_workers;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r->workers[mid].worker_id, worker_id);
    if (c == 0) return &r->workers[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

const metrics_station *metrics_find_station(const metrics_result *r, const char *workstation_id) {
  size_t lo = 0, hi = r->n_stations;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(r->stations[mid].workstation_id, workstation_id);
    if (c == 0) return &r->stations[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}
