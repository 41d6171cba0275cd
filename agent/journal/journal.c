/* journal.c: the agent's durable event store (see journal.h for the contract).
 *
 * Why it is shaped this way:
 * - One worker thread owns the sqlite3 connection; the loop thread only
 *   queues requests (mutex + condvar) and gets completions back through one
 *   uv_async (the thread, its lock and the hand-back: common/dbthread). SQLite, fsync and compression never run on the loop thread.
 * - Group commit: the worker takes every queued commit request and runs them
 *   in one transaction, each inside SAVEPOINT req (ROLLBACK TO on that
 *   request's failure only), then COMMITs once. next_seq is written to meta in
 *   the same transaction; the in-memory copy (jstate) is copied per savepoint
 *   and only becomes current after COMMIT succeeds, so a rollback never
 *   leaves it ahead of the file.
 * - Dedup: an in-memory open-addressing table of 64-bit slots
 *   (32-bit fingerprint of the event_id hash | low 32 bits of the seq) for
 *   pending events, rebuilt from the events table at open. A fingerprint hit
 *   is verified by reading that seq's event_id (rowid lookup), so the table
 *   is a filter: stale slots (acked, dropped, rolled back) are harmless and
 *   are swept when the table fills; a slot is only ever removed once its seq
 *   is below every pending seq, so the filter never misses a pending id.
 *   Micro-benchmark, 1M random UUID event_ids, 300-byte bodies, 1000 events
 *   per transaction, WAL + synchronous=NORMAL, this dev VM:
 *       event_id TEXT UNIQUE, INSERT OR IGNORE   ~29k ev/s overall, ~25k/s at 1M rows
 *       64-bit hash column + non-unique index    ~43k ev/s overall, ~35k/s at 1M rows
 *       no index (what this file does)           ~220k ev/s overall, flat
 *   (the random index dirties one index page per event, so every group commit
 *   writes ~one WAL page per event). Memory: 8 bytes per slot in 64 segments,
 *   each kept between 0.67 and 0.85 full and rebuilt on its own (9.4-12
 *   bytes per pending event, ~10.5 on average; a rebuild copies 1/64 of the
 *   table). The SQLite page cache is small while the table answers and
 *   larger while the index does (journal__dedup_cache).
 * - The table has a hard size bound (journal_opts.dedup_max_bytes). A backlog
 *   it cannot hold switches dedup to SQL: the worker creates an index on
 *   events(event_id) (inside the running transaction, so it covers the rows
 *   that transaction already inserted), frees the table and answers "pending?"
 *   with an indexed SELECT. Inserts are then slower (the random index above)
 *   but memory stays bounded and no duplicate gets through. Once the backlog
 *   fits in half the bound again, the table is rebuilt from a scan and the
 *   index dropped. Lookups by value are correct with or without the index, so
 *   a rolled-back CREATE INDEX only costs speed until it is made again.
 * - Overflow is decided per request inside the inserting transaction from
 *   PRAGMA page_count/freelist_count (only when a cheap estimate says the
 *   bound may be near), never by looping on file sizes. */

/* This file: the worker thread, its queue and the public calls that feed it
 * (journal_submit, journal_read_batch, journal_apply_ack, journal_dead_letter,
 * journal_close, the stats and the test hooks). What each op does on the
 * worker lives beside it in this folder; README.md says where. */
#define _GNU_SOURCE
#include "journal_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

/* --- the worker ------------------------------------------------------------ */

#define APPEND(head, tail, item)      \
  do {                                \
    (item)->next_ = NULL;             \
    if (tail) (tail)->next_ = (item); \
    else (head) = (item);             \
    (tail) = (item);                  \
  } while (0)

static void worker_shutdown(journal *j) {
  /* clean shutdown: mark, then checkpoint so the WAL is empty */
  journal__st(j, JS_SET_CLEAN);
  sqlite3_bind_int(j->st[JS_SET_CLEAN], 1, 1);
  journal__run(j, JS_SET_CLEAN);
  sqlite3_exec(j->db, JSQL_CKPT_TRUNCATE, NULL, NULL, NULL);
  for (int i = 0; i < JS_COUNT_; i++) {
    sqlite3_finalize(j->st[i]);
    j->st[i] = NULL;
  }
  sqlite3_close(j->db);
  j->db = NULL;
}

/* Take queued commit requests for one group commit (under the lock): at least
 * one, then more while their event bytes stay within a quarter of
 * --max-wal-bytes. A group's WAL frames are about twice its event bytes
 * (table and freelist pages, the meta row), so one transaction stays within
 * half the WAL bound and the checkpoint after it (refresh) keeps the WAL
 * under the bound; the rest waits for the next group. */
static journal_commit *take_commits(journal *j) {
  journal_commit *head = j->q_commit;
  if (!head) return NULL;
  size_t budget = (size_t)(j->max_wal / 4), sum = head->bytes_;
  journal_commit *last = head;
  while (last->next_ && sum + last->next_->bytes_ <= budget) {
    last = last->next_;
    sum += last->bytes_;
  }
  size_t n = 0;
  for (journal_commit *c = head; c != last->next_; c = c->next_) n++;
  j->q_commit = last->next_;
  if (!j->q_commit) j->q_commit_tail = NULL;
  last->next_ = NULL;
  j->q_commit_n -= n;
  j->q_commit_bytes -= sum;
  return head;
}

/* After a write failure, with no commit to try: a small write transaction
 * so /readyz turns ready again by itself once space (or the device) is back,
 * without waiting for an ingest request or an upload's answer. */
static void probe_write(journal *j) {
  int rc = journal__run_plain(j, JS_BEGIN);
  if (rc == SQLITE_OK) {
    journal__st(j, JS_SET_CLEAN);
    sqlite3_bind_int(j->st[JS_SET_CLEAN], 1, 0);
    rc = journal__run(j, JS_SET_CLEAN);
  }
  rc = journal__finish_tx(j, rc);
  if (rc == SQLITE_OK) journal__set_writable(j, true, NULL);
  else journal__note_write_failure(j, rc);
  journal__refresh(j);
}

/* The predicates the worker waits with (under the lock): an op it may take
 * now (the test hold keeps the queues as they are) — and, for the untimed
 * wait, also the end of that wait's reason (the hold lifted while the journal
 * is unwritable: the write probe's timed wait takes over). */
static bool has_work(void *arg) {
  journal *j = arg;
  return !j->hold && (j->q_commit || j->q_ack || j->q_batch || j->q_dl);
}

static bool untimed_over(void *arg) {
  journal *j = arg;
  return has_work(j) || (!j->writable && !j->hold);
}

/* Hand finished ops back to the loop thread, one type after another. */
#define PUSH_ALL(list, ops)                                  \
  do {                                                       \
    for (__typeof__(ops) it_ = (ops), nx_; it_; it_ = nx_) { \
      nx_ = it_->next_;                                      \
      dbthread_list_push((list), &it_->node_);               \
    }                                                        \
  } while (0)

void journal__worker(dbthread *t) {
  journal *j = t->data;
  for (;;) {
    dbthread_lock(t);
    bool probe_due = false;
    while (!has_work(j) && !dbthread_stopping(t)) {
      if (j->writable || j->hold) {
        dbthread_wait(t, untimed_over, j, 0);
      } else if (uv_hrtime() - j->last_write_fail_ns >= WRITE_PROBE_EVERY_NS) {
        probe_due = true;
        break;
      } else {
        dbthread_wait(t, has_work, j, WRITE_PROBE_EVERY_NS);
      }
    }
    journal_commit *commits = take_commits(j);
    journal_ack *acks = j->q_ack;
    journal_batch *batches = j->q_batch;
    journal_dl *dls = j->q_dl;
    int64_t max_pages = j->test_max_pages;
    j->test_max_pages = 0;
    bool stop = dbthread_stopping(t) && !commits && !acks && !batches && !dls;
    j->q_ack = j->q_ack_tail = NULL;
    j->q_batch = j->q_batch_tail = NULL;
    j->q_dl = j->q_dl_tail = NULL;
    dbthread_unlock(t);
    if (stop) break;
    if (max_pages > 0) journal__exec_pragma(j->db, "max_page_count", (long long)max_pages);
    /* unwritable and no commit to try it with: a small write of its own,
     * so /readyz recovers by itself once space is back (reads and uploads
     * keep coming while the collector is away, so this cannot wait for an
     * idle moment) */
    if (!j->writable && !commits &&
        (probe_due || uv_hrtime() - j->last_write_fail_ns >= WRITE_PROBE_EVERY_NS))
      probe_write(j);
    if (probe_due && !commits && !acks && !batches && !dls) continue;
    if (commits) journal__do_commit_group(j, commits);
    for (journal_ack *a = acks; a; a = a->next_) journal__do_ack(j, a);
    for (journal_batch *b = batches; b; b = b->next_) journal__do_batch(j, b);
    for (journal_dl *d = dls; d; d = d->next_) journal__do_dl(j, d);
    dbthread_list done = {0};
    PUSH_ALL(&done, commits);
    PUSH_ALL(&done, acks);
    PUSH_ALL(&done, batches);
    PUSH_ALL(&done, dls);
    dbthread_complete(t, &done);
  }
  worker_shutdown(j);
}

/* Loop thread: a finished op's node → its caller's done. */
#define OWNER_OF(type, node) ((type *)((char *)(node)-offsetof(type, node_)))
static void commit_done(dbthread_job *n) {
  journal_commit *c = OWNER_OF(journal_commit, n);
  c->done(c);
}
static void ack_done(dbthread_job *n) {
  journal_ack *a = OWNER_OF(journal_ack, n);
  a->done(a);
}
static void batch_done(dbthread_job *n) {
  journal_batch *b = OWNER_OF(journal_batch, n);
  b->done(b);
}
static void dl_done(dbthread_job *n) {
  journal_dl *d = OWNER_OF(journal_dl, n);
  d->done(d);
}

int journal_submit(journal *j, journal_commit *c) {
  if (!j || !c || !c->done || (c->n && !c->events)) return -EINVAL;
  if (j->t.closing) return -ECANCELED;
  size_t bytes = 0;
  for (size_t i = 0; i < c->n; i++) bytes += c->events[i].json ? c->events[i].json_len : 2;
  dbthread_lock(&j->t);
  if (j->q_commit_n >= JOURNAL_QUEUE_MAX_REQUESTS ||
      (j->q_commit_n && j->q_commit_bytes + bytes > JOURNAL_QUEUE_MAX_BYTES)) {
    dbthread_unlock(&j->t);
    return -EAGAIN;
  }
  c->bytes_ = bytes;
  c->node_.done = commit_done;
  APPEND(j->q_commit, j->q_commit_tail, c);
  j->q_commit_n++;
  j->q_commit_bytes += bytes;
  dbthread_signal(&j->t);
  dbthread_unlock(&j->t);
  dbthread_track(&j->t);
  return 0;
}

int journal_read_batch(journal *j, journal_batch *b) {
  if (!j || !b || !b->done) return -EINVAL;
  if (j->t.closing) return -ECANCELED;
  b->node_.done = batch_done;
  dbthread_lock(&j->t);
  APPEND(j->q_batch, j->q_batch_tail, b);
  dbthread_signal(&j->t);
  dbthread_unlock(&j->t);
  dbthread_track(&j->t);
  return 0;
}

int journal_apply_ack(journal *j, journal_ack *a) {
  if (!j || !a || !a->done || !a->batch || (a->n_rejected && !a->rejected)) return -EINVAL;
  if (j->t.closing) return -ECANCELED;
  a->node_.done = ack_done;
  dbthread_lock(&j->t);
  APPEND(j->q_ack, j->q_ack_tail, a);
  dbthread_signal(&j->t);
  dbthread_unlock(&j->t);
  dbthread_track(&j->t);
  return 0;
}

int journal_dead_letter(journal *j, journal_dl *d) {
  if (!j || !d || !d->done) return -EINVAL;
  if (j->t.closing) return -ECANCELED;
  d->node_.done = dl_done;
  dbthread_lock(&j->t);
  APPEND(j->q_dl, j->q_dl_tail, d);
  dbthread_signal(&j->t);
  dbthread_unlock(&j->t);
  dbthread_track(&j->t);
  return 0;
}

void journal_test_hold(journal *j, bool hold) {
  dbthread_lock(&j->t);
  j->hold = hold;
  dbthread_signal(&j->t);
  dbthread_unlock(&j->t);
}

void journal_test_max_pages(journal *j, int64_t pages) {
  dbthread_lock(&j->t);
  j->test_max_pages = pages;
  dbthread_unlock(&j->t);
}

void journal_batch_clear(journal_batch *b) {
  if (!b) return;
  free(b->seqs);
  free(b->body);
  b->seqs = NULL;
  b->body = NULL;
  b->n_events = 0;
  b->body_len = b->raw_len = 0;
}

void journal_get_stats(journal *j, journal_stats *ret) {
  uv_mutex_lock(&j->slock);
  *ret = j->stats;
  uv_mutex_unlock(&j->slock);
  dbthread_lock(&j->t);
  ret->queued = (int64_t)j->q_commit_n;
  dbthread_unlock(&j->t);
}

void journal_close(journal *j) {
  if (!j) return;
  dbthread_close(&j->t); /* joins; the last done callbacks run here; then journal__on_close */
}
