/* test_collector_store_migrate: a database written by the version-2 schema
 * (events read by time through the covering events_ts index) opens under the
 * current one: its events move into ev_time, the metrics count them, the
 * index is gone, and exactly-once still holds for them afterwards. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "check.h"
#include "store.h"
#include "store_sqlite_sql.h"

#define NOW_MS 1772352000000LL /* 2026-03-01T08:00:00Z */
#define T7     1772348400000LL /* 07:00 */

static const bt_limits lim = {NOW_MS, 300, 0};

static int64_t q1(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static int ingest(store *s, const char *body, st_result *res) {
  bt_batch b;
  char err[300];
  memset(res, 0, sizeof(*res));
  int r = bt_parse(body, strlen(body), &lim, &b, err, sizeof(err));
  if (r < 0) {
    fprintf(stderr, "parse: %s\n", err);
    return r;
  }
  st_ingest in = {&b, NOW_MS, "1.2.3"};
  r = s->ops->begin(s);
  if (r == 0) r = s->ops->apply(s, &in, res);
  if (r == 0) r = s->ops->commit(s);
  else s->ops->rollback(s);
  bt_batch_clear(&b);
  return r;
}

int main(void) {
  char dir[] = "/tmp/ferry-test-migrate-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300];
  snprintf(path, sizeof(path), "%s/c.db", dir);

  /* a version-2 database with three events over two hours */
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v1, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v2, NULL, NULL, NULL), SQLITE_OK);
  static const char rows[] =
      "INSERT INTO events VALUES('a1', 'e1', '00000000000000e1', 1, 1772348400000, 'working', 'w1', 's1', 0,"
      " '{}', 1, 1772352000000);"
      "INSERT INTO events VALUES('a1', 'e2', '00000000000000e1', 2, 1772349000000, 'idle', 'w1', 's1', 0,"
      " '{}', 2, 1772352000000);"
      "INSERT INTO events VALUES('a1', 'e3', '00000000000000e1', 3, 1772344800000, 'product_count', 'w1',"
      " 's1', 4, '{}', 3, 1772352000000);"
      "INSERT OR IGNORE INTO known_ids VALUES(0, 'w1'), (1, 's1');";
  CHECK_EQ_INT(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), 2);
  sqlite3_close(db);

  store *s = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return check_finish("test_collector_store_migrate");
  }
  /* the three old events are in the metrics */
  st_metrics_query q = {.from_ms = T7 - 3600000, .to_ms = NOW_MS};
  metrics_result m;
  CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
  CHECK_EQ_INT(m.factory.events, 3);
  CHECK_EQ_INT(m.factory.units, 4);
  CHECK_EQ_INT(m.factory.working_ms, 600000);
  metrics_result_clear(&m);

  /* an old event posted again is a duplicate; a new one is stored once */
  static const char body[] =
      "{\"agent_id\":\"a1\",\"epoch\":\"00000000000000e2\",\"events\":["
      "{\"event_id\":\"e2\",\"timestamp\":\"2026-03-01T07:10:00Z\",\"event_type\":\"idle\","
      "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"seq\":1,\"ingested_at\":\"2026-03-01T07:10:01Z\"},"
      "{\"event_id\":\"e4\",\"timestamp\":\"2026-03-01T07:20:00Z\",\"event_type\":\"working\","
      "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"seq\":2,\"ingested_at\":\"2026-03-01T07:20:01Z\"}]}";
  st_result res;
  CHECK_EQ_INT(ingest(s, body, &res), 0);
  CHECK_EQ_INT(res.accepted, 1);
  CHECK_EQ_INT(res.duplicates, 1);
  st_result_clear(&res);
  CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
  CHECK_EQ_INT(m.factory.events, 4);
  metrics_result_clear(&m);
  s->ops->close(s);

  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), SS_SCHEMA_VERSION);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM sqlite_master WHERE name = 'events_ts'"), 0);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_time"), 4);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_time JOIN events ON events.rowid = ev_time.rseq"
                      " AND events.event_id = ev_time.event_id AND events.ts_ms / 3600000 = ev_time.hour"),
               4);
  sqlite3_close(db);

  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_migrate");
}
