/* test_agent_dedup_bound: the journal's in-memory event_id table has a hard
 * memory bound; a backlog past it must still never take a pending event_id
 * twice. With the smallest bound (~5,000 events) this drives the journal
 * across the bound inside a group commit, through a reopen while over it,
 * and back under it as batches are acknowledged — checking duplicates are
 * caught (committed rows, rows of the same transaction, rows of the same
 * request) in every phase and that acknowledged ids are accepted again; and
 * that a drained backlog gives the table's memory back. */
#define _GNU_SOURCE
#include "check.h"
#include "journal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uv_loop_t loop;
static char tmpdir[256];
static int done_count;

static void on_commit(journal_commit *c) {
  (void)c;
  done_count++;
}
static void on_batch(journal_batch *b) {
  (void)b;
  done_count++;
}
static void on_ack(journal_ack *a) {
  (void)a;
  done_count++;
}

static void wait_done(int want) {
  while (done_count < want) uv_run(&loop, UV_RUN_ONCE);
}

/* n events with ids "<prefix><base + i>" */
static ev_event *make_events(size_t n, const char *prefix, int base) {
  ev_event *evs = calloc(n, sizeof(ev_event));
  for (size_t i = 0; i < n; i++) {
    char id[64];
    snprintf(id, sizeof(id), "%s%d", prefix, base + (int)i);
    evs[i].event_id = strdup(id);
    if (asprintf(&evs[i].json,
                 "{\"event_id\":\"%s\",\"timestamp\":\"2026-03-01T08:00:00.000Z\","
                 "\"event_type\":\"working\",\"worker_id\":\"w1\",\"workstation_id\":\"s1\"}",
                 id) < 0)
      abort();
    evs[i].json_len = strlen(evs[i].json);
    evs[i].type = EV_WORKING;
  }
  return evs;
}

static void free_events(ev_event *evs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(evs[i].event_id);
    free(evs[i].json);
  }
  free(evs);
}

/* Submit k requests at once (one group commit while the worker is held) and
 * wait for all; returns the summed accepted/duplicates. */
static void commit_many(journal *j, ev_event **evs, const size_t *n, size_t k, size_t *acc, size_t *dup) {
  journal_commit *c = calloc(k, sizeof(journal_commit));
  done_count = 0;
  journal_test_hold(j, true);
  for (size_t i = 0; i < k; i++) {
    c[i].events = evs[i];
    c[i].n = n[i];
    c[i].done = on_commit;
    CHECK_EQ_INT(journal_submit(j, &c[i]), 0);
  }
  journal_test_hold(j, false);
  wait_done((int)k);
  *acc = *dup = 0;
  for (size_t i = 0; i < k; i++) {
    CHECK_EQ_INT(c[i].status, 0);
    *acc += c[i].accepted;
    *dup += c[i].duplicates;
  }
  free(c);
}

static void commit_ids(journal *j, const char *prefix, int base, size_t n, size_t *acc, size_t *dup) {
  ev_event *evs = make_events(n, prefix, base);
  commit_many(j, &evs, &n, 1, acc, dup);
  free_events(evs, n);
}

static journal_stats stats(journal *j) {
  journal_stats s;
  journal_get_stats(j, &s);
  return s;
}

static journal *open_j_bound(const char *path, int64_t dedup_max_bytes) {
  journal_opts o = {0};
  o.path = path;
  o.agent_id = "agent-1";
  o.machine_id = "machine-1";
  o.max_journal_bytes = 256 << 20;
  o.max_wal_bytes = 16 << 20;
  o.max_dead_letter_bytes = 1 << 20;
  o.dedup_max_bytes = dedup_max_bytes;
  journal *j = NULL;
  char err[256] = "";
  int r = journal_open(&loop, &o, &j, err, sizeof(err));
  if (r) fprintf(stderr, "journal_open: %d %s\n", r, err);
  CHECK_EQ_INT(r, 0);
  return j;
}

/* the smallest table: 8192 slots, ~4,900 events */
static journal *open_j(const char *path) { return open_j_bound(path, 1); }

static void close_j(journal *j) {
  journal_close(j);
  uv_run(&loop, UV_RUN_DEFAULT);
}

/* Acknowledge the oldest batch of up to n events; returns how many. */
static size_t ack_oldest(journal *j, size_t n) {
  journal_batch b;
  memset(&b, 0, sizeof(b));
  b.max_events = n;
  b.max_bytes = 4 << 20;
  b.codec = CODEC_IDENTITY;
  b.done = on_batch;
  done_count = 0;
  CHECK_EQ_INT(journal_read_batch(j, &b), 0);
  wait_done(1);
  CHECK_EQ_INT(b.status, 0);
  journal_ack a;
  memset(&a, 0, sizeof(a));
  a.batch = &b;
  a.done = on_ack;
  done_count = 0;
  CHECK_EQ_INT(journal_apply_ack(j, &a), 0);
  wait_done(1);
  CHECK_EQ_INT(a.status, 0);
  size_t got = b.n_events;
  journal_batch_clear(&b);
  return got;
}

static void test_over_and_back(void) {
  char path[400];
  snprintf(path, sizeof(path), "%s/journal.db", tmpdir);
  journal *j = open_j(path);
  if (!j) return;
  size_t acc, dup;

  /* under the bound: the table */
  commit_ids(j, "a-", 0, 3000, &acc, &dup);
  CHECK_EQ_INT(acc, 3000);
  journal_stats s = stats(j);
  CHECK(!s.dedup_sql);
  CHECK(s.dedup_bytes > 0 && s.dedup_bytes <= 8192 * 8);

  /* one group commit crosses the bound: the first request passes it, the
   * second repeats ids of committed rows and of the first request, and
   * repeats one of its own ids */
  ev_event *e1 = make_events(3000, "a-", 3000); /* a-3000..5999, new */
  ev_event *e2 = make_events(40, "a-", 5980);   /* a-5980..6019: 20 dup of e1, 20 new */
  ev_event *e3 = make_events(10, "a-", 0);      /* committed before: all dup */
  ev_event *e4 = make_events(2, "c-", 0);
  free(e4[1].event_id);
  free(e4[1].json);
  ev_event *tmp = make_events(1, "c-", 0); /* c-0 twice in one request */
  e4[1] = tmp[0];
  free(tmp);
  ev_event *list[] = {e1, e2, e3, e4};
  size_t ns[] = {3000, 40, 10, 2};
  commit_many(j, list, ns, 4, &acc, &dup);
  CHECK_EQ_INT(acc, 3000 + 20 + 0 + 1);
  CHECK_EQ_INT(dup, 20 + 10 + 1);
  free_events(e1, 3000);
  free_events(e2, 40);
  free_events(e3, 10);
  free_events(e4, 2);
  s = stats(j);
  CHECK(s.dedup_sql);
  CHECK_EQ_INT(s.dedup_bytes, 0);
  CHECK_EQ_INT(s.backlog, 6021);

  /* over the bound: every pending id is refused, old and new */
  commit_ids(j, "a-", 0, 100, &acc, &dup);
  CHECK_EQ_INT(acc, 0);
  CHECK_EQ_INT(dup, 100);
  commit_ids(j, "a-", 5990, 40, &acc, &dup); /* 30 pending, 10 new */
  CHECK_EQ_INT(acc, 10);
  CHECK_EQ_INT(dup, 30);
  commit_ids(j, "c-", 0, 1, &acc, &dup);
  CHECK_EQ_INT(dup, 1);

  /* a reopen while over the bound keeps deduplicating by SQL */
  close_j(j);
  j = open_j(path);
  if (!j) return;
  s = stats(j);
  CHECK(s.dedup_sql);
  CHECK_EQ_INT(s.backlog, 6031);
  commit_ids(j, "a-", 1000, 50, &acc, &dup);
  CHECK_EQ_INT(dup, 50);

  /* acknowledge until the backlog fits half the bound: back to the table */
  size_t acked = 0;
  while (stats(j).dedup_sql && acked < 6031) acked += ack_oldest(j, 500);
  s = stats(j);
  CHECK(!s.dedup_sql);
  CHECK(s.dedup_bytes > 0 && s.dedup_bytes <= 8192 * 8);
  CHECK(s.dedup_switches >= 1);
  CHECK(s.backlog * 2 <= 8192 * 6 / 10);
  /* the rebuilt table knows the pending ids; acknowledged ones are new again */
  commit_ids(j, "a-", 6000, 20, &acc, &dup);
  CHECK_EQ_INT(acc, 0);
  CHECK_EQ_INT(dup, 20);
  commit_ids(j, "a-", 0, 100, &acc, &dup);
  CHECK_EQ_INT(acc, 100);
  CHECK_EQ_INT(dup, 0);
  close_j(j);
}

/* A drained backlog gives its table's memory back; pending ids stay known. */
static void test_shrink_after_drain(void) {
  char path[400];
  snprintf(path, sizeof(path), "%s/shrink.db", tmpdir);
  journal *j = open_j_bound(path, 16 << 20);
  if (!j) return;
  size_t acc, dup;
  commit_ids(j, "s-", 0, 20000, &acc, &dup);
  CHECK_EQ_INT(acc, 20000);
  int64_t big = stats(j).dedup_bytes;
  CHECK(big >= 20000 * 8);
  size_t acked = 0;
  while (acked < 19990) acked += ack_oldest(j, 19990 - acked < 1000 ? 19990 - acked : 1000);
  journal_stats s = stats(j);
  CHECK_EQ_INT(s.backlog, 10);
  CHECK(s.dedup_bytes * 4 <= big);
  commit_ids(j, "s-", 19990, 10, &acc, &dup); /* still pending */
  CHECK_EQ_INT(dup, 10);
  commit_ids(j, "s-", 0, 10, &acc, &dup); /* acknowledged: new again */
  CHECK_EQ_INT(acc, 10);
  close_j(j);
}

int main(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/ferry-dedup-test-XXXXXX");
  if (!mkdtemp(tmpdir)) {
    perror("mkdtemp");
    return 1;
  }
  uv_loop_init(&loop);
  test_over_and_back();
  test_shrink_after_drain();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  if (!getenv("FERRY_KEEP_TMP")) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
  return check_finish("test_agent_dedup_bound");
}
