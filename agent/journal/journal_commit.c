/* journal_commit.c: one group commit — every queued ingest request in one
 * transaction, a SAVEPOINT each, the overflow policy (reject or
 * drop_oldest) decided per request inside it. Worker thread only. */
#define _GNU_SOURCE
#include "journal_int.h"

#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* --- commit ---------------------------------------------------------------- */

/* Overflow: called after request c inserted its events (seqs ≥ first). */
static int overflow(journal *j, journal_commit *c, jstate *tx, int64_t first) {
  int64_t slack = 16 * j->page_size;
  if (j->live_bytes + 2 * j->tx_added + slack <= j->max_journal)
    return SQLITE_OK; /* cannot be over yet: skip the PRAGMAs */
  int rc = SQLITE_OK;
  int64_t live = journal__live_bytes_now(j, &rc);
  if (rc != SQLITE_OK) return rc;
  if (live <= j->max_journal) return SQLITE_OK;
  if (j->reject) {
    c->status = -ENOSPC;
    snprintf(c->error, sizeof(c->error), "journal full");
    return SQLITE_OK;
  }
  /* drop_oldest: free the excess plus headroom, so the next requests do not
   * each drop a sliver (and each add a range). */
  int64_t head = j->max_journal / 32;
  if (head < 64 * 1024) head = 64 * 1024;
  if (head > 8 * 1024 * 1024) head = 8 * 1024 * 1024;
  int64_t need = live - j->max_journal + head, sum = 0, from = 0, cutoff = 0;
  sqlite3_stmt *s = journal__st(j, JS_OLDEST_SIZES);
  sqlite3_bind_int64(s, 1, first);
  while (sum < need && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    cutoff = sqlite3_column_int64(s, 0);
    if (!from) from = cutoff;
    sum += sqlite3_column_int64(s, 1) + EVENT_ROW_OVERHEAD;
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  if (!from) return SQLITE_OK; /* only this request's events: keep them (bound + one request) */
  s = journal__st(j, JS_DELETE_UPTO);
  sqlite3_bind_int64(s, 1, cutoff);
  if ((rc = journal__run(j, JS_DELETE_UPTO)) != SQLITE_OK) return rc;
  int64_t n = sqlite3_changes(j->db);
  s = journal__st(j, JS_INSERT_DROPPED);
  sqlite3_bind_int64(s, 1, from);
  sqlite3_bind_int64(s, 2, cutoff);
  sqlite3_bind_text(s, 3, "quota", -1, SQLITE_STATIC);
  if ((rc = journal__run(j, JS_INSERT_DROPPED)) != SQLITE_OK) return rc;
  tx->backlog -= n;
  tx->dropped_total += n;
  return SQLITE_OK;
}

/* A message that yielded no events (c->dead_body): one dead-letter row under
 * the next seq, reported to the collector as a dropped "dead_letter" seq
 * (as an event the collector refused would be). */
static int commit_dead(journal *j, journal_commit *c, jstate *tx, int64_t now) {
  int64_t seq = tx->next_seq;
  size_t blen = strlen(c->dead_body);
  const char *why = c->dead_reason ? c->dead_reason : "mapping_error";
  int64_t size = (int64_t)(blen + strlen(why)) + DL_ROW_OVERHEAD;
  sqlite3_stmt *s = journal__st(j, JS_DL_INSERT);
  sqlite3_bind_int64(s, 1, seq);
  sqlite3_bind_text(s, 2, "", 0, SQLITE_STATIC);
  sqlite3_bind_int64(s, 3, now);
  sqlite3_bind_blob(s, 4, c->dead_body, (int)blen, SQLITE_STATIC);
  sqlite3_bind_text(s, 5, why, -1, SQLITE_STATIC);
  int rc = journal__run(j, JS_DL_INSERT);
  if (rc != SQLITE_OK) return rc;
  s = journal__st(j, JS_INSERT_DROPPED);
  sqlite3_bind_int64(s, 1, seq);
  sqlite3_bind_int64(s, 2, seq);
  sqlite3_bind_text(s, 3, "dead_letter", -1, SQLITE_STATIC);
  if ((rc = journal__run(j, JS_INSERT_DROPPED)) != SQLITE_OK) return rc;
  tx->next_seq++;
  tx->dead_n++;
  tx->dead_bytes += size;
  j->tx_added += size;
  return journal__dead_cap(j, tx);
}

#define PREFETCH_AHEAD 8 /* events whose filter slots are loading while one is checked */

/* The hash of event k's source id (0 without one), its filter slots
 * prefetched. */
static uint64_t hash_ahead(journal *j, const journal_commit *c, size_t k) {
  const char *id = c->events[k].event_id;
  if (!id) return 0;
  uint64_t h = journal__id_hash(id, strlen(id));
  journal__filt_prefetch(j, h);
  return h;
}

/* An accepted event waiting for its INSERT (rows go in JSQL_ROWS_MANY at a
 * time; the dedup checks of later events of the request see it here). */
typedef struct prow {
  int64_t seq;
  uint64_t h;
  const char *id, *body;
  size_t idlen, blen;
  char idbuf[64]; /* a generated id ("ferry:<epoch>:<seq>") */
} prow;

/* Is this id among the rows not inserted yet? */
static bool in_rows(const prow *r, size_t n, const char *id, size_t idlen, uint64_t h) {
  for (size_t i = 0; i < n; i++)
    if (r[i].h == h && r[i].idlen == idlen && memcmp(r[i].id, id, idlen) == 0) return true;
  return false;
}

/* Insert rows[0..n) with as few statements as the row counts allow. */
static int insert_rows(journal *j, const prow *r, size_t n, int64_t now) {
  for (size_t k = 0; k < n;) {
    size_t m = n - k >= JSQL_ROWS_MANY ? JSQL_ROWS_MANY : n - k >= JSQL_ROWS_FEW ? JSQL_ROWS_FEW : 1;
    int id = m == JSQL_ROWS_MANY  ? JS_INSERT_EVENTS_MANY
             : m == JSQL_ROWS_FEW ? JS_INSERT_EVENTS_FEW
                                  : JS_INSERT_EVENT;
    /* every parameter is bound again and journal__run left it reset: no
     * journal__st (reset + clear_bindings) per statement */
    sqlite3_stmt *s = j->st[id];
    for (size_t i = 0; i < m; i++) {
      const prow *w = &r[k + i];
      int p = (int)i * 4;
      sqlite3_bind_int64(s, p + 1, w->seq);
      sqlite3_bind_text(s, p + 2, w->id, (int)w->idlen, SQLITE_STATIC);
      sqlite3_bind_int64(s, p + 3, now);
      sqlite3_bind_blob(s, p + 4, w->body, (int)w->blen, SQLITE_STATIC);
    }
    int rc = journal__run(j, id);
    if (rc != SQLITE_OK) return rc;
    k += m;
  }
  return SQLITE_OK;
}

/* Insert one request's events. Returns a sqlite code (c->status may be set
 * to -ENOSPC with SQLITE_OK returned: the caller rolls back). */
static int commit_one(journal *j, journal_commit *c, jstate *tx, int64_t now) {
  if (!c->n && c->dead_body) return commit_dead(j, c, tx, now);
  int64_t first = tx->next_seq, lo = journal__filt_lo(j);
  uint64_t ahead[PREFETCH_AHEAD];
  prow rows[JSQL_ROWS_MANY];
  size_t nrows = 0;
  for (size_t k = 0; k < c->n && k < PREFETCH_AHEAD; k++) ahead[k] = hash_ahead(j, c, k);
  for (size_t i = 0; i < c->n; i++) {
    const ev_event *ev = &c->events[i];
    uint64_t src_h = ahead[i % PREFETCH_AHEAD];
    if (i + PREFETCH_AHEAD < c->n) ahead[i % PREFETCH_AHEAD] = hash_ahead(j, c, i + PREFETCH_AHEAD);
    if (nrows == JSQL_ROWS_MANY) {
      int rc = insert_rows(j, rows, nrows, now);
      if (rc != SQLITE_OK) return rc;
      nrows = 0;
    }
    prow *w = &rows[nrows];
    w->body = ev->json ? ev->json : "{}";
    w->blen = ev->json ? ev->json_len : 2;
    w->seq = tx->next_seq;
    if (ev->event_id) {
      w->id = ev->event_id;
      w->idlen = strlen(w->id);
      w->h = src_h;
      /* pending: committed, inserted earlier in this transaction, or
       * waiting in rows[] */
      int r = in_rows(rows, nrows, w->id, w->idlen, w->h)
                  ? 1
                  : journal__is_pending(j, w->id, w->idlen, w->h, lo, tx->next_seq);
      if (r < 0) return -r;
      if (r) {
        c->duplicates++;
        continue;
      }
    } else {
      int n = snprintf(w->idbuf, sizeof(w->idbuf), "ferry:%s:%" PRId64, j->epoch, w->seq);
      w->id = w->idbuf;
      w->idlen = (size_t)n;
      w->h = journal__id_hash(w->id, w->idlen);
    }
    /* the id is kept once, in its column (journal_body.c) */
    size_t cut = ev->event_id ? journal__body_id_prefix(w->body, w->blen, w->id, w->idlen) : 0;
    w->body += cut;
    w->blen -= cut;
    int fr = journal__filt_add(j, w->h, w->seq, lo, w->seq + 1);
    if (fr < 0) return fr == -ENOMEM ? SQLITE_NOMEM : SQLITE_IOERR;
    nrows++;
    tx->next_seq++;
    tx->backlog++;
    c->accepted++;
    j->tx_added += (int64_t)(w->blen + w->idlen) + EVENT_ROW_OVERHEAD;
  }
  int rc = insert_rows(j, rows, nrows, now);
  if (rc != SQLITE_OK) return rc;
  if (!c->accepted) return SQLITE_OK;
  return overflow(j, c, tx, first);
}

static void fail_commit(journal_commit *c, int rc) {
  c->status = -EIO;
  c->accepted = c->duplicates = 0;
  snprintf(c->error, sizeof(c->error), "journal cannot be written: %s", sqlite3_errstr(rc));
}

void journal__do_commit_group(journal *j, journal_commit *list) {
  int64_t now = tf_now_ms();
  jstate tx = j->cur;
  j->tx_added = 0;
  j->commit_groups++;
  int rc = journal__run_plain(j, JS_BEGIN);
  int changes0 = sqlite3_total_changes(j->db);
  bool aborted = rc != SQLITE_OK;
  int abort_rc = rc;
  for (journal_commit *c = list; c; c = c->next_) {
    c->status = 0;
    c->accepted = c->duplicates = 0;
    c->error[0] = '\0';
    if (aborted) continue;
    if ((rc = journal__run_plain(j, JS_SAVEPOINT)) != SQLITE_OK) {
      aborted = true;
      abort_rc = rc;
      continue;
    }
    jstate sp = tx;
    int64_t added0 = j->tx_added;
    rc = commit_one(j, c, &tx, now);
    if (rc == SQLITE_OK && c->status == 0) {
      tx.ingested_total += (int64_t)c->accepted;
      tx.duplicates_total += (int64_t)c->duplicates;
      if ((rc = journal__run_plain(j, JS_RELEASE)) != SQLITE_OK) {
        aborted = true;
        abort_rc = rc;
      }
      continue;
    }
    /* this request failed: undo it alone */
    if (rc != SQLITE_OK) fail_commit(c, rc);
    else c->accepted = c->duplicates = 0;
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_NOMEM) journal__note_write_failure(j, rc);
    tx = sp;
    j->tx_added = added0;
    if (sqlite3_get_autocommit(j->db)) { /* SQLite rolled back everything */
      aborted = true;
      abort_rc = rc;
      continue;
    }
    int r1 = journal__run_plain(j, JS_ROLLBACK_TO), r2 = journal__run_plain(j, JS_RELEASE);
    if (r1 != SQLITE_OK || r2 != SQLITE_OK) {
      aborted = true;
      abort_rc = r1 != SQLITE_OK ? r1 : r2;
    }
  }
  if (!aborted) {
    rc = SQLITE_OK;
    if (tx.next_seq != j->cur.next_seq || tx.dropped_total != j->cur.dropped_total) {
      sqlite3_stmt *s = journal__st(j, JS_UPDATE_META);
      sqlite3_bind_int64(s, 1, tx.next_seq);
      sqlite3_bind_int64(s, 2, tx.dropped_total);
      rc = journal__run(j, JS_UPDATE_META);
    }
    bool wrote = sqlite3_total_changes(j->db) != changes0;
    rc = journal__finish_tx(j, rc);
    if (rc == SQLITE_OK) {
      j->cur = tx;
      if (wrote) journal__set_writable(j, true, NULL);
      journal__refresh(j);
      return;
    }
    abort_rc = rc;
  } else if (!sqlite3_get_autocommit(j->db)) {
    journal__run_plain(j, JS_ROLLBACK);
  }
  /* the whole transaction is gone: every request that had not failed alone
   * fails now (none of its events is stored) */
  journal__note_write_failure(j, abort_rc);
  for (journal_commit *c = list; c; c = c->next_)
    if (c->status == 0) fail_commit(c, abort_rc);
  journal__refresh(j);
}
