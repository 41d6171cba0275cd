/* store_sqlite_metrics: the metrics side of the SQLite store. Ingest marks
 * the hours a new event makes stale (rollup_stale_hours without a next-event
 * lookup: a superset that costs nothing to find) in dirty_hours, inside the
 * same transaction; the writer rebuilds dirty hours between groups
 * (maintain); a query reads clean day and hour rows, builds the still-dirty
 * hours itself from the events, computes the two partial edges exactly and
 * combines (collector/metrics/rollup.h). Every answer therefore equals
 * metrics_compute over the stored events, whatever the rebuild backlog.
 * Every build reads its events in bounded slices (rollup_slices.h): a
 * capped read of ev_time, or past the cap a count of the range's times. The
 * model rollups of a dirty hour (store_sqlite_models.c) are rebuilt in the
 * same upkeep, from the same dirty_hours. */
#include "store_sqlite_metrics.h"
#include "store_sqlite_models.h"
#include "store_sqlite_plant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollup.h"
#include "rollup_query.h"
#include "timefmt.h"
#include "store_rollup.h"

#define SSM_META_MAX_STATE "rollup_max_state_ms"
/* Upkeep passes over an hour ingest marked dirty this recently: under load
 * (the writer's piece every few seconds between groups) the hour a drain is
 * writing would be dirty again at the next group, and rebuilding it there
 * made every batch wait for a build of the whole hour, again and again. The
 * writer's idle upkeep starts after a quiet second, when no hour is hot. */
#define SSM_HOT_MS         500

/* ---- ingest side -------------------------------------------------------- */

static int ssm__known_add(store_sqlite *s, st_id_kind kind, const char *id) {
  char key[EV_REF_MAX + 8];
  int r = stm_id_new(&s->memo, kind, id, key, sizeof(key));
  if (r <= 0) return r;
  sqlite3_stmt *st = ss__stmt(s, SS_KNOWN_ADD);
  sqlite3_bind_int(st, 1, (int)kind);
  ss__text(st, 2, id);
  if ((r = ss__exec(s, st, "record id")) < 0) return r;
  return stm_id_recorded(&s->memo, key);
}

static int ssm__dirty(store_sqlite *s, int64_t h0, int64_t h1) {
  const size_t nseen = sizeof(s->hour_seen) / sizeof(s->hour_seen[0]);
  const size_t nhot = sizeof(s->hot) / sizeof(s->hot[0]);
  for (int64_t h = h0; h < h1; h++) {
    int64_t *seen = &s->hour_seen[(uint64_t)h % nseen];
    if (*seen == h + 1) continue;
    s->hot[(uint64_t)h % nhot].hour = h; /* once per transaction and hour */
    s->hot[(uint64_t)h % nhot].at_ms = tf_mono_ms();
    char key[32];
    snprintf(key, sizeof(key), "h%" PRId64, h);
    int r = strset_add(&s->memo.tx_done, key);
    if (r < 0) return r;
    if (r == 0) {
      *seen = h + 1;
      continue;
    }
    sqlite3_stmt *st = ss__stmt(s, SS_DIRTY_ADD);
    sqlite3_bind_int64(st, 1, h);
    if ((r = ss__exec(s, st, "mark hour dirty")) < 0) return r;
    *seen = h + 1; /* only once it is written: a failure leaves it unmarked */
  }
  return 0;
}

int ssm_note_event(store_sqlite *s, const ev_event *e) {
  int64_t h0, h1;
  sr_stale_hours(e, s->max_state_ms, &h0, &h1);
  int r = ssm__dirty(s, h0, h1);
  if (r == 0 && e->worker_id) r = ssm__known_add(s, ST_ID_WORKER, e->worker_id);
  if (r == 0 && e->workstation_id) r = ssm__known_add(s, ST_ID_STATION, e->workstation_id);
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  return r;
}

void ssm_tx_end(store_sqlite *s, bool committed) {
  stm_tx_end(&s->memo, committed);
  memset(s->hour_seen, 0, sizeof(s->hour_seen));
}

void ssm_close(store_sqlite *s) {
  ssm_tx_end(s, false);
  stm_clear(&s->memo);
}

int ssm_open(store_sqlite *s, char *err, size_t errlen) {
  sqlite3_stmt *st = ss__stmt(s, SS_META_GET);
  ss__text(st, 1, SSM_META_MAX_STATE);
  int rc = sqlite3_step(st);
  int64_t built = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) goto fail;
  if (built == s->max_state_ms) return 0;
  /* rollups built with another cap (or never): rebuild every hour with events */
  if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) goto fail;
  if (sqlite3_exec(s->db, ss_rollup_reset, NULL, NULL, NULL) != SQLITE_OK) goto fail_tx;
  st = ss__stmt(s, SS_EV_MINMAX);
  rc = sqlite3_step(st);
  bool any = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
  int64_t lo = any ? sqlite3_column_int64(st, 0) : 0, hi = any ? sqlite3_column_int64(st, 1) : 0;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW) goto fail_tx;
  if (any) {
    int64_t h0 = rollup_hour_of(lo), h1 = rollup_hour_of(hi + s->max_state_ms) + 1;
    for (int64_t h = h0; h < h1; h++) {
      st = ss__stmt(s, SS_DIRTY_ADD);
      sqlite3_bind_int64(st, 1, h);
      if (ss__exec(s, st, "mark hour dirty") < 0) goto fail_tx;
    }
  }
  st = ss__stmt(s, SS_META_SET);
  ss__text(st, 1, SSM_META_MAX_STATE);
  sqlite3_bind_int64(st, 2, s->max_state_ms);
  if (ss__exec(s, st, "record max_state") < 0) goto fail_tx;
  if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) goto fail_tx;
  return 0;
fail_tx:
  snprintf(err, errlen, "%s: prepare the metrics rollups: %s", s->path, sqlite3_errmsg(s->db));
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return -EIO;
fail:
  snprintf(err, errlen, "%s: read the metrics rollups: %s", s->path, sqlite3_errmsg(s->db));
  return -EIO;
}

/* ---- loading events ----------------------------------------------------- */

typedef struct ssm_evs {
  metrics_event *ev;
  size_t n, cap;
  size_t (*off)[5];   /* string offsets into buf while loading (SIZE_MAX = NULL) */
  const char **sites; /* each event's site */
  char *buf;
  size_t blen, bcap;
} ssm_evs;

static void ssm__evs_free(ssm_evs *v) {
  free(v->ev);
  free(v->off);
  free(v->sites);
  free(v->buf);
  memset(v, 0, sizeof(*v));
}

static int ssm__str(ssm_evs *v, const unsigned char *t, int len, size_t *ret) {
  if (!t) {
    *ret = SIZE_MAX;
    return 0;
  }
  size_t need = v->blen + (size_t)len + 1;
  if (need > v->bcap) {
    size_t cap = v->bcap ? v->bcap : 65536;
    while (cap < need) cap *= 2;
    char *b = realloc(v->buf, cap);
    if (!b) return -ENOMEM;
    v->buf = b;
    v->bcap = cap;
  }
  memcpy(v->buf + v->blen, t, (size_t)len);
  v->buf[v->blen + (size_t)len] = '\0';
  *ret = v->blen;
  v->blen = need;
  return 0;
}

static metrics_type ssm__type(const unsigned char *t) {
  ev_type et;
  if (t && ev_type_parse((const char *)t, &et) == 0) return (metrics_type)et;
  return (metrics_type)-1; /* metrics_compute refuses it: a corrupt row */
}

/* Append the rows of a bound SS_EV_RANGE(_KEYS) statement to v (then reset
 * it), or RSL_TOO_MANY as soon as v would hold more than max. */
static int ssm__load_rows(store_sqlite *s, sqlite3_stmt *st, size_t max, ssm_evs *v) {
  int rc, r = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (v->n == max) {
      r = RSL_TOO_MANY;
      break;
    }
    if (v->n == v->cap) {
      size_t cap = v->cap ? v->cap * 2 : 1024;
      metrics_event *e = realloc(v->ev, cap * sizeof(*e));
      if (!e) {
        r = -ENOMEM;
        break;
      }
      v->ev = e;
      size_t(*o)[5] = realloc(v->off, cap * sizeof(*o));
      if (!o) {
        r = -ENOMEM;
        break;
      }
      v->off = o;
      v->cap = cap;
    }
    metrics_event *e = &v->ev[v->n];
    memset(e, 0, sizeof(*e));
    e->ts_ms = sqlite3_column_int64(st, 2);
    e->type = ssm__type(sqlite3_column_text(st, 3));
    e->count = sqlite3_column_int64(st, 6);
    static const int cols[5] = {0, 1, 4, 5, 7};
    for (int k = 0; k < 5 && r == 0; k++) {
      const unsigned char *t = sqlite3_column_text(st, cols[k]);
      r = ssm__str(v, t, sqlite3_column_bytes(st, cols[k]), &v->off[v->n][k]);
    }
    if (r < 0) break;
    v->n++;
  }
  if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "read events");
  sqlite3_reset(st);
  return r;
}

/* Every stored event with ts in [lo, hi) (only worker's when worker != NULL;
 * only rows with rseq in *keys when keys != NULL, read hour by hour as rseq
 * ranges), or RSL_TOO_MANY as soon as there are more than max. */
/* The window, worker and hour of the per-hour event reads, and the rseq
 * range they keep to (SS_EV_RANGE_KEYS, SS_EV_TS_RANGE). */
static void ssm__bind_hour(sqlite3_stmt *st, int64_t lo, int64_t hi, const char *worker, int64_t hour,
                           int64_t klo, int64_t khi) {
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  ss__text(st, 3, worker);
  sqlite3_bind_int64(st, 4, hour);
  sqlite3_bind_int64(st, 5, klo);
  sqlite3_bind_int64(st, 6, khi);
}

static int ssm__load(store_sqlite *s, int64_t lo, int64_t hi, const char *worker, const rsl_keys *keys,
                     size_t max, ssm_evs *v) {
  int r = 0;
  if (!keys) {
    sqlite3_stmt *st = ss__stmt(s, SS_EV_RANGE);
    sqlite3_bind_int64(st, 1, lo);
    sqlite3_bind_int64(st, 2, hi);
    ss__text(st, 3, worker);
    sqlite3_bind_int64(st, 4, rollup_hour_of(lo));
    sqlite3_bind_int64(st, 5, rollup_hour_of(hi - 1));
    r = ssm__load_rows(s, st, max, v);
  } else {
    for (int64_t h = rollup_hour_of(lo); r == 0 && h <= rollup_hour_of(hi - 1); h++) {
      sqlite3_stmt *st = ss__stmt(s, SS_EV_RANGE_KEYS);
      ssm__bind_hour(st, lo, hi, worker, h, keys->lo, keys->hi);
      r = ssm__load_rows(s, st, max, v);
    }
  }
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory reading events");
  if (r != 0) return r;
  if (!(v->sites = malloc((v->n ? v->n : 1) * sizeof(*v->sites)))) {
    snprintf(s->err, sizeof(s->err), "out of memory reading events");
    return -ENOMEM;
  }
  for (size_t i = 0; i < v->n; i++) {
    const char **f[5] = {&v->ev[i].event_id, &v->ev[i].agent_id, &v->ev[i].worker_id,
                         &v->ev[i].workstation_id, &v->sites[i]};
    for (int k = 0; k < 5; k++) *f[k] = v->off[i][k] == SIZE_MAX ? NULL : v->buf + v->off[i][k];
  }
  return 0;
}

/* The events of [lo, hi) counted by time with their rseq range per bin
 * (rollup_slices.h), reading only ts and rseq. */
static int ssm__hist(store_sqlite *s, int64_t lo, int64_t hi, const char *worker, const rsl_keys *keys,
                     rsl_hist *hist) {
  int64_t width = rsl_bin_width(lo, hi);
  if (width <= 0) return -EINVAL;
  int r = 0;
  for (int64_t h = rollup_hour_of(lo); r == 0 && h <= rollup_hour_of(hi - 1); h++) {
    sqlite3_stmt *st = ss__stmt(s, SS_EV_TS_RANGE);
    ssm__bind_hour(st, lo, hi, worker, h, keys ? keys->lo : INT64_MIN, keys ? keys->hi : INT64_MAX);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
      rsl_hist_add(hist, rsl_bin(lo, width, sqlite3_column_int64(st, 0)), sqlite3_column_int64(st, 1));
    if (rc != SQLITE_DONE) r = ss__fail(s, "read events");
    sqlite3_reset(st);
  }
  return r;
}

static int ssm__read_capped(void *ctx, int64_t lo, int64_t hi, const char *worker, const rsl_keys *keys,
                            size_t max, rsl_hist *hist, rsl_events_fn fn, void *arg) {
  store_sqlite *s = ctx;
  ssm_evs v = {0};
  int r = ssm__load(s, lo, hi, worker, keys, max, &v);
  if (r == 0) r = fn(arg, v.ev, (const char *const *)v.sites, v.n);
  ssm__evs_free(&v);
  if (r == RSL_TOO_MANY) {
    r = ssm__hist(s, lo, hi, worker, keys, hist);
    if (r == 0) r = RSL_TOO_MANY;
  }
  return r;
}

static int ssm__events(void *ctx, int64_t lo, int64_t hi, const char *worker, rq_events_fn fn, void *arg) {
  return ssm__read_capped(ctx, lo, hi, worker, NULL, SIZE_MAX, NULL, fn, arg);
}

static int ssm__sum(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                    rollup_acc *acc);
static int ssm__begin_read(void *ctx, bool *ret_opened);
static void ssm__end_read(void *ctx, bool opened);

static void ssm__build_turn(void *ctx, bool enter) {
  store_sqlite *s = ctx;
  if (enter) bgate_enter(s->gate);
  else bgate_leave(s->gate);
}

/* The shared plan walk (rollup_query.h) over this handle. */
static rq_backend ssm__backend(store_sqlite *s) {
  return (rq_backend){
      .ctx = s,
      .max_state_ms = s->max_state_ms,
      .err = s->err,
      .errlen = sizeof(s->err),
      .events = ssm__events,
      .read_capped = ssm__read_capped,
      .slice_events = s->slice_events,
      .sum = ssm__sum,
      .sum_site = sss_sum_site,
      .dirty_hours = ssm_dirty_hours,
      .begin_read = ssm__begin_read,
      .end_read = ssm__end_read,
      .build_turn = s->gate ? ssm__build_turn : NULL,
  };
}

/* ---- upkeep (writer) ---------------------------------------------------- */

static int ssm__range_exec(store_sqlite *s, int which, int64_t a, int64_t b) {
  sqlite3_stmt *st = ss__stmt(s, which);
  sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  return ss__exec(s, st, "rewrite rollups");
}

/* One slice's rows added to the stored ones (SS_*_INS add on conflict). */
static int ssm__put_buckets(void *u, const rollup_buckets *b) {
  store_sqlite *s = u;
  int r = 0;
  for (size_t i = 0; r == 0 && i < b->n_workers; i++) {
    const rollup_worker_hour *w = &b->workers[i];
    sqlite3_stmt *st = ss__stmt(s, SS_WH_INS);
    sqlite3_bind_int64(st, 1, w->hour);
    ss__text(st, 2, w->worker_id);
    sqlite3_bind_int64(st, 3, w->working_ms);
    sqlite3_bind_int64(st, 4, w->idle_ms);
    sqlite3_bind_int64(st, 5, w->absent_ms);
    sqlite3_bind_int64(st, 6, w->units);
    sqlite3_bind_int64(st, 7, w->events);
    r = ss__exec(s, st, "insert worker hour");
  }
  for (size_t i = 0; r == 0 && i < b->n_stations; i++) {
    const rollup_station_hour *w = &b->stations[i];
    sqlite3_stmt *st = ss__stmt(s, SS_SH_INS);
    sqlite3_bind_int64(st, 1, w->hour);
    ss__text(st, 2, w->workstation_id);
    sqlite3_bind_int64(st, 3, w->occupancy_ms);
    sqlite3_bind_int64(st, 4, w->working_ms);
    sqlite3_bind_int64(st, 5, w->units);
    sqlite3_bind_int64(st, 6, w->events);
    sqlite3_bind_int64(st, 7, w->state_ms);
    r = ss__exec(s, st, "insert station hour");
  }
  for (size_t i = 0; r == 0 && i < b->n_hours; i++) {
    sqlite3_stmt *st = ss__stmt(s, SS_HT_INS);
    sqlite3_bind_int64(st, 1, b->hours[i].hour);
    sqlite3_bind_int64(st, 2, b->hours[i].events);
    sqlite3_bind_int64(st, 3, b->hours[i].units);
    r = ss__exec(s, st, "insert hour");
  }
  return r;
}

typedef struct ssm_put {
  store_sqlite *s;
  int64_t h0;
} ssm_put;

static int ssm__put_b(void *u, const rollup_buckets *b) { return ssm__put_buckets(((ssm_put *)u)->s, b); }
static int ssm__put_site(void *u, const rsite_rows *rows) {
  ssm_put *p = u;
  return sss_put_rows(p->s, p->h0, rows);
}

/* Hours [h0, h1) rebuilt: their rows deleted, then every slice of their
 * events (rollup_slices.h) read once and added to the plain and site rows. */
static int ssm__write_hours(store_sqlite *s, int64_t h0, int64_t h1) {
  rq_backend be = ssm__backend(s);
  static const int dels[] = {SS_WH_DEL, SS_SH_DEL, SS_HT_DEL, SS_DIRTY_DEL};
  int r = 0;
  for (size_t i = 0; r == 0 && i < sizeof(dels) / sizeof(dels[0]); i++)
    r = ssm__range_exec(s, dels[i], h0, h1);
  if (r == 0) r = sss_clear_hours(s, h0, h1);
  ssm_put p = {s, h0};
  rq_build_use use = {.buckets = ssm__put_b, .site = ssm__put_site, .u = &p};
  if (r == 0) r = rq_build_each(&be, h0, h1, NULL, &use);
  if (r == 0) r = ssmod_write_hours(s, h0, h1);
  return r;
}

/* sr_writer.day_pending: whether an hour of day is still marked dirty. */
static int ssm__day_pending(void *ctx, int64_t day, bool *ret) {
  store_sqlite *s = ctx;
  sqlite3_stmt *st = ss__stmt(s, SS_DIRTY_IN);
  sqlite3_bind_int64(st, 1, day * 24);
  sqlite3_bind_int64(st, 2, day * 24 + 24);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return ss__fail(s, "read dirty hours");
  *ret = rc == SQLITE_ROW;
  return 0;
}

/* A day's rows refilled from its hour rows (plain, site and model tables);
 * sr_rebuild calls it once none of the day's hours is marked any more
 * (ssm__day_pending: one writer makes that check exact). */
static int ssm__write_day(store_sqlite *s, int64_t day) {
  static const int dels[] = {SS_WD_DEL, SS_SD_DEL, SS_DT_DEL};
  static const int fills[] = {SS_WD_FILL, SS_SD_FILL, SS_DT_FILL};
  int r = 0;
  for (int i = 0; r == 0 && i < 3; i++) {
    sqlite3_stmt *st = ss__stmt(s, dels[i]);
    sqlite3_bind_int64(st, 1, day);
    r = ss__exec(s, st, "delete day rollup");
  }
  for (int i = 0; r == 0 && i < 3; i++) {
    sqlite3_stmt *st = ss__stmt(s, fills[i]);
    sqlite3_bind_int64(st, 1, day);
    sqlite3_bind_int64(st, 2, day * 24);
    sqlite3_bind_int64(st, 3, day * 24 + 24);
    r = ss__exec(s, st, "fill day rollup");
  }
  if (r == 0) r = sss_write_day(s, day);
  if (r == 0) r = ssmod_write_day(s, day);
  return r;
}

static int ssm__write_hours_cb(void *ctx, int64_t h0, int64_t h1) { return ssm__write_hours(ctx, h0, h1); }
static int ssm__write_day_cb(void *ctx, int64_t day) { return ssm__write_day(ctx, day); }

/* Whether ingest marked hour dirty in the last hot_ms. */
static bool ssm__hot(const store_sqlite *s, int64_t hour, uint64_t now) {
  const size_t nhot = sizeof(s->hot) / sizeof(s->hot[0]);
  int64_t win = s->hot_ms == 0 ? SSM_HOT_MS : s->hot_ms;
  const __typeof__(s->hot[0]) *e = &s->hot[(uint64_t)hour % nhot];
  return win > 0 && e->at_ms && e->hour == hour && now - e->at_ms < (uint64_t)win;
}

int ssm_maintain(store *base, int max_units, bool *ret_more) {
  store_sqlite *s = SS(base);
  *ret_more = false;
  if (max_units <= 0) max_units = 1;
  /* the newest dirty hours that are not hot (ssm__hot), up to max_units */
  const size_t want = (size_t)max_units, look = want + sizeof(s->hot) / sizeof(s->hot[0]);
  int64_t *hours = malloc(look * sizeof(*hours));
  if (!hours) return -ENOMEM;
  int r = ss__exec(s, ss__stmt(s, SS_BEGIN), "begin");
  size_t n = 0, seen = 0;
  bool skipped = false;
  uint64_t now = tf_mono_ms();
  if (r == 0) {
    sqlite3_stmt *st = ss__stmt(s, SS_DIRTY_NEWEST);
    sqlite3_bind_int64(st, 1, (int64_t)look);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      int64_t h = sqlite3_column_int64(st, 0);
      seen++;
      if (ssm__hot(s, h, now)) skipped = true;
      else hours[n++] = h;
    }
    if (rc != SQLITE_DONE) r = ss__fail(s, "read dirty hours");
    sqlite3_reset(st);
  }
  /* ascending: keep the newest want of them */
  if (n > want) {
    memmove(hours, hours + (n - want), want * sizeof(*hours));
    n = want;
  }
  if (r == 0)
    r = sr_rebuild(hours, n, &(sr_writer){s, ssm__write_hours_cb, ssm__write_day_cb, ssm__day_pending});
  free(hours);
  if (r == 0) r = ss__exec(s, ss__stmt(s, SS_COMMIT), "commit rollups");
  if (r < 0) {
    if (!sqlite3_get_autocommit(s->db)) (void)ss__exec(s, ss__stmt(s, SS_ROLLBACK), "rollback");
    return r;
  }
  *ret_more = n == want || seen == look || skipped;
  return 0;
}

/* ---- queries (reader handles) ------------------------------------------- */

static int ssm__sum(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                    rollup_acc *acc) {
  static const int stmts[3][2] = {{SS_WH_SUM, SS_WD_SUM}, {SS_SH_SUM, SS_SD_SUM}, {SS_HT_SUM, SS_DT_SUM}};
  static const char *const what[3] = {"read worker rollups", "read station rollups", "read rollups"};
  store_sqlite *s = ctx;
  sqlite3_stmt *st = ss__stmt(s, stmts[table][days]);
  sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  if (table != RQ_TOTALS) ss__text(st, 3, id);
  int rc, r = 0;
  while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (table == RQ_TOTALS) {
      rollup_hour h = {.events = sqlite3_column_int64(st, 0), .units = sqlite3_column_int64(st, 1)};
      rollup_acc_add_hour(acc, &h);
      rc = SQLITE_DONE; /* one row: an aggregate */
      break;
    }
    if (table == RQ_WORKERS) {
      rollup_worker_hour w = {
          .worker_id = (const char *)sqlite3_column_text(st, 0),
          .working_ms = sqlite3_column_int64(st, 1),
          .idle_ms = sqlite3_column_int64(st, 2),
          .absent_ms = sqlite3_column_int64(st, 3),
          .units = sqlite3_column_int64(st, 4),
          .events = sqlite3_column_int64(st, 5),
      };
      r = rollup_acc_add_worker(acc, &w);
    } else {
      rollup_station_hour w = {
          .workstation_id = (const char *)sqlite3_column_text(st, 0),
          .occupancy_ms = sqlite3_column_int64(st, 1),
          .working_ms = sqlite3_column_int64(st, 2),
          .units = sqlite3_column_int64(st, 3),
          .events = sqlite3_column_int64(st, 4),
          .state_ms = sqlite3_column_int64(st, 5),
      };
      r = rollup_acc_add_station(acc, &w);
    }
  }
  if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, what[table]);
  sqlite3_reset(st);
  return r;
}

int ssm_dirty_hours(void *ctx, int64_t h_lo, int64_t h_hi, int64_t **ret, size_t *ret_n) {
  store_sqlite *s = ctx;
  int64_t *d = NULL;
  size_t nd = 0, cap = 0;
  sqlite3_stmt *st = ss__stmt(s, SS_DIRTY_IN);
  sqlite3_bind_int64(st, 1, h_lo);
  sqlite3_bind_int64(st, 2, h_hi);
  int rc, r = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (nd == cap) {
      cap = cap ? cap * 2 : 64;
      int64_t *n = realloc(d, cap * sizeof(*n));
      if (!n) {
        r = -ENOMEM;
        break;
      }
      d = n;
    }
    d[nd++] = sqlite3_column_int64(st, 0);
  }
  if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "read dirty hours");
  sqlite3_reset(st);
  *ret = d;
  *ret_n = nd;
  return r;
}

static int ssm__begin_read(void *ctx, bool *ret_opened) {
  store_sqlite *s = ctx;
  *ret_opened = sqlite3_get_autocommit(s->db);
  return *ret_opened ? ss__exec(s, ss__stmt(s, SS_BEGIN_READ), "begin read") : 0;
}

static void ssm__end_read(void *ctx, bool opened) {
  store_sqlite *s = ctx;
  if (opened && !sqlite3_get_autocommit(s->db)) (void)ss__exec(s, ss__stmt(s, SS_COMMIT), "end read");
}

int ssm_metrics(store *base, const st_metrics_query *q, metrics_result *ret) {
  rq_backend be = ssm__backend(SS(base));
  return rq_metrics(&be, q, ret);
}

int ssm_id_known(store *base, st_id_kind kind, const char *id, bool *ret) {
  store_sqlite *s = SS(base);
  sqlite3_stmt *st = ss__stmt(s, SS_KNOWN_GET);
  sqlite3_bind_int(st, 1, (int)kind);
  ss__text(st, 2, id);
  int rc = sqlite3_step(st);
  *ret = rc == SQLITE_ROW;
  int r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : ss__fail(s, "look up id");
  sqlite3_reset(st);
  return r;
}
