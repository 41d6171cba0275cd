/* test_collector_store_keyfold: the keys of random ids wait in ev_key_new
 * and are folded into ev_key in pieces (ss_keyfold.h), and exactly-once
 * holds at every step: with a small fold threshold, batches of UUIDs mixed
 * with time-ordered ids are stored, and after each commit every earlier
 * batch replays as duplicates (whether its keys wait, are half folded or
 * folded), a changed body is a conflict, every stored event has exactly one
 * key, in the table its id's kind says, and the table of waiting keys stays
 * bounded. A fold piece in a transaction that rolls back is undone with it;
 * a reopened store finds every key (its Bloom filter rebuilt from both
 * tables, ss_keybloom.h, or none when the writer's cache is too small); a version-7 database (no ev_key_new)
 * opens under version 8 and keeps finding its events. */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ss_key.h"
#include "ss_keyfold.h"
#include "store.h"
#include "sqlite_q1.h"
#include "store_harness.h"
#include "store_sqlite_sql.h"
#include "xorshift.h"

#define NOW_MS    1772352000000LL /* 2026-03-01T08:00:00Z */
#define BATCHES   14
#define PER_BATCH 40
#define FOLD_AT   60

static const bt_limits lim = {NOW_MS, 300, 0};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void) { return xorshift64(&rng); }

/* Batch k's body: its events' ids are UUIDs, every fifth a time-ordered id;
 * `worker` changes every body (a conflict when it differs from the stored).
 * A copy is sent under seqs seq0 + 1.. (seq0 > 0): the same seqs would be answered
 * whole from the batch's derived Idempotency-Key, never reaching the keys. */
static char ids[BATCHES + 1][PER_BATCH][48]; /* the last one is stored late */
static char *batch_body(int k, const char *worker, int seq0) {
  size_t cap = 64 + PER_BATCH * 320, len = 0;
  char *b = malloc(cap);
  if (!b) abort();
  len += (size_t)snprintf(b + len, cap - len,
                          "{\"agent_id\":\"a1\",\"epoch\":\"00000000000000e1\",\"events\":[");
  for (int i = 0; i < PER_BATCH; i++) {
    int n = k * PER_BATCH + i + 1, seq = seq0 ? seq0 + i + 1 : n;
    len += (size_t)snprintf(b + len, cap - len,
                            "%s{\"event_id\":\"%s\",\"timestamp\":\"2026-03-01T%02d:%02d:%02dZ\","
                            "\"event_type\":\"working\",\"worker_id\":\"%s\",\"workstation_id\":\"s%d\","
                            "\"seq\":%d,\"ingested_at\":\"2026-03-01T07:59:00Z\"}",
                            i ? "," : "", ids[k][i], n % 8, n % 60, i % 60, worker, i % 3, seq);
  }
  snprintf(b + len, cap - len, "]}");
  return b;
}

static int64_t key_of(const char *id) { return ss_key64("a1", 2, id, strlen(id)); }

/* Every stored event has one key, in the table its id's kind says. */
static void check_keys(sqlite3 *db, int stored_batches) {
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM events"), stored_batches * PER_BATCH);
  CHECK_EQ_INT(q1(db, "SELECT (SELECT count(*) FROM ev_key) + (SELECT count(*) FROM ev_key_new)"),
               stored_batches * PER_BATCH);
  sqlite3_stmt *in_old = NULL, *in_new = NULL;
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT count(*) FROM ev_key WHERE h = ?1", -1, &in_old, NULL),
               SQLITE_OK);
  CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT count(*) FROM ev_key_new WHERE h = ?1", -1, &in_new, NULL),
               SQLITE_OK);
  int wrong = 0;
  for (int k = 0; k < stored_batches; k++)
    for (int i = 0; i < PER_BATCH; i++) {
      int64_t h = key_of(ids[k][i]), n_old = 0, n_new = 0;
      sqlite3_bind_int64(in_old, 1, h);
      sqlite3_bind_int64(in_new, 1, h);
      if (sqlite3_step(in_old) == SQLITE_ROW) n_old = sqlite3_column_int64(in_old, 0);
      if (sqlite3_step(in_new) == SQLITE_ROW) n_new = sqlite3_column_int64(in_new, 0);
      sqlite3_reset(in_old);
      sqlite3_reset(in_new);
      bool random = ssk_random(ids[k][i], strlen(ids[k][i]));
      if (n_old + n_new != 1 || (!random && n_new != 0)) wrong++;
    }
  CHECK_EQ_INT(wrong, 0);
  sqlite3_finalize(in_old);
  sqlite3_finalize(in_new);
}

/* Batch k sent for the first time: all its events are stored. */
static void store_new(store *s, int k) {
  char *body = batch_body(k, "w1", 0);
  st_result res;
  CHECK_EQ_INT(sh_ingest(s, body, &lim, NOW_MS, &res), 0);
  CHECK_EQ_INT(res.accepted, PER_BATCH);
  st_result_clear(&res);
  free(body);
}

/* Batches 0..upto-1 sent again (under new seqs) are duplicates without
 * conflict. */
static int resent = 0;
static void check_replays(store *s, int upto) {
  for (int k = 0; k < upto; k++) {
    char *body = batch_body(k, "w1", 100000 + PER_BATCH * resent++);
    st_result res;
    CHECK_EQ_INT(sh_ingest(s, body, &lim, NOW_MS, &res), 0);
    CHECK_EQ_INT(res.accepted, 0);
    CHECK_EQ_INT(res.duplicates, PER_BATCH);
    CHECK_EQ_INT(res.conflicts, 0);
    st_result_clear(&res);
    free(body);
  }
}

static void test_random_ids(void) {
  static const char *yes[] = {"3f2a9c1e-7b4d-4e8a-9c0d-1a2b3c4d5e6f", "3F2A9C1E-7B4D-4E8A-9C0D-1A2B3C4D5E60",
                              "cam-1/3f2a9c1e-7b4d-4e8a-9c0d-123456789012", "no-digits-at-the-end", "x"};
  static const char *no[] = {"ev-000123",
                             "ferry:00000000000000e1:42",
                             "3f2a9c1e_7b4d-4e8a-9c0d-123456789012",
                             "3f2a9c1e-7b4d-4e8a-9c0d-12345678901",
                             "3f2a9c1e-7b4d-4e8a-9c0g-123456789012",
                             "12"};
  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) CHECK(ssk_random(yes[i], strlen(yes[i])));
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) CHECK(!ssk_random(no[i], strlen(no[i])));
}

int main(void) {
  test_random_ids();
  for (int k = 0; k <= BATCHES; k++)
    for (int i = 0; i < PER_BATCH; i++) {
      if (i % 5 == 4) {
        snprintf(ids[k][i], sizeof(ids[k][i]), "ev-%06d", k * PER_BATCH + i);
        continue;
      }
      uint64_t x = next_rand(), y = next_rand();
      snprintf(ids[k][i], sizeof(ids[k][i]), "%08x-%04x-4%03x-%04x-%012" PRIx64, (unsigned)(x >> 32),
               (unsigned)(x >> 16) & 0xffff, (unsigned)x & 0xfff, (unsigned)(0x8000 | (y >> 48 & 0x3fff)),
               (uint64_t)(y & 0xffffffffffffULL));
    }

  char dir[] = "/tmp/ferry-test-keyfold-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[300], err[300] = "";
  snprintf(path, sizeof(path), "%s/c.db", dir);
  store *s = NULL;
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (!s) {
    fprintf(stderr, "open: %s\n", err);
    return check_finish("test_collector_store_keyfold");
  }
  store_sqlite_set_key_fold(s, FOLD_AT);
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);

  int64_t most_waiting = 0, folded_random = 0;
  for (int k = 0; k < BATCHES; k++) {
    store_new(s, k);
    check_keys(db, k + 1);
    check_replays(s, k + 1);
    int64_t waiting = q1(db, "SELECT count(*) FROM ev_key_new");
    if (waiting > most_waiting) most_waiting = waiting;
    folded_random = q1(db, "SELECT count(*) FROM ev_key") - (k + 1) * PER_BATCH / 5;
    /* a changed body of a folded or waiting id is a conflict, never stored */
    char *body = batch_body(k, "w2", 100000 + PER_BATCH * resent++);
    st_result res;
    CHECK_EQ_INT(sh_ingest(s, body, &lim, NOW_MS, &res), 0);
    CHECK_EQ_INT(res.accepted, 0);
    CHECK_EQ_INT(res.duplicates, PER_BATCH);
    CHECK_EQ_INT(res.conflicts, PER_BATCH);
    st_result_clear(&res);
    free(body);
  }
  /* folds ran, and the waiting keys stayed bounded: the threshold, plus
   * what arrives during the sixteen commits of one fold */
  CHECK(folded_random > 0);
  CHECK(most_waiting < FOLD_AT + 16 * (PER_BATCH * 4 / 5));

  /* one more batch whose keys wait (no fold due); reopened, the filter is
   * rebuilt from both tables */
  store_sqlite_set_key_fold(s, 1 << 30);
  store_new(s, BATCHES);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_key_new"), PER_BATCH * 4 / 5);
  s->ops->close(s);
  s = NULL;
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (!s) return check_finish("test_collector_store_keyfold");
  store_sqlite_set_key_fold(s, FOLD_AT);
  check_replays(s, BATCHES + 1);
  CHECK(((store_sqlite *)s)->kf.bloom.bytes > 0);

  /* a fold piece in a transaction that rolls back is undone with it */
  int64_t before_old = q1(db, "SELECT count(*) FROM ev_key"),
          before_new = q1(db, "SELECT count(*) FROM ev_key_new");
  store_sqlite_set_key_fold(s, 1);
  CHECK_EQ_INT(s->ops->begin(s), 0);
  CHECK_EQ_INT(ssk_fold((store_sqlite *)s), 0);
  s->ops->rollback(s);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_key"), before_old);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_key_new"), before_new);
  /* sixteen commits fold everything that waits (one piece each) */
  for (int i = 0; i < SSK_PIECES + 1; i++) {
    CHECK_EQ_INT(s->ops->begin(s), 0);
    CHECK_EQ_INT(s->ops->commit(s), 0);
  }
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_key_new"), 0);
  check_keys(db, BATCHES + 1);
  check_replays(s, BATCHES + 1);
  s->ops->close(s);

  /* reopened: the default rule; with a writer cache of 2 MiB no filter
   * (its bound is a quarter of the cache, under 1 MiB), every key still found */
  s = NULL;
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  if (s) {
    CHECK(ssk_threshold((store_sqlite *)s) >= SSK_FOLD_MIN);
    CHECK_EQ_INT(store_sqlite_set_cache(s, 2 << 20, 0), 0);
    check_replays(s, BATCHES + 1);
    CHECK_EQ_INT((int64_t)((store_sqlite *)s)->kf.bloom.bytes, 0);
    s->ops->close(s);
  }

  /* a version-7 database: the same keys, all in ev_key, no ev_key_new */
  sqlite3_close(db);
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  char *e = NULL;
  CHECK_EQ_INT(sqlite3_exec(db, "DROP TABLE ev_key_new; PRAGMA user_version = 7;", NULL, NULL, &e),
               SQLITE_OK);
  sqlite3_free(e);
  sqlite3_close(db);
  s = NULL;
  CHECK_EQ_INT(store_sqlite_open(path, 600000, &s, err, sizeof(err)), 0);
  CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  CHECK_EQ_INT(q1(db, "PRAGMA user_version"), SS_SCHEMA_VERSION);
  CHECK_EQ_INT(q1(db, "SELECT count(*) FROM ev_key_new"), 0);
  if (s) {
    check_replays(s, BATCHES + 1);
    s->ops->close(s);
  }
  sqlite3_close(db);

  char cmd[400];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CHECK_EQ_INT(system(cmd), 0);
  return check_finish("test_collector_store_keyfold");
}
