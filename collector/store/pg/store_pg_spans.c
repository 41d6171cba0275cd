/* store_pg_spans: id_spans for the PostgreSQL store (see store_spans.h): the
 * ids from known_ids, their first and last hour with events from the hour
 * rollups, the hours still dirty, then those hours' events (events_ts). One
 * REPEATABLE READ transaction, so the pieces agree. */
#include "store_pg_plant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "rollup.h"
#include "store_spans.h"

static PGresult *sps__q(store_pg *s, const char *sql, int64_t a, int64_t b, int nparams, int *r) {
  char pa[24], pb[24];
  snprintf(pa, sizeof(pa), "%" PRId64, a);
  snprintf(pb, sizeof(pb), "%" PRId64, b);
  const char *p[2] = {pa, pb};
  PGresult *res = PQexecParams(s->conn, sql, nparams, NULL, p, NULL, NULL, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    *r = sp__fail(s, "read id spans", res);
    PQclear(res);
    return NULL;
  }
  return res;
}

static const char *sps__v(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int sps_id_spans(store *base, st_id_span **ret, size_t *ret_n) {
  store_pg *s = SP(base);
  int r = sp__ready(s);
  if (r < 0) return r;
  sts_spans sp = {0};
  r = sp__sql(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "begin read");
  if (r < 0) return r;
  PGresult *res = sps__q(s, "SELECT DISTINCT kind, id FROM known_ids ORDER BY kind, id", 0, 0, 0, &r);
  for (int i = 0; res && r == 0 && i < PQntuples(res); i++)
    r = sts_add_id(&sp, atoi(PQgetvalue(res, i, 0)) ? ST_ID_STATION : ST_ID_WORKER, PQgetvalue(res, i, 1));
  PQclear(res);
  static const char *const ranges[2] = {
      "SELECT worker_id, min(hour), max(hour) FROM worker_hour WHERE events > 0 GROUP BY worker_id",
      "SELECT workstation_id, min(hour), max(hour) FROM station_hour WHERE events > 0 GROUP BY "
      "workstation_id"};
  for (int k = 0; k < 2 && r == 0; k++) {
    res = sps__q(s, ranges[k], 0, 0, 0, &r);
    for (int i = 0; res && r == 0 && i < PQntuples(res); i++)
      r = sts_add_range(&sp, k ? ST_ID_STATION : ST_ID_WORKER, PQgetvalue(res, i, 0), sp__i64(res, i, 1),
                        sp__i64(res, i, 2));
    PQclear(res);
  }
  if (r == 0) {
    res = sps__q(s, "SELECT DISTINCT hour FROM dirty_hours", 0, 0, 0, &r);
    for (int i = 0; res && r == 0 && i < PQntuples(res); i++) r = sts_add_hour(&sp, sp__i64(res, i, 0));
    PQclear(res);
  }
  if (r == 0) sts_hours_done(&sp);
  for (size_t h = 0; r == 0 && h < sp.nh; h++) {
    res = sps__q(s, "SELECT ts_ms, worker_id, workstation_id FROM events WHERE ts_ms >= $1 AND ts_ms < $2",
                 sp.hours[h] * ROLLUP_HOUR_MS, (sp.hours[h] + 1) * ROLLUP_HOUR_MS, 2, &r);
    for (int i = 0; res && i < PQntuples(res); i++)
      sts_fold(&sp, sps__v(res, i, 1), sps__v(res, i, 2), sp__i64(res, i, 0));
    PQclear(res);
  }
  if (r == 0) r = sp__sql(s, "COMMIT", "end read");
  else if (s->conn && PQstatus(s->conn) == CONNECTION_OK) PQclear(PQexec(s->conn, "ROLLBACK"));
  if (r < 0) {
    if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
    sts_clear(&sp);
    return r;
  }
  sts_finish(&sp, ret, ret_n);
  return 0;
}
