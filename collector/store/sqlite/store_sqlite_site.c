/* store_sqlite_site: the site rollups of the SQLite store (schema v5;
 * collector/metrics/rollup_site.h): cell_hour / sstation_hour rewritten with
 * the plain rollups whenever an hour is rebuilt, cell_day / sstation_day
 * summed from them, and the filtered sums a site= or line= query reads. The
 * filter's lists travel as JSON arrays (json_each), NULL for no restriction.
 * These statements run once per rebuilt hour or per query run, so they are
 * prepared when used. */
#include "store_sqlite_plant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static int sss__prep(store_sqlite *s, const char *sql, sqlite3_stmt **st) {
  if (sqlite3_prepare_v2(s->db, sql, -1, st, NULL) != SQLITE_OK) return ss__fail(s, "prepare site rollups");
  return 0;
}

/* Each row added to its stored row (a rebuild writes an hour slice by slice). */
#define SSS_ADD_WORKER                                                                 \
  " ON CONFLICT DO UPDATE SET working_ms = working_ms + excluded.working_ms,"          \
  " idle_ms = idle_ms + excluded.idle_ms, absent_ms = absent_ms + excluded.absent_ms," \
  " units = units + excluded.units, events = events + excluded.events"
#define SSS_ADD_STATION                                                             \
  " ON CONFLICT DO UPDATE SET occupancy_ms = occupancy_ms + excluded.occupancy_ms," \
  " working_ms = working_ms + excluded.working_ms, units = units + excluded.units," \
  " events = events + excluded.events, state_ms = state_ms + excluded.state_ms"

/* One worker row by site (wsite_hour) or by site and station (cell_hour):
 * the same figures, the station column only in the second. */
static int sss__put_cell(store_sqlite *s, sqlite3_stmt *st, int64_t h0, const rsite_cell *x, bool station) {
  int col = 1;
  sqlite3_reset(st);
  sqlite3_bind_int64(st, col++, h0 + x->bucket);
  ss__text(st, col++, x->site);
  if (station) ss__text(st, col++, x->workstation_id);
  ss__text(st, col++, x->worker_id);
  sqlite3_bind_int64(st, col++, x->working_ms);
  sqlite3_bind_int64(st, col++, x->idle_ms);
  sqlite3_bind_int64(st, col++, x->absent_ms);
  sqlite3_bind_int64(st, col++, x->units);
  sqlite3_bind_int64(st, col, x->events);
  return ss__exec(s, st, station ? "insert site cell" : "insert site worker");
}

int sss_put_rows(store_sqlite *s, int64_t h0, const rsite_rows *rows) {
  sqlite3_stmt *c = NULL, *t = NULL, *ws = NULL;
  rsite_cell *agg = NULL;
  size_t nagg = 0;
  int r = rsite_worker_sites(rows, &agg, &nagg);
  if (r == 0)
    r = sss__prep(s, "INSERT INTO cell_hour VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)" SSS_ADD_WORKER, &c);
  if (r == 0)
    r = sss__prep(s, "INSERT INTO sstation_hour VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" SSS_ADD_STATION, &t);
  if (r == 0)
    r = sss__prep(s, "INSERT INTO wsite_hour VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)" SSS_ADD_WORKER, &ws);
  for (size_t i = 0; r == 0 && i < nagg; i++) r = sss__put_cell(s, ws, h0, &agg[i], false);
  for (size_t i = 0; r == 0 && i < rows->n_cells; i++) r = sss__put_cell(s, c, h0, &rows->cells[i], true);
  for (size_t i = 0; r == 0 && i < rows->n_stations; i++) {
    const rsite_station *x = &rows->stations[i];
    sqlite3_reset(t);
    sqlite3_bind_int64(t, 1, h0 + x->bucket);
    ss__text(t, 2, x->site);
    ss__text(t, 3, x->workstation_id);
    sqlite3_bind_int64(t, 4, x->occupancy_ms);
    sqlite3_bind_int64(t, 5, x->working_ms);
    sqlite3_bind_int64(t, 6, x->units);
    sqlite3_bind_int64(t, 7, x->events);
    sqlite3_bind_int64(t, 8, x->state_ms);
    r = ss__exec(s, t, "insert site station");
  }
  sqlite3_finalize(c);
  sqlite3_finalize(t);
  sqlite3_finalize(ws);
  free(agg);
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  return r;
}

static int sss__range(store_sqlite *s, const char *sql, int64_t a, int64_t b) {
  sqlite3_stmt *st = NULL;
  int r = sss__prep(s, sql, &st);
  if (r < 0) return r;
  sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  r = ss__exec(s, st, "rewrite site rollups");
  sqlite3_finalize(st);
  return r;
}

int sss_clear_hours(store_sqlite *s, int64_t h0, int64_t h1) {
  int r = sss__range(s, "DELETE FROM cell_hour WHERE hour >= ?1 AND hour < ?2", h0, h1);
  if (r == 0) r = sss__range(s, "DELETE FROM sstation_hour WHERE hour >= ?1 AND hour < ?2", h0, h1);
  if (r == 0) r = sss__range(s, "DELETE FROM wsite_hour WHERE hour >= ?1 AND hour < ?2", h0, h1);
  return r;
}

int sss_write_day(store_sqlite *s, int64_t day) {
  int r = sss__range(s, "DELETE FROM cell_day WHERE day = ?1 AND ?2 IS NOT NULL", day, 0);
  if (r == 0) r = sss__range(s, "DELETE FROM sstation_day WHERE day = ?1 AND ?2 IS NOT NULL", day, 0);
  if (r == 0) r = sss__range(s, "DELETE FROM wsite_day WHERE day = ?1 AND ?2 IS NOT NULL", day, 0);
  if (r == 0)
    r = sss__range(s,
                   "INSERT INTO wsite_day SELECT hour / 24, site, worker_id, sum(working_ms), sum(idle_ms),"
                   " sum(absent_ms), sum(units), sum(events) FROM wsite_hour WHERE hour >= ?1 AND hour < ?2"
                   " GROUP BY site, worker_id",
                   day * 24, day * 24 + 24);
  if (r == 0)
    r = sss__range(s,
                   "INSERT INTO cell_day SELECT hour / 24, site, workstation_id, worker_id, sum(working_ms),"
                   " sum(idle_ms), sum(absent_ms), sum(units), sum(events) FROM cell_hour"
                   " WHERE hour >= ?1 AND hour < ?2 GROUP BY site, workstation_id, worker_id",
                   day * 24, day * 24 + 24);
  if (r == 0)
    r = sss__range(s,
                   "INSERT INTO sstation_day SELECT hour / 24, site, workstation_id, sum(occupancy_ms),"
                   " sum(working_ms), sum(units), sum(events), sum(state_ms) FROM sstation_hour"
                   " WHERE hour >= ?1 AND hour < ?2 GROUP BY site, workstation_id",
                   day * 24, day * 24 + 24);
  return r;
}

/* A filter list as a JSON array (NULL: no restriction). */
static char *sss__list(const char *const *v, size_t n, bool on) {
  if (!on) return NULL;
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
  char *t = a ? cJSON_PrintUnformatted(a) : NULL;
  cJSON_Delete(a);
  return t;
}

/* The WHERE of a filtered sum: only the conditions that apply, so SQLite can
 * seek the day rows by site (an "x IS NULL OR" would stop it). */
static void sss__where(char *out, size_t len, const char *k, const char *idcol, const char *id,
                       const rsite_filter *f, bool stations) {
  /* day rows are keyed by site first: without a site list, the sites that
   * have rows in the range stand in for it, so each is one range seek */
  bool day = strcmp(k, "day") == 0;
  const char *sites =
      f->sites ? " AND site IN (SELECT value FROM json_each(?4))"
      : day    ? " AND site IN (SELECT DISTINCT site FROM sstation_day WHERE day >= ?1 AND day < ?2)"
               : "";
  snprintf(out, len, " WHERE %s >= ?1 AND %s < ?2%s%s%s%s%s", k, k, id ? " AND " : "", id ? idcol : "",
           id ? " = ?3" : "", sites,
           stations && f->stations ? " AND workstation_id IN (SELECT value FROM json_each(?5))" : "");
}

int sss_sum_site(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                 const rsite_filter *f, rollup_acc *acc) {
  store_sqlite *s = ctx;
  const char *k = days ? "day" : "hour";
  if (table == RQ_TOTALS) id = NULL;
  char where[500], sql[1000];
  sss__where(where, sizeof(where), k, table == RQ_WORKERS ? "worker_id" : "workstation_id", id, f, true);
  if (table == RQ_WORKERS)
    snprintf(sql, sizeof(sql),
             "SELECT worker_id, sum(working_ms), sum(idle_ms), sum(absent_ms), sum(units), sum(events)"
             " FROM %s_%s%s GROUP BY worker_id",
             f->stations ? "cell" : "wsite", k, where);
  else if (table == RQ_STATIONS)
    snprintf(
        sql, sizeof(sql),
        "SELECT workstation_id, sum(occupancy_ms), sum(working_ms), sum(units), sum(events), sum(state_ms)"
        " FROM sstation_%s%s GROUP BY workstation_id",
        k, where);
  else snprintf(sql, sizeof(sql), "SELECT sum(events), sum(units) FROM sstation_%s%s", k, where);
  char *sites = sss__list(f->sites, f->n_sites, f->sites != NULL);
  char *stations = sss__list(f->stations, f->n_stations, f->stations != NULL);
  sqlite3_stmt *st = NULL;
  int r = ((f->sites && !sites) || (f->stations && !stations)) ? -ENOMEM : sss__prep(s, sql, &st);
  if (r == 0) {
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    if (id) ss__text(st, 3, id);
    if (sites) ss__text(st, 4, sites);
    if (stations) ss__text(st, 5, stations);
    int rc;
    while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (table == RQ_TOTALS) {
        rollup_hour h = {.events = sqlite3_column_int64(st, 0), .units = sqlite3_column_int64(st, 1)};
        rollup_acc_add_hour(acc, &h);
      } else if (table == RQ_WORKERS) {
        rollup_worker_hour w = {.worker_id = (const char *)sqlite3_column_text(st, 0),
                                .working_ms = sqlite3_column_int64(st, 1),
                                .idle_ms = sqlite3_column_int64(st, 2),
                                .absent_ms = sqlite3_column_int64(st, 3),
                                .units = sqlite3_column_int64(st, 4),
                                .events = sqlite3_column_int64(st, 5)};
        r = rollup_acc_add_worker(acc, &w);
      } else {
        rollup_station_hour w = {.workstation_id = (const char *)sqlite3_column_text(st, 0),
                                 .occupancy_ms = sqlite3_column_int64(st, 1),
                                 .working_ms = sqlite3_column_int64(st, 2),
                                 .units = sqlite3_column_int64(st, 3),
                                 .events = sqlite3_column_int64(st, 4),
                                 .state_ms = sqlite3_column_int64(st, 5)};
        r = rollup_acc_add_station(acc, &w);
      }
    }
    if (r == 0 && rc != SQLITE_DONE) r = ss__fail(s, "read site rollups");
  }
  if (r == -ENOMEM) snprintf(s->err, sizeof(s->err), "out of memory");
  sqlite3_finalize(st);
  cJSON_free(sites);
  cJSON_free(stations);
  return r;
}
