/* store_sqlite_models: the model rollups of the SQLite store (SPEC §6.3,
 * collector/metrics/models.h). Ingest writes only the model columns of
 * each newly stored event's ev_time row (ssmod_bind; a separate ev_model row
 * before schema 7); the event's hour is already in dirty_hours
 * (store_sqlite_metrics.c marks it for the other rollups), and the writer's
 * upkeep rebuilds the model_hour rows of dirty hours from ev_time, then their days' model_day rows from the hour rows — the
 * same pattern as the worker/station rollups, so ingest upserts no cells. A
 * read of a window, in one read transaction, sums day rows of days without a
 * dirty hour, hour rows of clean hours, and counts the events of dirty hours
 * and of the partial hours at its ends: exact whatever the upkeep backlog. The
 * schema migration to version 6 fills the rows from the events already
 * stored. */
#include "store_sqlite_models.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollup.h"
#include "store_sqlite_metrics.h"

/* ferry_hist_add(a, b): the sum of two packed histograms (NULL = empty). */
static void ssmod__hist_add(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  int64_t sum[MODELS_BINS] = {0};
  bool any = false;
  for (int i = 0; i < 2; i++) {
    const void *b = sqlite3_value_blob(argv[i]);
    if (!b) continue;
    if (models_hist_add(sum, b, (size_t)sqlite3_value_bytes(argv[i])) < 0) {
      sqlite3_result_error(ctx, "ferry_hist_add: not a packed histogram", -1);
      return;
    }
    any = true;
  }
  if (!any) {
    sqlite3_result_null(ctx);
    return;
  }
  uint8_t out[MODELS_HIST_BYTES];
  size_t n = models_hist_pack(sum, out);
  sqlite3_result_blob(ctx, out, (int)n, SQLITE_TRANSIENT);
}

int ssmod_register(sqlite3 *db) {
  return sqlite3_create_function(db, "ferry_hist_add", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                 ssmod__hist_add, NULL, NULL) == SQLITE_OK
             ? 0
             : -EIO;
}

/* Add one cell to its row (key: the hour or the day) with an upsert. */
static int ssmod__put(sqlite3_stmt *st, int64_t key, const char *camera, const char *model,
                      const models_cell *c) {
  uint8_t hist[MODELS_HIST_BYTES];
  size_t hlen = c->with_conf ? models_hist_pack(c->hist, hist) : 0;
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  sqlite3_bind_int64(st, 1, key);
  sqlite3_bind_text(st, 2, camera, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, model, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, c->events);
  sqlite3_bind_int64(st, 5, c->with_conf);
  sqlite3_bind_int64(st, 6, c->conf_micro);
  for (int m = 0; m < 4; m++) sqlite3_bind_int64(st, 7 + m, c->mix[m]);
  sqlite3_bind_int64(st, 11, c->last_ms);
  if (c->with_conf) sqlite3_bind_blob(st, 12, hist, (int)hlen, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -EIO;
}

/* Write the pending cells (the migration) with the two upserts (hour row, day row). */
static int ssmod__write(sm_pending *p, sqlite3_stmt *hour_st, sqlite3_stmt *day_st) {
  for (size_t i = 0; i < p->n; i++) {
    const sm_cell *c = &p->cells[i];
    if (ssmod__put(hour_st, c->hour, c->camera, c->model, &c->c) < 0 ||
        ssmod__put(day_st, rollup_day_of_hour(c->hour), c->camera, c->model, &c->c) < 0)
      return -EIO;
  }
  sm_reset(p);
  return 0;
}

/* An ev_model row of schema 6 (the backfill): the model fields of one stored event. */
static int ssmod__evmodel(sqlite3_stmt *st, int64_t rseq, int64_t ts, const char *type, const char *cam,
                          const char *mv, bool has_conf, double conf) {
  char ck[MODELS_KEY_MAX], mk[MODELS_KEY_MAX];
  models_key(cam, ck);
  models_key(mv, mk);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  sqlite3_bind_int64(st, 1, rollup_hour_of(ts));
  sqlite3_bind_int64(st, 2, rseq);
  sqlite3_bind_int64(st, 3, ts);
  sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, ck, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 6, mk, -1, SQLITE_TRANSIENT);
  if (has_conf) {
    sqlite3_bind_int(st, 7, models_bin(conf));
    sqlite3_bind_int64(st, 8, models_micro(conf));
  }
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : -EIO;
}

void ssmod_bind(sqlite3_stmt *st, int first, const bt_event *e) {
  if (!e->camera_id && !e->model_version && !e->has_conf) return; /* all NULL */
  char ck[MODELS_KEY_MAX], mk[MODELS_KEY_MAX];
  models_key(e->camera_id, ck);
  models_key(e->model_version, mk);
  sqlite3_bind_text(st, first, ck, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, first + 1, mk, -1, SQLITE_TRANSIENT);
  if (e->has_conf) {
    sqlite3_bind_int(st, first + 2, models_bin(e->confidence));
    sqlite3_bind_int64(st, first + 3, models_micro(e->confidence));
  }
}

static double ssmod__conf(const unsigned char *t, bool *has) {
  *has = t != NULL;
  return t ? strtod((const char *)t, NULL) : 0;
}

static metrics_type ssmod__type(const unsigned char *t) {
  ev_type et;
  return t && ev_type_parse((const char *)t, &et) == 0 ? (metrics_type)et : (metrics_type)-1;
}

int ssmod_backfill(sqlite3 *db, char *err, size_t errlen) {
  sqlite3_stmt *ev = NULL, *hs = NULL, *ds = NULL, *em = NULL;
  sm_pending p = {0};
  int r = 0;
  if (sqlite3_prepare_v2(db, SS_MODEL_EVENTS_SQL " ORDER BY t.hour, t.rseq", -1, &ev, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, ss_sql[SS_MH_ADD], -1, &hs, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, ss_sql[SS_MD_ADD], -1, &ds, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db, SS_EVMODEL_V6_INSERT, -1, &em, NULL) != SQLITE_OK) {
    r = -EIO;
    goto out;
  }
  int rc;
  while (r == 0 && (rc = sqlite3_step(ev)) == SQLITE_ROW) {
    bool has;
    double conf = ssmod__conf(sqlite3_column_text(ev, 4), &has);
    int64_t ts = sqlite3_column_int64(ev, 0);
    metrics_type type = ssmod__type(sqlite3_column_text(ev, 1));
    const char *cam = (const char *)sqlite3_column_text(ev, 2),
               *mv = (const char *)sqlite3_column_text(ev, 3);
    r = sm_note(&p, ts, type, cam, mv, has, conf);
    if (r == -ENOSPC && (r = ssmod__write(&p, hs, ds)) == 0) r = sm_note(&p, ts, type, cam, mv, has, conf);
    if (r == 0 && (cam || mv || has) &&
        ssmod__evmodel(em, sqlite3_column_int64(ev, 5), ts, (const char *)sqlite3_column_text(ev, 1), cam, mv,
                       has, conf) < 0)
      r = -EIO;
  }
  if (r == 0 && rc != SQLITE_DONE) r = -EIO;
  if (r == 0) r = ssmod__write(&p, hs, ds);
out:
  if (r < 0)
    snprintf(err, errlen, "fill the model rollups: %s", r == -ENOMEM ? "out of memory" : sqlite3_errmsg(db));
  sqlite3_finalize(ev);
  sqlite3_finalize(hs);
  sqlite3_finalize(ds);
  sqlite3_finalize(em);
  sm_clear(&p);
  return r;
}

/* ---- reads -------------------------------------------------------------- */

static int ssmod__rows(store_sqlite *s, int which, int64_t lo, int64_t hi, models_set *set) {
  if (lo >= hi) return 0;
  sqlite3_stmt *st = ss__stmt(s, which);
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  int rc, r = 0;
  while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    models_cell *c = models_set_get(set, (const char *)sqlite3_column_text(st, 0),
                                    (const char *)sqlite3_column_text(st, 1));
    if (!c) {
      r = -ENOMEM;
      break;
    }
    c->events += sqlite3_column_int64(st, 2);
    c->with_conf += sqlite3_column_int64(st, 3);
    c->conf_micro += sqlite3_column_int64(st, 4);
    for (int m = 0; m < 4; m++) c->mix[m] += sqlite3_column_int64(st, 5 + m);
    int64_t last = sqlite3_column_int64(st, 9);
    if (last > c->last_ms) c->last_ms = last;
    if (models_hist_add(c->hist, sqlite3_column_blob(st, 10), (size_t)sqlite3_column_bytes(st, 10)) < 0) {
      snprintf(s->err, sizeof(s->err), "corrupt model rollup row");
      r = -EIO;
    }
  }
  if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "read model rollups");
  sqlite3_reset(st);
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory reading model rollups");
  return r;
}

/* The events of [lo, hi) (a partial hour at a window's end): those with
 * model fields from ev_time's model columns, the rest — no camera, no model version, no
 * confidence — counted by type from ev_time. */
static int ssmod__events(store_sqlite *s, int64_t lo, int64_t hi, models_set *set) {
  int64_t typed[4] = {0, 0, 0, 0};
  sqlite3_stmt *st = ss__stmt(s, SS_EVMODEL_RANGE);
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  sqlite3_bind_int64(st, 3, rollup_hour_of(lo));
  sqlite3_bind_int64(st, 4, rollup_hour_of(hi - 1));
  int rc, r = 0;
  while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    models_cell *c = models_set_get(set, (const char *)sqlite3_column_text(st, 2),
                                    (const char *)sqlite3_column_text(st, 3));
    if (!c) {
      snprintf(s->err, sizeof(s->err), "out of memory reading events");
      r = -ENOMEM;
      break;
    }
    metrics_type t = ssmod__type(sqlite3_column_text(st, 1));
    if ((int)t >= 0 && (int)t < 4) typed[t]++;
    int bin = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4);
    models_cell_add_binned(c, t, sqlite3_column_int64(st, 0), bin, sqlite3_column_int64(st, 5));
  }
  if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "read events");
  sqlite3_reset(st);
  if (r < 0) return r;
  st = ss__stmt(s, SS_EVTIME_TYPES);
  sqlite3_bind_int64(st, 1, lo);
  sqlite3_bind_int64(st, 2, hi);
  sqlite3_bind_int64(st, 3, rollup_hour_of(lo));
  sqlite3_bind_int64(st, 4, rollup_hour_of(hi - 1));
  while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    metrics_type t = ssmod__type(sqlite3_column_text(st, 0));
    int64_t rest = sqlite3_column_int64(st, 1) - ((int)t >= 0 && (int)t < 4 ? typed[t] : 0);
    if (rest <= 0) continue;
    models_cell *c = models_set_get(set, "", "");
    if (!c) {
      snprintf(s->err, sizeof(s->err), "out of memory reading events");
      r = -ENOMEM;
      break;
    }
    c->events += rest;
    if ((int)t >= 0 && (int)t < 4) c->mix[t] += rest;
    /* the latest of them is at most the latest of the type (only a camera's
     * versions use last_ms, and these events have no camera) */
    int64_t last = sqlite3_column_int64(st, 2);
    if (last > c->last_ms) c->last_ms = last;
  }
  if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "read events");
  sqlite3_reset(st);
  return r;
}

static int ssmod__rows_cb(void *ctx, bool days, int64_t lo, int64_t hi, models_set *set) {
  return ssmod__rows(ctx, days ? SS_MD_READ : SS_MH_READ, lo, hi, set);
}
static int ssmod__events_cb(void *ctx, int64_t lo, int64_t hi, models_set *set) {
  return ssmod__events(ctx, lo, hi, set);
}

/* ---- upkeep (writer) ---------------------------------------------------- */

static int ssmod__put_set(store_sqlite *s, int which, int64_t key, const models_set *set) {
  for (size_t i = 0; i < set->n; i++) {
    const models_entry *e = set->e[i];
    if (ssmod__put(s->st[which], key, e->camera, e->model, &e->c) < 0)
      return ss__fail(s, "write the model rollups");
  }
  return 0;
}

int ssmod_write_hours(store_sqlite *s, int64_t h0, int64_t h1) {
  sqlite3_stmt *st = ss__stmt(s, SS_MH_DEL);
  sqlite3_bind_int64(st, 1, h0);
  sqlite3_bind_int64(st, 2, h1);
  int r = ss__exec(s, st, "rewrite model rollups");
  for (int64_t h = h0; r == 0 && h < h1; h++) {
    models_set set;
    models_set_init(&set);
    r = ssmod__events(s, h * ROLLUP_HOUR_MS, (h + 1) * ROLLUP_HOUR_MS, &set);
    if (r == 0) r = ssmod__put_set(s, SS_MH_ADD, h, &set);
    models_set_clear(&set);
  }
  return r;
}

int ssmod_write_day(store_sqlite *s, int64_t day) {
  sqlite3_stmt *st = ss__stmt(s, SS_MD_DEL);
  sqlite3_bind_int64(st, 1, day);
  int r = ss__exec(s, st, "rewrite model rollups");
  models_set set;
  models_set_init(&set);
  if (r == 0) r = ssmod__rows(s, SS_MH_READ, day * 24, day * 24 + 24, &set);
  if (r == 0) r = ssmod__put_set(s, SS_MD_ADD, day, &set);
  models_set_clear(&set);
  return r;
}

int ssmod_models(store *base, const sm_window *w, size_t n, models_set *sets) {
  store_sqlite *s = SS(base);
  bool opened = sqlite3_get_autocommit(s->db);
  int r = opened ? ss__exec(s, ss__stmt(s, SS_BEGIN_READ), "begin read") : 0;
  sm_backend be = {s, ssm_dirty_hours, ssmod__rows_cb, ssmod__events_cb, s->err, sizeof(s->err)};
  for (size_t i = 0; r == 0 && i < n; i++) r = sm_read_window(&be, &w[i], &sets[i]);
  if (opened && !sqlite3_get_autocommit(s->db)) (void)ss__exec(s, ss__stmt(s, SS_COMMIT), "end read");
  return r;
}
