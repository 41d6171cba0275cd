/* store_sqlite_spans: id_spans for the SQLite store (see store_spans.h):
 * the ids from known_ids, their first and last hour with events from the
 * hour rollups, the hours still dirty, then those hours' events from ev_time.
 * One read transaction, so the pieces agree. */
#include "store_sqlite_plant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "store_spans.h"

static int sss__rows(store_sqlite *s, const char *sql, int (*fn)(sts_spans *sp, sqlite3_stmt *st),
                     sts_spans *sp, int64_t bind) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) return ss__fail(s, "read id spans");
  if (bind >= 0) sqlite3_bind_int64(st, 1, bind);
  int rc, r = 0;
  while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) r = fn(sp, st);
  if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "read id spans");
  sqlite3_finalize(st);
  return r;
}

static const char *sss__text(sqlite3_stmt *st, int i) { return (const char *)sqlite3_column_text(st, i); }

static int sss__id(sts_spans *sp, sqlite3_stmt *st) {
  return sts_add_id(sp, sqlite3_column_int(st, 0) ? ST_ID_STATION : ST_ID_WORKER, sss__text(st, 1));
}
static int sss__wrange(sts_spans *sp, sqlite3_stmt *st) {
  return sts_add_range(sp, ST_ID_WORKER, sss__text(st, 0), sqlite3_column_int64(st, 1),
                       sqlite3_column_int64(st, 2));
}
static int sss__srange(sts_spans *sp, sqlite3_stmt *st) {
  return sts_add_range(sp, ST_ID_STATION, sss__text(st, 0), sqlite3_column_int64(st, 1),
                       sqlite3_column_int64(st, 2));
}
static int sss__hour(sts_spans *sp, sqlite3_stmt *st) {
  return sts_add_hour(sp, sqlite3_column_int64(st, 0));
}
static int sss__event(sts_spans *sp, sqlite3_stmt *st) {
  sts_fold(sp, sss__text(st, 1), sss__text(st, 2), sqlite3_column_int64(st, 0));
  return 0;
}

int sss_id_spans(store *base, st_id_span **ret, size_t *ret_n) {
  store_sqlite *s = SS(base);
  sts_spans sp = {0};
  bool own = sqlite3_get_autocommit(s->db);
  if (own && sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return ss__fail(s, "begin read");
  int r = sss__rows(s, "SELECT kind, id FROM known_ids ORDER BY kind, id", sss__id, &sp, -1);
  if (r == 0)
    r = sss__rows(
        s, "SELECT worker_id, min(hour), max(hour) FROM worker_hour WHERE events > 0 GROUP BY worker_id",
        sss__wrange, &sp, -1);
  if (r == 0)
    r = sss__rows(s,
                  "SELECT workstation_id, min(hour), max(hour) FROM station_hour WHERE events > 0"
                  " GROUP BY workstation_id",
                  sss__srange, &sp, -1);
  if (r == 0) r = sss__rows(s, "SELECT hour FROM dirty_hours", sss__hour, &sp, -1);
  if (r == 0) sts_hours_done(&sp);
  for (size_t i = 0; r == 0 && i < sp.nh; i++)
    r = sss__rows(s, "SELECT ts_ms, worker_id, workstation_id FROM ev_time WHERE hour = ?1", sss__event, &sp,
                  sp.hours[i]);
  if (own) sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
  if (r < 0) {
    if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
    sts_clear(&sp);
    return r;
  }
  sts_finish(&sp, ret, ret_n);
  return 0;
}
