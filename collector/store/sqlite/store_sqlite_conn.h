/* store_sqlite_conn: the SQLite store's handle and statement helpers
 * (store_sqlite_conn.c). store_sqlite.c is ingest and delivery;
 * store_sqlite_metrics.c is the metrics side (rollup upkeep and reads); both
 * include this, neither includes the other. */
#ifndef FERRY_COLLECTOR_STORE_SQLITE_CONN_H
#define FERRY_COLLECTOR_STORE_SQLITE_CONN_H

#include <sqlite3.h>

#include "build_gate.h"
#include "ss_checkpoint.h"
#include "ss_keybloom.h"
#include "strbuf.h"
#include "store.h"
#include "store_models.h"
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
  int64_t reader_cache_kib; /* page cache of each reader handle opened from this one */
  size_t slice_events;      /* most events a rollup build holds (0: RSL_SLICE_EVENTS) */
  ss_ckpt *ckpt;            /* writer: WAL checkpoints on their own thread */
  bgate *gate;              /* one query's stale-hour build at a time, shared with the readers */
  st_txmemo memo;           /* writer only: this transaction's writes, known ids */
  /* writer: hours this transaction already marked dirty, direct-mapped by
   * hour modulo its size (value hour + 1; 0 = empty) — a cheap first check in
   * front of memo.tx_done (2048: every hour of 85 days, so a backfill
   * spread over a month does not thrash it) */
  int64_t hour_seen[2048];
  strbuf body; /* a body being packed (writer) or rebuilt (export) */
  /* writer: when ingest last marked an hour dirty (direct-mapped by hour;
   * tf_mono_ms), so upkeep under load passes over the hours still being
   * written (store_sqlite_metrics.c) */
  struct {
    int64_t hour;
    uint64_t at_ms;
  } hot[64];
  int64_t hot_ms; /* how recent a mark makes an hour hot (0: SSM_HOT_MS; -1: never) */
  /* writer: the random keys waiting in ev_key_new (ss_keyfold.h) */
  struct {
    int64_t n;         /* keys it holds; -1: count them before the next decision */
    int piece;         /* the next piece of a fold under way; -1: none */
    int64_t stored;    /* events stored (the largest rseq) */
    int64_t fold_at;   /* a fixed threshold (tests); 0: the square-root rule */
    ssk_bloom bloom;   /* every key in ev_key and ev_key_new, once a random id was looked up */
    size_t bloom_max;  /* its bound: a quarter of the writer's page cache (0: SSK_BLOOM_MAX_BYTES) */
    bool bloom_failed; /* no memory for it (or its bound too small): not tried again */
  } kf;
} store_sqlite;

#define SS(s) ((store_sqlite *)(s))

/* s->err from the connection's last error, and the negative errno it means. */
int ss__fail(store_sqlite *s, const char *what);
/* Reset and clear statement which; returns it for binding. */
sqlite3_stmt *ss__stmt(store_sqlite *s, int which);
/* Step a statement that returns no rows (then reset it): 0 or ss__fail. */
int ss__exec(store_sqlite *s, sqlite3_stmt *st, const char *what);
/* Statement which (no parameters) returns one row: its first column into
 * *ret. 0 or ss__fail(what). */
int ss__scalar(store_sqlite *s, int which, const char *what, int64_t *ret);
/* Bind text (NULL = SQL NULL; the text must outlive the step). */
void ss__text(sqlite3_stmt *st, int i, const char *v);

#endif
