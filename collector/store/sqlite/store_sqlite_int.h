/* store_sqlite_int: what the SQLite store's two files share — the handle and
 * the statement helpers. store_sqlite.c is ingest and delivery;
 * store_sqlite_metrics.c is the metrics side (rollup upkeep and reads). */
#ifndef FERRY_COLLECTOR_STORE_SQLITE_INT_H
#define FERRY_COLLECTOR_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store.h"
#include "store_sqlite_sql.h"
#include "store_txmemo.h"

typedef struct store_sqlite {
  store base;
  sqlite3 *db;
  sqlite3_stmt *st[SS_COUNT_];
  char err[256];
  bool reader; /* a read-only handle from open_reader */
  char *path;
  int64_t max_state_ms;
  st_txmemo memo; /* writer only: this transaction's writes, known ids */
  /* writer: hours this transaction already marked dirty, direct-mapped by
   * hour modulo its size (value hour + 1; 0 = empty) — a cheap first check in
   * front of memo.tx_done for the few hours most events fall in */
  int64_t hour_seen[256];
} store_sqlite;

#define SS(s) ((store_sqlite *)(s))

int ss__fail(store_sqlite *s, const char *what);
sqlite3_stmt *ss__stmt(store_sqlite *s, int which);
int ss__exec(store_sqlite *s, sqlite3_stmt *st, const char *what);
void ss__text(sqlite3_stmt *st, int i, const char *v);

/* store_sqlite_metrics.c */
/* A newly stored event (inside the batch's savepoint): mark its stale hours
 * and record its ids. */
int ssm_note_event(store_sqlite *s, const ev_event *e, const char *agent_id);
/* The transaction ended: committed (ids become known) or rolled back. */
void ssm_tx_end(store_sqlite *s, bool committed);
/* At open (writer handle): load the known ids, and mark every hour dirty when
 * the rollups were built with another max_state. */
int ssm_open(store_sqlite *s, char *err, size_t errlen);
void ssm_close(store_sqlite *s);
int ssm_maintain(store *base, int max_units, bool *ret_more);
int ssm_metrics(store *base, const st_metrics_query *q, metrics_result *ret);
int ssm_id_known(store *base, st_id_kind kind, const char *id, bool *ret);

#endif
