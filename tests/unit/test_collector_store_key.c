/* test_collector_store_key: the SQLite store finds events by a 64-bit key
 * that is not unique (ss_key.h). Ids built to share a key ("a1", "a01",
 * "a001" under one agent) are still stored once each, a replay of each is a
 * duplicate, a changed copy counts as a conflict against its own first copy,
 * and the key keeps the order of ids ending in digits. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_harness.h"
#include "batch.h"
#include "check.h"
#include "ss_key.h"
#include "store.h"

#define NOW_MS 1772352000000LL /* 2026-03-01T08:00:00Z */

static const bt_limits lim = {NOW_MS, 300, 0};

static int ingest(store *s, const char *body, st_result *res) {
  return sh_ingest(s, body, &lim, NOW_MS, res);
}

static int64_t key(const char *a, const char *e) { return ss_key64(a, strlen(a), e, strlen(e)); }

/* A batch of the given ids (seqs from seq0), all "working" unless station differs. */
static void batch_of(char *out, size_t cap, const char *epoch, int seq0, const char *const *ids, size_t n,
                     const char *station) {
  size_t len = (size_t)snprintf(out, cap, "{\"agent_id\":\"a1\",\"epoch\":\"%s\",\"events\":[", epoch);
  for (size_t i = 0; i < n; i++)
    len += (size_t)snprintf(out + len, cap - len,
                            "%s{\"event_id\":\"%s\",\"timestamp\":\"2026-03-01T07:%02zu:00Z\","
                            "\"event_type\":\"working\",\"worker_id\":\"w1\",\"workstation_id\":\"%s\","
                            "\"seq\":%zu,\"ingested_at\":\"2026-03-01T07:59:00Z\"}",
                            i ? "," : "", ids[i], i, station, (size_t)seq0 + i);
  snprintf(out + len, cap - len, "]}");
}

int main(void) {
  /* the key: digits keep their order, a collision is possible by design */
  CHECK(key("a1", "ev-000000000001") < key("a1", "ev-000000000002"));
  CHECK(key("a1", "ferry:00000000000000e1:99") < key("a1", "ferry:00000000000000e1:100"));
  CHECK_EQ_INT(key("a1", "a1"), key("a1", "a01"));
  CHECK_EQ_INT(key("a1", "a1"), key("a1", "a001"));
  CHECK(key("a1", "a1") != key("a2", "a1"));
  CHECK(key("a1", "0b5f3c1e-2f4d-4a9b-8c7d-6e5f4a3b2c1d") !=
        key("a1", "0b5f3c1e-2f4d-4a9b-8c7d-6e5f4a3b2c1e"));

  char dir[] = "/tmp/ferry-test-key-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300];
  snprintf(path, sizeof(path), "%s/c.db", dir);
  store *s = NULL;
  char err[300] = "";
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return check_finish("test_collector_store_key");
  }

  static const char *const ids[] = {"a1", "a01", "a001", "b7"};
  char body[8192];
  st_result res;
  batch_of(body, sizeof(body), "00000000000000e1", 1, ids, 4, "s1");
  CHECK_EQ_INT(ingest(s, body, &res), 0);
  CHECK_EQ_INT(res.status, 200);
  CHECK_EQ_INT(res.accepted, 4);
  CHECK_EQ_INT(res.duplicates, 0);
  st_result_clear(&res);

  /* the same ids again under another epoch (new seqs, a new key): each is a
   * duplicate of its own first copy; the ones with a changed station conflict */
  static const char *const again[] = {"a01", "a001", "a1"};
  batch_of(body, sizeof(body), "00000000000000e2", 1, again, 3, "s1");
  CHECK_EQ_INT(ingest(s, body, &res), 0);
  CHECK_EQ_INT(res.accepted, 0);
  CHECK_EQ_INT(res.duplicates, 3);
  /* the timestamps moved with the position: a01 now at :00 (was :01) etc. */
  CHECK_EQ_INT(res.conflicts, 3);
  st_result_clear(&res);
  static const char *const same[] = {"a1", "a01", "a001", "b7"};
  batch_of(body, sizeof(body), "00000000000000e3", 1, same, 4, "s1");
  CHECK_EQ_INT(ingest(s, body, &res), 0);
  CHECK_EQ_INT(res.duplicates, 4);
  CHECK_EQ_INT(res.conflicts, 0);
  st_result_clear(&res);
  /* a new id under the shared key is still new */
  static const char *const fresh[] = {"a0001"};
  batch_of(body, sizeof(body), "00000000000000e4", 1, fresh, 1, "s1");
  CHECK_EQ_INT(ingest(s, body, &res), 0);
  CHECK_EQ_INT(res.accepted, 1);
  st_result_clear(&res);

  st_metrics_query q = {.from_ms = NOW_MS - 7200000, .to_ms = NOW_MS};
  metrics_result m;
  CHECK_EQ_INT(s->ops->metrics(s, &q, &m), 0);
  CHECK_EQ_INT(m.factory.events, 5);
  metrics_result_clear(&m);
  s->ops->close(s);

  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT count(*), count(DISTINCT h) FROM ev_key", -1, &st, NULL),
               SQLITE_OK);
  CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
  CHECK_EQ_INT(sqlite3_column_int(st, 0), 5);
  CHECK_EQ_INT(sqlite3_column_int(st, 1), 2); /* a1, a01, a001, a0001 share one */
  sqlite3_finalize(st);
  sqlite3_close(db);

  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_key");
}
