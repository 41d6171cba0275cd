/* test_collector_rollup_slices: an hour's rollups built slice by slice
 * (collector/metrics/rollup_slices.h) equal those of one build. Two levels:
 *  - rsl_run over events held here: every slice holds at most max events
 *    (but for a millisecond holding more), there are many slices, and the
 *    summed rows of rollup_build_clip / rsite_build_clip equal rollup_build
 *    / rsite_build of all the events;
 *  - the SQLite store with a slice of 7 events: late, out-of-order and
 *    duplicate events over a few crowded hours, read by queries while the
 *    hours are dirty (built by the query, edges in slices) and after the
 *    upkeep (rebuilt in slices), equal metrics_compute over the stored
 *    events, and every rollup table equals that of a store with the
 *    default slice;
 *  - the same queries on the PostgreSQL store (slice of 7) when
 *    FERRY_TEST_PG_URL is set (scripts/ci-postgres.sh), on a fresh database. */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "check.h"
#include "metrics.h"
#include "rollup.h"
#include "rollup_site.h"
#include "rollup_slices.h"
#include "store.h"
#include "store_harness.h"
#include "timefmt.h"
#include "xorshift.h"

#define S      INT64_C(1000)
#define M      (60 * S)
#define H      (60 * M)
#define NOW_MS INT64_C(1772352000000) /* hour-aligned */
#define T0     (NOW_MS - 6 * H)
#define NEV    1500
#define SLICE  7

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void) { return xorshift64(&rng); }
static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo)); }

static const char *const WORKERS[] = {"w1", "w2", "W3", "\xC3\xA9", "w5"};
static const char *const STATIONS[] = {"A", "B", "\xCE\xA9"};
static const char *const AGENTS[] = {"a1", "a2"};

typedef struct gen_event {
  metrics_event e;
  char id[16];
  int64_t seq;
} gen_event;

static gen_event g_ev[NEV];

/* Events over hours T0 .. T0+3h, crowded in the second hour, on a coarse
 * time grid (ties), with a burst of 40 in one millisecond. */
static void gen(void) {
  for (int i = 0; i < NEV; i++) {
    gen_event *g = &g_ev[i];
    snprintf(g->id, sizeof(g->id), "e%05d", (int)(rnd() % 100000));
    if (i % 7 == 0) snprintf(g->id, sizeof(g->id), "x%04d", i); /* some ids sort before others */
    snprintf(g->id + strlen(g->id), sizeof(g->id) - strlen(g->id), "-%d", i);
    int64_t ts;
    int where = (int)(rnd() % 10);
    if (where < 6) ts = T0 + H + rnd_in(0, 720) * 5 * S; /* the crowded hour */
    else ts = T0 + rnd_in(0, 3 * 720) * 5 * S;
    if (i >= 100 && i < 140) ts = T0 + H + 30 * M + 123; /* one millisecond over a slice */
    metrics_type t = (metrics_type)(rnd() % 4);
    g->e = (metrics_event){.event_id = g->id,
                           .agent_id = AGENTS[i % 2],
                           .ts_ms = ts,
                           .type = t,
                           .worker_id =
                               (t == METRICS_PRODUCT_COUNT && rnd() % 3 == 0) ? NULL : WORKERS[rnd() % 5],
                           .workstation_id = STATIONS[rnd() % 3],
                           .count = t == METRICS_PRODUCT_COUNT ? (int64_t)(rnd() % 5) + 1 : 0};
    g->seq = i / 2 + 1;
  }
}

/* ---- level 1: rsl_run over events held here ---- */

typedef struct mem_src {
  const metrics_event *ev;
  size_t n;
  size_t reads, slices, biggest;
  int over; /* a slice over max outside one millisecond */
} mem_src;

static int mem_read(void *ctx, int64_t lo, int64_t hi, const char *worker, const rsl_keys *keys, size_t max,
                    rsl_hist *hist, rsl_events_fn fn, void *arg) {
  mem_src *m = ctx;
  m->reads++;
  metrics_event *v = malloc(m->n * sizeof(*v));
  if (!v) return -ENOMEM;
  size_t k = 0;
  for (size_t i = 0; i < m->n; i++) {
    const metrics_event *e = &m->ev[i];
    if (e->ts_ms < lo || e->ts_ms >= hi) continue;
    if (worker && (!e->worker_id || strcmp(worker, e->worker_id) != 0)) continue;
    if (keys && ((int64_t)i < keys->lo || (int64_t)i > keys->hi)) continue; /* key: the index here */
    v[k++] = *e;
  }
  int r;
  if (k > max) {
    int64_t w = rsl_bin_width(lo, hi);
    for (size_t i = 0; i < m->n; i++) { /* the same events, with their keys */
      const metrics_event *e = &m->ev[i];
      if (e->ts_ms < lo || e->ts_ms >= hi || (keys && ((int64_t)i < keys->lo || (int64_t)i > keys->hi)))
        continue;
      if (worker && (!e->worker_id || strcmp(worker, e->worker_id) != 0)) continue;
      rsl_hist_add(hist, rsl_bin(lo, w, e->ts_ms), (int64_t)i);
    }
    r = RSL_TOO_MANY;
  } else {
    m->slices++;
    if (k > m->biggest) m->biggest = k;
    if (k > SLICE && hi - lo > 1) m->over = 1;
    r = fn(arg, v, NULL, k);
  }
  free(v);
  return r;
}

typedef struct sum_rows {
  rollup_buckets all; /* rows of one build: the sums are added into copies of them */
  int64_t (*w)[5], (*s)[5], (*h)[2];
  int missing;
  int64_t h0, h1;
  /* site rows, matched by (bucket, site, worker, station) */
  rsite_rows site_all;
  int64_t (*c)[5], (*ss)[5];
} sum_rows;

static size_t find_worker(const rollup_buckets *b, const rollup_worker_hour *w) {
  for (size_t i = 0; i < b->n_workers; i++)
    if (b->workers[i].hour == w->hour && strcmp(b->workers[i].worker_id, w->worker_id) == 0) return i;
  return SIZE_MAX;
}
static size_t find_station(const rollup_buckets *b, const rollup_station_hour *s) {
  for (size_t i = 0; i < b->n_stations; i++)
    if (b->stations[i].hour == s->hour && strcmp(b->stations[i].workstation_id, s->workstation_id) == 0)
      return i;
  return SIZE_MAX;
}
static int same_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }
static size_t find_cell(const rsite_rows *r, const rsite_cell *c) {
  for (size_t i = 0; i < r->n_cells; i++)
    if (r->cells[i].bucket == c->bucket && same_str(r->cells[i].site, c->site) &&
        same_str(r->cells[i].worker_id, c->worker_id) &&
        same_str(r->cells[i].workstation_id, c->workstation_id))
      return i;
  return SIZE_MAX;
}
static size_t find_sst(const rsite_rows *r, const rsite_station *c) {
  for (size_t i = 0; i < r->n_stations; i++)
    if (r->stations[i].bucket == c->bucket && same_str(r->stations[i].site, c->site) &&
        same_str(r->stations[i].workstation_id, c->workstation_id))
      return i;
  return SIZE_MAX;
}

static int add_slice(void *arg, const metrics_event *ev, const char *const *sites, size_t n,
                     const metrics_clip *clip) {
  sum_rows *x = arg;
  rollup_buckets b;
  int r = rollup_build_clip(ev, n, 10 * M, x->h0, x->h1, clip, &b);
  if (r < 0) return r;
  for (size_t i = 0; i < b.n_workers; i++) {
    size_t k = find_worker(&x->all, &b.workers[i]);
    if (k == SIZE_MAX) {
      x->missing++;
      continue;
    }
    const rollup_worker_hour *w = &b.workers[i];
    int64_t v[5] = {w->working_ms, w->idle_ms, w->absent_ms, w->units, w->events};
    for (int f = 0; f < 5; f++) x->w[k][f] += v[f];
  }
  for (size_t i = 0; i < b.n_stations; i++) {
    size_t k = find_station(&x->all, &b.stations[i]);
    if (k == SIZE_MAX) {
      x->missing++;
      continue;
    }
    const rollup_station_hour *s = &b.stations[i];
    int64_t v[5] = {s->occupancy_ms, s->working_ms, s->units, s->events, s->state_ms};
    for (int f = 0; f < 5; f++) x->s[k][f] += v[f];
  }
  for (size_t i = 0; i < b.n_hours; i++) {
    size_t k = SIZE_MAX;
    for (size_t j = 0; j < x->all.n_hours; j++)
      if (x->all.hours[j].hour == b.hours[i].hour) k = j;
    if (k == SIZE_MAX) {
      x->missing++;
      continue;
    }
    x->h[k][0] += b.hours[i].events;
    x->h[k][1] += b.hours[i].units;
  }
  rollup_buckets_clear(&b);
  rsite_rows rows;
  r = rsite_build_clip(ev, sites, n, 10 * M, x->h0 * H, H, (size_t)(x->h1 - x->h0), clip, &rows);
  if (r < 0) return r;
  for (size_t i = 0; i < rows.n_cells; i++) {
    size_t k = find_cell(&x->site_all, &rows.cells[i]);
    if (k == SIZE_MAX) {
      x->missing++;
      continue;
    }
    const rsite_cell *c = &rows.cells[i];
    int64_t v[5] = {c->working_ms, c->idle_ms, c->absent_ms, c->units, c->events};
    for (int f = 0; f < 5; f++) x->c[k][f] += v[f];
  }
  for (size_t i = 0; i < rows.n_stations; i++) {
    size_t k = find_sst(&x->site_all, &rows.stations[i]);
    if (k == SIZE_MAX) {
      x->missing++;
      continue;
    }
    const rsite_station *c = &rows.stations[i];
    int64_t v[5] = {c->occupancy_ms, c->working_ms, c->units, c->events, c->state_ms};
    for (int f = 0; f < 5; f++) x->ss[k][f] += v[f];
  }
  rsite_rows_clear(&rows);
  return 0;
}

static void test_pure(void) {
  metrics_event *ev = malloc(NEV * sizeof(*ev));
  for (int i = 0; i < NEV; i++) ev[i] = g_ev[i].e;
  const int64_t h0 = T0 / H, h1 = h0 + 3;
  sum_rows x = {.h0 = h0, .h1 = h1};
  CHECK_EQ_INT(rollup_build(ev, NEV, 10 * M, h0, h1, &x.all), 0);
  CHECK_EQ_INT(rsite_build(ev, NULL, NEV, 10 * M, h0 * H, H, 3, &x.site_all), 0);
  x.w = calloc(x.all.n_workers + 1, sizeof(*x.w));
  x.s = calloc(x.all.n_stations + 1, sizeof(*x.s));
  x.h = calloc(x.all.n_hours + 1, sizeof(*x.h));
  x.c = calloc(x.site_all.n_cells + 1, sizeof(*x.c));
  x.ss = calloc(x.site_all.n_stations + 1, sizeof(*x.ss));
  mem_src m = {.ev = ev, .n = NEV};
  int64_t lo, hi;
  rollup_build_fetch_range(h0, h1, 10 * M, &lo, &hi);
  CHECK_EQ_INT(rsl_run(mem_read, &m, 10 * M, lo, hi, NULL, SLICE, add_slice, &x), 0);
  CHECK(m.slices > NEV / SLICE);
  CHECK(!m.over);
  CHECK(m.biggest >= 40); /* the millisecond read whole */
  CHECK_EQ_INT(x.missing, 0);
  CHECK(x.all.n_workers > 10);
  for (size_t i = 0; i < x.all.n_workers; i++) {
    const rollup_worker_hour *w = &x.all.workers[i];
    int64_t v[5] = {w->working_ms, w->idle_ms, w->absent_ms, w->units, w->events};
    for (int f = 0; f < 5; f++) CHECK_EQ_INT(x.w[i][f], v[f]);
  }
  for (size_t i = 0; i < x.all.n_stations; i++) {
    const rollup_station_hour *s = &x.all.stations[i];
    int64_t v[5] = {s->occupancy_ms, s->working_ms, s->units, s->events, s->state_ms};
    for (int f = 0; f < 5; f++) CHECK_EQ_INT(x.s[i][f], v[f]);
  }
  for (size_t i = 0; i < x.all.n_hours; i++) {
    CHECK_EQ_INT(x.h[i][0], x.all.hours[i].events);
    CHECK_EQ_INT(x.h[i][1], x.all.hours[i].units);
  }
  for (size_t i = 0; i < x.site_all.n_cells; i++) {
    const rsite_cell *c = &x.site_all.cells[i];
    int64_t v[5] = {c->working_ms, c->idle_ms, c->absent_ms, c->units, c->events};
    for (int f = 0; f < 5; f++) CHECK_EQ_INT(x.c[i][f], v[f]);
  }
  for (size_t i = 0; i < x.site_all.n_stations; i++) {
    const rsite_station *c = &x.site_all.stations[i];
    int64_t v[5] = {c->occupancy_ms, c->working_ms, c->units, c->events, c->state_ms};
    for (int f = 0; f < 5; f++) CHECK_EQ_INT(x.ss[i][f], v[f]);
  }
  rollup_buckets_clear(&x.all);
  rsite_rows_clear(&x.site_all);
  free(x.w);
  free(x.s);
  free(x.h);
  free(x.c);
  free(x.ss);
  free(ev);
}

/* ---- level 2: the SQLite store ---- */

static const bt_limits lim = {NOW_MS, 300, 0};

static const char *type_name(metrics_type t) {
  static const char *const n[] = {"working", "idle", "absent", "product_count"};
  return n[t];
}

/* Events idx[0..n) of one agent as one batch; each is accepted or a duplicate. */
static void send(store *s, int agent, const int *idx, size_t n) {
  size_t cap = 300 * n + 200;
  char *body = malloc(cap);
  size_t o = (size_t)snprintf(body, cap, "{\"agent_id\":\"%s\",\"epoch\":\"00000000000000e%d\",\"events\":[",
                              AGENTS[agent], agent + 1);
  for (size_t k = 0; k < n; k++) {
    const gen_event *g = &g_ev[idx[k]];
    char ts[TF_RFC3339_LEN];
    tf_format_ms(g->e.ts_ms, ts);
    char who[64] = "", cnt[32] = "";
    if (g->e.worker_id) snprintf(who, sizeof(who), "\"worker_id\":\"%s\",", g->e.worker_id);
    if (g->e.type == METRICS_PRODUCT_COUNT) snprintf(cnt, sizeof(cnt), "\"count\":%" PRId64 ",", g->e.count);
    o += (size_t)snprintf(
        body + o, cap - o,
        "%s{\"event_id\":\"%s\",\"timestamp\":\"%s\",\"event_type\":\"%s\",%s%s"
        "\"workstation_id\":\"%s\",\"seq\":%" PRId64 ",\"ingested_at\":\"2026-03-01T07:59:00Z\"}",
        k ? "," : "", g->id, ts, type_name(g->e.type), who, cnt, g->e.workstation_id, g->seq);
  }
  snprintf(body + o, cap - o, "],\"dropped\":[]}");
  st_result res;
  int r = sh_ingest(s, body, &lim, NOW_MS, &res);
  CHECK_EQ_INT(r, 0);
  if (r == 0) CHECK_EQ_INT(res.accepted + res.duplicates, n);
  st_result_clear(&res);
  free(body);
}

/* Every event once, in a shuffled order, in batches per agent, with a tenth
 * of them sent again in later batches. */
static void ingest(store *s) {
  int order[NEV];
  for (int i = 0; i < NEV; i++) order[i] = i;
  for (int i = NEV - 1; i > 0; i--) {
    int j = (int)(rnd() % (uint64_t)(i + 1)), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  int batch[2][120];
  size_t nb[2] = {0, 0};
  for (int k = 0; k < NEV; k++) {
    int i = order[k], a = i % 2;
    batch[a][nb[a]++] = i;
    if (k > 200 && rnd() % 10 == 0) {
      int again = order[rnd() % (uint64_t)k]; /* a duplicate of one sent before (or in this batch) */
      int dup = 0;
      for (size_t q = 0; q < nb[again % 2]; q++) dup |= batch[again % 2][q] == again;
      if (!dup && nb[again % 2] < 120) batch[again % 2][nb[again % 2]++] = again;
    }
    for (int b = 0; b < 2; b++)
      if (nb[b] >= 100 || (k == NEV - 1 && nb[b])) {
        send(s, b, batch[b], nb[b]);
        nb[b] = 0;
      }
  }
}

static int cmp_exact(const metrics_result *a, const metrics_result *b) {
  int bad = 0;
  bad |= a->n_workers != b->n_workers || a->n_stations != b->n_stations;
  bad |= memcmp(&a->factory, &b->factory, sizeof(a->factory)) != 0;
  for (size_t i = 0; !bad && i < a->n_workers; i++) {
    const metrics_worker *x = &a->workers[i], *y = &b->workers[i];
    bad |= strcmp(x->worker_id, y->worker_id) != 0 || x->working_ms != y->working_ms ||
           x->idle_ms != y->idle_ms || x->absent_ms != y->absent_ms || x->units != y->units ||
           x->events != y->events || x->utilization_pct != y->utilization_pct ||
           x->units_per_hour != y->units_per_hour;
  }
  for (size_t i = 0; !bad && i < a->n_stations; i++) {
    const metrics_station *x = &a->stations[i], *y = &b->stations[i];
    bad |= strcmp(x->workstation_id, y->workstation_id) != 0 || x->occupancy_ms != y->occupancy_ms ||
           x->working_ms != y->working_ms || x->units != y->units || x->events != y->events ||
           x->utilization_pct != y->utilization_pct || x->units_per_hour != y->units_per_hour;
  }
  return bad;
}

/* The store's answers for a few windows equal metrics_compute over the events. */
static void check_queries(store *s, int64_t cap, const char *when) {
  metrics_event *ev = malloc(NEV * sizeof(*ev));
  for (int i = 0; i < NEV; i++) ev[i] = g_ev[i].e;
  const int64_t win[][2] = {
      {T0 - 2 * H, T0 + 4 * H},                       /* whole hours */
      {T0 + 17 * M + 3, T0 + 2 * H + 41 * M},         /* two edges */
      {T0 + H + 10 * M, T0 + H + 50 * M},             /* one edge inside the crowded hour */
      {T0 + H + 30 * M + 123, T0 + H + 30 * M + 124}, /* the crowded millisecond */
  };
  const char *const site_all[] = {""};
  const rsite_filter f = {site_all, 1, NULL, 0};
  for (size_t i = 0; i < sizeof(win) / sizeof(win[0]); i++)
    for (int v = 0; v < 3; v++) {
      st_metrics_query q = {.from_ms = win[i][0], .to_ms = win[i][1]};
      if (v == 1) q.filter = &f;
      if (v == 2) q.worker_id = "w2";
      metrics_result got, want;
      int r = s->ops->metrics(s, &q, &got);
      CHECK_EQ_INT(r, 0);
      if (r < 0) {
        fprintf(stderr, "metrics: %s\n", s->ops->last_error(s));
        continue;
      }
      CHECK_EQ_INT(metrics_compute(ev, NEV, q.from_ms, q.to_ms, cap, &want), 0);
      if (v == 2) { /* only w2 is asked for */
        const metrics_worker *a = metrics_find_worker(&got, "w2"), *b = metrics_find_worker(&want, "w2");
        CHECK(a && b && a->working_ms == b->working_ms && a->idle_ms == b->idle_ms &&
              a->absent_ms == b->absent_ms && a->units == b->units && a->events == b->events);
      } else {
        int bad = cmp_exact(&got, &want);
        CHECK(!bad);
        if (bad) fprintf(stderr, "%s: window %zu variant %d differs\n", when, i, v);
      }
      metrics_result_clear(&got);
      metrics_result_clear(&want);
    }
  free(ev);
}

/* A table's rows as text, read on a connection of its own. */
static char *dump(const char *path, const char *table) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  char sql[200];
  size_t cap = 1 << 16, o = 0;
  char *out = malloc(cap);
  out[0] = '\0';
  CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  snprintf(sql, sizeof(sql), "SELECT * FROM %s", table); /* ordered by every column */
  CHECK_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  int ncol = st ? sqlite3_column_count(st) : 0;
  sqlite3_finalize(st);
  size_t q = strlen(sql);
  for (int c = 1; c <= ncol; c++)
    q += (size_t)snprintf(sql + q, sizeof(sql) - q, "%s%d", c > 1 ? ", " : " ORDER BY ", c);
  CHECK_EQ_INT(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  while (st && sqlite3_step(st) == SQLITE_ROW) {
    for (int c = 0; c < sqlite3_column_count(st); c++) {
      const char *t = (const char *)sqlite3_column_text(st, c);
      size_t l = t ? strlen(t) : 4;
      if (o + l + 4 > cap) out = realloc(out, cap *= 2);
      o += (size_t)snprintf(out + o, cap - o, "%s|", t ? t : "NULL");
    }
    if (o + 2 > cap) out = realloc(out, cap *= 2);
    out[o++] = '\n';
    out[o] = '\0';
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

static void run_store(const char *dir, int64_t cap) {
  char p_small[300], p_big[300], err[300] = "";
  snprintf(p_small, sizeof(p_small), "%s/small-%" PRId64 ".db", dir, cap);
  snprintf(p_big, sizeof(p_big), "%s/big-%" PRId64 ".db", dir, cap);
  store *small = NULL, *big = NULL;
  CHECK_EQ_INT(store_sqlite_open(p_small, cap, &small, err, sizeof(err)), 0);
  CHECK_EQ_INT(store_sqlite_open(p_big, cap, &big, err, sizeof(err)), 0);
  if (!small || !big) {
    fprintf(stderr, "open: %s\n", err);
    return;
  }
  store_sqlite_set_slice(small, SLICE);
  store_sqlite_set_hot(small, 0); /* upkeep rebuilds what was just written */
  store_sqlite_set_hot(big, 0);
  uint64_t seed = rng;
  ingest(small);
  rng = seed; /* the same batches, duplicates and all */
  ingest(big);

  store *rd = NULL;
  CHECK_EQ_INT(small->ops->open_reader(small, &rd, err, sizeof(err)), 0);
  if (rd) check_queries(rd, cap, "dirty"); /* hours built by the query, in slices */
  bool more = true;
  for (int i = 0; i < 100 && more; i++) {
    CHECK_EQ_INT(small->ops->maintain(small, 3, &more), 0);
    /* partly rebuilt: a day with some hours rebuilt and others still marked
     * is read hour by hour, never from its (not yet refilled) day rows */
    if (rd && more && i < 3) check_queries(rd, cap, "partly rebuilt");
  }
  CHECK(!more);
  more = true;
  for (int i = 0; i < 100 && more; i++) CHECK_EQ_INT(big->ops->maintain(big, 3, &more), 0);
  if (rd) check_queries(rd, cap, "rebuilt");
  if (rd) rd->ops->close(rd);

  static const char *const tables[] = {"worker_hour",   "station_hour", "hour_total", "cell_hour",
                                       "sstation_hour", "wsite_hour",   "worker_day", "station_day",
                                       "day_total",     "model_hour"};
  for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
    char *a = dump(p_small, tables[i]), *b = dump(p_big, tables[i]);
    CHECK(strlen(a) > 0);
    CHECK(strcmp(a, b) == 0);
    if (strcmp(a, b) != 0) fprintf(stderr, "%s differs:\n%s---\n%s", tables[i], a, b);
    free(a);
    free(b);
  }
  small->ops->close(small);
  big->ops->close(big);
}

/* The PostgreSQL store with a slice of 7: queries over dirty hours (built in
 * slices, edges in slices), then after the upkeep (rebuilt in slices, rows
 * added slice by slice). */
static void run_pg(const char *url, int64_t cap) {
  store *s = NULL, *rd = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_pg_open(url, cap, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return;
  }
  store_pg_set_slice(s, SLICE);
  ingest(s);
  CHECK_EQ_INT(s->ops->open_reader(s, &rd, err, sizeof(err)), 0);
  if (rd) check_queries(rd, cap, "pg dirty");
  bool more = true;
  for (int i = 0; i < 200 && more; i++) CHECK_EQ_INT(s->ops->maintain(s, 3, &more), 0);
  CHECK(!more);
  if (rd) check_queries(rd, cap, "pg rebuilt");
  if (rd) rd->ops->close(rd);
  s->ops->close(s);
}

static int pg_admin(const char *url, const char *sql) {
  PGconn *c = PQconnectdb(url);
  int r = -1;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult *res = PQexec(c, sql);
    r = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : -1;
    if (r < 0) fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(res));
    PQclear(res);
  } else {
    fprintf(stderr, "connect: %s", PQerrorMessage(c));
  }
  PQfinish(c);
  return r;
}

int main(void) {
  gen();
  test_pure();
  char dir[] = "/tmp/ferry-test-slices-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  run_store(dir, 10 * M);
  run_store(dir, 90 * M);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);

  const char *pg = getenv("FERRY_TEST_PG_URL");
  if (pg && *pg) {
    /* a fresh database beside the one the URL names: same URL, other name */
    char db[64], url[1024], sql[160];
    snprintf(db, sizeof(db), "ferry_ut_slices_%ld", (long)getpid());
    const char *host = strstr(pg, "://");
    const char *slash = host ? strchr(host + 3, '/') : NULL;
    const char *query = slash ? strchr(slash, '?') : NULL;
    CHECK(slash != NULL);
    if (slash) {
      snprintf(url, sizeof(url), "%.*s/%s%s", (int)(slash - pg), pg, db, query ? query : "");
      snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
      CHECK_EQ_INT(pg_admin(pg, sql), 0);
      run_pg(url, 10 * M);
      snprintf(sql, sizeof(sql), "DROP DATABASE %s WITH (FORCE)", db);
      CHECK_EQ_INT(pg_admin(pg, sql), 0);
    }
  } else {
    printf("test_collector_rollup_slices: FERRY_TEST_PG_URL not set; PostgreSQL part skipped\n");
  }
  return check_finish("test_collector_rollup_slices");
}
