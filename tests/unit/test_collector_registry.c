/* test_collector_registry: the plant registry without HTTP — the strict CSV
 * reader (quotes, line ends, bounds, errors naming row and column), document
 * validation (all or nothing: duplicate ids, unknown line/site references,
 * types; unknown fields kept), a CSV replacing one kind, the CSV export read
 * back, the lookup index, and the SQLite store: versions survive reopening, a
 * refused edit writes nothing, and a version-3 database with events migrates to the current version (its events of no site). */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "csv.h"
#include "ingest_plant.h"
#include "registry.h"
#include "registry_edit.h"
#include "store.h"
#include "store_sqlite_sql.h"

static const csv_limits LIM = {100, 10, 64};

static void test_csv(void) {
  csv_table t;
  size_t row, col;
  char err[160];
  const char *ok = "\xEF\xBB\xBFid,name\r\nW1,\"Ana, \"\"A\"\"\"\r\n\nW2,\"two\nlines\"\nW3,\n";
  CHECK_EQ_INT(csv_parse(ok, strlen(ok), &LIM, &t, &row, &col, err, sizeof(err)), 0);
  CHECK_EQ_INT(t.n_cols, 2);
  CHECK_EQ_INT(t.n_rows, 4);
  CHECK_EQ_STR(csv_get(&t, 0, 0), "id");
  CHECK_EQ_STR(csv_get(&t, 1, 1), "Ana, \"A\"");
  CHECK_EQ_STR(csv_get(&t, 2, 1), "two\nlines");
  CHECK_EQ_STR(csv_get(&t, 3, 0), "W3");
  CHECK_EQ_STR(csv_get(&t, 3, 1), "");
  CHECK_EQ_INT(t.row[1], 2); /* line numbers: the blank line counts, the record keeps its first line */
  CHECK_EQ_INT(t.row[2], 4);
  CHECK_EQ_INT(t.row[3], 6);
  csv_clear(&t);
  /* no final line break */
  CHECK_EQ_INT(csv_parse("a,b\n1,2", 7, &LIM, &t, &row, &col, err, sizeof(err)), 0);
  CHECK_EQ_INT(t.n_rows, 2);
  CHECK_EQ_STR(csv_get(&t, 1, 1), "2");
  csv_clear(&t);

  struct {
    const char *text;
    int r;
    size_t row, col;
  } bad[] = {
      {"a,b\n1,2,3\n", -EINVAL, 2, 0},    /* field count */
      {"a,b\n1\n", -EINVAL, 2, 0},        /* too few */
      {"a,b\n1,x\"y\n", -EINVAL, 2, 2},   /* quote in an unquoted field */
      {"a,b\n1,\"x\"y\n", -EINVAL, 2, 2}, /* text after the closing quote */
      {"a,b\n1,\"xy\n", -EINVAL, 2, 2},   /* unterminated */
      {"a,b\n\xff,1\n", -EINVAL, 2, 1},   /* invalid UTF-8 */
      {"", -EINVAL, 1, 0},                /* no header */
      {"a\n0123456789012345678901234567890123456789012345678901234567890123456789\n", -E2BIG, 2, 1},
      {"a,b,c,d,e,f,g,h,i,j,k\n", -E2BIG, 1, 11},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    row = col = 99;
    int r = csv_parse(bad[i].text, strlen(bad[i].text), &LIM, &t, &row, &col, err, sizeof(err));
    CHECK_EQ_INT(r, bad[i].r);
    CHECK_EQ_INT(row, bad[i].row);
    CHECK_EQ_INT(col, bad[i].col);
    CHECK(err[0] != '\0');
  }
  /* a NUL byte */
  CHECK_EQ_INT(csv_parse("a\nx\0y\n", 6, &LIM, &t, &row, &col, err, sizeof(err)), -EINVAL);
  /* the row bound */
  char many[2000] = "a\n";
  for (int i = 0; i < 120; i++) strcat(many, "1\n");
  CHECK_EQ_INT(csv_parse(many, strlen(many), &LIM, &t, &row, &col, err, sizeof(err)), -E2BIG);
}

static const char DOC[] =
    "{\"sites\":[{\"id\":\"S1\",\"name\":\"Plant One\",\"retention_days\":30,\"x\":{\"k\":[1,2]}},"
    "{\"id\":\"S2\",\"name\":\"Plant Two\"}],"
    "\"lines\":[{\"id\":\"L1\",\"name\":\"Line 1\",\"site\":\"S1\"},{\"id\":\"L2\",\"site\":\"S2\"}],"
    "\"workstations\":[{\"id\":\"press-4\",\"name\":\"Press 4\",\"type\":\"press\",\"line\":\"L1\"},"
    "{\"id\":\"weld-1\",\"site\":\"S2\"}],"
    "\"workers\":[{\"id\":\"W-001\",\"name\":\"Ana\",\"team\":\"A\",\"badge\":7}],"
    "\"agents\":[{\"agent_id\":\"edge-1\",\"site\":\"S1\"}],\"note\":\"kept\"}";

static bool has_error(const reg_errors *e, reg_kind kind, long row, const char *column) {
  for (size_t i = 0; i < e->n; i++)
    if (e->e[i].kind == kind && e->e[i].row == row && strcmp(e->e[i].column, column) == 0) return true;
  return false;
}

static void test_validate(void) {
  cJSON *doc = NULL;
  reg_errors errs;
  CHECK_EQ_INT(reg_doc_from_json(DOC, strlen(DOC), &doc, &errs), 0);
  CHECK(cJSON_GetObjectItemCaseSensitive(doc, "note") != NULL); /* unknown fields kept */
  const cJSON *s1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(doc, "sites"), 0);
  CHECK(cJSON_GetObjectItemCaseSensitive(s1, "x") != NULL);

  reg_index *x = NULL;
  CHECK_EQ_INT(reg_index_build(doc, 3, &x), 0);
  const reg_entry *e = reg_index_find(x, REG_STATIONS, "press-4");
  CHECK(e && strcmp(e->name, "Press 4") == 0 && strcmp(e->line, "L1") == 0);
  CHECK(e && e->site && strcmp(e->site, "S1") == 0); /* from its line */
  CHECK(reg_index_find(x, REG_SITES, "S1")->retention_days == 30);
  CHECK(reg_index_find(x, REG_SITES, "S2")->retention_days == -1);
  CHECK(reg_index_find(x, REG_WORKERS, "W-404") == NULL);
  CHECK_EQ_STR(reg_index_find(x, REG_AGENTS, "edge-1")->site, "S1");
  CHECK_EQ_INT(reg_index_version(x), 3);
  /* the site of an agent's events, and its retention */
  CHECK_EQ_STR(ip_agent_site(x, "edge-1", ""), "S1");   /* the registry's map */
  CHECK_EQ_STR(ip_agent_site(x, "edge-1", "S2"), "S2"); /* declared wins */
  CHECK(ip_agent_site(x, "edge-9", "") == NULL);        /* neither */
  CHECK_EQ_INT(ip_retention_days(x, "S1", 7), 30);      /* the site's own */
  CHECK_EQ_INT(ip_retention_days(x, "S2", 7), 7);       /* none given: the default */
  CHECK_EQ_INT(ip_retention_days(x, NULL, 7), 7);
  CHECK_EQ_INT(ip_retention_days(x, "nowhere", 0), 0);
  reg_index_free(x);

  /* a CSV replacing the workers; the other kinds stay */
  const char *csv = "id,name,team,badge\r\nW-002,\"Bo, B\",B,\r\nW-001,Ana,A,12\r\n";
  cJSON *next = NULL;
  CHECK_EQ_INT(reg_doc_with_csv(doc, REG_WORKERS, csv, strlen(csv), &next, &errs), 0);
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(next, "workers")), 2);
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(next, "sites")), 2);
  const cJSON *w0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(next, "workers"), 0);
  CHECK(cJSON_GetObjectItemCaseSensitive(w0, "badge") == NULL); /* an empty cell is no field */
  /* exported and read back: the same entries */
  char *out = reg_kind_csv(next, REG_WORKERS);
  CHECK(out != NULL);
  cJSON *again = NULL;
  CHECK_EQ_INT(reg_doc_with_csv(next, REG_WORKERS, out, strlen(out), &again, &errs), 0);
  CHECK(cJSON_Compare(again, next, 1));
  free(out);
  cJSON_Delete(again);
  cJSON_Delete(next);

  /* refused, naming kind, row and column; nothing is produced */
  const char *dup = "id,name\nW1,a\nW2,b\nW1,c\n";
  CHECK_EQ_INT(reg_doc_with_csv(doc, REG_WORKERS, dup, strlen(dup), &next, &errs), 1);
  CHECK(next == NULL);
  CHECK(has_error(&errs, REG_WORKERS, 4, "id"));
  const char *badref = "id,name,line,site\nP1,x,L9,\nP2,y,L1,S2\nP3,z,,S7\n";
  CHECK_EQ_INT(reg_doc_with_csv(doc, REG_STATIONS, badref, strlen(badref), &next, &errs), 1);
  CHECK(has_error(&errs, REG_STATIONS, 2, "line")); /* no such line */
  CHECK(has_error(&errs, REG_STATIONS, 3, "site")); /* not the line's site */
  CHECK(has_error(&errs, REG_STATIONS, 4, "site")); /* no such site */
  CHECK_EQ_INT(errs.total, 3);
  const char *nokey = "name,team\nAna,A\n";
  CHECK_EQ_INT(reg_doc_with_csv(doc, REG_WORKERS, nokey, strlen(nokey), &next, &errs), 1);
  CHECK(has_error(&errs, REG_WORKERS, 1, "id"));
  const char *days = "id,retention_days\nS1,thirty\nS2,5\n";
  CHECK_EQ_INT(reg_doc_with_csv(doc, REG_SITES, days, strlen(days), &next, &errs), 1);
  CHECK(has_error(&errs, REG_SITES, 2, "retention_days"));
  /* removing a site that lines still name is refused on the lines */
  const char *fewer = "id\nS1\n";
  CHECK_EQ_INT(reg_doc_with_csv(doc, REG_SITES, fewer, strlen(fewer), &next, &errs), 1);
  CHECK(has_error(&errs, REG_LINES, 1, "site"));
  CHECK(has_error(&errs, REG_STATIONS, 1, "site"));

  struct {
    const char *json;
    reg_kind kind;
    long row;
    const char *column;
  } bad[] = {
      {"[]", REG_SITES, -1, ""},
      {"{\"sites\":{}}", REG_SITES, -1, ""},
      {"{\"sites\":[{\"name\":\"x\"}]}", REG_SITES, 0, "id"},
      {"{\"sites\":[{\"id\":\"a\"},{\"id\":\"a\"}]}", REG_SITES, 1, "id"},
      {"{\"sites\":[{\"id\":\"a\",\"retention_days\":1.5}]}", REG_SITES, 0, "retention_days"},
      {"{\"workers\":[{\"id\":\"a\",\"name\":5}]}", REG_WORKERS, 0, "name"},
      {"{\"lines\":[{\"id\":\"L\",\"site\":\"nope\"}]}", REG_LINES, 0, "site"},
      {"{\"agents\":[{\"agent_id\":\"e\"}]}", REG_AGENTS, 0, "site"},
      {"{\"workers\":[{\"id\":\"\"}]}", REG_WORKERS, 0, "id"},
      {"{\"workers\":[7]}", REG_WORKERS, 0, ""},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    cJSON *d = NULL;
    int r = reg_doc_from_json(bad[i].json, strlen(bad[i].json), &d, &errs);
    CHECK_EQ_INT(r, 1);
    CHECK(d == NULL);
    if (!has_error(&errs, bad[i].kind, bad[i].row, bad[i].column)) {
      fprintf(stderr, "case %zu: expected %s/%ld/%s\n", i, reg_kind_name(bad[i].kind), bad[i].row,
              bad[i].column);
      CHECK(0);
    }
  }
  CHECK_EQ_INT(reg_doc_from_json("{\"sites\":[", 10, &next, &errs), 1);
  /* a duplicate key in the document is refused as the ingest path does */
  CHECK_EQ_INT(reg_doc_from_json("{\"sites\":[],\"sites\":[]}", 23, &next, &errs), 1);
  cJSON_Delete(doc);
}

static void test_store(void) {
  char dir[] = "/tmp/ferry-test-registry-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300];
  snprintf(path, sizeof(path), "%s/c.db", dir);
  /* a version-3 database */
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v1, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v2, NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, ss_schema_v3, NULL, NULL, NULL), SQLITE_OK);
  /* with events (by time in ev_time, no site yet) and rollups said to be built */
  static const char rows[] =
      "INSERT INTO events VALUES('a1', 'e1', '00000000000000e1', 1, 1772348400000, 'working', 'w1', 's1', 0,"
      " '{}', 1, 1772352000000);"
      "INSERT INTO events VALUES('a1', 'e2', '00000000000000e1', 2, 1772349000000, 'product_count', 'w1',"
      " 's1', 4, '{}', 2, 1772352000000);"
      "INSERT INTO ev_time SELECT ts_ms / 3600000, rowid, ts_ms, event_type, worker_id, workstation_id,"
      "  count, event_id, agent_id FROM events;"
      "INSERT INTO known_ids VALUES(0, 'w1'), (1, 's1');"
      "INSERT INTO meta VALUES('rollup_max_state_ms', 600000);";
  CHECK_EQ_INT(sqlite3_exec(db, rows, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);

  store *s = NULL;
  char err[300];
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (s) store_sqlite_set_hot(s, 0); /* upkeep rebuilds what was just written */
  /* the old events belong to no site; the site rollups are rebuilt from them */
  for (int pass = 0; pass < 2; pass++) {
    bool more = true;
    if (pass) /* the writer's upkeep catches up */
      while (more) CHECK_EQ_INT(s->ops->maintain(s, 16, &more), 0);
    const char *nosite[] = {""}, *s1[] = {"S1"}, *st1[] = {"s1"};
    rsite_filter fn = {nosite, 1, NULL, 0}, f1 = {s1, 1, NULL, 0}, fst = {NULL, 0, st1, 1};
    st_metrics_query q = {.from_ms = 1772344800000, .to_ms = 1772352000000};
    metrics_result all, m;
    CHECK_EQ_INT(s->ops->metrics(s, &q, &all), 0);
    CHECK_EQ_INT(all.factory.events, 2);
    CHECK_EQ_INT(all.factory.working_ms, 600000);
    q.filter = &fn;
    CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
    CHECK_EQ_INT(m.factory.events, 2);
    CHECK_EQ_INT(m.factory.units, 4);
    CHECK_EQ_INT(m.factory.working_ms, 600000);
    metrics_result_clear(&m);
    q.filter = &fst;
    CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
    CHECK_EQ_INT(m.factory.working_ms, 600000);
    metrics_result_clear(&m);
    q.filter = &f1;
    CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
    CHECK_EQ_INT(m.factory.events, 0);
    CHECK_EQ_INT(m.n_workers, 0);
    metrics_result_clear(&m);
    metrics_result_clear(&all);
  }
  int64_t v = -1, at = -1;
  char *doc = NULL;
  CHECK_EQ_INT(s->ops->registry_get(s, &v, &at, &doc), 0);
  CHECK_EQ_INT(v, 0);
  CHECK(doc == NULL);
  reg_put p = {.body = DOC, .len = strlen(DOC)};
  CHECK_EQ_INT(s->ops->registry_put(s, reg_put_edit, &p, 1000, &v), 0);
  CHECK_EQ_INT(v, 1);
  CHECK_EQ_INT(p.counts[REG_SITES], 2);
  reg_put bad = {.csv = true, .kind = REG_WORKERS, .body = "id\nA\nA\n", .len = 7};
  CHECK_EQ_INT(s->ops->registry_put(s, reg_put_edit, &bad, 2000, &v), 1);
  CHECK_EQ_INT(bad.errs.total, 1);
  reg_put csv = {.csv = true, .kind = REG_WORKERS, .body = "id,name\nA,Ann\n", .len = 14};
  CHECK_EQ_INT(s->ops->registry_put(s, reg_put_edit, &csv, 3000, &v), 0);
  CHECK_EQ_INT(v, 2);
  s->ops->close(s);

  /* reopened, a reader handle sees the latest */
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (s) store_sqlite_set_hot(s, 0); /* upkeep rebuilds what was just written */
  store *rd = NULL;
  CHECK_EQ_INT(s->ops->open_reader(s, &rd, err, sizeof(err)), 0);
  CHECK_EQ_INT(rd->ops->registry_get(rd, &v, &at, &doc), 0);
  CHECK_EQ_INT(v, 2);
  CHECK_EQ_INT(at, 3000);
  cJSON *j = cJSON_Parse(doc);
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "workers")), 1);
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "sites")), 2);
  CHECK(cJSON_GetObjectItemCaseSensitive(j, "note") != NULL);
  cJSON_Delete(j);
  free(doc);
  CHECK_EQ_INT(rd->ops->registry_put(rd, reg_put_edit, &csv, 4000, &v), -EROFS);
  rd->ops->close(rd);
  s->ops->close(s);
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
  CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  CHECK_EQ_INT(sqlite3_column_int(st, 0), SS_SCHEMA_VERSION);
  sqlite3_finalize(st);
  sqlite3_close(db);
  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  CHECK_EQ_INT(system(cmd), 0);
}

int main(void) {
  test_csv();
  test_validate();
  test_store();
  return check_finish("test_collector_registry");
}
