/* test_collector_store_migrate_v7: a version-6 database — rows written the
 * way the version-6 collector wrote them for varied events (varied_events.h:
 * bodies whole in events beside agent_id/event_id texts, a separate ev_model
 * row per event with model fields), plus a body of an older schema without
 * its ids — opens under version 7: ev_model's rows are in ev_time, events
 * holds a stream id and packed bodies, and everything read back is what it
 * was: the export gives each stored body byte for byte, the model rollups
 * equal a reference computed from the events (whole and partial hours,
 * before and after the upkeep), the metrics count every event, replays are
 * duplicates without conflict, and new events are stored beside the old.
 * (The same open goes on to the current schema.) A database of a later
 * schema than the collector's is refused untouched. */
#include <errno.h>
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
#include "models.h"
#include "rollup.h"
#include "ss_key.h"
#include "store.h"
#include "store_models.h"
#include "store_sqlite_sql.h"
#include "varied_events.h"

static const bt_limits lim = {VARIED_NOW_MS, 300, 0};
#define H6     (VARIED_NOW_MS - 2 * 3600000LL) /* 06:00 */
#define OLD_TS 1772348400000LL                 /* 07:00 */

static void key64_sql(sqlite3_context *c, int argc, sqlite3_value **v) {
  (void)argc;
  const char *a = (const char *)sqlite3_value_text(v[0]), *e = (const char *)sqlite3_value_text(v[1]);
  sqlite3_result_int64(c,
                       ss_key64(a, (size_t)sqlite3_value_bytes(v[0]), e, (size_t)sqlite3_value_bytes(v[1])));
}

static int ingest(store *s, const char *body, st_result *res) {
  return sh_ingest(s, body, &lim, VARIED_NOW_MS, res);
}

static void exec_ok(sqlite3 *db, const char *sql) {
  char *e = NULL;
  CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, &e), SQLITE_OK);
  if (e) fprintf(stderr, "%s\n", e);
  sqlite3_free(e);
}

/* The version-6 rows of each event of b, as that collector stored them. */
static void write_v6(sqlite3 *db, const bt_batch *b) {
  sqlite3_stmt *ev = NULL, *key = NULL, *tm = NULL, *md = NULL;
  CHECK_EQ_INT(
      sqlite3_prepare_v2(db, "INSERT INTO events VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)", -1, &ev, NULL),
      SQLITE_OK);
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "INSERT INTO ev_key VALUES(?1, ?2)", -1, &key, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "INSERT INTO ev_time VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, '')",
                                  -1, &tm, NULL),
               SQLITE_OK);
  CHECK_EQ_INT(
      sqlite3_prepare_v2(db, "INSERT INTO ev_model VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &md, NULL),
      SQLITE_OK);
  for (size_t i = 0; i < b->n; i++) {
    const bt_event *e = &b->events[i];
    int64_t rseq = (int64_t)i + 1, hour = rollup_hour_of(e->ev.ts_ms);
    sqlite3_bind_int64(ev, 1, rseq);
    sqlite3_bind_text(ev, 2, b->agent_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(ev, 3, e->ev.event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(ev, 4, b->epoch, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ev, 5, e->seq);
    sqlite3_bind_int64(ev, 6, e->ev.ts_ms);
    sqlite3_bind_int64(ev, 7, VARIED_NOW_MS);
    sqlite3_bind_int64(ev, 8, (int64_t)e->content_hash);
    sqlite3_bind_text(ev, 9, e->ev.json, (int)e->ev.json_len, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(ev), SQLITE_DONE);
    sqlite3_reset(ev);
    sqlite3_bind_int64(key, 1,
                       ss_key64(b->agent_id, strlen(b->agent_id), e->ev.event_id, strlen(e->ev.event_id)));
    sqlite3_bind_int64(key, 2, rseq);
    CHECK_EQ_INT(sqlite3_step(key), SQLITE_DONE);
    sqlite3_reset(key);
    sqlite3_bind_int64(tm, 1, hour);
    sqlite3_bind_int64(tm, 2, rseq);
    sqlite3_bind_int64(tm, 3, e->ev.ts_ms);
    sqlite3_bind_text(tm, 4, ev_type_name(e->ev.type), -1, SQLITE_STATIC);
    if (e->ev.worker_id) sqlite3_bind_text(tm, 5, e->ev.worker_id, -1, SQLITE_STATIC);
    else sqlite3_bind_null(tm, 5);
    sqlite3_bind_text(tm, 6, e->ev.workstation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(tm, 7, e->ev.count);
    sqlite3_bind_text(tm, 8, e->ev.event_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(tm, 9, b->agent_id, -1, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(tm), SQLITE_DONE);
    sqlite3_reset(tm);
    if (e->camera_id || e->model_version || e->has_conf) {
      char ck[MODELS_KEY_MAX], mk[MODELS_KEY_MAX];
      models_key(e->camera_id, ck);
      models_key(e->model_version, mk);
      sqlite3_bind_int64(md, 1, hour);
      sqlite3_bind_int64(md, 2, rseq);
      sqlite3_bind_int64(md, 3, e->ev.ts_ms);
      sqlite3_bind_text(md, 4, ev_type_name(e->ev.type), -1, SQLITE_STATIC);
      sqlite3_bind_text(md, 5, ck, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(md, 6, mk, -1, SQLITE_TRANSIENT);
      if (e->has_conf) {
        sqlite3_bind_int(md, 7, models_bin(e->confidence));
        sqlite3_bind_int64(md, 8, models_micro(e->confidence));
      } else {
        sqlite3_bind_null(md, 7);
        sqlite3_bind_null(md, 8);
      }
      CHECK_EQ_INT(sqlite3_step(md), SQLITE_DONE);
      sqlite3_reset(md);
    }
  }
  sqlite3_finalize(ev);
  sqlite3_finalize(key);
  sqlite3_finalize(tm);
  sqlite3_finalize(md);
}

/* The model cells of the events of b in [lo, hi), computed from the events,
 * and a2's old event (07:00, working, no model field). */
static void reference(const bt_batch *b, int64_t lo, int64_t hi, models_set *set) {
  models_set_init(set);
  if (lo <= OLD_TS && OLD_TS < hi)
    models_cell_add_event(models_set_get(set, "", ""), METRICS_WORKING, OLD_TS, false, 0);
  for (size_t i = 0; i < b->n; i++) {
    const bt_event *e = &b->events[i];
    if (e->ev.ts_ms < lo || e->ev.ts_ms >= hi) continue;
    char ck[MODELS_KEY_MAX], mk[MODELS_KEY_MAX];
    models_key(e->camera_id, ck);
    models_key(e->model_version, mk);
    models_cell_add_event(models_set_get(set, ck, mk), (metrics_type)e->ev.type, e->ev.ts_ms, e->has_conf,
                          e->confidence);
  }
}

static void check_models(store *s, const bt_batch *b) {
  sm_window w[2] = {{H6, VARIED_NOW_MS}, {H6 + 1800000, H6 + 4800000}}; /* whole hours; 06:30–07:20 */
  models_set got[2], want[2];
  models_set_init(&got[0]);
  models_set_init(&got[1]);
  CHECK_EQ_INT(s->ops->models(s, w, 2, got), 0);
  for (int k = 0; k < 2; k++) {
    reference(b, w[k].from_ms, w[k].to_ms, &want[k]);
    CHECK_EQ_INT(got[k].n, want[k].n);
    int64_t sum = 0;
    for (size_t i = 0; i < want[k].n; i++) {
      const models_entry *we = want[k].e[i];
      const models_cell *g = models_set_find(&got[k], we->camera, we->model);
      CHECK(g != NULL);
      if (!g) continue;
      CHECK_EQ_INT(g->events, we->c.events);
      CHECK_EQ_INT(g->with_conf, we->c.with_conf);
      CHECK_EQ_INT(g->conf_micro, we->c.conf_micro);
      for (int t = 0; t < 4; t++) CHECK_EQ_INT(g->mix[t], we->c.mix[t]);
      if (we->camera[0]) CHECK_EQ_INT(g->last_ms, we->c.last_ms);
      CHECK(memcmp(g->hist, we->c.hist, sizeof(g->hist)) == 0);
      sum += g->events;
    }
    if (k == 0) CHECK_EQ_INT(sum, VARIED_N + 1);
    models_set_clear(&got[k]);
    models_set_clear(&want[k]);
  }
}

typedef struct exported {
  const bt_batch *b;
  size_t n, same, old_body;
} exported;

static int on_row(void *ctx, const st_export_key *k, const char *body, size_t len) {
  exported *x = ctx;
  x->n++;
  if (strcmp(k->agent_id, "a2") == 0) {
    x->old_body += len == 22 && memcmp(body, "{\"attributes\":{\"k\":1}}", 22) == 0;
    return 0;
  }
  for (size_t i = 0; i < x->b->n; i++) {
    const ev_event *e = &x->b->events[i].ev;
    if (strcmp(e->event_id, k->event_id) == 0 && e->ts_ms == k->ts_ms &&
        strcmp(k->agent_id, x->b->agent_id) == 0)
      x->same += len == e->json_len && memcmp(body, e->json, len) == 0;
  }
  return 0;
}

static int between(void *ctx, const st_export_query *q) {
  (void)ctx;
  (void)q;
  return 0;
}

int main(void) {
  char dir[] = "/tmp/ferry-test-migrate7-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300];
  snprintf(path, sizeof(path), "%s/v6.db", dir);

  bt_batch b;
  char err[300] = "";
  CHECK_EQ_INT(bt_parse(varied_batch, strlen(varied_batch), &lim, &b, err, sizeof(err)), 0);
  CHECK_EQ_INT(b.n, VARIED_N);

  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_create_function(db, "ferry_key64", 2, SQLITE_UTF8, NULL, key64_sql, NULL, NULL),
               SQLITE_OK);
  exec_ok(db, ss_schema_v1);
  exec_ok(db, ss_schema_v2);
  exec_ok(db, ss_schema_v3);
  exec_ok(db, ss_schema_v4);
  exec_ok(db, ss_schema_v5);
  exec_ok(db, ss_schema_v6);
  exec_ok(db, "BEGIN");
  write_v6(db, &b);
  /* an event stored by an older schema: a body without its ids, no model field */
  exec_ok(
      db,
      "INSERT INTO events VALUES(100, 'a2', 'ev-7', '00000000000000f1', 1, 1772348400000, 1772352000000,"
      " 13, '{\"attributes\":{\"k\":1}}');"
      "INSERT INTO ev_key VALUES(ferry_key64('a2', 'ev-7'), 100);"
      "INSERT INTO ev_time VALUES(492319, 100, 1772348400000, 'working', 'w1', 's1', 0, 'ev-7', 'a2', '');"
      "INSERT INTO dirty_hours SELECT DISTINCT hour FROM ev_time;"
      "COMMIT");
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), 6);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_model"), 11);
  sqlite3_close(db);

  store *s = NULL;
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return check_finish("test_collector_store_migrate_v7");
  }
  /* the rollups from ev_time's model columns: partial hours, dirty hours,
   * then after the upkeep */
  check_models(s, &b);
  for (bool more = true; more;) CHECK_EQ_INT(s->ops->maintain(s, 16, &more), 0);
  check_models(s, &b);
  st_metrics_query mq = {.from_ms = H6, .to_ms = VARIED_NOW_MS};
  metrics_result m;
  CHECK_EQ_INT(s->ops->metrics(s, &mq, &m), 0);
  CHECK_EQ_INT(m.factory.events, VARIED_N + 1);
  metrics_result_clear(&m);

  /* every body as it was stored */
  st_export_query q = {.from_ms = H6, .to_ms = VARIED_NOW_MS, .limit = 1000};
  exported x = {.b = &b};
  CHECK_EQ_INT(s->ops->export_events(s, &q, between, on_row, &x), 0);
  CHECK_EQ_INT(x.n, VARIED_N + 1);
  CHECK_EQ_INT(x.same, VARIED_N);
  CHECK_EQ_INT(x.old_body, 1);

  /* replays are duplicates without conflict; the old id too; new events land */
  st_result res;
  CHECK_EQ_INT(ingest(s, varied_batch, &res), 0);
  CHECK_EQ_INT(res.accepted, 0);
  CHECK_EQ_INT(res.duplicates, VARIED_N);
  CHECK_EQ_INT(res.conflicts, 0);
  st_result_clear(&res);
  static const char more[] =
      "{\"agent_id\":\"a2\",\"epoch\":\"00000000000000f1\",\"events\":["
      "{\"event_id\":\"ev-7\",\"timestamp\":\"2026-03-01T07:00:00Z\",\"event_type\":\"working\","
      "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"seq\":1,\"ingested_at\":\"2026-03-01T07:10:01Z\"},"
      "{\"event_id\":\"ev-8\",\"timestamp\":\"2026-03-01T07:20:00Z\",\"event_type\":\"working\","
      "\"worker_id\":\"w1\",\"workstation_id\":\"s1\",\"camera_id\":\"cam-9\",\"seq\":2,"
      "\"ingested_at\":\"2026-03-01T07:20:01Z\"}]}";
  CHECK_EQ_INT(ingest(s, more, &res), 0);
  CHECK_EQ_INT(res.accepted, 1);
  CHECK_EQ_INT(res.duplicates, 1);
  CHECK_EQ_INT(res.conflicts, 1); /* the old row's hash (13) is not this body's */
  st_result_clear(&res);
  s->ops->close(s);

  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), SS_SCHEMA_VERSION);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM sqlite_master WHERE name = 'ev_model'"), 0);
  CHECK_EQ_INT(q1(db,
                  "SELECT count(*) FROM pragma_table_info('events') WHERE name IN ('agent_id', 'event_id',"
                  " 'epoch')"),
               0);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM streams"), 2);
  /* a2's two events share its stream */
  CHECK_EQ_INT(q1(db, "SELECT count(DISTINCT e.sid) FROM events e JOIN ev_time t ON t.rseq = e.rseq"
                      " WHERE t.agent_id = 'a2'"),
               1);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM events WHERE substr(body, 1, 1) = x'0f'"), VARIED_N + 1);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_time WHERE camera IS NOT NULL"), 12);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_time t JOIN ev_key k ON k.rseq = t.rseq"
                      " JOIN events e ON e.rseq = t.rseq AND e.ts_ms = t.ts_ms"),
               VARIED_N + 2);
  /* a schema newer than the collector's is refused, untouched (how a
   * collector of version 6 treats this database) */
  exec_ok(db, "PRAGMA user_version = 99");
  sqlite3_close(db);
  s = NULL;
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), -EPROTO);
  CHECK(s == NULL && strstr(err, "newer than this collector knows") != NULL);
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), 99);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM events"), VARIED_N + 2);
  sqlite3_close(db);
  bt_batch_clear(&b);

  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_migrate_v7");
}
