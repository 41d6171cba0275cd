/* test_collector_store_migrate: databases written by older schemas open under
 * the current one. Version 2 (events read by time through the covering
 * events_ts index): its events move into ev_time, the metrics count them, the
 * index is gone. Version 3 (exactly-once by the text primary key of events):
 * every event gets its ev_key row, events keeps its rowids (ev_time still
 * points at them) and loses the columns ev_time holds. In both, exactly-once
 * still holds for the old events afterwards. Version 6: a version-3 database
 * (through versions 4 and 5 in the same open) and a version-4 one get their model
 * rollups and ev_model rows filled from the stored events (ev_time and the
 * bodies), and later ingest adds to them exactly. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlite_q1.h"
#include "store_harness.h"
#include "batch.h"
#include "check.h"
#include "ss_key.h"
#include "store.h"
#include "store_models.h"
#include "store_sqlite_sql.h"

#define NOW_MS 1772352000000LL /* 2026-03-01T08:00:00Z */
#define T7     1772348400000LL /* 07:00 */

static const bt_limits lim = {NOW_MS, 300, 0};

static int ingest(store *s, const char *body, st_result *res) {
  return sh_ingest(s, body, &lim, NOW_MS, res);
}

/* A version-3 database: what the version-3 collector wrote for three events
 * (ids ending in digits, a UUID, one with attributes), then the migration. */
static void from_v3(const char *dir) {
  char path[300];
  snprintf(path, sizeof(path), "%s/v3.db", dir);
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v1, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v2, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v3, NULL, NULL, NULL), SQLITE_OK);
  static const char rows[] =
      "INSERT INTO events VALUES('a1', 'ev-7', '00000000000000e1', 1, 1772348400000, 'working', 'w1', 's1', "
      "0,"
      " '{\"event_id\":\"ev-7\"}', 11, 1772352000000);"
      "INSERT INTO events VALUES('a1', '0b5f3c1e-2f4d-4a9b-8c7d-6e5f4a3b2c1d', '00000000000000e1', 2,"
      " 1772349000000, 'idle', 'w1', 's1', 0, '{}', 12, 1772352000000);"
      "INSERT INTO events VALUES('a2', 'ev-7', '00000000000000f1', 1, 1772344800000, 'product_count', 'w2',"
      " 's1', 4, '{\"attributes\":{\"k\":1}}', 13, 1772352000000);"
      "INSERT INTO ev_time SELECT ts_ms / 3600000, rowid, ts_ms, event_type, worker_id, workstation_id,"
      " count, event_id, agent_id FROM events;"
      "INSERT OR IGNORE INTO known_ids VALUES(0, 'w1'), (0, 'w2'), (1, 's1');";
  CHECK_EQ_INT(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), 3);
  sqlite3_close(db);

  store *s = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (s) store_sqlite_set_hot(s, 0); /* upkeep rebuilds what was just written */
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return;
  }
  st_metrics_query q = {.from_ms = T7 - 3600000, .to_ms = NOW_MS};
  metrics_result m;
  CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
  CHECK_EQ_INT(m.factory.events, 3);
  CHECK_EQ_INT(m.factory.units, 4);
  metrics_result_clear(&m);

  /* the old events posted again are duplicates; a1's ev-7 and a2's ev-7 are
   * two events; a new id is stored once */
  static const char body[] =
      "{\"agent_id\":\"a1\",\"epoch\":\"00000000000000e2\",\"events\":["
      "{\"event_id\":\"ev-7\",\"timestamp\":\"2026-03-01T07:00:00Z\",\"event_type\":\"working\","
      "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"seq\":1,\"ingested_at\":\"2026-03-01T07:10:01Z\"},"
      "{\"event_id\":\"0b5f3c1e-2f4d-4a9b-8c7d-6e5f4a3b2c1d\",\"timestamp\":\"2026-03-01T07:10:00Z\","
      "\"event_type\":\"idle\",\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"seq\":2,"
      "\"ingested_at\":\"2026-03-01T07:10:01Z\"},"
      "{\"event_id\":\"ev-8\",\"timestamp\":\"2026-03-01T07:20:00Z\",\"event_type\":\"working\","
      "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"seq\":3,\"ingested_at\":\"2026-03-01T07:20:01Z\"}]}";
  st_result res;
  CHECK_EQ_INT(ingest(s, body, &res), 0);
  CHECK_EQ_INT(res.accepted, 1);
  CHECK_EQ_INT(res.duplicates, 2);
  st_result_clear(&res);
  CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
  CHECK_EQ_INT(m.factory.events, 4);
  metrics_result_clear(&m);
  s->ops->close(s);

  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), SS_SCHEMA_VERSION);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM events"), 4);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_key JOIN events USING(rseq)"), 4);
  CHECK_EQ_INT(
      q1(db, "SELECT count(*) FROM ev_time t JOIN events e ON e.rseq = t.rseq"
             " AND e.ts_ms / 3600000 = t.hour JOIN streams s ON s.sid = e.sid AND s.agent_id = t.agent_id"),
      4);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'worker_id'"), 0);
  CHECK_EQ_INT(
      q1(db, "SELECT count(*) FROM events e JOIN streams s USING(sid)"
             " WHERE CAST(e.body AS TEXT) = '{\"attributes\":{\"k\":1}}'"
             " AND s.agent_id = 'a2' AND s.epoch = '00000000000000f1' AND content_hash = 13 AND seq = 1"),
      1);
  CHECK_EQ_INT(
      q1(db, "SELECT count(*) FROM pragma_table_info('events') WHERE name IN ('agent_id', 'event_id')"), 0);
  sqlite3_close(db);
}

/* A version-3 database (ev_time already there) whose events carry model
 * fields in their bodies — or the same taken to version 4 first (events
 * without its type/worker/station/count columns): version 6 fills the model
 * rollups from ev_time and the bodies. */
static void key64_sql(sqlite3_context *c, int argc, sqlite3_value **v) {
  (void)argc;
  const char *a = (const char *)sqlite3_value_text(v[0]), *e = (const char *)sqlite3_value_text(v[1]);
  sqlite3_result_int64(c,
                       ss_key64(a, (size_t)sqlite3_value_bytes(v[0]), e, (size_t)sqlite3_value_bytes(v[1])));
}

static void from_v3_models(const char *dir, bool via_v4) {
  char path[300];
  snprintf(path, sizeof(path), "%s/models-v%d.db", dir, via_v4 ? 4 : 3);
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
  if (via_v4) {
    CHECK_EQ_INT(sqlite3_create_function(db, "ferry_key64", 2, SQLITE_UTF8, NULL, key64_sql, NULL, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v4, NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ_INT(q1(db, "PRAGMA user_version"), 4);
    CHECK_EQ_INT(q1(db, "SELECT count(*) FROM pragma_table_info('events') WHERE name = 'event_type'"), 0);
  }
  sqlite3_close(db);

  store *s = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (s) store_sqlite_set_hot(s, 0); /* upkeep rebuilds what was just written */
  if (!s) {
    fprintf(stderr, "open models v%d: %s\n", via_v4 ? 4 : 3, err);
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
  /* ingest wrote e6's ev_model row only; its hour's rows are rebuilt by the
   * upkeep, and the answer is the same before and after */
  for (bool more = true; more;) CHECK_EQ_INT(s->ops->maintain(s, 16, &more), 0);
  models_set_init(&sets[0]);
  CHECK_EQ_INT(s->ops->models(s, w, 1, sets), 0);
  c = models_set_find(&sets[0], "=cam-1", "=v1");
  CHECK(c != NULL && c->events == 4 && c->with_conf == 3 && c->hist[290] == 1 && c->hist[100] == 0);
  models_set_clear(&sets[0]);
  s->ops->close(s);

  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), SS_SCHEMA_VERSION);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_key"), 5);
  /* e1, e2, e3, e5 from the migration and e6: each joined to its own event */
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_time WHERE camera IS NOT NULL"), 5);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM sqlite_master WHERE name = 'ev_model'"), 0);
  CHECK_EQ_INT(q1(db, "SELECT sum(events) FROM model_hour"), 5);
  CHECK_EQ_INT(q1(db, "SELECT sum(events) FROM model_day"), 5);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM dirty_hours"), 0);
  sqlite3_close(db);
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
  if (s) store_sqlite_set_hot(s, 0); /* upkeep rebuilds what was just written */
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
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_key"), 4);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_time JOIN events ON events.rowid = ev_time.rseq"
                      " AND events.ts_ms / 3600000 = ev_time.hour"),
               4);
  sqlite3_close(db);

  from_v3(dir);
  from_v3_models(dir, false);
  from_v3_models(dir, true);

  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_migrate");
}
