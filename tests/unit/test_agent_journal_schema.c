/* test_agent_journal_schema: the journal's schema across versions and its
 * WAL bound — a journal written by schema 1 (the committed fixture
 * tests/fixtures/journal-v1.db, made by the schema-1 agent) migrates to the
 * current schema with every event, dropped range, dead-letter row and the
 * epoch intact; foreign SQLite files are quarantined rather than mistaken for
 * a newer journal; a newer journal stops the open untouched; and the WAL stays
 * under --max-wal-bytes through a burst of group commits. */
#define _GNU_SOURCE
#include "check.h"
#include "codec.h"
#include "journal.h"
#include "journal_harness.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uv_loop_t loop;
static char tmpdir[256];
static int case_no;


static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  CHECK(in && out);
  if (in && out) {
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) CHECK_EQ_INT(fwrite(buf, 1, n, out), n);
  }
  if (in) fclose(in);
  if (out) fclose(out);
}


static int64_t sql_int(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  int64_t v = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
      v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return v;
}

static int count_dir(const char *dir) {
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "ls -1 %s 2>/dev/null | grep -vc -- '-wal$\\|-shm$'", dir);
  FILE *p = popen(cmd, "r");
  int n = 0;
  if (p) {
    if (fscanf(p, "%d", &n) != 1) n = 0;
    pclose(p);
  }
  return n;
}

/* The fixture: schema 1, agent "fixture-agent", machine "fixture-machine",
 * epoch 195ce451ec3641fe, 12 events committed (seq 6 without an event_id),
 * seqs 1–4 uploaded with seq 2 rejected (dead-letter, reported as a dropped
 * range 2–2 not yet covered by a 200), next_seq 13, shut down cleanly. */
static void test_migrate_v1(void) {
  char path[400];
  jh_new_path(tmpdir, &case_no, path, sizeof(path));
  copy_file(FERRY_TEST_FIXTURES "/journal-v1.db", path);
  CHECK_EQ_INT(sql_int(path, "PRAGMA user_version"), 1);
  journal_opts o = jh_opts(path, "fixture-agent", "fixture-machine");
  journal *j = NULL;
  char err[256] = "";
  CHECK_EQ_INT(journal_open(&loop, &o, &j, err, sizeof(err)), 0);
  if (!j) {
    fprintf(stderr, "open: %s\n", err);
    return;
  }
  journal_stats s;
  journal_get_stats(j, &s);
  CHECK_EQ_STR(s.epoch, "195ce451ec3641fe");
  CHECK_EQ_INT(s.quarantined, 0);
  CHECK_EQ_INT(s.migrated_from, 1);
  CHECK_EQ_INT(s.next_seq, 13);
  CHECK_EQ_INT(s.backlog, 8);
  CHECK_EQ_INT(s.dead_letter, 1);
  CHECK_EQ_INT(s.acked_seq, 4);

  /* the upload body after migration: seqs 5..12 in order, the generated id of
   * seq 6, the dead-letter range, the stored JSON byte for byte */
  journal_batch b;
  memset(&b, 0, sizeof(b));
  b.max_events = 100;
  b.max_bytes = 1 << 20;
  b.codec = CODEC_IDENTITY;
  b.done = jh_on_batch;
  jh_done = 0;
  CHECK_EQ_INT(journal_read_batch(j, &b), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(b.status, 0);
  CHECK_EQ_INT(b.n_events, 8);
  CHECK_EQ_INT(b.first_seq, 5);
  CHECK_EQ_INT(b.last_seq, 12);
  CHECK_EQ_STR(b.idem_key, "fixture-agent:195ce451ec3641fe:5-12");
  cJSON *root = cJSON_ParseWithLength(b.body, b.body_len);
  CHECK(root != NULL);
  if (root) {
    cJSON *evs = cJSON_GetObjectItem(root, "events");
    CHECK_EQ_INT(cJSON_GetArraySize(evs), 8);
    cJSON *e6 = cJSON_GetArrayItem(evs, 1);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e6, "event_id")), "ferry:195ce451ec3641fe:6");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(e6, "count")), 3);
    cJSON *e12 = cJSON_GetArrayItem(evs, 7);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e12, "event_id")), "fx-12");
    cJSON *attr = cJSON_GetObjectItem(e12, "attributes");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(attr, "zone")), "\xc3\xa9");
    cJSON *dr = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "dropped"), 0);
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(dr, "from_seq")), 2);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(dr, "reason")), "dead_letter");
    cJSON_Delete(root);
  }
  journal_batch_clear(&b);

  /* dedup still knows the migrated events; new events continue at seq 13 */
  ev_event ev[2];
  memset(ev, 0, sizeof(ev));
  char j0[] = "{\"event_id\":\"fx-07\"}", j1[] = "{\"event_id\":\"fx-new\"}";
  ev[0].event_id = "fx-07";
  ev[0].json = j0;
  ev[0].json_len = strlen(j0);
  ev[1].event_id = "fx-new";
  ev[1].json = j1;
  ev[1].json_len = strlen(j1);
  journal_commit c;
  memset(&c, 0, sizeof(c));
  c.events = ev;
  c.n = 2;
  c.done = jh_on_commit;
  jh_done = 0;
  CHECK_EQ_INT(journal_submit(j, &c), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(c.status, 0);
  CHECK_EQ_INT(c.accepted, 1);
  CHECK_EQ_INT(c.duplicates, 1);
  journal_get_stats(j, &s);
  CHECK_EQ_INT(s.next_seq, 14);
  jh_close(&loop, j);

  CHECK_EQ_INT(sql_int(path, "PRAGMA user_version"), JOURNAL_SCHEMA_VERSION);
  CHECK_EQ_INT(sql_int(path, "PRAGMA application_id"), JOURNAL_APPLICATION_ID);
  CHECK_EQ_INT(sql_int(path, "SELECT count(*) FROM meta WHERE writer_version <> ''"), 1);
  CHECK_EQ_INT(sql_int(path, "SELECT count(*) FROM dead_letter WHERE seq = 2"), 1);

  /* reopening the migrated journal migrates nothing */
  CHECK_EQ_INT(journal_open(&loop, &o, &j, err, sizeof(err)), 0);
  if (j) {
    journal_get_stats(j, &s);
    CHECK_EQ_INT(s.migrated_from, 0);
    CHECK_EQ_INT(s.backlog, 9);
    jh_close(&loop, j);
  }
}

/* A new journal is created at the current version with ferry's id. */
static void test_fresh_is_current(void) {
  char path[400];
  jh_new_path(tmpdir, &case_no, path, sizeof(path));
  journal_opts o = jh_opts(path, "agent-1", "machine-1");
  journal *j = NULL;
  char err[256] = "";
  CHECK_EQ_INT(journal_open(&loop, &o, &j, err, sizeof(err)), 0);
  if (j) jh_close(&loop, j);
  CHECK_EQ_INT(sql_int(path, "PRAGMA user_version"), JOURNAL_SCHEMA_VERSION);
  CHECK_EQ_INT(sql_int(path, "PRAGMA application_id"), JOURNAL_APPLICATION_ID);
}

/* Some other program's SQLite file at the journal path, with a high
 * user_version and no ferry application id: quarantined (a fresh journal
 * starts), not mistaken for a newer journal. With ferry's id and a newer
 * version: -EPROTO and the file untouched. */
static void test_foreign_and_newer(void) {
  char path[400], qdir[420];
  jh_new_path(tmpdir, &case_no, path, sizeof(path));
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, "CREATE TABLE meta(x); PRAGMA user_version=7", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  journal_opts o = jh_opts(path, "agent-1", "machine-1");
  journal *j = NULL;
  char err[256] = "";
  CHECK_EQ_INT(journal_open(&loop, &o, &j, err, sizeof(err)), 0);
  if (j) {
    journal_stats s;
    journal_get_stats(j, &s);
    CHECK_EQ_INT(s.quarantined, 1);
    CHECK(strstr(s.quarantine_reason, "not a ferry journal") != NULL);
    jh_close(&loop, j);
  }
  snprintf(qdir, sizeof(qdir), "%.*s/quarantine", (int)(strrchr(path, '/') - path), path);
  CHECK_EQ_INT(count_dir(qdir), 1);

  /* the journal just made, marked as from a newer agent */
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(
      sqlite3_exec(db, "PRAGMA user_version=9; UPDATE meta SET writer_version='9.0.0'", NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);
  struct stat before, after;
  CHECK_EQ_INT(stat(path, &before), 0);
  j = NULL;
  CHECK_EQ_INT(journal_open(&loop, &o, &j, err, sizeof(err)), -EPROTO);
  CHECK(j == NULL);
  CHECK(strstr(err, "9.0.0") != NULL);
  CHECK_EQ_INT(stat(path, &after), 0);
  CHECK(before.st_mtime == after.st_mtime && before.st_size == after.st_size);
  CHECK_EQ_INT(count_dir(qdir), 1);
}

/* --max-wal-bytes: a burst of concurrent ingest requests (group commits of
 * many requests) never leaves the WAL file past the bound. */
static size_t wal_peak;
static char wal_path[420];
static volatile int watch_stop;

/* Sample the WAL file's size while the worker writes (a checkpoint after
 * each group truncates it, so the peak is only visible during a group). */
static void wal_watch(void *arg) {
  (void)arg;
  while (!watch_stop) {
    struct stat sb;
    if (stat(wal_path, &sb) == 0 && (size_t)sb.st_size > wal_peak) wal_peak = (size_t)sb.st_size;
    usleep(50);
  }
}

static void test_wal_bound(void) {
  char path[400];
  jh_new_path(tmpdir, &case_no, path, sizeof(path));
  snprintf(wal_path, sizeof(wal_path), "%s-wal", path);
  journal_opts o = jh_opts(path, "agent-1", "machine-1");
  o.max_wal_bytes = 1 << 20; /* 1 MiB */
  journal *j = NULL;
  char err[256] = "";
  CHECK_EQ_INT(journal_open(&loop, &o, &j, err, sizeof(err)), 0);
  if (!j) return;
  enum { REQS = 200, PER = 20, PAD = 900 };
  ev_event *evs = calloc(REQS * PER, sizeof(ev_event));
  journal_commit *cs = calloc(REQS, sizeof(journal_commit));
  for (int i = 0; i < REQS * PER; i++) {
    char *js = NULL;
    if (asprintf(&js, "{\"event_id\":\"w-%d\",\"note\":\"%0*d\"}", i, PAD, i) < 0) abort();
    evs[i].json = js;
    evs[i].json_len = strlen(js);
    evs[i].event_id = NULL;
  }
  /* ~3.6 MiB of events queued at once: the worker takes them in groups */
  journal_test_hold(j, true);
  jh_done = 0;
  for (int r = 0; r < REQS; r++) {
    cs[r].events = evs + r * PER;
    cs[r].n = PER;
    cs[r].done = jh_on_commit;
    CHECK_EQ_INT(journal_submit(j, &cs[r]), 0);
  }
  uv_thread_t watcher;
  watch_stop = 0;
  CHECK_EQ_INT(uv_thread_create(&watcher, wal_watch, NULL), 0);
  journal_test_hold(j, false);
  jh_wait_done(&loop, REQS);
  watch_stop = 1;
  uv_thread_join(&watcher);
  for (int r = 0; r < REQS; r++) CHECK_EQ_INT(cs[r].status, 0);
  journal_stats s;
  journal_get_stats(j, &s);
  CHECK_EQ_INT(s.backlog, REQS * PER);
  CHECK(s.commit_groups > 1);
  fprintf(stderr, "wal peak %zu bytes (bound %d), %lld groups\n", wal_peak, 1 << 20,
          (long long)s.commit_groups);
  CHECK(wal_peak <= (size_t)o.max_wal_bytes);
  CHECK(s.wal_bytes <= o.max_wal_bytes);
  jh_close(&loop, j);
  for (int i = 0; i < REQS * PER; i++) free(evs[i].json);
  free(evs);
  free(cs);
}

int main(void) {
  if (jh_mkdtemp(tmpdir, sizeof(tmpdir), "jschema") < 0) return 1;
  uv_loop_init(&loop);
  test_migrate_v1();
  test_fresh_is_current();
  test_foreign_and_newer();
  test_wal_bound();
  uv_loop_close(&loop);
  jh_rmtree(tmpdir);
  return check_finish("test_agent_journal_schema");
}
