/* test_agent_journal: the journal's promises, proven against a real SQLite
 * file — contiguous seqs, dedup, group commit with one failing request, upload
 * bodies, acks, dead-letter, overflow policies, crash recovery, schema version
 * and quarantine. Events are built by hand (no validator involved); a uv loop
 * receives the completions. Nothing here asserts on time. */
#define _GNU_SOURCE
#include "check.h"
#include "codec.h"
#include "journal.h"
#include "journal_harness.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static uv_loop_t loop;

/* The page size a journal file was created with (its header, bytes 16-17). */
static long file_page_size(const char *path) {
  unsigned char h[18] = {0};
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  if (!f) return 4096;
  CHECK(fread(h, 1, sizeof(h), f) == sizeof(h));
  fclose(f);
  long ps = (long)h[16] << 8 | h[17];
  return ps == 1 ? 65536 : ps;
}
static char tmpdir[256];
static int case_no;

/* --- helpers ---------------------------------------------------------------- */


static void new_path(char *out, size_t n) { jh_new_path(tmpdir, &case_no, out, n); }
static journal_opts default_opts(const char *path) { return jh_opts(path, "agent-1", "machine-1"); }

static journal *open_j(const journal_opts *o) {
  journal *j = jh_open(&loop, o);
  CHECK(j != NULL);
  return j;
}


/* Commit one request and wait; returns status, fills accepted/duplicates. */
static int commit(journal *j, ev_event *evs, size_t n, size_t *acc, size_t *dup) {
  journal_commit c;
  memset(&c, 0, sizeof(c));
  c.events = evs;
  c.n = n;
  c.done = jh_on_commit;
  jh_done = 0;
  int r = journal_submit(j, &c);
  CHECK_EQ_INT(r, 0);
  if (r) return r;
  jh_wait_done(&loop, 1);
  if (acc) *acc = c.accepted;
  if (dup) *dup = c.duplicates;
  return c.status;
}

static void read_batch(journal *j, journal_batch *b, size_t max_events, size_t max_bytes, codec_t codec) {
  memset(b, 0, sizeof(*b));
  b->max_events = max_events;
  b->max_bytes = max_bytes;
  b->codec = codec;
  b->done = jh_on_batch;
  jh_done = 0;
  CHECK_EQ_INT(journal_read_batch(j, b), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(b->status, 0);
}

static int ack(journal *j, const journal_batch *b, journal_rejected *rej, size_t nrej) {
  journal_ack a;
  memset(&a, 0, sizeof(a));
  a.batch = b;
  a.rejected = rej;
  a.n_rejected = nrej;
  a.done = jh_on_ack;
  jh_done = 0;
  CHECK_EQ_INT(journal_apply_ack(j, &a), 0);
  jh_wait_done(&loop, 1);
  return a.status;
}

static void dead_letter(journal *j, journal_dl *d, journal_dl_kind kind, int fd) {
  memset(d, 0, sizeof(*d));
  d->kind = kind;
  d->out_fd = fd;
  d->done = jh_on_dl;
  jh_done = 0;
  CHECK_EQ_INT(journal_dead_letter(j, d), 0);
  jh_wait_done(&loop, 1);
}


static cJSON *parse_body(const journal_batch *b) {
  CHECK_EQ_INT(b->body_len, b->raw_len);
  char *txt = strndup(b->body, b->body_len);
  cJSON *root = cJSON_Parse(txt);
  if (!root) fprintf(stderr, "unparsable body: %.300s\n", txt);
  CHECK(root != NULL);
  free(txt);
  return root;
}

static uint64_t file_sum(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  uint64_t h = 1469598103934665603ULL;
  int ch;
  while ((ch = fgetc(f)) != EOF) {
    h ^= (unsigned char)ch;
    h *= 1099511628211ULL;
  }
  fclose(f);
  return h;
}

static int count_quarantined(const char *path) {
  char q[400];
  snprintf(q, sizeof(q), "%s", path);
  char *slash = strrchr(q, '/');
  snprintf(slash, sizeof(q) - (size_t)(slash - q), "/quarantine");
  DIR *d = opendir(q);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (strncmp(de->d_name, "journal.db.", 11) == 0 &&
        !(l > 4 && (strcmp(de->d_name + l - 4, "-wal") == 0 || strcmp(de->d_name + l - 4, "-shm") == 0)))
      n++;
  }
  closedir(d);
  return n;
}

/* --- tests --------------------------------------------------------------------- */

static void test_commit_and_batch(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  journal_stats s0 = jh_stats(j);
  CHECK_EQ_INT(strlen(s0.epoch), 16);
  CHECK_EQ_INT(s0.next_seq, 1);
  CHECK_EQ_INT(s0.acked_seq, 0);
  CHECK(s0.writable);

  ev_event *a = jh_make_events(3, "id-", 1, 10);
  ev_event *b = jh_make_events(2, NULL, 0, 10);
  size_t acc = 0, dup = 0;
  CHECK_EQ_INT(commit(j, a, 3, &acc, &dup), 0);
  CHECK_EQ_INT(acc, 3);
  CHECK_EQ_INT(dup, 0);
  CHECK_EQ_INT(commit(j, b, 2, &acc, &dup), 0);
  CHECK_EQ_INT(acc, 2);
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.next_seq, 6);
  CHECK_EQ_INT(s.backlog, 5);
  CHECK_EQ_INT(s.acked_seq, 0);
  CHECK_EQ_INT(s.ingested_total, 5);
  CHECK(s.oldest_ingested_at_ms > 0);
  CHECK(s.journal_bytes > 0);

  journal_batch bt;
  read_batch(j, &bt, 100, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, 5);
  for (size_t i = 0; i < bt.n_events; i++) CHECK_EQ_INT(bt.seqs[i], (int64_t)i + 1);
  CHECK_EQ_INT(bt.first_seq, 1);
  CHECK_EQ_INT(bt.last_seq, 5);
  char key[200];
  snprintf(key, sizeof(key), "agent-1:%s:1-5", s.epoch);
  CHECK_EQ_STR(bt.idem_key, key);
  cJSON *root = parse_body(&bt);
  if (root) {
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "agent_id")), "agent-1");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "epoch")), s.epoch);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(root, "sent_at")));
    cJSON *evs = cJSON_GetObjectItem(root, "events");
    CHECK_EQ_INT(cJSON_GetArraySize(evs), 5);
    for (int i = 0; i < cJSON_GetArraySize(evs); i++) {
      cJSON *e = cJSON_GetArrayItem(evs, i);
      CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "seq")), i + 1);
      const char *ing = cJSON_GetStringValue(cJSON_GetObjectItem(e, "ingested_at"));
      CHECK(ing && strlen(ing) == 24 && ing[23] == 'Z');
      CHECK(cJSON_IsString(cJSON_GetObjectItem(e, "timestamp")));
      /* event_id exactly once, spliced for agent-assigned ids */
      int nid = 0;
      for (cJSON *f = e->child; f; f = f->next) nid += strcmp(f->string, "event_id") == 0;
      CHECK_EQ_INT(nid, 1);
      char want[80];
      if (i < 3) snprintf(want, sizeof(want), "id-%d", i + 1);
      else snprintf(want, sizeof(want), "ferry:%s:%d", s.epoch, i + 1);
      CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "event_id")), want);
    }
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "dropped")), 0);
    cJSON *st = cJSON_GetObjectItem(root, "stats");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(st, "backlog")), 5);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(st, "oldest_pending_s")));
    cJSON_Delete(root);
  }
  journal_batch_clear(&bt);
  jh_free_events(a, 3);
  jh_free_events(b, 2);
  jh_close(&loop, j);
}

static void test_duplicates(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  ev_event *a = jh_make_events(3, "dup-", 1, 5);
  free(a[2].event_id); /* a[2] repeats a[0] within the request */
  a[2].event_id = strdup("dup-1");
  size_t acc = 0, dup = 0;
  CHECK_EQ_INT(commit(j, a, 3, &acc, &dup), 0);
  CHECK_EQ_INT(acc, 2);
  CHECK_EQ_INT(dup, 1);
  ev_event *b = jh_make_events(2, "dup-", 2, 5); /* dup-2 pending, dup-3 new */
  CHECK_EQ_INT(commit(j, b, 2, &acc, &dup), 0);
  CHECK_EQ_INT(acc, 1);
  CHECK_EQ_INT(dup, 1);
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.next_seq, 4);
  CHECK_EQ_INT(s.duplicates_total, 2);
  /* after the ack the ids are no longer pending: stored again, new seqs */
  journal_batch bt;
  read_batch(j, &bt, 100, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, 3);
  CHECK_EQ_INT(ack(j, &bt, NULL, 0), 0);
  journal_batch_clear(&bt);
  CHECK_EQ_INT(commit(j, b, 2, &acc, &dup), 0);
  CHECK_EQ_INT(acc, 2);
  CHECK_EQ_INT(dup, 0);
  s = jh_stats(j);
  CHECK_EQ_INT(s.next_seq, 6);
  CHECK_EQ_INT(s.acked_seq, 3);
  jh_close(&loop, j);
  /* reopened: dedup still knows the pending ids (filter rebuilt) */
  j = open_j(&o);
  if (j) {
    CHECK_EQ_INT(commit(j, b, 2, &acc, &dup), 0);
    CHECK_EQ_INT(acc, 0);
    CHECK_EQ_INT(dup, 2);
    jh_close(&loop, j);
  }
  jh_free_events(a, 3);
  jh_free_events(b, 2);
}

/* A request of 45 events goes in as 16 + 16 + 4 + 4 + 1 rows (JSQL_ROWS_MANY,
 * JSQL_ROWS_FEW, single rows): duplicates of an event waiting in the same
 * group of rows, of one in an earlier group, ids the agent assigns, and the
 * stored events come back in seq order, each once, byte for byte. */
static void test_many_rows_per_insert(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  enum { N = 45 };
  ev_event *e = jh_make_events(N, "mr-", 0, 7);
  /* 3 repeats 2 (same group), 20 repeats 5 (the first group, inserted), 40
   * repeats 39 (the last groups); 10 and 30 have no id */
  const int rep[][2] = {{3, 2}, {20, 5}, {40, 39}};
  for (size_t k = 0; k < 3; k++) {
    free(e[rep[k][0]].event_id);
    free(e[rep[k][0]].json);
    e[rep[k][0]].event_id = strdup(e[rep[k][1]].event_id);
    e[rep[k][0]].json = strdup(e[rep[k][1]].json);
    e[rep[k][0]].json_len = e[rep[k][1]].json_len;
  }
  ev_event *noid = jh_make_events(2, NULL, 0, 7);
  const int gen[] = {10, 30};
  for (size_t k = 0; k < 2; k++) {
    free(e[gen[k]].event_id);
    free(e[gen[k]].json);
    e[gen[k]] = noid[k];
    memset(&noid[k], 0, sizeof(noid[k]));
  }
  free(noid);
  size_t acc = 0, dup = 0;
  CHECK_EQ_INT(commit(j, e, N, &acc, &dup), 0);
  CHECK_EQ_INT(acc, N - 3);
  CHECK_EQ_INT(dup, 3);
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.next_seq, N - 3 + 1);
  CHECK_EQ_INT(s.backlog, N - 3);
  /* what was stored, in order: every event but the repeats */
  journal_batch bt;
  read_batch(j, &bt, 100, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, N - 3);
  cJSON *root = parse_body(&bt);
  cJSON *evs = root ? cJSON_GetObjectItem(root, "events") : NULL;
  CHECK_EQ_INT(cJSON_GetArraySize(evs), N - 3);
  int out = 0;
  for (int i = 0; i < N && evs; i++) {
    if (i == 3 || i == 20 || i == 40) continue;
    cJSON *ev = cJSON_GetArrayItem(evs, out++);
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(ev, "seq")), out);
    char want[80];
    if (i == 10 || i == 30) snprintf(want, sizeof(want), "ferry:%s:%d", s.epoch, out);
    else snprintf(want, sizeof(want), "mr-%d", i);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "event_id")), want);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "note")), "ppppppp");
  }
  cJSON_Delete(root);
  journal_batch_clear(&bt);
  /* the same request again: every id it carries is pending */
  CHECK_EQ_INT(commit(j, e, N, &acc, &dup), 0);
  CHECK_EQ_INT(acc, 2);
  CHECK_EQ_INT(dup, N - 2);
  jh_free_events(e, N);
  jh_close(&loop, j);
}

/* many requests in one group commit; the big one overflows under reject and
 * fails alone */
static void test_group_commit_one_fails(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  o.overflow_reject = true;
  o.max_journal_bytes = 96 * 1024;
  journal *j = open_j(&o);
  if (!j) return;
  enum { NREQ = 12 };
  journal_commit cs[NREQ];
  ev_event *evs[NREQ];
  size_t ns[NREQ];
  journal_test_hold(j, true);
  jh_done = 0;
  for (int i = 0; i < NREQ; i++) {
    memset(&cs[i], 0, sizeof(cs[i]));
    bool big = i == 5;
    ns[i] = big ? 200 : 2;
    evs[i] = jh_make_events(ns[i], big ? "big-" : "small-", i * 1000, big ? 1000 : 50);
    cs[i].events = evs[i];
    cs[i].n = ns[i];
    cs[i].done = jh_on_commit;
    CHECK_EQ_INT(journal_submit(j, &cs[i]), 0);
  }
  CHECK_EQ_INT(jh_stats(j).queued, NREQ);
  int64_t groups0 = jh_stats(j).commit_groups;
  journal_test_hold(j, false);
  jh_wait_done(&loop, NREQ);
  CHECK_EQ_INT(jh_stats(j).commit_groups - groups0, 1);
  size_t total = 0;
  for (int i = 0; i < NREQ; i++) {
    if (i == 5) {
      CHECK_EQ_INT(cs[i].status, -ENOSPC);
      CHECK_EQ_STR(cs[i].error, "journal full");
      CHECK_EQ_INT(cs[i].accepted, 0);
    } else {
      CHECK_EQ_INT(cs[i].status, 0);
      CHECK_EQ_INT(cs[i].accepted, 2);
      total += cs[i].accepted;
    }
  }
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.next_seq, (int64_t)total + 1); /* the failed request used no seq */
  CHECK_EQ_INT(s.backlog, (int64_t)total);
  CHECK(s.writable);
  journal_batch bt;
  read_batch(j, &bt, 1000, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, total);
  for (size_t i = 0; i < bt.n_events; i++) CHECK_EQ_INT(bt.seqs[i], (int64_t)i + 1);
  journal_batch_clear(&bt);
  /* the same big request alone is refused too: reject never drops */
  size_t acc = 0;
  CHECK_EQ_INT(commit(j, evs[5], ns[5], &acc, NULL), -ENOSPC);
  CHECK_EQ_INT(jh_stats(j).backlog, (int64_t)total);
  for (int i = 0; i < NREQ; i++) jh_free_events(evs[i], ns[i]);
  jh_close(&loop, j);
}

static void test_batch_limits(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  ev_event *a = jh_make_events(20, "lim-", 0, 400);
  CHECK_EQ_INT(commit(j, a, 20, NULL, NULL), 0);
  journal_batch bt;
  read_batch(j, &bt, 7, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, 7);
  CHECK_EQ_INT(bt.last_seq, 7);
  journal_batch_clear(&bt);

  read_batch(j, &bt, 100, 2500, CODEC_IDENTITY);
  CHECK(bt.n_events >= 2 && bt.n_events < 10);
  CHECK(bt.raw_len <= 2500);
  cJSON *root = parse_body(&bt);
  if (root) {
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "events")), bt.n_events);
    cJSON_Delete(root);
  }
  journal_batch_clear(&bt);

  read_batch(j, &bt, 100, 10, CODEC_IDENTITY); /* one event even when alone too big */
  CHECK_EQ_INT(bt.n_events, 1);
  CHECK_EQ_INT(bt.first_seq, 1);
  journal_batch_clear(&bt);

  /* compressed body decodes to the same upload body */
  read_batch(j, &bt, 100, 1 << 20, CODEC_ZSTD);
  CHECK_EQ_INT(bt.n_events, 20);
  void *raw = NULL;
  size_t rawlen = 0;
  CHECK_EQ_INT(codec_decompress(CODEC_ZSTD, bt.body, bt.body_len, 1 << 22, &raw, &rawlen), 0);
  CHECK_EQ_INT(rawlen, bt.raw_len);
  cJSON *r2 = raw ? cJSON_Parse(raw) : NULL;
  CHECK(r2 != NULL);
  if (r2) CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r2, "events")), 20);
  cJSON_Delete(r2);
  free(raw);
  journal_batch_clear(&bt);

  /* heartbeat */
  read_batch(j, &bt, 0, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, 0);
  CHECK_EQ_STR(bt.idem_key, "");
  CHECK_EQ_INT(bt.first_seq, 0);
  root = parse_body(&bt);
  if (root) {
    CHECK(cJSON_IsArray(cJSON_GetObjectItem(root, "events")));
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "events")), 0);
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "stats"), "backlog")),
                 20);
    cJSON_Delete(root);
  }
  journal_batch_clear(&bt);
  jh_free_events(a, 20);
  jh_close(&loop, j);
}

/* A batch read from a seq range (the uploader's lanes): only events in
 * [from_seq, to_seq], oldest first; acknowledged seqs inside it are skipped;
 * the key names the run read. */
static void test_batch_range(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  ev_event *a = jh_make_events(30, "rng-", 0, 100);
  CHECK_EQ_INT(commit(j, a, 30, NULL, NULL), 0);
  journal_batch bt, live;
  memset(&live, 0, sizeof(live));
  live.max_events = 100;
  live.max_bytes = 1 << 20;
  live.codec = CODEC_IDENTITY;
  live.from_seq = 21; /* the newest ten, to no bound */
  live.done = jh_on_batch;
  jh_done = 0;
  CHECK_EQ_INT(journal_read_batch(j, &live), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(live.status, 0);
  CHECK_EQ_INT(live.n_events, 10);
  CHECK_EQ_INT(live.first_seq, 21);
  CHECK_EQ_INT(live.last_seq, 30);
  CHECK(strstr(live.idem_key, ":21-30") != NULL);
  CHECK_EQ_INT(ack(j, &live, NULL, 0), 0);
  /* the older ones, bounded above: 5..12 */
  memset(&bt, 0, sizeof(bt));
  bt.max_events = 100;
  bt.max_bytes = 1 << 20;
  bt.codec = CODEC_IDENTITY;
  bt.from_seq = 5;
  bt.to_seq = 12;
  bt.done = jh_on_batch;
  jh_done = 0;
  CHECK_EQ_INT(journal_read_batch(j, &bt), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(bt.n_events, 8);
  CHECK_EQ_INT(bt.first_seq, 5);
  CHECK_EQ_INT(bt.last_seq, 12);
  journal_batch_clear(&bt);
  /* a range over acknowledged seqs only: nothing */
  memset(&bt, 0, sizeof(bt));
  bt.max_events = 100;
  bt.max_bytes = 1 << 20;
  bt.from_seq = 21;
  bt.to_seq = 40;
  bt.done = jh_on_batch;
  jh_done = 0;
  CHECK_EQ_INT(journal_read_batch(j, &bt), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(bt.status, 0);
  CHECK_EQ_INT(bt.n_events, 0);
  journal_batch_clear(&bt);
  /* no bounds: from the oldest, the acknowledged run skipped */
  read_batch(j, &bt, 100, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, 20);
  CHECK_EQ_INT(bt.last_seq, 20);
  journal_batch_clear(&bt);
  journal_batch_clear(&live);
  jh_free_events(a, 30);
  jh_close(&loop, j);
}

static void test_ack_dead_letter(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  ev_event *a = jh_make_events(20, "ack-", 1, 30);
  CHECK_EQ_INT(commit(j, a, 20, NULL, NULL), 0);
  journal_batch bt;
  read_batch(j, &bt, 7, 1 << 20, CODEC_IDENTITY);
  journal_rejected rej[2] = {{3, "timestamp_out_of_range"}, {5, "bad \"quoted\" error"}};
  CHECK_EQ_INT(ack(j, &bt, rej, 2), 0);
  journal_batch_clear(&bt);
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.backlog, 13);
  CHECK_EQ_INT(s.dead_letter, 2);
  CHECK_EQ_INT(s.acked_seq, 7);
  CHECK_EQ_INT(s.dropped_total, 0); /* dead-letter is not the overflow policy */

  /* the dead seqs are reported as dropped until a 200 covers them */
  for (int round = 0; round < 2; round++) {
    read_batch(j, &bt, 3, 1 << 20, CODEC_IDENTITY);
    CHECK_EQ_INT(bt.first_seq, 8 + 3 * round);
    cJSON *root = parse_body(&bt);
    if (root) {
      cJSON *dr = cJSON_GetObjectItem(root, "dropped");
      int want = round == 0 ? 2 : 0;
      CHECK_EQ_INT(cJSON_GetArraySize(dr), want);
      if (want) {
        cJSON *d0 = cJSON_GetArrayItem(dr, 0);
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(d0, "from_seq")), 3);
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(d0, "to_seq")), 3);
        CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(d0, "reason")), "dead_letter");
      }
      cJSON_Delete(root);
    }
    if (round == 0) { /* read again without ack: still reported */
      journal_batch again;
      read_batch(j, &again, 3, 1 << 20, CODEC_IDENTITY);
      cJSON *r2 = parse_body(&again);
      if (r2) CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(r2, "dropped")), 2);
      cJSON_Delete(r2);
      journal_batch_clear(&again);
    }
    CHECK_EQ_INT(ack(j, &bt, NULL, 0), 0);
    journal_batch_clear(&bt);
  }
  CHECK_EQ_INT(jh_stats(j).acked_seq, 13);

  /* export to a buffer */
  journal_dl d;
  dead_letter(j, &d, JOURNAL_DL_EXPORT, -1);
  CHECK_EQ_INT(d.status, 0);
  CHECK_EQ_INT(d.count, 2);
  CHECK(!d.truncated);
  int lines = 0;
  for (char *line = d.out, *nl; line && *line; line = nl + 1, lines++) {
    nl = strchr(line, '\n');
    CHECK(nl != NULL);
    if (!nl) break;
    *nl = '\0';
    cJSON *e = cJSON_Parse(line);
    CHECK(e != NULL);
    if (e) {
      CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "seq")), lines == 0 ? 3 : 5);
      CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(e, "error")),
                   lines == 0 ? "timestamp_out_of_range" : "bad \"quoted\" error");
      CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "event"), "event_id")),
                   lines == 0 ? "ack-3" : "ack-5");
      cJSON_Delete(e);
    }
  }
  CHECK_EQ_INT(lines, 2);
  free(d.out);

  /* export to an fd, bounded */
  char fpath[450];
  snprintf(fpath, sizeof(fpath), "%s.export", path);
  int fd = open(fpath, O_CREAT | O_RDWR | O_TRUNC, 0600);
  CHECK(fd >= 0);
  dead_letter(j, &d, JOURNAL_DL_EXPORT, fd);
  CHECK_EQ_INT(d.status, 0);
  CHECK_EQ_INT(d.count, 2);
  struct stat sb;
  fstat(fd, &sb);
  CHECK(sb.st_size > 100);
  close(fd);
  memset(&d, 0, sizeof(d));
  d.kind = JOURNAL_DL_EXPORT;
  d.out_fd = -1;
  d.max_bytes = (size_t)sb.st_size - 1;
  d.done = jh_on_dl;
  jh_done = 0;
  CHECK_EQ_INT(journal_dead_letter(j, &d), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(d.count, 1);
  CHECK(d.truncated);
  free(d.out);

  /* requeue: ack-3 is posted again first, so it comes back as a duplicate */
  ev_event *again = jh_make_events(1, "ack-", 3, 30);
  size_t acc = 0;
  CHECK_EQ_INT(commit(j, again, 1, &acc, NULL), 0);
  CHECK_EQ_INT(acc, 1); /* dead-lettered ids do not count as pending */
  int64_t next = jh_stats(j).next_seq;
  dead_letter(j, &d, JOURNAL_DL_REQUEUE, -1);
  CHECK_EQ_INT(d.status, 0);
  CHECK_EQ_INT(d.count, 1);
  CHECK_EQ_INT(d.duplicates, 1);
  s = jh_stats(j);
  CHECK_EQ_INT(s.dead_letter, 0);
  CHECK_EQ_INT(s.next_seq, next + 1);
  read_batch(j, &bt, 100, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.last_seq, next); /* ack-5 under its new seq */
  journal_rejected rej2[1] = {{next, "again"}};
  CHECK_EQ_INT(ack(j, &bt, rej2, 1), 0);
  journal_batch_clear(&bt);
  CHECK_EQ_INT(jh_stats(j).dead_letter, 1);
  dead_letter(j, &d, JOURNAL_DL_PURGE, -1);
  CHECK_EQ_INT(d.status, 0);
  CHECK_EQ_INT(d.count, 1);
  s = jh_stats(j);
  CHECK_EQ_INT(s.dead_letter, 0);
  CHECK_EQ_INT(s.backlog, 0);
  CHECK_EQ_INT(s.acked_seq, s.next_seq - 1);
  jh_free_events(again, 1);
  jh_free_events(a, 20);
  jh_close(&loop, j);
}

static void test_seq_not_reused(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  ev_event *a = jh_make_events(5, NULL, 0, 10);
  CHECK_EQ_INT(commit(j, a, 5, NULL, NULL), 0);
  journal_batch bt;
  read_batch(j, &bt, 100, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(ack(j, &bt, NULL, 0), 0);
  journal_batch_clear(&bt);
  CHECK_EQ_INT(jh_stats(j).backlog, 0);
  CHECK_EQ_INT(jh_stats(j).acked_seq, 5);
  char epoch[17];
  memcpy(epoch, jh_stats(j).epoch, 17);
  jh_close(&loop, j);
  j = open_j(&o);
  if (!j) return;
  journal_stats s = jh_stats(j);
  CHECK_EQ_STR(s.epoch, epoch);
  CHECK_EQ_INT(s.next_seq, 6);
  CHECK_EQ_INT(s.acked_seq, 5);
  CHECK_EQ_INT(s.quarantined, 0);
  CHECK_EQ_INT(commit(j, a, 1, NULL, NULL), 0);
  read_batch(j, &bt, 100, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.first_seq, 6);
  journal_batch_clear(&bt);
  jh_free_events(a, 5);
  jh_close(&loop, j);
}

/* A child commits and dies without journal_close; the parent finds every
 * committed event. */
static void crash_child(const char *path, int n, int id_base, bool sigkill) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    uv_loop_t l2;
    uv_loop_init(&l2);
    journal_opts o = default_opts(path);
    o.durability_fsync = true;
    journal *j = NULL;
    char err[256];
    if (journal_open(&l2, &o, &j, err, sizeof(err)) != 0) _exit(10);
    ev_event *a = jh_make_events((size_t)n, "crash-", id_base, 40);
    journal_commit c;
    memset(&c, 0, sizeof(c));
    c.events = a;
    c.n = (size_t)n;
    c.done = jh_on_commit;
    jh_done = 0;
    if (journal_submit(j, &c) != 0) _exit(11);
    while (jh_done < 1) uv_run(&l2, UV_RUN_ONCE);
    if (c.status != 0 || c.accepted != (size_t)n) _exit(12);
    if (sigkill) raise(SIGKILL);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (sigkill) CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  else CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_crash_recovery(void) {
  char path[400];
  new_path(path, sizeof(path));
  crash_child(path, 50, 0, false);
  crash_child(path, 30, 1000, true);
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.quarantined, 0);
  CHECK_EQ_INT(s.backlog, 80);
  CHECK_EQ_INT(s.next_seq, 81);
  journal_batch bt;
  read_batch(j, &bt, 1000, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, 80);
  CHECK_EQ_INT(bt.last_seq, 80);
  journal_batch_clear(&bt);
  ev_event *a = jh_make_events(1, "crash-", 7, 40); /* still pending → duplicate */
  size_t acc = 9, dup = 0;
  CHECK_EQ_INT(commit(j, a, 1, &acc, &dup), 0);
  CHECK_EQ_INT(acc, 0);
  CHECK_EQ_INT(dup, 1);
  jh_free_events(a, 1);
  jh_close(&loop, j);
}

static void test_newer_schema(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  jh_close(&loop, j);
  sqlite3 *db = NULL;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  uint64_t before = file_sum(path);
  char err[256] = "";
  journal *j2 = NULL;
  CHECK_EQ_INT(journal_open(&loop, &o, &j2, err, sizeof(err)), -EPROTO);
  CHECK(j2 == NULL);
  CHECK(strstr(err, "99") != NULL);
  CHECK(file_sum(path) == before);
  CHECK_EQ_INT(count_quarantined(path), 0);
}

static void test_quarantine(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  ev_event *a = jh_make_events(3, "q-", 0, 10);
  CHECK_EQ_INT(commit(j, a, 3, NULL, NULL), 0);
  char epoch[17];
  memcpy(epoch, jh_stats(j).epoch, 17);
  jh_close(&loop, j);

  /* another agent id: quarantined, fresh epoch */
  journal_opts o2 = o;
  o2.agent_id = "agent-2";
  j = open_j(&o2);
  if (!j) return;
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(s.quarantined, 1);
  CHECK(strstr(s.quarantine_reason, "agent id") != NULL);
  CHECK(strcmp(s.epoch, epoch) != 0);
  CHECK_EQ_INT(s.backlog, 0);
  CHECK_EQ_INT(s.next_seq, 1);
  jh_close(&loop, j);
  CHECK_EQ_INT(count_quarantined(path), 1);

  /* machine id changed */
  journal_opts o3 = o2;
  o3.machine_id = "machine-2";
  j = open_j(&o3);
  if (j) {
    CHECK_EQ_INT(jh_stats(j).quarantined, 1);
    CHECK(strstr(jh_stats(j).quarantine_reason, "machine id") != NULL);
    jh_close(&loop, j);
  }

  /* garbage, repeatedly: at most 3 kept */
  for (int k = 0; k < 4; k++) {
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 8192; i++) fputc((i * 131 + k) & 0xff, f);
    fclose(f);
    j = open_j(&o3);
    if (!j) return;
    s = jh_stats(j);
    CHECK_EQ_INT(s.quarantined, 1);
    CHECK(s.quarantine_reason[0] != '\0');
    CHECK(s.writable);
    CHECK_EQ_INT(commit(j, a, 3, NULL, NULL), 0);
    jh_close(&loop, j);
    usleep(2000); /* distinct quarantine names are not required, only tidy */
  }
  CHECK_EQ_INT(count_quarantined(path), 3);
  /* damaged after an unclean shutdown: quick_check (or open) fails */
  {
    char p2[400];
    new_path(p2, sizeof(p2));
    journal_opts o4 = default_opts(p2);
    journal *j4 = open_j(&o4);
    if (!j4) return;
    ev_event *many = jh_make_events(400, "dmg-", 0, 300);
    CHECK_EQ_INT(commit(j4, many, 400, NULL, NULL), 0);
    jh_free_events(many, 400);
    jh_close(&loop, j4);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(p2, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "UPDATE meta SET clean_shutdown=0", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    int fd = open(p2, O_WRONLY);
    char junk[512];
    memset(junk, 0xA5, sizeof(junk));
    CHECK(pwrite(fd, junk, sizeof(junk), 8 * file_page_size(p2) + 8) == (ssize_t)sizeof(junk));
    close(fd);
    j4 = open_j(&o4);
    if (j4) {
      CHECK_EQ_INT(jh_stats(j4).quarantined, 1);
      CHECK_EQ_INT(jh_stats(j4).backlog, 0);
      jh_close(&loop, j4);
    }
    CHECK_EQ_INT(count_quarantined(p2), 1);
  }
  /* damaged although shut down cleanly: quarantined when it fails to load */
  {
    char p3[400];
    new_path(p3, sizeof(p3));
    journal_opts o5 = default_opts(p3);
    journal *j5 = open_j(&o5);
    if (!j5) return;
    ev_event *many = jh_make_events(400, "dmg-", 0, 300);
    CHECK_EQ_INT(commit(j5, many, 400, NULL, NULL), 0);
    jh_free_events(many, 400);
    jh_close(&loop, j5);
    int fd = open(p3, O_WRONLY);
    char junk[512];
    memset(junk, 0xA5, sizeof(junk));
    CHECK(pwrite(fd, junk, sizeof(junk), 8 * file_page_size(p3) + 8) == (ssize_t)sizeof(junk));
    close(fd);
    j5 = open_j(&o5);
    if (j5) {
      CHECK_EQ_INT(jh_stats(j5).quarantined, 1);
      CHECK(strstr(jh_stats(j5).quarantine_reason, "damaged") != NULL);
      jh_close(&loop, j5);
    }
    CHECK_EQ_INT(count_quarantined(p3), 1);
  }
  /* a clean journal is not quarantined */
  j = open_j(&o3);
  if (j) {
    CHECK_EQ_INT(jh_stats(j).quarantined, 0);
    CHECK_EQ_INT(jh_stats(j).backlog, 3);
    jh_close(&loop, j);
  }
  jh_free_events(a, 3);
}

static void test_overflow_drop_oldest(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  o.max_journal_bytes = 256 * 1024;
  journal *j = open_j(&o);
  if (!j) return;
  size_t total = 0;
  int64_t max_seen = 0;
  const size_t per = 20, pad = 500;
  for (int r = 0; r < 100; r++) {
    ev_event *a = jh_make_events(per, "ov-", r * 100, pad);
    size_t acc = 0;
    CHECK_EQ_INT(commit(j, a, per, &acc, NULL), 0);
    total += acc;
    journal_stats s = jh_stats(j);
    if (s.journal_bytes > max_seen) max_seen = s.journal_bytes;
    jh_free_events(a, per);
  }
  journal_stats s = jh_stats(j);
  CHECK_EQ_INT(total, 100 * per);
  CHECK(max_seen <= o.max_journal_bytes + (int64_t)(per * (pad + 200)));
  CHECK(s.dropped_total > 0);
  CHECK_EQ_INT(s.backlog + s.dropped_total, (int64_t)total);
  CHECK_EQ_INT(s.acked_seq, s.dropped_total); /* dropped from the oldest */
  journal_batch bt;
  read_batch(j, &bt, 10000, 4 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.first_seq, s.dropped_total + 1);
  cJSON *root = parse_body(&bt);
  if (root) {
    cJSON *dr = cJSON_GetObjectItem(root, "dropped");
    CHECK(cJSON_GetArraySize(dr) >= 1);
    int64_t expect_from = 1, covered = 0;
    for (int i = 0; i < cJSON_GetArraySize(dr); i++) {
      cJSON *d = cJSON_GetArrayItem(dr, i);
      int64_t f = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "from_seq"));
      int64_t t = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(d, "to_seq"));
      CHECK_EQ_INT(f, expect_from);
      CHECK(t >= f);
      CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(d, "reason")), "quota");
      covered += t - f + 1;
      expect_from = t + 1;
    }
    CHECK_EQ_INT(covered, s.dropped_total);
    cJSON_Delete(root);
  }
  CHECK_EQ_INT(ack(j, &bt, NULL, 0), 0);
  journal_batch_clear(&bt);
  read_batch(j, &bt, 0, 1 << 20, CODEC_IDENTITY);
  root = parse_body(&bt);
  if (root) CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "dropped")), 0);
  cJSON_Delete(root);
  journal_batch_clear(&bt);
  jh_close(&loop, j);
  /* dropped_total survives a restart (this epoch) */
  j = open_j(&o);
  if (j) {
    CHECK_EQ_INT(jh_stats(j).dropped_total, s.dropped_total);
    jh_close(&loop, j);
  }
}

/* A full disk fails the affected request with -EIO and makes the journal
 * unwritable until a later write succeeds; no seq is used. */
static void test_disk_full(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  ev_event *small = jh_make_events(2, "df-", 0, 10);
  ev_event *big = jh_make_events(200, "dfbig-", 0, 2000);
  CHECK_EQ_INT(commit(j, small, 1, NULL, NULL), 0);
  journal_stats s = jh_stats(j);
  journal_test_max_pages(j, s.journal_bytes / file_page_size(path) + 4);
  journal_commit c;
  memset(&c, 0, sizeof(c));
  c.events = big;
  c.n = 200;
  c.done = jh_on_commit;
  jh_done = 0;
  CHECK_EQ_INT(journal_submit(j, &c), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(c.status, -EIO);
  CHECK_EQ_INT(c.accepted, 0);
  CHECK(c.error[0] != '\0');
  s = jh_stats(j);
  CHECK(!s.writable);
  CHECK(strstr(s.unwritable_reason, "full") != NULL);
  CHECK_EQ_INT(s.next_seq, 2);
  CHECK_EQ_INT(s.backlog, 1);
  journal_test_max_pages(j, 1 << 30);
  size_t acc = 0;
  CHECK_EQ_INT(commit(j, small + 1, 1, &acc, NULL), 0);
  CHECK_EQ_INT(acc, 1);
  s = jh_stats(j);
  CHECK(s.writable);
  CHECK_EQ_INT(s.next_seq, 3);
  journal_batch bt;
  read_batch(j, &bt, 100, 1 << 20, CODEC_IDENTITY);
  CHECK_EQ_INT(bt.n_events, 2);
  CHECK_EQ_INT(bt.last_seq, 2);
  journal_batch_clear(&bt);
  jh_free_events(small, 2);
  jh_free_events(big, 200);
  jh_close(&loop, j);
}

static void test_queue_bound(void) {
  char path[400];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  if (!j) return;
  journal_commit *cs = calloc(JOURNAL_QUEUE_MAX_REQUESTS + 1, sizeof(*cs));
  journal_test_hold(j, true);
  jh_done = 0;
  int ok = 0;
  for (int i = 0; i < JOURNAL_QUEUE_MAX_REQUESTS; i++) {
    cs[i].done = jh_on_commit;
    ok += journal_submit(j, &cs[i]) == 0;
  }
  CHECK_EQ_INT(ok, JOURNAL_QUEUE_MAX_REQUESTS);
  cs[JOURNAL_QUEUE_MAX_REQUESTS].done = jh_on_commit;
  CHECK_EQ_INT(journal_submit(j, &cs[JOURNAL_QUEUE_MAX_REQUESTS]), -EAGAIN);
  journal_test_hold(j, false);
  jh_wait_done(&loop, JOURNAL_QUEUE_MAX_REQUESTS);
  CHECK_EQ_INT(cs[0].status, 0);
  CHECK_EQ_INT(journal_submit(j, &cs[JOURNAL_QUEUE_MAX_REQUESTS]), 0);
  jh_wait_done(&loop, JOURNAL_QUEUE_MAX_REQUESTS + 1);
  free(cs);
  jh_close(&loop, j);
}

/* A message that yields no events (an MQTT payload its mapping refused) is
 * one dead-letter row under the next seq, committed like events; its seq is
 * reported as dropped "dead_letter", but never past the highest seq the
 * collector has seen or the batch carries (a collector refuses that). */
static void test_dead_from_source(void) {
  char path[300];
  new_path(path, sizeof(path));
  journal_opts o = default_opts(path);
  journal *j = open_j(&o);
  ev_event *evs = jh_make_events(2, "src-", 0, 0);
  size_t acc = 0;
  CHECK_EQ_INT(commit(j, evs, 2, &acc, NULL), 0); /* seqs 1, 2 */
  CHECK_EQ_INT(acc, 2);
  journal_commit c;
  memset(&c, 0, sizeof(c));
  c.dead_body = "{\"source\":\"mqtt\",\"topic\":\"a/b\",\"payload\":\"not json\"}";
  c.dead_reason = "mapping_error: payload: not JSON";
  c.done = jh_on_commit;
  jh_done = 0;
  CHECK_EQ_INT(journal_submit(j, &c), 0);
  jh_wait_done(&loop, 1);
  CHECK_EQ_INT(c.status, 0);
  CHECK_EQ_INT(c.accepted, 0); /* seq 3: dead-letter */
  journal_stats st = jh_stats(j);
  CHECK_EQ_INT(st.next_seq, 4);
  CHECK_EQ_INT(st.backlog, 2);
  CHECK_EQ_INT(st.dead_letter, 1);

  /* the first batch carries seqs 1-2: the range 3-3 is past them, held back */
  journal_batch b;
  read_batch(j, &b, 100, 1 << 20, CODEC_IDENTITY);
  cJSON *root = parse_body(&b);
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "events")), 2);
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "dropped")), 0);
  cJSON_Delete(root);
  CHECK_EQ_INT(ack(j, &b, NULL, 0), 0);
  journal_batch_clear(&b);
  /* a heartbeat still may not name it (the collector has seen up to 2) */
  read_batch(j, &b, 0, 1 << 20, CODEC_IDENTITY);
  root = parse_body(&b);
  CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "dropped")), 0);
  cJSON_Delete(root);
  journal_batch_clear(&b);
  /* a later event: its batch reports 3-3 as dropped dead_letter */
  ev_event *more = jh_make_events(1, "src-", 10, 0);
  CHECK_EQ_INT(commit(j, more, 1, &acc, NULL), 0); /* seq 4 */
  read_batch(j, &b, 100, 1 << 20, CODEC_IDENTITY);
  root = parse_body(&b);
  CHECK_EQ_INT(b.first_seq, 4);
  cJSON *dropped = cJSON_GetObjectItem(root, "dropped");
  CHECK_EQ_INT(cJSON_GetArraySize(dropped), 1);
  cJSON *d0 = cJSON_GetArrayItem(dropped, 0);
  CHECK_EQ_INT((long long)cJSON_GetObjectItem(d0, "from_seq")->valuedouble, 3);
  CHECK_EQ_INT((long long)cJSON_GetObjectItem(d0, "to_seq")->valuedouble, 3);
  CHECK_EQ_STR(cJSON_GetObjectItem(d0, "reason")->valuestring, "dead_letter");
  cJSON_Delete(root);
  CHECK_EQ_INT(ack(j, &b, NULL, 0), 0);
  journal_batch_clear(&b);
  st = jh_stats(j);
  CHECK_EQ_INT(st.backlog, 0);
  CHECK_EQ_INT(st.acked_seq, 4);

  /* the dead-letter export shows the record with its reason */
  journal_dl d;
  dead_letter(j, &d, JOURNAL_DL_EXPORT, -1);
  CHECK_EQ_INT(d.status, 0);
  CHECK_EQ_INT(d.count, 1);
  CHECK(d.out && strstr(d.out, "\"error\":\"mapping_error: payload: not JSON\"") != NULL);
  CHECK(d.out && strstr(d.out, "\"topic\":\"a/b\"") != NULL);
  CHECK(d.out && strstr(d.out, "\"seq\":3") != NULL);
  free(d.out);
  jh_free_events(evs, 2);
  jh_free_events(more, 1);
  jh_close(&loop, j);
}

int main(void) {
  if (jh_mkdtemp(tmpdir, sizeof(tmpdir), "journal-test") < 0) return 1;
  uv_loop_init(&loop);
  test_commit_and_batch();
  test_duplicates();
  test_many_rows_per_insert();
  test_group_commit_one_fails();
  test_batch_limits();
  test_batch_range();
  test_ack_dead_letter();
  test_seq_not_reused();
  test_crash_recovery();
  test_newer_schema();
  test_quarantine();
  test_overflow_drop_oldest();
  test_disk_full();
  test_queue_bound();
  test_dead_from_source();
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
  jh_rmtree(tmpdir);
  return check_finish("test_agent_journal");
}
