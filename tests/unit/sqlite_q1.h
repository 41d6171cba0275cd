/* sqlite_q1: what the SQLite store's unit tests read straight from the
 * database file beside the store — the first column of the first row of
 * one query, as an integer (-1 when the query fails or returns no row). */
#ifndef FERRY_TEST_SQLITE_Q1_H
#define FERRY_TEST_SQLITE_Q1_H

#include <sqlite3.h>
#include <stdint.h>

static inline int64_t q1(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

#endif
