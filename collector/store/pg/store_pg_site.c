/* store_pg_site: the site rollups of the PostgreSQL store (schema v3;
 * collector/metrics/rollup_site.h): cell_hour / sstation_hour rewritten with
 * the plain rollups whenever an hour is rebuilt (inside the same transaction
 * and hour claim), cell_day / sstation_day summed from them under the day's
 * lock, and the filtered sums a site= or line= query reads. Rows travel as
 * arrays (one round trip per table); the filter's lists as text[] (NULL for
 * no restriction). Run rarely enough to be sent unprepared. */
#include "store_pg_plant.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int sps__exec(store_pg *s, const char *sql, int np, const char *const *p, PGresult **ret,
                     const char *what) {
  PGresult *res = PQexecParams(s->conn, sql, np, NULL, p, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    int r = sp__fail(s, what, res);
    PQclear(res);
    return r;
  }
  if (ret) *ret = res;
  else PQclear(res);
  return 0;
}

/* Each row added to its stored row (a rebuild writes an hour slice by slice). */
#define SPS_ADD_WORKER                                                                            \
  " SET working_ms = t.working_ms + excluded.working_ms, idle_ms = t.idle_ms + excluded.idle_ms," \
  " absent_ms = t.absent_ms + excluded.absent_ms, units = t.units + excluded.units,"              \
  " events = t.events + excluded.events"
#define SPS_ADD_STATION                                                                      \
  " SET occupancy_ms = t.occupancy_ms + excluded.occupancy_ms, working_ms = t.working_ms + " \
  "excluded.working_ms,"                                                                     \
  " units = t.units + excluded.units, events = t.events + excluded.events,"                  \
  " state_ms = t.state_ms + excluded.state_ms"

int spsite_put_rows(store_pg *s, int64_t h0, const rsite_rows *rows) {
  sp_buf a[9];
  memset(a, 0, sizeof(a));
  rsite_cell *agg = NULL;
  size_t nagg = 0;
  int r = rsite_worker_sites(rows, &agg, &nagg);
  if (r == 0 && nagg) {
    for (int k = 0; k < 8; k++) sp_buf_reset(&a[k]);
    for (size_t i = 0; i < nagg; i++) {
      const rsite_cell *x = &agg[i];
      sp_buf_i64(&a[0], h0 + x->bucket);
      sp_buf_str(&a[1], x->site, strlen(x->site));
      sp_buf_str(&a[2], x->worker_id, strlen(x->worker_id));
      sp_buf_i64(&a[3], x->working_ms);
      sp_buf_i64(&a[4], x->idle_ms);
      sp_buf_i64(&a[5], x->absent_ms);
      sp_buf_i64(&a[6], x->units);
      sp_buf_i64(&a[7], x->events);
    }
    const char *p[8];
    for (int k = 0; k < 8; k++)
      if (!(p[k] = sp_buf_end(&a[k]))) r = -ENOMEM;
    if (r == 0)
      r = sps__exec(s,
                    "INSERT INTO wsite_hour AS t SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[],"
                    " $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])"
                    " ON CONFLICT (hour, site, worker_id) DO UPDATE" SPS_ADD_WORKER,
                    8, p, NULL, "insert site workers");
  }
  free(agg);
  if (r == 0 && rows->n_cells) {
    for (int k = 0; k < 9; k++) sp_buf_reset(&a[k]);
    for (size_t i = 0; i < rows->n_cells; i++) {
      const rsite_cell *x = &rows->cells[i];
      sp_buf_i64(&a[0], h0 + x->bucket);
      sp_buf_str(&a[1], x->site, strlen(x->site));
      sp_buf_str(&a[2], x->workstation_id, strlen(x->workstation_id));
      sp_buf_str(&a[3], x->worker_id, strlen(x->worker_id));
      sp_buf_i64(&a[4], x->working_ms);
      sp_buf_i64(&a[5], x->idle_ms);
      sp_buf_i64(&a[6], x->absent_ms);
      sp_buf_i64(&a[7], x->units);
      sp_buf_i64(&a[8], x->events);
    }
    const char *p[9];
    for (int k = 0; k < 9; k++)
      if (!(p[k] = sp_buf_end(&a[k]))) r = -ENOMEM;
    if (r == 0)
      r = sps__exec(
          s,
          "INSERT INTO cell_hour AS t SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[],"
          " $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[])"
          " ON CONFLICT (hour, site, workstation_id, worker_id) DO UPDATE" SPS_ADD_WORKER,
          9, p, NULL, "insert site cells");
  }
  if (r == 0 && rows->n_stations) {
    for (int k = 0; k < 8; k++) sp_buf_reset(&a[k]);
    for (size_t i = 0; i < rows->n_stations; i++) {
      const rsite_station *x = &rows->stations[i];
      sp_buf_i64(&a[0], h0 + x->bucket);
      sp_buf_str(&a[1], x->site, strlen(x->site));
      sp_buf_str(&a[2], x->workstation_id, strlen(x->workstation_id));
      sp_buf_i64(&a[3], x->occupancy_ms);
      sp_buf_i64(&a[4], x->working_ms);
      sp_buf_i64(&a[5], x->units);
      sp_buf_i64(&a[6], x->events);
      sp_buf_i64(&a[7], x->state_ms);
    }
    const char *p[8];
    for (int k = 0; k < 8; k++)
      if (!(p[k] = sp_buf_end(&a[k]))) r = -ENOMEM;
    if (r == 0)
      r = sps__exec(
          s,
          "INSERT INTO sstation_hour AS t SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[],"
          " $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])"
          " ON CONFLICT (hour, site, workstation_id) DO UPDATE" SPS_ADD_STATION,
          8, p, NULL, "insert site stations");
  }
  for (int k = 0; k < 9; k++) sp_buf_clear(&a[k]);
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  return r;
}

static int sps__range(store_pg *s, const char *sql, int64_t a, int64_t b, const char *what) {
  char pa[24], pb[24];
  snprintf(pa, sizeof(pa), "%" PRId64, a);
  snprintf(pb, sizeof(pb), "%" PRId64, b);
  const char *p[2] = {pa, pb};
  return sps__exec(s, sql, 2, p, NULL, what);
}

int spsite_clear_hours(store_pg *s, int64_t h0, int64_t h1) {
  int r = sps__range(s, "DELETE FROM cell_hour WHERE hour >= $1 AND hour < $2", h0, h1, "delete site cells");
  if (r == 0)
    r = sps__range(s, "DELETE FROM sstation_hour WHERE hour >= $1 AND hour < $2", h0, h1,
                   "delete site stations");
  if (r == 0)
    r = sps__range(s, "DELETE FROM wsite_hour WHERE hour >= $1 AND hour < $2", h0, h1, "delete site workers");
  return r;
}

int spsite_write_day(store_pg *s, int64_t day) {
  int r =
      sps__range(s, "DELETE FROM cell_day WHERE day = $1 AND $2::bigint IS NOT NULL", day, 0, "delete day");
  if (r == 0)
    r = sps__range(s, "DELETE FROM sstation_day WHERE day = $1 AND $2::bigint IS NOT NULL", day, 0,
                   "delete day");
  if (r == 0)
    r = sps__range(s, "DELETE FROM wsite_day WHERE day = $1 AND $2::bigint IS NOT NULL", day, 0,
                   "delete day");
  if (r == 0)
    r = sps__range(
        s,
        "INSERT INTO wsite_day SELECT $1::bigint / 24, site, worker_id, sum(working_ms), sum(idle_ms),"
        " sum(absent_ms), sum(units), sum(events) FROM wsite_hour"
        " WHERE hour >= $1 AND hour < $2 GROUP BY site, worker_id",
        day * 24, day * 24 + 24, "fill site worker day");
  if (r == 0)
    r = sps__range(
        s,
        "INSERT INTO cell_day SELECT $1::bigint / 24, site, workstation_id, worker_id, sum(working_ms),"
        " sum(idle_ms), sum(absent_ms), sum(units), sum(events) FROM cell_hour"
        " WHERE hour >= $1 AND hour < $2 GROUP BY site, workstation_id, worker_id",
        day * 24, day * 24 + 24, "fill site cell day");
  if (r == 0)
    r = sps__range(s,
                   "INSERT INTO sstation_day SELECT $1::bigint / 24, site, workstation_id, sum(occupancy_ms),"
                   " sum(working_ms), sum(units), sum(events), sum(state_ms) FROM sstation_hour"
                   " WHERE hour >= $1 AND hour < $2 GROUP BY site, workstation_id",
                   day * 24, day * 24 + 24, "fill site station day");
  return r;
}

#define SPS_WHERE_SITE                                            \
  " WHERE %s >= $1 AND %s < $2 AND ($3::text IS NULL OR %s = $3)" \
  " AND ($4::text[] IS NULL OR site = ANY($4::text[]))"
#define SPS_WHERE SPS_WHERE_SITE " AND ($5::text[] IS NULL OR workstation_id = ANY($5::text[]))"

int spsite_sum_site(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                    const rsite_filter *f, rollup_acc *acc) {
  store_pg *s = ctx;
  int r = sp__ready(s);
  if (r < 0) return r;
  const char *k = days ? "day" : "hour";
  char sql[768];
  if (table == RQ_WORKERS && f->stations)
    snprintf(sql, sizeof(sql),
             "SELECT worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms), sum(units), sum(events)"
             " FROM cell_%s" SPS_WHERE " GROUP BY worker_id",
             k, k, k, "worker_id");
  else if (table == RQ_WORKERS) /* a site= alone: the per-site sums ($5 is NULL) */
    snprintf(sql, sizeof(sql),
             "SELECT worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms), sum(units), sum(events)"
             " FROM wsite_%s" SPS_WHERE_SITE " AND $5::text[] IS NULL GROUP BY worker_id",
             k, k, k, "worker_id");
  else if (table == RQ_STATIONS)
    snprintf(
        sql, sizeof(sql),
        "SELECT workstation_id, sum(occupancy_ms), sum(working_ms), sum(units), sum(events), sum(state_ms)"
        " FROM sstation_%s" SPS_WHERE " GROUP BY workstation_id",
        k, k, k, "workstation_id");
  else
    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(events), 0), coalesce(sum(units), 0) FROM sstation_%s" SPS_WHERE, k, k, k,
             "workstation_id");
  sp_buf ls, lt;
  memset(&ls, 0, sizeof(ls));
  memset(&lt, 0, sizeof(lt));
  char pa[24], pb[24];
  snprintf(pa, sizeof(pa), "%" PRId64, a);
  snprintf(pb, sizeof(pb), "%" PRId64, b);
  const char *p[5] = {pa, pb, table == RQ_TOTALS ? NULL : id, NULL, NULL};
  if (f->sites) {
    sp_buf_reset(&ls);
    for (size_t i = 0; i < f->n_sites; i++) sp_buf_str(&ls, f->sites[i], strlen(f->sites[i]));
    if (!(p[3] = sp_buf_end(&ls))) r = -ENOMEM;
  }
  if (f->stations) {
    sp_buf_reset(&lt);
    for (size_t i = 0; i < f->n_stations; i++) sp_buf_str(&lt, f->stations[i], strlen(f->stations[i]));
    if (!(p[4] = sp_buf_end(&lt))) r = -ENOMEM;
  }
  PGresult *res = NULL;
  if (r == 0) r = sps__exec(s, sql, 5, p, &res, "read site rollups");
  for (int i = 0; r == 0 && i < PQntuples(res); i++) {
    if (table == RQ_TOTALS) {
      rollup_hour h = {.events = sp__i64(res, i, 0), .units = sp__i64(res, i, 1)};
      rollup_acc_add_hour(acc, &h);
    } else if (table == RQ_WORKERS) {
      rollup_worker_hour w = {.worker_id = PQgetvalue(res, i, 0),
                              .working_ms = sp__i64(res, i, 1),
                              .idle_ms = sp__i64(res, i, 2),
                              .absent_ms = sp__i64(res, i, 3),
                              .units = sp__i64(res, i, 4),
                              .events = sp__i64(res, i, 5)};
      r = rollup_acc_add_worker(acc, &w);
    } else {
      rollup_station_hour w = {.workstation_id = PQgetvalue(res, i, 0),
                               .occupancy_ms = sp__i64(res, i, 1),
                               .working_ms = sp__i64(res, i, 2),
                               .units = sp__i64(res, i, 3),
                               .events = sp__i64(res, i, 4),
                               .state_ms = sp__i64(res, i, 5)};
      r = rollup_acc_add_station(acc, &w);
    }
  }
  PQclear(res);
  sp_buf_clear(&ls);
  sp_buf_clear(&lt);
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  return r;
}
