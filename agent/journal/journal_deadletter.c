/* journal_deadletter.c: the operator's dead-letter commands — export
 * (NDJSON), requeue (back into events with new seqs) and purge. Worker
 * thread only; events reach dead-letter in the ack (journal_batch.c). */
#define _GNU_SOURCE
#include "journal_int.h"

#include "timefmt.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- dead-letter ------------------------------------------------------------ */

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void dl_export(journal *j, journal_dl *d) {
  size_t max = d->max_bytes ? d->max_bytes : EXPORT_DEFAULT_MAX;
  size_t total = 0;
  strbuf line, out;
  sb_init(&line, 64 * 1024);
  sb_init(&out, max);
  sqlite3_stmt *s = journal__st(j, JS_DL_SELECT_ALL);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    sb_reset(&line);
    const char *id = (const char *)sqlite3_column_text(s, 1);
    const char *body = (const char *)sqlite3_column_blob(s, 3);
    size_t blen = (size_t)sqlite3_column_bytes(s, 3);
    const char *err = (const char *)sqlite3_column_text(s, 4);
    sb_printf(&line, "{\"seq\":%" PRId64 ",\"event_id\":", (int64_t)sqlite3_column_int64(s, 0));
    journal__sb_json_str(&line, id ? id : "", id ? strlen(id) : 0);
    sb_adds(&line, ",\"ingested_at\":");
    journal__sb_time(&line, sqlite3_column_int64(s, 2));
    sb_adds(&line, ",\"failed_at\":");
    journal__sb_time(&line, sqlite3_column_int64(s, 5));
    sb_adds(&line, ",\"error\":");
    journal__sb_json_str(&line, err ? err : "", err ? strlen(err) : 0);
    sb_adds(&line, ",\"event\":");
    size_t k = 0;
    while (k < blen && journal__is_ws(body[k])) k++;
    if (body && k < blen && body[k] == '{') sb_add(&line, body, blen);
    else if (id && *id && journal__body_stripped(body, blen)) /* a row stored by commit_one */
      journal__sb_body(&line, body, blen, id ? id : "", id ? strlen(id) : 0);
    else sb_adds(&line, "null");
    sb_adds(&line, "}\n");
    if (line.err) {
      d->status = journal__sb_err(&line);
      break;
    }
    if (total + line.len > max) {
      d->truncated = true;
      break;
    }
    total += line.len;
    if (d->out_fd >= 0) {
      int w = write_all(d->out_fd, line.p, line.len);
      if (w < 0) {
        d->status = w;
        snprintf(d->error, sizeof(d->error), "export write failed: %s", strerror(-w));
        break;
      }
    } else {
      sb_add(&out, line.p, line.len);
      if (out.err) {
        d->status = journal__sb_err(&out);
        break;
      }
    }
    d->count++;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    d->status = journal__errno_of_sqlite(rc);
    snprintf(d->error, sizeof(d->error), "export failed: %s", sqlite3_errstr(rc));
  }
  sqlite3_reset(s);
  sb_clear(&line);
  if (d->status == 0 && d->out_fd < 0) {
    d->out = out.p ? out.p : strdup("");
    d->out_len = out.len;
    if (!d->out) d->status = -ENOMEM;
  } else {
    sb_clear(&out);
  }
}

static void dl_write(journal *j, journal_dl *d) {
  int64_t now = tf_now_ms();
  jstate tx = j->cur;
  j->tx_added = 0;
  int rc = journal__run_plain(j, JS_BEGIN);
  if (rc == SQLITE_OK && d->kind == JOURNAL_DL_REQUEUE) {
    int64_t lo = journal__filt_lo(j);
    sqlite3_stmt *s = journal__st(j, JS_DL_SELECT_ALL);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(s, 1);
      size_t idlen = (size_t)sqlite3_column_bytes(s, 1);
      const void *body = sqlite3_column_blob(s, 3);
      int blen = sqlite3_column_bytes(s, 3);
      uint64_t h = journal__id_hash(id ? id : "", idlen);
      int p = journal__is_pending(j, id ? id : "", idlen, h, lo, tx.next_seq);
      if (p < 0) {
        rc = -p;
        break;
      }
      if (p) {
        d->duplicates++;
        continue;
      }
      sqlite3_stmt *ins = journal__st(j, JS_INSERT_EVENT);
      sqlite3_bind_int64(ins, 1, tx.next_seq);
      sqlite3_bind_text(ins, 2, id ? id : "", (int)idlen, SQLITE_TRANSIENT);
      sqlite3_bind_int64(ins, 3, now);
      sqlite3_bind_blob(ins, 4, body ? body : "", blen, SQLITE_TRANSIENT);
      if ((rc = journal__run(j, JS_INSERT_EVENT)) != SQLITE_OK) break;
      if (journal__filt_add(j, h, tx.next_seq, lo, tx.next_seq + 1) < 0) {
        rc = SQLITE_NOMEM;
        break;
      }
      tx.next_seq++;
      tx.backlog++;
      d->count++;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_OK && r != SQLITE_DONE) rc = r;
    if (rc == SQLITE_OK) {
      s = journal__st(j, JS_UPDATE_META);
      sqlite3_bind_int64(s, 1, tx.next_seq);
      sqlite3_bind_int64(s, 2, tx.dropped_total);
      rc = journal__run(j, JS_UPDATE_META);
    }
    if (rc == SQLITE_OK) rc = journal__run_plain(j, JS_DL_PURGE);
  } else if (rc == SQLITE_OK) {
    rc = journal__run_plain(j, JS_DL_PURGE);
    if (rc == SQLITE_OK) d->count = sqlite3_changes(j->db);
  }
  if (rc == SQLITE_OK) {
    tx.dead_n = 0;
    tx.dead_bytes = 0;
  }
  rc = journal__finish_tx(j, rc);
  if (rc == SQLITE_OK) {
    j->cur = tx;
    journal__set_writable(j, true, NULL);
  } else {
    d->status = journal__errno_of_sqlite(rc) == -ENOSPC ? -EIO : journal__errno_of_sqlite(rc);
    d->count = d->duplicates = 0;
    snprintf(d->error, sizeof(d->error), "dead-letter %s failed: %s",
             d->kind == JOURNAL_DL_REQUEUE ? "requeue" : "purge", sqlite3_errstr(rc));
    journal__note_write_failure(j, rc);
  }
  journal__refresh(j);
}

void journal__do_dl(journal *j, journal_dl *d) {
  d->status = 0;
  d->count = d->duplicates = 0;
  d->truncated = false;
  d->out = NULL;
  d->out_len = 0;
  d->error[0] = '\0';
  switch (d->kind) {
    case JOURNAL_DL_EXPORT: dl_export(j, d); break;
    case JOURNAL_DL_REQUEUE:
    case JOURNAL_DL_PURGE: dl_write(j, d); break;
    default: d->status = -EINVAL; snprintf(d->error, sizeof(d->error), "unknown dead-letter operation");
  }
}
