/* journal_tx.c: how every op on the worker runs SQL — the prepared-statement
 * helpers, finishing a write transaction, and what follows each one
 * (refresh the figures, checkpoint a long WAL, publish the stats, note a
 * failed write). Shared by commit, batch/ack, dead-letter, open and the
 * worker, so it is its own file. Worker thread only (and journal_open
 * before the worker starts). */
#define _GNU_SOURCE
#include "journal_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int journal__errno_of_sqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_FULL: return -ENOSPC;
    default: return -EIO;
  }
}

/* --- statement helpers (worker) ------------------------------------------- */

sqlite3_stmt *journal__st(journal *j, int id) {
  sqlite3_stmt *s = j->st[id];
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

/* Step a statement that returns no rows; leaves it reset. */
int journal__run(journal *j, int id) {
  sqlite3_stmt *s = j->st[id];
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

int journal__run_plain(journal *j, int id) {
  journal__st(j, id);
  return journal__run(j, id);
}

static int64_t pragma_int(journal *j, int id, int *rc) {
  sqlite3_stmt *s = journal__st(j, id);
  int r = sqlite3_step(s);
  int64_t v = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  if (r != SQLITE_ROW && rc) *rc = r == SQLITE_DONE ? SQLITE_ERROR : r;
  return v;
}

int64_t journal__live_bytes_now(journal *j, int *rc) {
  int64_t pc = pragma_int(j, JS_PAGE_COUNT, rc);
  int64_t fl = pragma_int(j, JS_FREELIST_COUNT, rc);
  return (pc - fl) * j->page_size;
}

void journal__set_writable(journal *j, bool ok, const char *why) {
  j->writable = ok;
  if (ok) j->unwritable_reason[0] = '\0';
  else snprintf(j->unwritable_reason, sizeof(j->unwritable_reason), "%s", why);
}

/* --- after a transaction ------------------------------------------------- */

void journal__publish(journal *j) {
  uv_mutex_lock(&j->slock);
  journal_stats *s = &j->stats;
  memcpy(s->epoch, j->epoch, sizeof(s->epoch));
  s->next_seq = j->cur.next_seq;
  s->backlog = j->cur.backlog;
  s->acked_seq = j->cur.backlog ? j->cur.min_seq - 1 : j->cur.next_seq - 1;
  s->oldest_ingested_at_ms = j->cur.backlog ? j->cur.oldest_ms : 0;
  s->journal_bytes = j->live_bytes;
  s->wal_bytes = j->wal_bytes;
  s->dropped_total = j->cur.dropped_total;
  s->dead_letter = j->cur.dead_n;
  s->dead_letter_bytes = j->cur.dead_bytes;
  s->ingested_total = j->cur.ingested_total;
  s->duplicates_total = j->cur.duplicates_total;
  s->quarantined = j->quarantined;
  s->migrated_from = j->migrated_from;
  s->commit_groups = j->commit_groups;
  s->dedup_bytes = (int64_t)(j->filt.n * sizeof(uint64_t));
  s->dedup_sql = j->sql_dedup;
  s->dedup_switches = j->dedup_switches;
  s->cache_bytes = (int64_t)j->cache_kib * 1024;
  snprintf(s->quarantine_reason, sizeof(s->quarantine_reason), "%s", j->quarantine_reason);
  s->writable = j->writable;
  snprintf(s->unwritable_reason, sizeof(s->unwritable_reason), "%s", j->unwritable_reason);
  uv_mutex_unlock(&j->slock);
}

int64_t journal__wal_size(journal *j) {
  struct stat sb;
  return stat(j->wal_path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* Refresh oldest/live/WAL figures after a transaction, checkpoint when the
 * WAL passed half its bound, and publish. */
void journal__refresh(journal *j) {
  sqlite3_stmt *s = journal__st(j, JS_OLDEST);
  if (sqlite3_step(s) == SQLITE_ROW) {
    j->cur.min_seq = sqlite3_column_int64(s, 0);
    j->cur.oldest_ms = sqlite3_column_int64(s, 1);
  } else {
    j->cur.min_seq = 0;
    j->cur.oldest_ms = 0;
  }
  sqlite3_reset(s);
  int rc = SQLITE_OK;
  int64_t live = journal__live_bytes_now(j, &rc);
  if (rc == SQLITE_OK) j->live_bytes = live;
  j->wal_bytes = journal__wal_size(j);
  if (j->wal_bytes > j->max_wal / 2) {
    sqlite3_exec(j->db, JSQL_CKPT_TRUNCATE, NULL, NULL, NULL);
    j->wal_bytes = journal__wal_size(j);
  }
  journal__dedup_settle(j);
  journal__publish(j);
}

/* Finish a write transaction: COMMIT, or ROLLBACK on failure. Returns the
 * sqlite code. */
int journal__finish_tx(journal *j, int rc) {
  if (rc == SQLITE_OK) rc = journal__run_plain(j, JS_COMMIT);
  if (rc != SQLITE_OK && !sqlite3_get_autocommit(j->db)) journal__run_plain(j, JS_ROLLBACK);
  return rc;
}

void journal__note_write_failure(journal *j, int rc) {
  j->last_write_fail_ns = uv_hrtime();
  char why[128];
  snprintf(why, sizeof(why), "journal write failed: %s", sqlite3_errstr(rc));
  if ((rc & 0xff) == SQLITE_FULL) snprintf(why, sizeof(why), "disk full: %s", sqlite3_errstr(rc));
  journal__set_writable(j, false, why);
}
