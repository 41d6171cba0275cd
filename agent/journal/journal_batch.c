/* journal_batch.c: the uploader's two ops — build the next upload body from
 * the oldest events (read batch) and apply the collector's 200 to it (ack:
 * delete, move rejected events to dead-letter). Worker thread only. */
#define _GNU_SOURCE
#include "journal_int.h"

#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append the stored event with seq and ingested_at (and event_id when the
 * agent assigned it: such ids start "ferry:" and are never in the stored
 * JSON) added as the object's last members. Text splicing, no reparse: the
 * stored body is the validator's normal form, one JSON object. A body that
 * is not object-shaped (never written by this module) is replaced by an
 * object holding only the ids, which the collector rejects → dead-letter. */
static void splice_event(strbuf *b, const char *body, size_t len, const char *event_id, size_t id_len,
                         int64_t seq, int64_t ingested_ms) {
  if (journal__body_stripped(body, len) && body[len - 1] == '}') {
    /* stored without its leading event_id member (journal_body.c) */
    journal__sb_id_member(b, event_id, id_len);
    sb_add(b, body, len - 1);
    sb_printf(b, ",\"seq\":%" PRId64 ",\"ingested_at\":", seq);
    journal__sb_time(b, ingested_ms);
    sb_add(b, "}", 1);
    return;
  }
  size_t s = 0, e = len;
  while (s < e && journal__is_ws(body[s])) s++;
  while (e > s && journal__is_ws(body[e - 1])) e--;
  bool with_id = id_len >= 6 && memcmp(event_id, "ferry:", 6) == 0;
  bool shaped = e - s >= 2 && body[s] == '{' && body[e - 1] == '}';
  if (shaped) {
    size_t k = s + 1;
    while (k < e - 1 && journal__is_ws(body[k])) k++;
    sb_add(b, body + s, e - 1 - s);
    if (k < e - 1) sb_add(b, ",", 1);
  } else {
    sb_add(b, "{", 1);
    with_id = true;
  }
  if (with_id) {
    sb_add(b, "\"event_id\":", 11);
    journal__sb_json_str(b, event_id, id_len);
    sb_add(b, ",", 1);
  }
  sb_printf(b, "\"seq\":%" PRId64 ",\"ingested_at\":", seq);
  journal__sb_time(b, ingested_ms);
  sb_add(b, "}", 1);
}

/* --- upload batch -------------------------------------------------------- */

void journal__do_batch(journal *j, journal_batch *b) {
  int64_t now = tf_now_ms();
  strbuf head, evs, tail;
  size_t budget_max = b->max_bytes ? b->max_bytes : 1024 * 1024;
  sb_init(&head, 4096);
  sb_init(&evs, budget_max + 64 * 1024);
  sb_init(&tail, budget_max + 64 * 1024);
  b->status = 0;
  b->n_events = 0;
  b->first_seq = b->last_seq = 0;
  b->seqs = NULL;
  b->body = NULL;
  b->body_len = b->raw_len = 0;
  b->idem_key[0] = '\0';
  b->dropped_upto_rowid = 0;
  int rc = SQLITE_OK;
  size_t cap = 0;

  sb_adds(&head, "{\"agent_id\":");
  journal__sb_json_str(&head, j->agent_id, strlen(j->agent_id));
  if (j->site) {
    sb_adds(&head, ",\"site\":");
    journal__sb_json_str(&head, j->site, strlen(j->site));
  }
  sb_printf(&head, ",\"epoch\":\"%s\",\"events\":[", j->epoch);

  /* every unreported dropped range, within the collector's count limit and
   * half the byte budget (the rest follow in the next request) */
  sb_adds(&tail, "],\"dropped\":[");
  sqlite3_stmt *s = journal__st(j, JS_READ_DROPPED);
  sqlite3_bind_int64(s, 1, JOURNAL_MAX_DROPPED_RANGES);
  size_t nd = 0;
  /* the collector accepts ranges up to the highest seq it has seen or this
   * batch carries (at least the oldest pending event) */
  int64_t bound = j->seen_high;
  if (b->max_events && j->cur.backlog > 0 && j->cur.min_seq > bound) bound = j->cur.min_seq;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    if (sqlite3_column_int64(s, 2) > bound) {
      rc = SQLITE_DONE; /* later, once a later seq has been seen */
      break;
    }
    size_t mark = tail.len;
    if (nd) sb_add(&tail, ",", 1);
    sb_printf(&tail, "{\"from_seq\":%" PRId64 ",\"to_seq\":%" PRId64 ",\"reason\":",
              (int64_t)sqlite3_column_int64(s, 1), (int64_t)sqlite3_column_int64(s, 2));
    const char *reason = (const char *)sqlite3_column_text(s, 3);
    journal__sb_json_str(&tail, reason ? reason : "", reason ? strlen(reason) : 0);
    sb_add(&tail, "}", 1);
    if (nd && tail.len > budget_max / 2) {
      sb_truncate(&tail, mark);
      break;
    }
    b->dropped_upto_rowid = sqlite3_column_int64(s, 0);
    nd++;
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) goto sqlfail;
  double age = j->cur.backlog && j->cur.oldest_ms ? (double)(now - j->cur.oldest_ms) / 1000.0 : 0.0;
  if (age < 0) age = 0;
  sb_printf(&tail,
            "],\"stats\":{\"backlog\":%" PRId64 ",\"oldest_pending_s\":%.3f},\"sent_at\":", j->cur.backlog,
            age);
  journal__sb_time(&tail, now);
  sb_add(&tail, "}", 1);

  if (b->max_events) {
    size_t fixed = head.len + tail.len;
    size_t budget = budget_max > fixed ? budget_max - fixed : 0;
    s = journal__st(j, JS_READ_EVENTS);
    sqlite3_bind_int64(s, 1, (int64_t)b->max_events);
    sqlite3_bind_int64(s, 2, b->from_seq > 0 ? b->from_seq : 1);
    sqlite3_bind_int64(s, 3, b->to_seq > 0 ? b->to_seq : INT64_MAX);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      int64_t seq = sqlite3_column_int64(s, 0);
      const char *id = (const char *)sqlite3_column_text(s, 1);
      size_t idlen = (size_t)sqlite3_column_bytes(s, 1);
      int64_t ing = sqlite3_column_int64(s, 2);
      const char *body = (const char *)sqlite3_column_blob(s, 3);
      size_t blen = (size_t)sqlite3_column_bytes(s, 3);
      size_t mark = evs.len;
      if (b->n_events) sb_add(&evs, ",", 1);
      splice_event(&evs, body ? body : "", blen, id ? id : "", id ? idlen : 0, seq, ing);
      if (b->n_events && (evs.len > budget || evs.err == -ENOSPC)) {
        sb_truncate(&evs, mark);
        break;
      }
      if (b->n_events == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        int64_t *ns = realloc(b->seqs, ncap * sizeof(int64_t));
        if (!ns) {
          evs.err = -ENOMEM;
          break;
        }
        b->seqs = ns;
        cap = ncap;
      }
      b->seqs[b->n_events++] = seq;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) goto sqlfail;
  }
  if (head.err || evs.err || tail.err) {
    b->status = head.err ? journal__sb_err(&head) : evs.err ? journal__sb_err(&evs) : journal__sb_err(&tail);
    goto out;
  }
  if (b->n_events) {
    b->first_seq = b->seqs[0];
    b->last_seq = b->seqs[b->n_events - 1];
    snprintf(b->idem_key, sizeof(b->idem_key), "%s:%s:%" PRId64 "-%" PRId64, j->agent_id, j->epoch,
             b->first_seq, b->last_seq);
  }
  /* assemble into head's buffer (bounded by the parts already built) */
  head.max = head.len + evs.len + tail.len;
  sb_add(&head, evs.p ? evs.p : "", evs.len);
  sb_add(&head, tail.p, tail.len);
  if (head.err) {
    b->status = journal__sb_err(&head);
    goto out;
  }
  b->raw_len = head.len;
  if (b->codec == CODEC_IDENTITY) {
    b->body = head.p;
    b->body_len = head.len;
    head.p = NULL;
  } else {
    int r = codec_compress(b->codec, head.p, head.len, &b->body, &b->body_len);
    if (r < 0) {
      b->status = r;
      b->body = NULL;
    }
  }
  goto out;
sqlfail:
  b->status = journal__errno_of_sqlite(rc);
out:
  if (b->status) {
    free(b->seqs);
    b->seqs = NULL;
    b->n_events = 0;
    b->first_seq = b->last_seq = 0;
    b->idem_key[0] = '\0';
    b->dropped_upto_rowid = 0;
  }
  sb_clear(&head);
  sb_clear(&evs);
  sb_clear(&tail);
}

/* --- ack --------------------------------------------------------------------- */

static bool batch_has(const journal_batch *b, int64_t seq) {
  size_t lo = 0, hi = b->n_events;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (b->seqs[mid] == seq) return true;
    if (b->seqs[mid] < seq) lo = mid + 1;
    else hi = mid;
  }
  return false;
}

/* Keep dead-letter under its cap: delete the oldest dead rows past it. */
int journal__dead_cap(journal *j, jstate *tx) {
  if (tx->dead_bytes <= j->max_dead) return SQLITE_OK;
  int64_t need = tx->dead_bytes - j->max_dead, sum = 0, cutoff = 0;
  int rc = SQLITE_OK;
  sqlite3_stmt *s = journal__st(j, JS_DL_OLDEST_SIZES);
  while (sum < need && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    cutoff = sqlite3_column_int64(s, 0);
    sum += sqlite3_column_int64(s, 1) + DL_ROW_OVERHEAD;
  }
  sqlite3_reset(s);
  if (!cutoff) return SQLITE_OK;
  s = journal__st(j, JS_DL_DELETE_UPTO);
  sqlite3_bind_int64(s, 1, cutoff);
  if ((rc = journal__run(j, JS_DL_DELETE_UPTO)) != SQLITE_OK) return rc;
  tx->dead_n -= sqlite3_changes(j->db);
  tx->dead_bytes -= sum;
  if (tx->dead_n <= 0 || tx->dead_bytes < 0) {
    tx->dead_n = tx->dead_n < 0 ? 0 : tx->dead_n;
    tx->dead_bytes = tx->dead_n ? tx->dead_bytes : 0;
  }
  return SQLITE_OK;
}

/* An ack commits without its own fsync even under durability fsync: losing
 * it to a power cut only means the batch is sent again (the collector counts
 * it as duplicates) and its dropped ranges are reported again. The next
 * fsync'd commit syncs the WAL up to and including it. This roughly halves
 * the fsyncs of a draining agent. */
/* The disk is full and the ack did not fit: deleting a batch writes every
 * page it touches to the WAL first, so a big batch can need more room than
 * is left, forever — and the journal would never drain. Delete the
 * acknowledged events (not the rejected ones) a few at a time instead, one
 * small transaction and checkpoint each (the WAL is reused after a
 * checkpoint, and the freed pages take the next events without growing the
 * file). The ack still reports failure: what is left of the batch (rejected
 * events, dropped ranges) is sent again and the collector answers it as
 * duplicates. */
#define ACK_STEP_EVENTS 16
static void ack_in_steps(journal *j, journal_ack *a) {
  const journal_batch *b = a->batch;
  size_t i = 0;
  while (i < b->n_events) {
    int rc = journal__run_plain(j, JS_BEGIN);
    int64_t gone = 0;
    size_t stop = i + ACK_STEP_EVENTS < b->n_events ? i + ACK_STEP_EVENTS : b->n_events;
    for (size_t k = i; rc == SQLITE_OK && k < stop; k++) {
      bool rejected = false;
      for (size_t r = 0; r < a->n_rejected && !rejected; r++) rejected = a->rejected[r].seq == b->seqs[k];
      if (rejected) continue;
      sqlite3_stmt *s = journal__st(j, JS_DELETE_EVENT);
      sqlite3_bind_int64(s, 1, b->seqs[k]);
      if ((rc = journal__run(j, JS_DELETE_EVENT)) == SQLITE_OK) gone += sqlite3_changes(j->db);
    }
    rc = journal__finish_tx(j, rc);
    if (rc != SQLITE_OK) {
      journal__note_write_failure(j, rc);
      return;
    }
    j->cur.backlog -= gone;
    journal__refresh(j); /* checkpoints once the WAL passed half its bound */
    sqlite3_exec(j->db, JSQL_CKPT_PASSIVE, NULL, NULL, NULL);
    i = stop;
  }
}

void journal__do_ack(journal *j, journal_ack *a) {
  const journal_batch *b = a->batch;
  int64_t now = tf_now_ms();
  jstate tx = j->cur;
  a->status = 0;
  if (b->last_seq > j->seen_high) j->seen_high = b->last_seq;
  if (j->fsync) journal__run_plain(j, JS_SYNC_RELAXED);
  int rc = journal__run_plain(j, JS_BEGIN);
  for (size_t i = 0; rc == SQLITE_OK && i < a->n_rejected; i++) {
    int64_t seq = a->rejected[i].seq;
    if (!batch_has(b, seq)) continue;
    sqlite3_stmt *s = journal__st(j, JS_DL_MOVE);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_text(s, 2, a->rejected[i].error, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, now);
    int r = sqlite3_step(s);
    int64_t sz = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    if (r == SQLITE_ROW) r = sqlite3_step(s);
    sqlite3_reset(s);
    if (r != SQLITE_DONE) {
      rc = r;
      break;
    }
    if (sz < 0) continue; /* not pending any more (dropped by the overflow policy) */
    s = journal__st(j, JS_DELETE_EVENT);
    sqlite3_bind_int64(s, 1, seq);
    if ((rc = journal__run(j, JS_DELETE_EVENT)) != SQLITE_OK) break;
    s = journal__st(j, JS_INSERT_DROPPED);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_text(s, 3, "dead_letter", -1, SQLITE_STATIC);
    if ((rc = journal__run(j, JS_INSERT_DROPPED)) != SQLITE_OK) break;
    tx.backlog--;
    tx.dead_n++;
    tx.dead_bytes += sz + DL_ROW_OVERHEAD;
  }
  if (rc == SQLITE_OK && b->n_events) {
    /* every pending seq in [first, last] was in the batch: batches take the
     * oldest events and later events get higher seqs */
    sqlite3_stmt *s = journal__st(j, JS_DELETE_RANGE);
    sqlite3_bind_int64(s, 1, b->first_seq);
    sqlite3_bind_int64(s, 2, b->last_seq);
    if ((rc = journal__run(j, JS_DELETE_RANGE)) == SQLITE_OK) tx.backlog -= sqlite3_changes(j->db);
  }
  if (rc == SQLITE_OK && b->dropped_upto_rowid > 0) {
    sqlite3_stmt *s = journal__st(j, JS_DELETE_DROPPED_UPTO);
    sqlite3_bind_int64(s, 1, b->dropped_upto_rowid);
    rc = journal__run(j, JS_DELETE_DROPPED_UPTO);
  }
  if (rc == SQLITE_OK) rc = journal__dead_cap(j, &tx);
  rc = journal__finish_tx(j, rc);
  if (j->fsync) journal__run_plain(j, JS_SYNC_FULL);
  if (rc == SQLITE_OK) {
    j->cur = tx;
    journal__set_writable(j, true, NULL);
  } else {
    a->status = journal__errno_of_sqlite(rc) == -ENOSPC ? -EIO : journal__errno_of_sqlite(rc);
    journal__note_write_failure(j, rc);
    /* a full disk usually answers SQLITE_FULL, but growing the WAL or its
     * index can fail as an I/O error: smaller steps free pages either way */
    if ((rc & 0xff) == SQLITE_FULL || (rc & 0xff) == SQLITE_IOERR) {
      journal__refresh(j);
      ack_in_steps(j, a);
    }
  }
  journal__refresh(j);
}
