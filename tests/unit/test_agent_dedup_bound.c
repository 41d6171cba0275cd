/* test_agent_dedup_bound: the journal's in-memory event_id table has a hard
 * memory bound; a backlog past it must still never take a pending event_id
 * twice. With the smallest bound (~5,000-7,000 events) this drives the journal
 * across the bound inside a group commit, through a reopen while over it,
 * and back under it as batches are acknowledged — checking duplicates are
 * caught (committed rows, rows of the same transaction, rows of the same
 * request) in every phase and that acknowledged ids are accepted again; and
 * that a drained backlog gives the table's memory back (to the kernel too), and that the SQLite
 * page cache is the larger one only while the index answers, and that making
 * the index does not sort every pending id in memory. With a larger bound
 * it checks the table stays compact (at most ~12 bytes per pending id) while
 * its 64 segments each grow, sweep and shrink on their own, across a reopen,
 * without losing an id. Two ids whose fingerprints collide are two events:
 * a fingerprint hit is only a candidate, confirmed against the journal. */
#define _GNU_SOURCE
#include "check.h"
#include "footprint.h"
#include "journal.h"
#include "journal_harness.h"
#include "journal_int.h" /* journal__id_hash, journal__filt_slot: to find colliding ids */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uv_loop_t loop;
static char tmpdir[256];


/* Submit k requests at once (one group commit while the worker is held) and
 * wait for all; returns the summed accepted/duplicates. */
static void commit_many(journal *j, ev_event **evs, const size_t *n, size_t k, size_t *acc, size_t *dup) {
  journal_commit *c = calloc(k, sizeof(journal_commit));
  jh_done = 0;
  journal_test_hold(j, true);
  for (size_t i = 0; i < k; i++) {
    c[i].events = evs[i];
    c[i].n = n[i];
    c[i].done = jh_on_commit;
    CHECK_EQ_INT(journal_submit(j, &c[i]), 0);
  }
  journal_test_hold(j, false);
  jh_wait_done(&loop, (int)k);
  *acc = *dup = 0;
  for (size_t i = 0; i < k; i++) {
    CHECK_EQ_INT(c[i].status, 0);
    *acc += c[i].accepted;
    *dup += c[i].duplicates;
  }
  free(c);
}

static void commit_ids(journal *j, const char *prefix, int base, size_t n, size_t *acc, size_t *dup) {
  ev_event *evs = jh_make_events(n, prefix, base, JH_NO_NOTE);
  commit_many(j, &evs, &n, 1, acc, dup);
  jh_free_events(evs, n);
}


static journal *open_j_bound(const char *path, int64_t dedup_max_bytes) {
  journal_opts o = jh_opts(path, "agent-1", "machine-1");
  o.max_journal_bytes = 256 << 20;
  o.max_wal_bytes = 16 << 20;
  o.dedup_max_bytes = dedup_max_bytes;
  journal *j = jh_open(&loop, &o);
  CHECK(j != NULL);
  return j;
}

/* the smallest table: 8192 slots, ~6,900 events while filling (85%), ~4,900 at a reopen (60%) */
static journal *open_j(const char *path) { return open_j_bound(path, 1); }


/* Acknowledge the oldest batch of up to n events; returns how many. */
static size_t ack_oldest(journal *j, size_t n) {
  journal_batch b;
  memset(&b, 0, sizeof(b));
  b.max_events = n;
  b.max_bytes = 4 << 20;
  b.codec = CODEC_IDENTITY;
  b.done = jh_on_batch;
  jh_done = 0;
  CHECK_EQ_INT(journal_read_batch(j, &b), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(b.status, 0);
  journal_ack a;
  memset(&a, 0, sizeof(a));
  a.batch = &b;
  a.done = jh_on_ack;
  jh_done = 0;
  CHECK_EQ_INT(journal_apply_ack(j, &a), 0);
  jh_wait_done(&loop, 1);
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
  journal_stats s = jh_stats(j);
  CHECK(!s.dedup_sql);
  CHECK(s.dedup_bytes > 0 && s.dedup_bytes <= 8192 * 8);
  CHECK(CACHE_SQL_DEDUP_KIB > CACHE_KIB);
  CHECK_EQ_INT(s.cache_bytes, CACHE_KIB * 1024); /* the small page cache while the table answers */

  /* one group commit crosses the bound: the first request passes it, the
   * second repeats ids of committed rows and of the first request, and
   * repeats one of its own ids */
  ev_event *e1 = jh_make_events(4000, "a-", 3000, JH_NO_NOTE); /* a-3000..6999, new */
  ev_event *e2 = jh_make_events(40, "a-", 6980, JH_NO_NOTE);   /* a-6980..7019: 20 dup of e1, 20 new */
  ev_event *e3 = jh_make_events(10, "a-", 0, JH_NO_NOTE);      /* committed before: all dup */
  ev_event *e4 = jh_make_events(2, "c-", 0, JH_NO_NOTE);
  free(e4[1].event_id);
  free(e4[1].json);
  ev_event *tmp = jh_make_events(1, "c-", 0, JH_NO_NOTE); /* c-0 twice in one request */
  e4[1] = tmp[0];
  free(tmp);
  ev_event *list[] = {e1, e2, e3, e4};
  size_t ns[] = {4000, 40, 10, 2};
  commit_many(j, list, ns, 4, &acc, &dup);
  CHECK_EQ_INT(acc, 4000 + 20 + 0 + 1);
  CHECK_EQ_INT(dup, 20 + 10 + 1);
  jh_free_events(e1, 4000);
  jh_free_events(e2, 40);
  jh_free_events(e3, 10);
  jh_free_events(e4, 2);
  s = jh_stats(j);
  CHECK(s.dedup_sql);
  CHECK_EQ_INT(s.dedup_bytes, 0);
  CHECK_EQ_INT(s.backlog, 7021);
  CHECK_EQ_INT(s.cache_bytes, CACHE_SQL_DEDUP_KIB * 1024); /* the index's lookups get the larger cache */

  /* over the bound: every pending id is refused, old and new */
  commit_ids(j, "a-", 0, 100, &acc, &dup);
  CHECK_EQ_INT(acc, 0);
  CHECK_EQ_INT(dup, 100);
  commit_ids(j, "a-", 6990, 40, &acc, &dup); /* 30 pending, 10 new */
  CHECK_EQ_INT(acc, 10);
  CHECK_EQ_INT(dup, 30);
  commit_ids(j, "c-", 0, 1, &acc, &dup);
  CHECK_EQ_INT(dup, 1);

  /* a reopen while over the bound keeps deduplicating by SQL */
  jh_close(&loop, j);
  j = open_j(path);
  if (!j) return;
  s = jh_stats(j);
  CHECK(s.dedup_sql);
  CHECK_EQ_INT(s.backlog, 7031);
  CHECK_EQ_INT(s.cache_bytes, CACHE_SQL_DEDUP_KIB * 1024);
  commit_ids(j, "a-", 1000, 50, &acc, &dup);
  CHECK_EQ_INT(dup, 50);

  /* acknowledge until the backlog fits half the bound: back to the table */
  size_t acked = 0;
  while (jh_stats(j).dedup_sql && acked < 7031) acked += ack_oldest(j, 500);
  s = jh_stats(j);
  CHECK(!s.dedup_sql);
  CHECK(s.dedup_bytes > 0 && s.dedup_bytes <= 8192 * 8);
  CHECK(s.dedup_switches >= 1);
  CHECK(s.backlog * 2 <= 8192 * 6 / 10);
  CHECK_EQ_INT(s.cache_bytes, CACHE_KIB * 1024);
  /* the rebuilt table knows the pending ids; acknowledged ones are new again */
  commit_ids(j, "a-", 6000, 20, &acc, &dup);
  CHECK_EQ_INT(acc, 0);
  CHECK_EQ_INT(dup, 20);
  commit_ids(j, "a-", 0, 100, &acc, &dup);
  CHECK_EQ_INT(acc, 100);
  CHECK_EQ_INT(dup, 0);
  jh_close(&loop, j);
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
  int64_t big = jh_stats(j).dedup_bytes;
  CHECK(big >= 20000 * 8);
  size_t acked = 0;
  while (acked < 19990) acked += ack_oldest(j, 19990 - acked < 1000 ? 19990 - acked : 1000);
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.backlog, 10);
  CHECK(s.dedup_bytes * 4 <= big);
  commit_ids(j, "s-", 19990, 10, &acc, &dup); /* still pending */
  CHECK_EQ_INT(dup, 10);
  commit_ids(j, "s-", 0, 10, &acc, &dup); /* acknowledged: new again */
  CHECK_EQ_INT(acc, 10);
  jh_close(&loop, j);
}

#if defined(__SANITIZE_ADDRESS__)
#define DEDUP_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DEDUP_TEST_ASAN 1
#endif
#endif

#if defined(__GLIBC__) && !defined(DEDUP_TEST_ASAN)
static long rss_anon_kib(void) { return jh_status_kib("RssAnon"); }

/* Start VmHWM afresh at the current RSS (Linux ≥ 4.0); false if refused. */
static bool reset_hwm(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  bool ok = fputs("5", f) >= 0;
  return fclose(f) == 0 && ok;
}
#endif

/* A drained backlog gives the table's pages back to the kernel, not only to
 * malloc: its segments (below the mmap threshold at this size) sit in
 * malloc's heap between blocks still in use, so the shrink trims the heap.
 * malloc is set up as the agent's main() does (footprint_apply). Resident
 * memory is glibc's business: skipped elsewhere and under ASan (its own
 * allocator). */
static void test_shrink_returns_pages(void) {
#if defined(__GLIBC__) && !defined(DEDUP_TEST_ASAN)
  char path[400];
  snprintf(path, sizeof(path), "%s/trim.db", tmpdir);
  journal *j = open_j_bound(path, 16 << 20);
  if (!j) return;
  size_t acc, dup;
  for (int k = 0; k < 30; k++) {
    commit_ids(j, "t-", k * 10000, 10000, &acc, &dup);
    CHECK_EQ_INT(acc, 10000);
  }
  int64_t big = jh_stats(j).dedup_bytes;
  CHECK(big >= 300000 * 9);
  long before = rss_anon_kib();
  size_t acked = 0;
  while (acked < 299990) acked += ack_oldest(j, 299990 - acked < 10000 ? 299990 - acked : 10000);
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.backlog, 10);
  CHECK(s.dedup_bytes * 4 <= big);
  long after = rss_anon_kib();
  /* at least half the table's bytes left the process */
  CHECK(before > 0 && after > 0);
  CHECK((before - after) * 1024 >= big / 2);
  if ((before - after) * 1024 < big / 2)
    fprintf(stderr, "RssAnon %ld -> %ld KiB, table was %lld bytes\n", before, after, (long long)big);
  jh_close(&loop, j);
#endif
}

/* The switch to SQL dedup sorts every pending id into the new index: that
 * sort spills to temporary files past the page cache instead of holding
 * all the ids in memory (the connection's temp_store is MEMORY). ~220,000
 * ids of ~55 bytes sorted in memory peaked ~20 MiB above the RSS before the
 * crossing commit, ~4 MiB spilling; the bound here is 8 MiB. */
static void test_switch_sort_bounded(void) {
#if defined(__GLIBC__) && !defined(DEDUP_TEST_ASAN)
  char path[400];
  snprintf(path, sizeof(path), "%s/sort.db", tmpdir);
  journal *j = open_j_bound(path, 2 << 20); /* 262,144 slots: SQL past ~220,000 ids */
  if (!j) return;
  const char *prefix = "sort-0123456789abcdef0123456789abcdef0123456789-";
  size_t acc, dup;
  long growth = -1;
  for (int k = 0; k < 40 && !jh_stats(j).dedup_sql; k++) {
    long before = jh_status_kib("VmRSS");
    bool fresh = reset_hwm();
    commit_ids(j, prefix, k * 10000, 10000, &acc, &dup);
    CHECK_EQ_INT(acc, 10000);
    if (jh_stats(j).dedup_sql && fresh) growth = jh_status_kib("VmHWM") - before;
  }
  CHECK(jh_stats(j).dedup_sql);
  if (growth >= 0) {
    CHECK(growth < 8192);
    if (growth >= 8192)
      fprintf(stderr, "the switch to SQL dedup peaked %ld KiB above the RSS before it\n", growth);
  }
  commit_ids(j, prefix, 0, 1000, &acc, &dup); /* the index dedups */
  CHECK_EQ_INT(dup, 1000);
  jh_close(&loop, j);
#endif
}

/* The table's memory per pending id, and every segment's rebuilds keep
 * every pending id and drop acknowledged ones. */
static void test_compact_segments(void) {
  char path[400];
  snprintf(path, sizeof(path), "%s/compact.db", tmpdir);
  journal *j = open_j_bound(path, 16 << 20);
  if (!j) return;
  size_t acc, dup, total = 0;
  double per_id_sum = 0;
  /* 60,000 ids in requests of 1,000: each segment (~940 ids) rebuilds
   * several times as it grows */
  for (int k = 0; k < 60; k++) {
    commit_ids(j, "k-", k * 1000, 1000, &acc, &dup);
    CHECK_EQ_INT(acc, 1000);
    total += acc;
    journal_stats s = jh_stats(j);
    /* 8-byte slots, a segment is never rebuilt past 3/2 slots per id and
     * never more than 85% full: between 9.4 and 12 bytes per id (plus the
     * 64-slot floor of each segment) */
    CHECK(s.dedup_bytes * 100 >= (int64_t)total * 8 * 100 / 85);
    CHECK(s.dedup_bytes <= (int64_t)total * 12 + 64 * 64 * 8 + 64 * 16 * 8);
    if (k >= 9) per_id_sum += (double)s.dedup_bytes / (double)total;
  }
  /* on average (the segments pass their growth points at about the same
   * time with evenly spread ids) ~10.5 bytes per id: 8 / the mean fill */
  CHECK(per_id_sum / 51 <= 11.5);
  /* every id pending, whichever segment holds it */
  for (int k = 0; k < 60; k += 7) {
    commit_ids(j, "k-", k * 1000 + 13, 500, &acc, &dup);
    CHECK_EQ_INT(acc, 0);
    CHECK_EQ_INT(dup, 500);
  }
  /* a reopen loads the same ids into a table of the same shape */
  jh_close(&loop, j);
  j = open_j_bound(path, 16 << 20);
  if (!j) return;
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.backlog, 60000);
  CHECK(!s.dedup_sql);
  CHECK(s.dedup_bytes <= 60000 * 12 + 64 * 64 * 8 + 64 * 16 * 8);
  commit_ids(j, "k-", 59000, 1000, &acc, &dup);
  CHECK_EQ_INT(dup, 1000);
  /* acknowledge 40,000: the stale slots are swept as segments fill again */
  size_t acked = 0;
  while (acked < 40000) acked += ack_oldest(j, 1000);
  CHECK_EQ_INT(acked, 40000);
  commit_ids(j, "k-", 0, 2000, &acc, &dup); /* acknowledged: new again */
  CHECK_EQ_INT(acc, 2000);
  for (int k = 60; k < 100; k++) {
    commit_ids(j, "k-", k * 1000, 1000, &acc, &dup);
    CHECK_EQ_INT(acc, 1000);
  }
  s = jh_stats(j);
  CHECK_EQ_INT(s.backlog, 62000);
  CHECK(s.dedup_bytes <= 62000 * 12 + 64 * 64 * 8 + 64 * 16 * 8);
  commit_ids(j, "k-", 40000, 1000, &acc, &dup); /* still pending */
  CHECK_EQ_INT(dup, 1000);
  commit_ids(j, "k-", 99500, 1000, &acc, &dup); /* 500 pending, 500 new */
  CHECK_EQ_INT(dup, 500);
  CHECK_EQ_INT(acc, 500);
  jh_close(&loop, j);
}

typedef struct fp_id {
  uint64_t fp;
  int n;
} fp_id;

static int cmp_fp(const void *a, const void *b) {
  const fp_id *x = a, *y = b;
  if (x->fp != y->fp) return x->fp < y->fp ? -1 : 1;
  return x->n - y->n;
}

/* Two ids "c-A" and "c-B" whose table fingerprints are equal (so they also
 * share a segment and a home slot): found by birthday search over 300,000
 * ids (~20 such pairs expected among 31-bit fingerprints). */
static int colliding_pair(int *a, int *b) {
  const int n = 300000;
  fp_id *v = malloc(sizeof(*v) * (size_t)n);
  if (!v) return -1;
  char id[32];
  for (int i = 0; i < n; i++) {
    int len = snprintf(id, sizeof(id), "c-%d", i);
    v[i].fp = journal__filt_slot(journal__id_hash(id, (size_t)len), 0) >> 32;
    v[i].n = i;
  }
  qsort(v, (size_t)n, sizeof(*v), cmp_fp);
  int found = -1;
  for (int i = 1; i < n && found < 0; i++)
    if (v[i].fp == v[i - 1].fp) {
      *a = v[i - 1].n;
      *b = v[i].n;
      found = 0;
    }
  free(v);
  return found;
}

/* A colliding fingerprint is never taken for a duplicate: the second id is
 * accepted (alone, in the same request, in the same group commit, after a
 * reopen that reloads the table), and each stays deduplicated against itself. */
static void test_fingerprint_collision(void) {
  int a = -1, b = -1;
  CHECK_EQ_INT(colliding_pair(&a, &b), 0);
  if (a < 0) return;
  char ida[32], idb[32];
  snprintf(ida, sizeof(ida), "c-%d", a);
  snprintf(idb, sizeof(idb), "c-%d", b);
  CHECK(strcmp(ida, idb) != 0);
  CHECK_EQ_INT((long long)(journal__filt_slot(journal__id_hash(ida, strlen(ida)), 1) >> 32),
               (long long)(journal__filt_slot(journal__id_hash(idb, strlen(idb)), 2) >> 32));
  char path[400];
  snprintf(path, sizeof(path), "%s/collide.db", tmpdir);
  journal *j = open_j_bound(path, 16 << 20);
  if (!j) return;
  size_t acc, dup;
  commit_ids(j, "c-", a, 1, &acc, &dup);
  CHECK_EQ_INT(acc, 1);
  commit_ids(j, "c-", b, 1, &acc, &dup); /* same fingerprint, another id */
  CHECK_EQ_INT(acc, 1);
  CHECK_EQ_INT(dup, 0);
  commit_ids(j, "c-", a, 1, &acc, &dup);
  CHECK_EQ_INT(dup, 1);
  commit_ids(j, "c-", b, 1, &acc, &dup);
  CHECK_EQ_INT(dup, 1);
  /* after a reopen (the table rebuilt from the journal) */
  jh_close(&loop, j);
  j = open_j_bound(path, 16 << 20);
  if (!j) return;
  commit_ids(j, "c-", b, 1, &acc, &dup);
  CHECK_EQ_INT(dup, 1);
  CHECK_EQ_INT(jh_stats(j).backlog, 2);
  jh_close(&loop, j);
  /* both in one request, then both in one group commit of two requests, on
   * a fresh journal: the second is checked against the first's row of the
   * running transaction */
  for (int round = 0; round < 2; round++) {
    snprintf(path, sizeof(path), "%s/collide-%d.db", tmpdir, round);
    j = open_j_bound(path, 16 << 20);
    if (!j) return;
    ev_event *ea = jh_make_events(1, "c-", a, JH_NO_NOTE), *eb = jh_make_events(1, "c-", b, JH_NO_NOTE);
    if (round == 0) {
      ev_event pair[2] = {ea[0], eb[0]};
      ev_event *p = pair;
      size_t n = 2;
      commit_many(j, &p, &n, 1, &acc, &dup);
    } else {
      ev_event *reqs[2] = {ea, eb};
      size_t ns[2] = {1, 1};
      commit_many(j, reqs, ns, 2, &acc, &dup);
    }
    CHECK_EQ_INT(acc, 2);
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(jh_stats(j).backlog, 2);
    jh_free_events(ea, 1);
    jh_free_events(eb, 1);
    jh_close(&loop, j);
  }
}

int main(void) {
  footprint_apply(); /* malloc set up as in the agent (test_shrink_returns_pages) */
  if (jh_mkdtemp(tmpdir, sizeof(tmpdir), "dedup-test") < 0) return 1;
  uv_loop_init(&loop);
  test_over_and_back();
  test_shrink_after_drain();
  test_shrink_returns_pages();
  test_switch_sort_bounded();
  test_compact_segments();
  test_fingerprint_collision();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  jh_rmtree(tmpdir);
  return check_finish("test_agent_dedup_bound");
}
