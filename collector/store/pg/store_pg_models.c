/* store_pg_models: the model rollups and the event export of the PostgreSQL
 * store (SPEC §6.3), as in the SQLite store (store_sqlite_models.c,
 * store_sqlite_export.c). Ingest writes nothing of its own: the event's hour
 * is already marked in dirty_hours for the worker/station rollups
 * (store_pg_metrics.c), and the upkeep piece that claims a dirty hour
 * rebuilds its model_hour rows from the hour's events, then its day's
 * model_day rows from the hour rows under the day's lock — the same design
 * and the same guarantees for several replicas as the other rollups (schema
 * version 5; until version 4 ingest upserted the cells, which cost the
 * database more than the events themselves with timestamps spread over many
 * hours). A window is read in one REPEATABLE READ snapshot: day rows of days
 * without a marked hour, hour rows of clean hours, and the events of marked
 * hours and of the partial hours at its ends. The export streams rows in
 * libpq's single-row mode (memory does not grow with the window), after a
 * first query that sends back only the page's last key (for the Link
 * header), both in one snapshot. The statements here run unprepared, so the
 * migration to schema version 4 can use them to fill the rows from the
 * events already stored. */
#include "store_pg_models.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rollup.h"

/* Run one of sp_sql with the parameters set; the result, or NULL with
 * s->err set and *ret_err. */
static PGresult *spmod__run(store_pg *s, int which, const char *what, int *ret_err) {
  PGresult *res = PQexecParams(s->conn, sp_sql[which], s->np, NULL, s->pv, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return res;
  const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(s->conn);
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  snprintf(s->err, sizeof(s->err), "%s: %.200s", what, msg && *msg ? msg : "unknown error");
  char *nl = strchr(s->err, '\n');
  if (nl) *nl = '\0';
  *ret_err = state && (!strcmp(state, "40P01") || !strcmp(state, "40001")) ? -EBUSY : -EIO;
  PQclear(res);
  return NULL;
}

static int spmod__cell_cmp(const void *a, const void *b) {
  const sm_cell *x = a, *y = b;
  if (x->hour != y->hour) return x->hour < y->hour ? -1 : 1;
  int c = strcmp(x->camera, y->camera);
  return c ? c : strcmp(x->model, y->model);
}

/* One upsert of n cells (keys unique, sorted) into model_hour or model_day. */
static int spmod__upsert(store_pg *s, int which, const sm_cell *cells, size_t n) {
  sp_buf *a = s->marr;
  for (int k = 0; k < 12; k++) sp_buf_reset(&a[k]);
  sp_buf h;
  memset(&h, 0, sizeof(h));
  for (size_t i = 0; i < n; i++) {
    const sm_cell *c = &cells[i];
    sp_buf_i64(&a[0], c->hour);
    sp_buf_str(&a[1], c->camera, strlen(c->camera));
    sp_buf_str(&a[2], c->model, strlen(c->model));
    sp_buf_i64(&a[3], c->c.events);
    sp_buf_i64(&a[4], c->c.with_conf);
    sp_buf_i64(&a[5], c->c.conf_micro);
    for (int m = 0; m < 4; m++) sp_buf_i64(&a[6 + m], c->c.mix[m]);
    sp_buf_i64(&a[10], c->c.last_ms);
    if (!c->c.with_conf) {
      sp_buf_str(&a[11], NULL, 0);
      continue;
    }
    sp_buf_reset(&h);
    for (int b = 0; b < MODELS_BINS; b++) sp_buf_i64(&h, c->c.hist[b]);
    const char *ht = sp_buf_end(&h);
    if (ht) sp_buf_str(&a[11], ht, strlen(ht));
  }
  int r = 0;
  sp__p_begin(s);
  for (int k = 0; k < 12; k++) {
    const char *t = sp_buf_end(&a[k]);
    if (!t) r = -ENOMEM;
    sp__p_str(s, t);
  }
  if (h.err) r = h.err;
  sp_buf_clear(&h);
  if (r < 0) {
    snprintf(s->err, sizeof(s->err), "out of memory");
    return r;
  }
  PGresult *res = spmod__run(s, which, "add to the model rollups", &r);
  PQclear(res);
  return r;
}

/* Write the pending cells: hour rows, then (with days) day rows (cells of
 * one day merged). */
static int spmod__write(store_pg *s, sm_pending *p, bool with_days) {
  if (p->n == 0) return 0;
  qsort(p->cells, p->n, sizeof(*p->cells), spmod__cell_cmp);
  int r = spmod__upsert(s, SP_MH_ADD, p->cells, p->n);
  if (!with_days) {
    sm_reset(p);
    return r;
  }
  sm_cell *days = r == 0 ? malloc(p->n * sizeof(*days)) : NULL;
  if (r == 0 && !days) r = -ENOMEM;
  size_t nd = 0;
  for (size_t i = 0; r == 0 && i < p->n; i++) {
    days[nd] = p->cells[i];
    days[nd].hour = rollup_day_of_hour(p->cells[i].hour);
    nd++;
  }
  if (r == 0) {
    qsort(days, nd, sizeof(*days), spmod__cell_cmp);
    size_t k = 0;
    for (size_t i = 0; i < nd; i++) {
      if (k && spmod__cell_cmp(&days[k - 1], &days[i]) == 0) models_cell_merge(&days[k - 1].c, &days[i].c);
      else days[k++] = days[i];
    }
    r = spmod__upsert(s, SP_MD_ADD, days, k);
  }
  free(days);
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  sm_reset(p);
  return r;
}

void spmod_reset(store_pg *s) { sm_reset(&s->models); }

void spmod_close(store_pg *s) {
  sm_clear(&s->models);
  for (int k = 0; k < 12; k++) sp_buf_clear(&s->marr[k]);
}

static metrics_type spmod__type(const char *t) {
  ev_type et;
  return t && ev_type_parse(t, &et) == 0 ? (metrics_type)et : (metrics_type)-1;
}

/* Add the events of res (SP_MODEL_EVENTS_SQL columns) to set or, with
 * set NULL, to the pending cells (flushed as they fill). */
static int spmod__add_events(store_pg *s, const PGresult *res, models_set *set) {
  int r = 0;
  for (int i = 0; r == 0 && i < PQntuples(res); i++) {
    const char *cam = PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2);
    const char *mv = PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3);
    bool has = !PQgetisnull(res, i, 4);
    double conf = has ? strtod(PQgetvalue(res, i, 4), NULL) : 0;
    int64_t ts = sp__i64(res, i, 0);
    metrics_type t = spmod__type(PQgetvalue(res, i, 1));
    if (!set) {
      r = sm_note(&s->models, ts, t, cam, mv, has, conf);
      if (r == -ENOSPC && (r = spmod__write(s, &s->models, true)) == 0)
        r = sm_note(&s->models, ts, t, cam, mv, has, conf);
      continue;
    }
    char ck[MODELS_KEY_MAX], mk[MODELS_KEY_MAX];
    models_key(cam, ck);
    models_key(mv, mk);
    models_cell *c = models_set_get(set, ck, mk);
    if (!c) r = -ENOMEM;
    else models_cell_add_event(c, t, ts, has, conf);
  }
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  return r;
}

int spmod_backfill(store_pg *s) {
  int r = sp__sql(s, "DECLARE ferry_models_fill NO SCROLL CURSOR FOR " SP_MODEL_EVENTS_SQL " ORDER BY ts_ms",
                  "read the stored events");
  for (;;) {
    if (r < 0) break;
    PGresult *res = PQexec(s->conn, "FETCH 10000 FROM ferry_models_fill");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
      snprintf(s->err, sizeof(s->err), "read the stored events: %.200s", PQresultErrorMessage(res));
      PQclear(res);
      r = -EIO;
      break;
    }
    int n = PQntuples(res);
    r = spmod__add_events(s, res, NULL);
    PQclear(res);
    if (n == 0) break;
  }
  if (r == 0) r = spmod__write(s, &s->models, true);
  if (r == 0) r = sp__sql(s, "CLOSE ferry_models_fill", "read the stored events");
  sm_reset(&s->models);
  return r;
}

/* ---- reads -------------------------------------------------------------- */

static int spmod__hist(models_cell *c, const char *t) {
  if (*t++ != '{') return -EINVAL;
  for (int b = 0; b < MODELS_BINS; b++) {
    char *end = NULL;
    c->hist[b] += strtoll(t, &end, 10);
    if (end == t || (*end != ',' && *end != '}')) return -EINVAL;
    t = end + 1;
  }
  return 0;
}

static int spmod__rows(store_pg *s, int which, int64_t lo, int64_t hi, models_set *set) {
  if (lo >= hi) return 0;
  int r = 0;
  sp__p_begin(s);
  sp__p_i64(s, lo);
  sp__p_i64(s, hi);
  PGresult *res = spmod__run(s, which, "read model rollups", &r);
  for (int i = 0; res && r == 0 && i < PQntuples(res); i++) {
    models_cell *c = models_set_get(set, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    if (!c) {
      snprintf(s->err, sizeof(s->err), "out of memory reading model rollups");
      r = -ENOMEM;
      break;
    }
    c->events += sp__i64(res, i, 2);
    c->with_conf += sp__i64(res, i, 3);
    c->conf_micro += sp__i64(res, i, 4);
    for (int m = 0; m < 4; m++) c->mix[m] += sp__i64(res, i, 5 + m);
    int64_t last = sp__i64(res, i, 9);
    if (last > c->last_ms) c->last_ms = last;
    if (!PQgetisnull(res, i, 10) && spmod__hist(c, PQgetvalue(res, i, 10)) < 0) {
      snprintf(s->err, sizeof(s->err), "corrupt model rollup row");
      r = -EIO;
    }
  }
  PQclear(res);
  return r;
}

/* The events of [lo, hi) added to set, row by row in libpq's single-row
 * mode: memory holds the set, never the hour's events (a catch-up may stamp
 * a million events into one hour). */
static int spmod__events(store_pg *s, int64_t lo, int64_t hi, models_set *set) {
  sp__p_begin(s);
  sp__p_i64(s, lo);
  sp__p_i64(s, hi);
  if (!PQsendQueryParams(s->conn, sp_sql[SP_MODEL_EVENTS], s->np, NULL, s->pv, NULL, NULL, 0) ||
      !PQsetSingleRowMode(s->conn)) {
    snprintf(s->err, sizeof(s->err), "read events: %.200s", PQerrorMessage(s->conn));
    return -EIO;
  }
  int r = 0;
  PGresult *res;
  while ((res = PQgetResult(s->conn)) != NULL) {
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_SINGLE_TUPLE && r == 0) {
      r = spmod__add_events(s, res, set);
    } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && r == 0) {
      const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
      snprintf(s->err, sizeof(s->err), "read events: %.200s", PQresultErrorMessage(res));
      char *nl = strchr(s->err, '\n');
      if (nl) *nl = '\0';
      r = state && (!strcmp(state, "40P01") || !strcmp(state, "40001")) ? -EBUSY : -EIO;
    }
    PQclear(res);
  }
  return r;
}

/* The marked hours of [h_lo, h_hi), ascending. */
static int spmod__dirty(store_pg *s, int64_t h_lo, int64_t h_hi, int64_t **ret, size_t *ret_n) {
  int r = 0;
  sp__p_begin(s);
  sp__p_i64(s, h_lo);
  sp__p_i64(s, h_hi);
  PGresult *res = spmod__run(s, SP_DIRTY_IN, "read dirty hours", &r);
  if (!res) return r;
  size_t nd = (size_t)PQntuples(res);
  int64_t *d = malloc((nd ? nd : 1) * sizeof(*d));
  for (size_t i = 0; d && i < nd; i++) d[i] = sp__i64(res, (int)i, 0);
  PQclear(res);
  if (!d) {
    snprintf(s->err, sizeof(s->err), "out of memory");
    return -ENOMEM;
  }
  *ret = d;
  *ret_n = nd;
  return 0;
}

static int spmod__dirty_cb(void *ctx, int64_t h_lo, int64_t h_hi, int64_t **ret, size_t *ret_n) {
  return spmod__dirty(ctx, h_lo, h_hi, ret, ret_n);
}
static int spmod__rows_cb(void *ctx, bool days, int64_t lo, int64_t hi, models_set *set) {
  return spmod__rows(ctx, days ? SP_MD_READ : SP_MH_READ, lo, hi, set);
}
static int spmod__events_cb(void *ctx, int64_t lo, int64_t hi, models_set *set) {
  return spmod__events(ctx, lo, hi, set);
}

static bool spmod__begin_read(store_pg *s, int *ret) {
  bool opened = !s->tx_open && PQtransactionStatus(s->conn) == PQTRANS_IDLE;
  *ret = opened ? sp__sql(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin read") : 0;
  return opened;
}

static void spmod__end_read(store_pg *s, bool opened) {
  if (opened && s->conn && PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
    PQclear(PQexec(s->conn, "COMMIT"));
}

int spmod_models(store *base, const sm_window *w, size_t n, models_set *sets) {
  store_pg *s = SP(base);
  int r = sp__ready(s);
  if (r < 0) return r;
  bool opened = spmod__begin_read(s, &r);
  sm_backend be = {s, spmod__dirty_cb, spmod__rows_cb, spmod__events_cb, s->err, sizeof(s->err)};
  for (size_t i = 0; r == 0 && i < n; i++) r = sm_read_window(&be, &w[i], &sets[i]);
  spmod__end_read(s, opened);
  return r;
}

/* ---- upkeep (writer) ---------------------------------------------------- */

/* Write a set's entries as rows keyed by key (an hour or a day) with the
 * upsert, SM_MAX_CELLS at a time, in key order. */
static int spmod__put_set(store_pg *s, int which, int64_t key, const models_set *set) {
  sm_cell *cells = set->n ? malloc(SM_MAX_CELLS * sizeof(*cells)) : NULL;
  if (set->n && !cells) {
    snprintf(s->err, sizeof(s->err), "out of memory");
    return -ENOMEM;
  }
  int r = 0;
  for (size_t i = 0; r == 0 && i < set->n; i += SM_MAX_CELLS) {
    size_t k = set->n - i < SM_MAX_CELLS ? set->n - i : SM_MAX_CELLS;
    for (size_t j = 0; j < k; j++) {
      const models_entry *e = set->e[i + j];
      cells[j].hour = key;
      memcpy(cells[j].camera, e->camera, sizeof(cells[j].camera));
      memcpy(cells[j].model, e->model, sizeof(cells[j].model));
      cells[j].c = e->c;
    }
    r = spmod__upsert(s, which, cells, k);
  }
  free(cells);
  return r;
}

static int spmod__range_exec(store_pg *s, int which, int64_t a, int64_t b) {
  sp__p_begin(s);
  sp__p_i64(s, a);
  sp__p_i64(s, b);
  int r = 0;
  PQclear(spmod__run(s, which, "rewrite model rollups", &r));
  return r;
}

int spmod_write_hours(store_pg *s, int64_t h0, int64_t h1) {
  int r = spmod__range_exec(s, SP_MH_DEL, h0, h1);
  for (int64_t h = h0; r == 0 && h < h1; h++) {
    models_set set;
    models_set_init(&set);
    r = spmod__events(s, h * ROLLUP_HOUR_MS, (h + 1) * ROLLUP_HOUR_MS, &set);
    if (r == 0) r = spmod__put_set(s, SP_MH_ADD, h, &set);
    models_set_clear(&set);
  }
  return r;
}

int spmod_write_day(store_pg *s, int64_t day) {
  int r = spmod__range_exec(s, SP_MD_DEL, day, day + 1);
  models_set set;
  models_set_init(&set);
  if (r == 0) r = spmod__rows(s, SP_MH_READ, day * 24, day * 24 + 24, &set);
  if (r == 0) r = spmod__put_set(s, SP_MD_ADD, day, &set);
  models_set_clear(&set);
  return r;
}

/* ---- export ------------------------------------------------------------- */

static void spmod__key_params(store_pg *s, bool has, const st_export_key *k) {
  if (!has) {
    for (int i = 0; i < 3; i++) sp__p_str(s, NULL);
    return;
  }
  sp__p_i64(s, k->ts_ms);
  sp__p_str(s, k->agent_id);
  sp__p_str(s, k->event_id);
}

/* The parameters of SP_EXPORT and SP_EXPORT_LAST. */
static void spx__params(store_pg *s, const st_export_query *q) {
  sp__p_begin(s);
  sp__p_i64(s, q->from_ms);
  sp__p_i64(s, q->to_ms);
  spmod__key_params(s, q->has_after, &q->after);
  spmod__key_params(s, q->has_until, &q->until);
  sp__p_str(s, q->event_type);
  sp__p_str(s, q->camera_id);
  sp__p_str(s, q->model_version);
  if (q->has_max_conf) sp__p_f64(s, q->max_conf);
  else sp__p_str(s, NULL);
  sp__p_i64(s, q->limit);
}

/* The first pass: is the page full, and its last event's key — one row from
 * the server, whatever the page's size. */
static int spx__last(store_pg *s, const st_export_query *q, bool *full, st_export_key *k) {
  spx__params(s, q);
  int r = 0;
  PGresult *res = spmod__run(s, SP_EXPORT_LAST, "export events", &r);
  *full = res && PQntuples(res) == 1;
  if (*full) {
    k->ts_ms = sp__i64(res, 0, 0);
    snprintf(k->agent_id, sizeof(k->agent_id), "%s", PQgetvalue(res, 0, 1));
    snprintf(k->event_id, sizeof(k->event_id), "%s", PQgetvalue(res, 0, 2));
  }
  PQclear(res);
  return r;
}

/* The page in single-row mode: fn for each event of q, at most q->limit. */
static int spx__pass(store_pg *s, const st_export_query *q, st_export_row_fn fn, void *ctx) {
  spx__params(s, q);
  if (!PQsendQueryParams(s->conn, sp_sql[SP_EXPORT], s->np, NULL, s->pv, NULL, NULL, 0) ||
      !PQsetSingleRowMode(s->conn)) {
    snprintf(s->err, sizeof(s->err), "export events: %.200s", PQerrorMessage(s->conn));
    return -EIO;
  }
  int r = 0;
  int64_t n = 0; /* rows seen (the LIMIT bounds them) */
  PGresult *res;
  while ((res = PQgetResult(s->conn)) != NULL) {
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_SINGLE_TUPLE && r == 0) {
      st_export_key k = {.ts_ms = sp__i64(res, 0, 0)};
      snprintf(k.agent_id, sizeof(k.agent_id), "%s", PQgetvalue(res, 0, 1));
      snprintf(k.event_id, sizeof(k.event_id), "%s", PQgetvalue(res, 0, 2));
      r = fn(ctx, &k, PQgetvalue(res, 0, 3), (size_t)PQgetlength(res, 0, 3));
      n++;
      if (r != 0) PQrequestCancel(s->conn); /* stopped: drop the rest (the read ends anyway) */
    } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && r == 0) {
      snprintf(s->err, sizeof(s->err), "export events: %.200s", PQresultErrorMessage(res));
      r = -EIO;
    }
    PQclear(res);
  }
  return r;
}

int spx_export(store *base, st_export_query *q, int (*between)(void *ctx, const st_export_query *q),
               st_export_row_fn fn, void *ctx) {
  store_pg *s = SP(base);
  int r = sp__ready(s);
  if (r < 0) return r;
  if (q->limit <= 0 || q->from_ms >= q->to_ms) return between(ctx, q);
  bool opened = spmod__begin_read(s, &r);
  bool full = false;
  st_export_key last;
  if (r == 0) r = spx__last(s, q, &full, &last);
  if (r == 0 && full) {
    q->has_until = true;
    q->until = last;
  }
  if (r == 0) r = between(ctx, q);
  if (r == 0) r = spx__pass(s, q, fn, ctx);
  spmod__end_read(s, opened);
  return r;
}
