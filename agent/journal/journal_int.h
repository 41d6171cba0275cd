/* journal_int.h: what the files of agent/journal/ share and nothing outside
 * the folder may use — the journal struct (its fields say which thread owns
 * them), the prepared-statement ids, the sizing constants, and the functions
 * one file calls in another (named journal__xxx). Included only by the .c
 * files of agent/journal/; the rest of the agent uses journal.h. */
#ifndef FERRY_JOURNAL_INT_H
#define FERRY_JOURNAL_INT_H

#include "dbthread.h"
#include "journal.h"
#include "strbuf.h"
#include "journal_sql.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define QUARANTINE_KEEP         3
#define WRITE_PROBE_EVERY_NS    (2 * 1000000000ULL) /* unwritable journal: retry a write this often */
#define EVENT_ROW_OVERHEAD      24                  /* record header + rowid + ingested_at, per event row */
#define DL_ROW_OVERHEAD         48                  /* per dead-letter row, for the dead-letter cap */
/* Page cache of the worker's connection. Inserts append and batches read in
 * seq order, so a small cache holds the working set: 512 KiB measured the
 * same ingest CPU per event as 2 MiB at a 1M backlog, 1.5 MiB less resident.
 * While dedup runs on the events_event_id index (lookups at random in it),
 * the cache is CACHE_SQL_DEDUP_KIB. Figures in docs/benchmarks.md. */
#define CACHE_KIB               512
#define CACHE_SQL_DEDUP_KIB     2048
#define EXPORT_DEFAULT_MAX      (64 * 1024 * 1024)
#define FILTER_SEG_BITS         6 /* the dedup table is 2^6 segments (journal_pending.c) */
#define FILTER_SEGS             (1u << FILTER_SEG_BITS)
#define FILTER_SEG_MIN          64 /* slots per segment, at least */
#define FILTER_MIN_SLOTS        (FILTER_SEGS * FILTER_SEG_MIN)
#define FILTER_GROW_NUM         3 /* a segment is rebuilt to (live + extra) × 3/2 slots: 0.67 full */
#define FILTER_GROW_DEN         2
#define FILTER_SWEEP_PCT        85 /* a segment is swept (and maybe grown) past 85% full */
#define FILTER_FULL_PCT         60 /* live past 60% of the bound → SQL dedup */
#define DEDUP_DEFAULT_MAX_BYTES (16 * 1024 * 1024)

enum {
#define X(name, sql) JS_##name,
  JOURNAL_STMTS(X)
#undef X
      JS_COUNT_
};

/* Figures that change with transactions. The worker edits a copy (tx) while a
 * transaction runs and makes it current only after COMMIT. */
typedef struct jstate {
  int64_t next_seq;
  int64_t backlog;
  int64_t min_seq;   /* lowest pending seq, 0 when empty */
  int64_t oldest_ms; /* its ingested_at */
  int64_t dropped_total;
  int64_t dead_n, dead_bytes;
  int64_t ingested_total, duplicates_total;
} jstate;

typedef struct idseg {
  uint64_t *slots; /* 0 = empty; else fp << 32 | (uint32_t)seq */
  size_t n;        /* number of slots (any size ≥ FILTER_SEG_MIN) */
  size_t used;
} idseg;

typedef struct idfilter {
  idseg seg[FILTER_SEGS]; /* chosen by the fingerprint; all allocated or none */
  size_t n;               /* slots in all segments (0: no table) */
  size_t used;
} idfilter;

struct journal {
  uv_loop_t *loop;
  /* the worker thread, the request queues' lock (t.mu, t.cv) and the
   * completions handed back to the loop thread (common/dbthread) */
  dbthread t;
  bool locks_inited;

  /* options (copied) */
  char *path, *wal_path, *shm_path, *dir, *base;
  char *agent_id, *machine_id;
  char *site; /* NULL: none */
  bool fsync, reject;
  int64_t max_journal, max_wal, max_dead;

  /* request queues: loop → worker, under the thread's lock (dbthread_lock) */
  bool hold;              /* test hook: the worker leaves the queue alone */
  int64_t test_max_pages; /* test hook: > 0 → apply PRAGMA max_page_count */
  journal_commit *q_commit, *q_commit_tail;
  size_t q_commit_n, q_commit_bytes;
  journal_ack *q_ack, *q_ack_tail;
  journal_batch *q_batch, *q_batch_tail;
  journal_dl *q_dl, *q_dl_tail;

  /* published figures */
  uv_mutex_t slock;
  journal_stats stats;

  /* worker-owned (and journal_open's, before the worker starts) */
  sqlite3 *db;
  sqlite3_stmt *st[JS_COUNT_];
  char epoch[17];
  jstate cur;
  idfilter filt;
  size_t filt_max_slots;  /* the table's bound, from dedup_max_bytes */
  bool sql_dedup;         /* dedup by the event_id index instead of filt */
  int64_t dedup_switches; /* table → SQL and back, since start */
  int cache_kib;          /* PRAGMA cache_size in force (journal__dedup_cache) */
  int64_t live_bytes;     /* after the last transaction */
  int64_t wal_bytes;
  int64_t page_size;
  int64_t tx_added; /* bytes inserted by the running transaction */
  /* the highest seq of a batch the collector answered 200, this run: a
   * dropped range beyond every seq the collector has seen is held back (a
   * dead-lettered MQTT message may take the newest seq; the collector
   * refuses a range past its high_seq) */
  int64_t seen_high;
  bool writable;
  char unwritable_reason[128];
  int64_t quarantined;
  char quarantine_reason[128];
  int migrated_from;
  uint64_t last_write_fail_ns; /* uv_hrtime of the last failed write */
  int64_t commit_groups;
  int open_rc; /* sqlite code of a failed open_rw/load */
};

/* --- the upload body and the export are built in common/strbuf ---------- */

/* A strbuf past its bound fails with -ENOSPC; the journal reports that as
 * -EFBIG ("File too large"), since -ENOSPC means a full disk here. */
static inline int journal__sb_err(const strbuf *b) { return b->err == -ENOSPC ? -EFBIG : b->err; }

/* journal.c: the worker thread's body (run by common/dbthread) */
void journal__worker(dbthread *t);

/* journal_tx.c: statements, transactions, and what follows each one */
int journal__errno_of_sqlite(int rc);
sqlite3_stmt *journal__st(journal *j, int id);
int journal__run(journal *j, int id);
int journal__run_plain(journal *j, int id);
int64_t journal__live_bytes_now(journal *j, int *rc);
void journal__set_writable(journal *j, bool ok, const char *why);
void journal__publish(journal *j);
int64_t journal__wal_size(journal *j);
void journal__refresh(journal *j);
int journal__finish_tx(journal *j, int rc);
void journal__note_write_failure(journal *j, int rc);

/* journal_sbuf.c: JSON writers over a strbuf */
void journal__sb_json_str(strbuf *b, const char *s, size_t n);
void journal__sb_time(strbuf *b, int64_t ms);
bool journal__is_ws(char c);

/* journal_body.c: a body stored without its leading event_id member */
size_t journal__body_id_prefix(const char *body, size_t blen, const char *id, size_t idlen);
bool journal__body_stripped(const char *body, size_t blen);
void journal__sb_id_member(strbuf *b, const char *id, size_t idlen);
void journal__sb_body(strbuf *b, const char *body, size_t blen, const char *id, size_t idlen);

/* journal_pending.c: the pending-id filter and SQL dedup */
uint64_t journal__id_hash(const char *s, size_t n);
int journal__filt_init(idfilter *f, size_t live, size_t max_slots);
void journal__filt_free(idfilter *f);
int journal__filt_insert(idfilter *f, uint64_t slot, int64_t lo, int64_t hi, size_t max_slots);
int journal__filt_load(journal *j, sqlite3_stmt *scan, idfilter *out);
uint64_t journal__filt_slot(uint64_t h, int64_t seq);
uint64_t journal__filt_pos_hash(uint64_t slot);
size_t journal__filt_size_for(size_t live);
bool journal__filt_fits(size_t live, size_t max_slots);
void journal__dedup_settle(journal *j);
int journal__dedup_cache(journal *j);
int journal__create_id_index(journal *j);
int journal__is_pending(journal *j, const char *id, size_t idlen, uint64_t h, int64_t lo, int64_t hi);
void journal__filt_prefetch(const journal *j, uint64_t h);
int journal__filt_add(journal *j, uint64_t h, int64_t seq, int64_t lo, int64_t hi);
int64_t journal__filt_lo(const journal *j);

/* journal_commit.c, journal_batch.c, journal_deadletter.c: the ops the worker runs */
void journal__do_commit_group(journal *j, journal_commit *list);
void journal__do_batch(journal *j, journal_batch *b);
void journal__do_ack(journal *j, journal_ack *a);
/* Keep dead-letter under --max-dead-letter-bytes: delete the oldest rows past it. */
int journal__dead_cap(journal *j, jstate *tx);
void journal__do_dl(journal *j, journal_dl *d);

/* journal_open.c */
int journal__exec_pragma(sqlite3 *db, const char *name, long long v);
void journal__on_close(dbthread *t);

#endif
