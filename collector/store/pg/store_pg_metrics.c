/* store_pg_metrics: the metrics side of the PostgreSQL store — the same
 * incremental design as the SQLite store (docs/metrics.md), made safe for
 * several writers (docs/scaling.md):
 *
 * - Ingest appends a mark per stale hour to dirty_hours (no unique key, so
 *   replicas never wait for each other) in the transaction of the events.
 * - maintain() claims up to N dirty hours with pg_try_advisory_xact_lock (an
 *   hour another replica is rebuilding is skipped, never waited for),
 *   deletes the marks committed so far, then — in later statements, hence a
 *   later READ COMMITTED snapshot — reads the hours' events and rewrites their
 *   rows. A mark committed after the delete survives, so its events are
 *   rebuilt again later: nothing is lost, at worst an hour is built twice.
 *   Day rows are refilled from hour rows under a per-day advisory lock.
 * - A query runs in one REPEATABLE READ snapshot: clean day and hour rows,
 *   hours still marked built from their events, exact edges.
 * So every answer equals metrics_compute over the committed events. */
#include "store_pg_metrics.h"
#include "store_pg_models.h"
#include "store_pg_plant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollup.h"
#include "rollup_query.h"
#include "store_rollup.h"

#define SPM_META_MAX_STATE "rollup_max_state_ms"

/* ---- ingest side -------------------------------------------------------- */

static int spm__known_add(store_pg *s, st_id_kind kind, const char *id) {
  char key[EV_REF_MAX + 8];
  int r = stm_id_new(&s->memo, kind, id, key, sizeof(key));
  if (r <= 0) return r;
  if (s->n_m_ids == 0) {
    sp_buf_reset(&s->m_kinds);
    sp_buf_reset(&s->m_ids);
  }
  sp_buf_i64(&s->m_kinds, (int64_t)kind);
  sp_buf_str(&s->m_ids, id, strlen(id));
  s->n_m_ids++;
  return stm_id_recorded(&s->memo, key);
}

int spm_note_event(store_pg *s, const ev_event *e) {
  int64_t h0, h1;
  sr_stale_hours(e, s->max_state_ms, &h0, &h1);
  int r = 0;
  for (int64_t h = h0; r == 0 && h < h1; h++) {
    char key[32];
    snprintf(key, sizeof(key), "h%" PRId64, h);
    r = strset_add(&s->memo.tx_done, key);
    if (r <= 0) continue;
    r = 0;
    if (s->n_m_hours++ == 0) sp_buf_reset(&s->m_hours);
    sp_buf_i64(&s->m_hours, h);
  }
  if (r == 0 && e->worker_id) r = spm__known_add(s, ST_ID_WORKER, e->worker_id);
  if (r == 0 && e->workstation_id) r = spm__known_add(s, ST_ID_STATION, e->workstation_id);
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  return r;
}

int spm_flush(store_pg *s) {
  int r = 0;
  if (s->n_m_hours) {
    const char *h = sp_buf_end(&s->m_hours);
    s->n_m_hours = 0;
    if (!h) r = -ENOMEM;
    sp__p_begin(s);
    sp__p_str(s, h);
    if (r == 0) r = sp__exec(s, SP_DIRTY_ADD, "mark hours dirty");
  }
  if (r == 0 && s->n_m_ids) {
    const char *k = sp_buf_end(&s->m_kinds), *i = sp_buf_end(&s->m_ids);
    s->n_m_ids = 0;
    if (!k || !i) r = -ENOMEM;
    sp__p_begin(s);
    sp__p_str(s, k);
    sp__p_str(s, i);
    if (r == 0) r = sp__exec(s, SP_KNOWN_ADD, "record ids");
  }
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  return r;
}

void spm_tx_end(store_pg *s, bool committed) {
  stm_tx_end(&s->memo, committed);
  s->n_m_hours = s->n_m_ids = 0;
  spmod_reset(s);
}

void spm_close(store_pg *s) {
  spm_tx_end(s, false);
  stm_clear(&s->memo);
  sp_buf_clear(&s->m_hours);
  sp_buf_clear(&s->m_kinds);
  sp_buf_clear(&s->m_ids);
}

int spm_open(store_pg *s, char *err, size_t errlen) {
  char lock[96];
  snprintf(lock, sizeof(lock), "SELECT pg_advisory_xact_lock(%d, 1)", SP_LOCK_NS_MIGRATE);
  int r = sp__sql(s, "BEGIN", "begin");
  if (r == 0) r = sp__sql(s, lock, "lock the rollups");
  PGresult *res = NULL;
  if (r == 0) {
    sp__p_begin(s);
    sp__p_str(s, SPM_META_MAX_STATE);
    res = sp__run(s, SP_META_GET, "read the rollups' max_state", &r);
  }
  int64_t built = res && PQntuples(res) ? sp__i64(res, 0, 0) : -1;
  PQclear(res);
  res = NULL;
  if (r == 0 && built != s->max_state_ms) {
    /* rollups built with another cap (or never): rebuild every hour with events */
    r = sp__sql(s, sp_rollup_reset, "reset the rollups");
    sp__p_begin(s);
    if (r == 0) res = sp__run(s, SP_EV_MINMAX, "read the event time range", &r);
    if (res && !PQgetisnull(res, 0, 0)) {
      int64_t h0 = rollup_hour_of(sp__i64(res, 0, 0));
      int64_t h1 = rollup_hour_of(sp__i64(res, 0, 1) + s->max_state_ms) + 1;
      char sql[160];
      snprintf(sql, sizeof(sql),
               "INSERT INTO dirty_hours(hour) SELECT generate_series(%" PRId64 "::bigint, %" PRId64 ")", h0,
               h1 - 1);
      r = sp__sql(s, sql, "mark hours dirty");
    }
    PQclear(res);
    sp__p_begin(s);
    sp__p_str(s, SPM_META_MAX_STATE);
    sp__p_i64(s, s->max_state_ms);
    if (r == 0) r = sp__exec(s, SP_META_SET, "record max_state");
  }
  if (r == 0) r = sp__sql(s, "COMMIT", "commit");
  if (r < 0) {
    snprintf(err, errlen, "prepare the metrics rollups: %s", s->err);
    if (s->conn && PQtransactionStatus(s->conn) != PQTRANS_IDLE) PQclear(PQexec(s->conn, "ROLLBACK"));
  }
  return r;
}

/* ---- loading events ----------------------------------------------------- */

typedef struct spm_evs {
  metrics_event *ev;
  const char **sites;
  size_t n;
  PGresult *res; /* the strings point into it */
} spm_evs;

static void spm__evs_free(spm_evs *v) {
  free(v->ev);
  free(v->sites);
  PQclear(v->res);
  memset(v, 0, sizeof(*v));
}

static metrics_type spm__type(const char *t) {
  ev_type et;
  if (t && ev_type_parse(t, &et) == 0) return (metrics_type)et;
  return (metrics_type)-1; /* metrics_compute refuses it: a corrupt row */
}

/* Every stored event with ts in [lo, hi) (only worker's when worker != NULL),
 * or RSL_TOO_MANY when there are more than max. */
static int spm__load(store_pg *s, int64_t lo, int64_t hi, const char *worker, size_t max, spm_evs *v) {
  int r = 0;
  bool capped = max < (size_t)INT32_MAX;
  sp__p_begin(s);
  sp__p_i64(s, lo);
  sp__p_i64(s, hi);
  if (capped) {
    sp__p_str(s, worker);
    sp__p_i64(s, (int64_t)max + 1);
  } else if (worker) {
    sp__p_str(s, worker);
  }
  v->res = sp__run(s,
                   capped   ? SP_EV_RANGE_CAP
                   : worker ? SP_EV_RANGE_WORKER
                            : SP_EV_RANGE,
                   "read events", &r);
  if (!v->res) return r;
  int n = PQntuples(v->res);
  if (capped && (size_t)n > max) return RSL_TOO_MANY;
  v->ev = calloc(n ? (size_t)n : 1, sizeof(*v->ev));
  v->sites = calloc(n ? (size_t)n : 1, sizeof(*v->sites));
  if (!v->ev || !v->sites) {
    snprintf(s->err, sizeof(s->err), "out of memory reading events");
    return -ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    metrics_event *e = &v->ev[i];
    const PGresult *res = v->res;
    e->event_id = PQgetvalue(res, i, 0);
    e->agent_id = PQgetvalue(res, i, 1);
    e->ts_ms = sp__i64(res, i, 2);
    e->type = spm__type(PQgetvalue(res, i, 3));
    e->worker_id = PQgetisnull(res, i, 4) ? NULL : PQgetvalue(res, i, 4);
    e->workstation_id = PQgetisnull(res, i, 5) ? NULL : PQgetvalue(res, i, 5);
    e->count = sp__i64(res, i, 6);
    v->sites[i] = PQgetvalue(res, i, 7);
  }
  v->n = (size_t)n;
  return 0;
}

/* The events of [lo, hi) counted by time (rollup_slices.h), by the server. */
static int spm__hist(store_pg *s, int64_t lo, int64_t hi, const char *worker, rsl_hist *hist) {
  int64_t width = rsl_bin_width(lo, hi);
  if (width <= 0) return -EINVAL;
  int r = 0;
  sp__p_begin(s);
  sp__p_i64(s, lo);
  sp__p_i64(s, hi);
  sp__p_str(s, worker);
  sp__p_i64(s, width);
  PGresult *res = sp__run(s, SP_EV_HIST, "count events", &r);
  if (!res) return r;
  for (int i = 0; i < PQntuples(res); i++) {
    int64_t k = sp__i64(res, i, 0);
    k = k >= 0 && k < RSL_BINS ? k : RSL_BINS - 1;
    hist->n[k] += sp__i64(res, i, 1); /* no keys: the events table is read by ts */
    hist->kmin[k] = 0;
    hist->kmax[k] = 0;
  }
  PQclear(res);
  return 0;
}

static int spm__read_capped(void *ctx, int64_t lo, int64_t hi, const char *worker, const rsl_keys *keys,
                            size_t max, rsl_hist *hist, rsl_events_fn fn, void *arg) {
  (void)keys;
  spm_evs v = {0};
  int r = spm__load(ctx, lo, hi, worker, max, &v);
  if (r == 0) r = fn(arg, v.ev, (const char *const *)v.sites, v.n);
  spm__evs_free(&v);
  if (r == RSL_TOO_MANY) {
    r = spm__hist(ctx, lo, hi, worker, hist);
    if (r == 0) r = RSL_TOO_MANY;
  }
  return r;
}

static int spm__events(void *ctx, int64_t lo, int64_t hi, const char *worker, rq_events_fn fn, void *arg) {
  return spm__read_capped(ctx, lo, hi, worker, NULL, SIZE_MAX, NULL, fn, arg);
}

static int spm__sum(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                    rollup_acc *acc);
static int spm__dirty_hours(void *ctx, int64_t h_lo, int64_t h_hi, int64_t **ret, size_t *ret_n);
static int spm__begin_read(void *ctx, bool *ret_opened);
static void spm__end_read(void *ctx, bool opened);

/* The shared plan walk (rollup_query.h) over this handle. */
static rq_backend spm__backend(store_pg *s) {
  return (rq_backend){
      .ctx = s,
      .max_state_ms = s->max_state_ms,
      .err = s->err,
      .errlen = sizeof(s->err),
      .events = spm__events,
      .read_capped = spm__read_capped,
      .slice_events = s->slice_events,
      .sum = spm__sum,
      .sum_site = spsite_sum_site,
      .dirty_hours = spm__dirty_hours,
      .begin_read = spm__begin_read,
      .end_read = spm__end_read,
  };
}

/* ---- upkeep (writer) ---------------------------------------------------- */

static int spm__range_exec(store_pg *s, int which, int64_t a, int64_t b) {
  sp__p_begin(s);
  sp__p_i64(s, a);
  sp__p_i64(s, b);
  return sp__exec(s, which, "rewrite rollups");
}

/* One slice's rows added to the stored ones (SP_*_INS add on conflict). */
static int spm__put_buckets(store_pg *s, const rollup_buckets *bk) {
  const rollup_buckets b = *bk;
  int r = 0;
  sp_buf *a = s->arr;
  if (r == 0 && b.n_workers) {
    for (int k = 0; k < 7; k++) sp_buf_reset(&a[k]);
    for (size_t i = 0; i < b.n_workers; i++) {
      const rollup_worker_hour *w = &b.workers[i];
      sp_buf_i64(&a[0], w->hour);
      sp_buf_str(&a[1], w->worker_id, strlen(w->worker_id));
      sp_buf_i64(&a[2], w->working_ms);
      sp_buf_i64(&a[3], w->idle_ms);
      sp_buf_i64(&a[4], w->absent_ms);
      sp_buf_i64(&a[5], w->units);
      sp_buf_i64(&a[6], w->events);
    }
    sp__p_begin(s);
    for (int k = 0; k < 7; k++) sp__p_str(s, sp_buf_end(&a[k]));
    r = sp__exec(s, SP_WH_INS, "insert worker hours");
  }
  if (r == 0 && b.n_stations) {
    for (int k = 0; k < 7; k++) sp_buf_reset(&a[k]);
    for (size_t i = 0; i < b.n_stations; i++) {
      const rollup_station_hour *w = &b.stations[i];
      sp_buf_i64(&a[0], w->hour);
      sp_buf_str(&a[1], w->workstation_id, strlen(w->workstation_id));
      sp_buf_i64(&a[2], w->occupancy_ms);
      sp_buf_i64(&a[3], w->working_ms);
      sp_buf_i64(&a[4], w->units);
      sp_buf_i64(&a[5], w->events);
      sp_buf_i64(&a[6], w->state_ms);
    }
    sp__p_begin(s);
    for (int k = 0; k < 7; k++) sp__p_str(s, sp_buf_end(&a[k]));
    r = sp__exec(s, SP_SH_INS, "insert station hours");
  }
  if (r == 0 && b.n_hours) {
    for (int k = 0; k < 3; k++) sp_buf_reset(&a[k]);
    for (size_t i = 0; i < b.n_hours; i++) {
      sp_buf_i64(&a[0], b.hours[i].hour);
      sp_buf_i64(&a[1], b.hours[i].events);
      sp_buf_i64(&a[2], b.hours[i].units);
    }
    sp__p_begin(s);
    for (int k = 0; k < 3; k++) sp__p_str(s, sp_buf_end(&a[k]));
    r = sp__exec(s, SP_HT_INS, "insert hours");
  }
  for (int k = 0; k < 7; k++)
    if (r == 0 && a[k].err) {
      snprintf(s->err, sizeof(s->err), "out of memory");
      r = -ENOMEM;
    }
  return r;
}

typedef struct spm_put {
  store_pg *s;
  int64_t h0;
} spm_put;

static int spm__put_b(void *u, const rollup_buckets *b) { return spm__put_buckets(((spm_put *)u)->s, b); }
static int spm__put_site(void *u, const rsite_rows *rows) {
  spm_put *p = u;
  return spsite_put_rows(p->s, p->h0, rows);
}

/* Hours [h0, h1) rebuilt: their rows deleted, then every slice of their
 * events (rollup_slices.h) read once and added to the plain and site rows. */
static int spm__write_hours(store_pg *s, int64_t h0, int64_t h1) {
  rq_backend be = spm__backend(s);
  static const int dels[] = {SP_WH_DEL, SP_SH_DEL, SP_HT_DEL};
  int r = 0;
  for (size_t i = 0; r == 0 && i < sizeof(dels) / sizeof(dels[0]); i++)
    r = spm__range_exec(s, dels[i], h0, h1);
  if (r == 0) r = spsite_clear_hours(s, h0, h1);
  spm_put p = {s, h0};
  rq_build_use use = {.buckets = spm__put_b, .site = spm__put_site, .u = &p};
  if (r == 0) r = rq_build_each(&be, h0, h1, NULL, &use);
  if (r == 0) r = spmod_write_hours(s, h0, h1);
  return r;
}

static int spm__write_day(store_pg *s, int64_t day) {
  static const int dels[] = {SP_WD_DEL, SP_SD_DEL, SP_DT_DEL};
  static const int fills[] = {SP_WD_FILL, SP_SD_FILL, SP_DT_FILL};
  sp__p_begin(s);
  sp__p_i64(s, day);
  int r = sp__exec(s, SP_DAY_LOCK, "lock a day's rollups");
  for (int i = 0; r == 0 && i < 3; i++) {
    sp__p_begin(s);
    sp__p_i64(s, day);
    r = sp__exec(s, dels[i], "delete day rollup");
  }
  for (int i = 0; r == 0 && i < 3; i++) {
    sp__p_begin(s);
    sp__p_i64(s, day);
    sp__p_i64(s, day * 24);
    sp__p_i64(s, day * 24 + 24);
    r = sp__exec(s, fills[i], "fill day rollup");
  }
  if (r == 0) r = spsite_write_day(s, day);
  if (r == 0) r = spmod_write_day(s, day);
  return r;
}

static int spm__write_hours_cb(void *ctx, int64_t h0, int64_t h1) { return spm__write_hours(ctx, h0, h1); }
static int spm__write_day_cb(void *ctx, int64_t day) { return spm__write_day(ctx, day); }

int spm_maintain(store *base, int max_units, bool *ret_more) {
  store_pg *s = SP(base);
  *ret_more = false;
  if (max_units <= 0) max_units = 1;
  int64_t *hours = malloc((size_t)max_units * sizeof(*hours));
  if (!hours) return -ENOMEM;
  size_t n = 0;
  int r = sp__sql(s, "BEGIN", "begin");
  PGresult *res = NULL;
  if (r == 0) {
    sp__p_begin(s);
    sp__p_i64(s, max_units);
    res = sp__run(s, SP_DIRTY_CLAIM, "claim dirty hours", &r);
  }
  int got = res ? PQntuples(res) : 0;
  for (int i = 0; i < got && n < (size_t)max_units; i++) hours[n++] = sp__i64(res, i, 0);
  PQclear(res);
  if (r == 0 && n) {
    sp_buf *a = &s->arr[0];
    sp_buf_reset(a);
    for (size_t i = 0; i < n; i++) sp_buf_i64(a, hours[i]);
    sp__p_begin(s);
    sp__p_str(s, sp_buf_end(a));
    r = sp__exec(s, SP_DIRTY_DEL, "clear dirty marks");
  }
  /* days ascending: the day locks never deadlock */
  if (r == 0) r = sr_rebuild(hours, n, &(sr_writer){s, spm__write_hours_cb, spm__write_day_cb, NULL});
  free(hours);
  if (r == 0) r = sp__sql(s, "COMMIT", "commit rollups");
  if (r < 0) {
    if (s->conn && PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
      PQclear(PQexec(s->conn, "ROLLBACK"));
    return r;
  }
  /* a full claim: probably more; a short one with rows left that others hold: theirs */
  *ret_more = got == max_units;
  return 0;
}

/* ---- queries (reader handles) ------------------------------------------- */

static int spm__sum(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                    rollup_acc *acc) {
  static const int stmts[3][2] = {{SP_WH_SUM, SP_WD_SUM}, {SP_SH_SUM, SP_SD_SUM}, {SP_HT_SUM, SP_DT_SUM}};
  store_pg *s = ctx;
  int which = stmts[table][days];
  int r = 0;
  sp__p_begin(s);
  sp__p_i64(s, a);
  sp__p_i64(s, b);
  bool total = table == RQ_TOTALS;
  if (!total) sp__p_str(s, id);
  PGresult *res = sp__run(s, which, "read rollups", &r);
  if (!res) return r;
  int n = PQntuples(res);
  for (int i = 0; r == 0 && i < n; i++) {
    if (total) {
      if (PQgetisnull(res, i, 0)) continue;
      rollup_hour h = {.events = sp__i64(res, i, 0), .units = sp__i64(res, i, 1)};
      rollup_acc_add_hour(acc, &h);
    } else if (table == RQ_WORKERS) {
      rollup_worker_hour w = {
          .worker_id = PQgetvalue(res, i, 0),
          .working_ms = sp__i64(res, i, 1),
          .idle_ms = sp__i64(res, i, 2),
          .absent_ms = sp__i64(res, i, 3),
          .units = sp__i64(res, i, 4),
          .events = sp__i64(res, i, 5),
      };
      r = rollup_acc_add_worker(acc, &w);
    } else {
      rollup_station_hour w = {
          .workstation_id = PQgetvalue(res, i, 0),
          .occupancy_ms = sp__i64(res, i, 1),
          .working_ms = sp__i64(res, i, 2),
          .units = sp__i64(res, i, 3),
          .events = sp__i64(res, i, 4),
          .state_ms = sp__i64(res, i, 5),
      };
      r = rollup_acc_add_station(acc, &w);
    }
  }
  PQclear(res);
  return r;
}

static int spm__dirty_hours(void *ctx, int64_t h_lo, int64_t h_hi, int64_t **ret, size_t *ret_n) {
  store_pg *s = ctx;
  int r = 0;
  sp__p_begin(s);
  sp__p_i64(s, h_lo);
  sp__p_i64(s, h_hi);
  PGresult *res = sp__run(s, SP_DIRTY_IN, "read dirty hours", &r);
  if (!res) return r;
  size_t nd = (size_t)PQntuples(res);
  int64_t *d = malloc((nd ? nd : 1) * sizeof(*d));
  if (!d) {
    PQclear(res);
    return -ENOMEM;
  }
  for (size_t i = 0; i < nd; i++) d[i] = sp__i64(res, (int)i, 0);
  PQclear(res);
  *ret = d;
  *ret_n = nd;
  return 0;
}

static int spm__begin_read(void *ctx, bool *ret_opened) {
  store_pg *s = ctx;
  *ret_opened = !s->tx_open;
  return *ret_opened ? sp__sql(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin read") : 0;
}

static void spm__end_read(void *ctx, bool opened) {
  store_pg *s = ctx;
  if (opened && s->conn && PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
    PQclear(PQexec(s->conn, "COMMIT"));
}

int spm_metrics(store *base, const st_metrics_query *q, metrics_result *ret) {
  rq_backend be = spm__backend(SP(base));
  return rq_metrics(&be, q, ret);
}

int spm_id_known(store *base, st_id_kind kind, const char *id, bool *ret) {
  store_pg *s = SP(base);
  int r = 0;
  sp__p_begin(s);
  sp__p_i64(s, (int64_t)kind);
  sp__p_str(s, id);
  PGresult *res = sp__run(s, SP_KNOWN_GET, "look up id", &r);
  if (!res) return r;
  *ret = PQntuples(res) > 0;
  PQclear(res);
  return 0;
}
