/* test_collector_store_migrate: a database written by the version-2 schema
 * (events read by time through the covering events_ts index) opens under the
 * current one: its events move into ev_time, the metrics count them, the
 * index is gone, and exactly-once still holds for them afterwards. A
 * version-3 database gets its model rollups filled from the stored events
 * (version 4), and later ingest adds to them exactly. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "check.h"
#include "store.h"
#include "store_models.h"
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

/* A version-3 database (ev_time already there) whose events carry model
 * fields in their bodies: version 4 fills the model rollups from them. */
static void from_v3(const char *dir) {
  char path[300];
  snprintf(path, sizeof(path), "%s/v3.db", dir);
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v1, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v2, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v3, NULL, NULL, NULL), SQLITE_OK);
  static const char rows[] =
      "INSERT INTO events VALUES('a1', 'e1', '00000000000000e1', 1, 1772348400000, 'working', 'w1', 's1', 0,"
      " '{\"camera_id\":\"cam-1\",\"model_version\":\"v1\",\"confidence\":0.4}', 1, 1772352000000);"
      "INSERT INTO events VALUES('a1', 'e2', '00000000000000e1', 2, 1772349000000, 'idle', 'w1', 's1', 0,"
      " '{\"camera_id\":\"cam-1\",\"model_version\":\"v1\",\"confidence\":0.8}', 2, 1772352000000);"
      "INSERT INTO events VALUES('a1', 'e3', '00000000000000e1', 3, 1772344800000, 'product_count', 'w1',"
      " 's1', 4, '{\"camera_id\":\"cam-1\",\"model_version\":\"v1\"}', 3, 1772352000000);"
      "INSERT INTO events VALUES('a1', 'e5', '00000000000000e1', 4, 1772344900000, 'idle', 'w1',"
      " 's1', 0, '{\"confidence\":1}', 4, 1772352000000);"
      "INSERT INTO ev_time SELECT ts_ms / 3600000, rowid, ts_ms, event_type, worker_id, workstation_id,"
      "  count, event_id, agent_id FROM events;";
  CHECK_EQ_INT(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), 3);
  sqlite3_close(db);

  store *s = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open v3: %s\n", err);
    return;
  }
  /* whole hours (rows) and a partial one (events): the same cells */
  sm_window w[2] = {{T7 - 3600000, T7 + 3600000}, {T7 - 1800000, T7 + 1200000}};
  models_set sets[2];
  models_set_init(&sets[0]);
  models_set_init(&sets[1]);
  CHECK_EQ_INT(s->ops->models(s, w, 2, sets), 0);
  CHECK_EQ_INT(sets[0].n, 2);
  const models_cell *c = models_set_find(&sets[0], "=cam-1", "=v1");
  CHECK(c != NULL);
  if (c) {
    CHECK_EQ_INT(c->events, 3);
    CHECK_EQ_INT(c->with_conf, 2);
    CHECK_EQ_INT(c->conf_micro, 1200000);
    CHECK_EQ_INT(c->hist[400], 1);
    CHECK_EQ_INT(c->hist[800], 1);
    CHECK_EQ_INT(c->mix[METRICS_WORKING], 1);
    CHECK_EQ_INT(c->mix[METRICS_PRODUCT_COUNT], 1);
    CHECK_EQ_INT(c->last_ms, 1772349000000);
  }
  c = models_set_find(&sets[0], "", "");
  CHECK(c != NULL && c->events == 1 && c->hist[1000] == 1);
  c = models_set_find(&sets[1], "=cam-1", "=v1"); /* 06:30 to 07:20: e3 (06:00) is out */
  CHECK(c != NULL && c->events == 2 && c->with_conf == 2);
  models_set_clear(&sets[0]);
  models_set_clear(&sets[1]);

  /* a duplicate adds nothing; a new event adds itself */
  static const char body[] =
      "{\"agent_id\":\"a1\",\"epoch\":\"00000000000000e2\",\"events\":["
      "{\"event_id\":\"e2\",\"timestamp\":\"2026-03-01T07:10:00Z\",\"event_type\":\"absent\","
      "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"camera_id\":\"cam-1\",\"model_version\":\"v1\","
      "\"confidence\":0.1,\"seq\":1,\"ingested_at\":\"2026-03-01T07:10:01Z\"},"
      "{\"event_id\":\"e6\",\"timestamp\":\"2026-03-01T07:20:00Z\",\"event_type\":\"working\","
      "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"camera_id\":\"cam-1\",\"model_version\":\"v1\","
      "\"confidence\":0.29,\"seq\":2,\"ingested_at\":\"2026-03-01T07:20:01Z\"}]}";
  st_result res;
  CHECK_EQ_INT(ingest(s, body, &res), 0);
  CHECK_EQ_INT(res.accepted, 1);
  st_result_clear(&res);
  models_set_init(&sets[0]);
  CHECK_EQ_INT(s->ops->models(s, w, 1, sets), 0);
  c = models_set_find(&sets[0], "=cam-1", "=v1");
  CHECK(c != NULL && c->events == 4 && c->with_conf == 3 && c->hist[290] == 1 && c->hist[100] == 0);
  CHECK(c != NULL && c->mix[METRICS_ABSENT] == 0);
  models_set_clear(&sets[0]);
  s->ops->close(s);
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

  from_v3(dir);

  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_migrate");
}
