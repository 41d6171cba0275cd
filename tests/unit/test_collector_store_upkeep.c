/* test_collector_store_upkeep: the SQLite store's rollup upkeep rebuilds the
 * newest dirty hours first (after a backfill the last day a dashboard shows
 * is whole first), a piece at a time, until none is left; hours ingest
 * marked within the hot window are passed over; a day's rows are refilled
 * once none of its hours is marked; stale_hours (the /metrics gauge) counts
 * the marked hours on the writer's and a reader's handle alike; and a store
 * with page caches sized by store_sqlite_set_cache still stores and
 * rebuilds. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "check.h"
#include "store.h"
#include "store_harness.h"
#include "timefmt.h"

#define NOW_MS 1772352000000LL /* 2026-03-01T08:00:00Z */
#define HOURS  10
#define H0     (NOW_MS / 3600000 - HOURS) /* the oldest hour with events */

static const bt_limits lim = {NOW_MS, 300, 0};

/* One event at the start of each of the HOURS hours before NOW_MS, oldest first. */
static int ingest_hours(store *s) {
  char body[8192];
  size_t o = (size_t)snprintf(body, sizeof(body),
                              "{\"agent_id\":\"a1\",\"epoch\":\"00000000000000e1\",\"events\":[");
  for (int i = 0; i < HOURS; i++) {
    char ts[TF_RFC3339_LEN];
    tf_format_ms((H0 + i) * 3600000, ts);
    o += (size_t)snprintf(body + o, sizeof(body) - o,
                          "%s{\"event_id\":\"e%d\",\"timestamp\":\"%s\",\"event_type\":\"working\","
                          "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"seq\":%d,"
                          "\"ingested_at\":\"2026-03-01T07:59:00Z\"}",
                          i ? "," : "", i, ts, i + 1);
  }
  snprintf(body + o, sizeof(body) - o, "],\"dropped\":[]}");
  st_result res;
  int r = sh_ingest(s, body, &lim, NOW_MS, &res);
  CHECK_EQ_INT((int)res.accepted, HOURS);
  st_result_clear(&res);
  return r;
}

/* The events of day's day_total row, -1 without one (its own connection). */
static int64_t day_events(const char *path, int64_t day) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int64_t n = -1;
  CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT events FROM day_total WHERE day = ?1", -1, &st, NULL),
               SQLITE_OK);
  sqlite3_bind_int64(st, 1, day);
  if (st && sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* min, max and count of the dirty hours, read on a connection of its own */
static void dirty(const char *path, int64_t *lo, int64_t *hi, int *n) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  *lo = *hi = -1;
  *n = -1;
  CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  CHECK_EQ_INT(
      sqlite3_prepare_v2(db, "SELECT ifnull(min(hour), -1), ifnull(max(hour), -1), count(*) FROM dirty_hours",
                         -1, &st, NULL),
      SQLITE_OK);
  if (st && sqlite3_step(st) == SQLITE_ROW) {
    *lo = sqlite3_column_int64(st, 0);
    *hi = sqlite3_column_int64(st, 1);
    *n = sqlite3_column_int(st, 2);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

int main(void) {
  char dir[] = "/tmp/ferry-test-upkeep-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300];
  snprintf(path, sizeof(path), "%s/c.db", dir);
  store *s = NULL;
  char err[300] = "";
  /* max_state 10 min: each event marks its own hour only */
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (s) store_sqlite_set_hot(s, 0); /* upkeep rebuilds what was just written */
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return check_finish("test_collector_store_upkeep");
  }
  CHECK_EQ_INT(store_sqlite_set_cache(s, 2 << 20, 1 << 20), 0);
  CHECK_EQ_INT(ingest_hours(s), 0);
  int64_t lo, hi;
  int n;
  dirty(path, &lo, &hi, &n);
  CHECK_EQ_INT(n, HOURS);
  CHECK_EQ_INT(lo, H0);
  CHECK_EQ_INT(hi, H0 + HOURS - 1);
  /* a reader opened after the cache was sized works, and counts what the
   * writer's handle counts */
  store *rd = NULL;
  int64_t stale = -1;
  CHECK_EQ_INT(s->ops->open_reader(s, &rd, err, sizeof(err)), 0);
  CHECK_EQ_INT(s->ops->stale_hours(s, &stale), 0);
  CHECK_EQ_INT(stale, HOURS);
  stale = -1;
  if (rd) CHECK_EQ_INT(rd->ops->stale_hours(rd, &stale), 0);
  CHECK_EQ_INT(stale, HOURS);

  /* one piece of 3: the three newest hours, the oldest untouched */
  bool more = false;
  CHECK_EQ_INT(s->ops->maintain(s, 3, &more), 0);
  CHECK(more);
  dirty(path, &lo, &hi, &n);
  CHECK_EQ_INT(n, HOURS - 3);
  if (rd) CHECK_EQ_INT(rd->ops->stale_hours(rd, &stale), 0);
  CHECK_EQ_INT(stale, HOURS - 3);
  CHECK_EQ_INT(lo, H0);
  CHECK_EQ_INT(hi, H0 + HOURS - 4);
  /* the hours span two days (22:00 to 07:00 UTC); neither day is refilled
   * while one of its hours is still marked: a backfill refills each day
   * once, not once per piece */
  const int64_t d1 = (H0 + HOURS - 1) / 24, d0 = H0 / 24;
  CHECK(d0 + 1 == d1);
  CHECK_EQ_INT(day_events(path, d1), -1);
  CHECK_EQ_INT(day_events(path, d0), -1);

  /* pieces until none is left; then both days hold all of their hours */
  for (int i = 0; i < HOURS && more; i++) CHECK_EQ_INT(s->ops->maintain(s, 3, &more), 0);
  dirty(path, &lo, &hi, &n);
  CHECK_EQ_INT(n, 0);
  if (rd) CHECK_EQ_INT(rd->ops->stale_hours(rd, &stale), 0);
  CHECK_EQ_INT(stale, 0);
  CHECK_EQ_INT(day_events(path, d1), (H0 + HOURS) - d1 * 24);
  CHECK_EQ_INT(day_events(path, d0), d1 * 24 - H0);

  /* hours being written are passed over: with a long window, the hours this
   * handle just marked are all hot and nothing is rebuilt (more stays
   * true); reopened, the marks are from before and the hours are rebuilt */
  char path2[300];
  snprintf(path2, sizeof(path2), "%s/hot.db", dir);
  store *h = NULL;
  CHECK_EQ_INT(store_sqlite_open(path2, 600000, &h, err, sizeof(err)), 0);
  if (h) {
    store_sqlite_set_hot(h, 3600000);
    CHECK_EQ_INT(ingest_hours(h), 0);
    CHECK_EQ_INT(h->ops->maintain(h, 3, &more), 0);
    CHECK(more);
    dirty(path2, &lo, &hi, &n);
    CHECK_EQ_INT(n, HOURS);
    h->ops->close(h);
    h = NULL;
    CHECK_EQ_INT(store_sqlite_open(path2, 600000, &h, err, sizeof(err)), 0);
  }
  if (h) {
    store_sqlite_set_hot(h, 3600000);
    CHECK_EQ_INT(h->ops->maintain(h, 3, &more), 0);
    CHECK(more);
    dirty(path2, &lo, &hi, &n);
    CHECK_EQ_INT(n, HOURS - 3);
    CHECK_EQ_INT(hi, H0 + HOURS - 4);
    h->ops->close(h);
  }

  if (rd) rd->ops->close(rd);
  s->ops->close(s);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_upkeep");
}
