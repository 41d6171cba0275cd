/* store_sqlite_conn: the SQLite store's statement helpers — reset and bind,
 * step, and map SQLite's result codes to negative errnos. store_sqlite.c
 * (ingest, delivery) and store_sqlite_metrics.c (rollups) both build on it;
 * it calls neither. */
#include "store_sqlite_conn.h"

#include <errno.h>
#include <stdio.h>

int ss__fail(store_sqlite *s, const char *what) {
  int rc = sqlite3_extended_errcode(s->db);
  snprintf(s->err, sizeof(s->err), "%s: %s", what, sqlite3_errmsg(s->db));
  switch (rc & 0xff) {
    case SQLITE_FULL: return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_READONLY:
    case SQLITE_PERM: return -EROFS;
    default: return -EIO;
  }
}

/* Reset and clear a statement; returns it for binding. */
sqlite3_stmt *ss__stmt(store_sqlite *s, int which) {
  sqlite3_stmt *st = s->st[which];
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return st;
}

/* Step a statement that returns no rows. */
int ss__exec(store_sqlite *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  int r = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? 0 : ss__fail(s, what);
  sqlite3_reset(st);
  return r;
}

int ss__scalar(store_sqlite *s, int which, const char *what, int64_t *ret) {
  sqlite3_stmt *st = ss__stmt(s, which);
  int rc = sqlite3_step(st);
  int r = rc == SQLITE_ROW ? 0 : ss__fail(s, what);
  if (r == 0) *ret = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return r;
}

void ss__text(sqlite3_stmt *st, int i, const char *v) {
  if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}
