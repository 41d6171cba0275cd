/* journal.c: the agent's durable event store (see journal.h for the contract).
 *
 * Why it is shaped this way:
 * - One worker thread owns the sqlite3 connection; the loop thread only
 *   queues requests (mutex + condvar) and gets completions back through one
 *   uv_async. SQLite, fsync and compression never run on the loop thread.
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
 *   writes ~one WAL page per event). Memory: 8 bytes per slot, the table kept
 *   between 0.4 and 0.7 full (11-20 bytes per pending event).
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
#define _GNU_SOURCE
#include "journal.h"
#include "journal_sql.h"
#include "timefmt.h"
#include "version.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QUARANTINE_KEEP      3
#define WRITE_PROBE_EVERY_NS (2 * 1000000000ULL) /* unwritable journal: retry a write this often */
#define EVENT_ROW_OVERHEAD   24                  /* record header + rowid + ingested_at, per event row */
#define DL_ROW_OVERHEAD      48                  /* per dead-letter row, for the dead-letter cap */
#define CACHE_KIB \
  2048 /* page cache of the worker's connection: inserts
                                     * append, batches read in seq order, so a
                                     * small cache holds the working set */
#define EXPORT_DEFAULT_MAX      (64 * 1024 * 1024)
#define FILTER_MIN_SLOTS        4096
#define FILTER_GROW_NUM         5 /* rebuilt to (live + extra) × 5/2 slots: 0.4 full */
#define FILTER_GROW_DEN         2
#define FILTER_SWEEP_PCT        70 /* swept (and maybe grown) past 70% full */
#define FILTER_FULL_PCT         60 /* live past 60% of the bound → SQL dedup */
#define DEDUP_DEFAULT_MAX_BYTES (16 * 1024 * 1024)

enum {
#define X(name, sql) JS_##name,
  JOURNAL_STMTS(X)
#undef X
      JS_COUNT_
};

static const char *const journal_sql_text[JS_COUNT_] = {
#define X(name, sql) sql,
    JOURNAL_STMTS(X)
#undef X
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

typedef struct idfilter {
  uint64_t *slots; /* 0 = empty; else fp << 32 | (uint32_t)seq */
  size_t n;        /* number of slots (any size ≥ FILTER_MIN_SLOTS) */
  size_t used;
} idfilter;

struct journal {
  uv_loop_t *loop;
  uv_async_t async;
  uv_thread_t thread;
  bool locks_inited, closing;
  int outstanding; /* ops submitted, done not yet called (loop thread only) */

  /* options (copied) */
  char *path, *wal_path, *shm_path, *dir, *base;
  char *agent_id, *machine_id;
  bool fsync, reject;
  int64_t max_journal, max_wal, max_dead;

  /* request queue: loop → worker */
  uv_mutex_t qlock;
  uv_cond_t qcond;
  bool stopping;
  bool hold;              /* test hook: the worker leaves the queue alone */
  int64_t test_max_pages; /* test hook: > 0 → apply PRAGMA max_page_count */
  journal_commit *q_commit, *q_commit_tail;
  size_t q_commit_n, q_commit_bytes;
  journal_ack *q_ack, *q_ack_tail;
  journal_batch *q_batch, *q_batch_tail;
  journal_dl *q_dl, *q_dl_tail;

  /* completions: worker → loop */
  uv_mutex_t dlock;
  journal_commit *d_commit, *d_commit_tail;
  journal_ack *d_ack, *d_ack_tail;
  journal_batch *d_batch, *d_batch_tail;
  journal_dl *d_dl, *d_dl_tail;

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
  int64_t live_bytes;     /* after the last transaction */
  int64_t wal_bytes;
  int64_t page_size;
  int64_t tx_added; /* bytes inserted by the running transaction */
  bool writable;
  char unwritable_reason[128];
  int64_t quarantined;
  char quarantine_reason[128];
  int migrated_from;
  uint64_t last_write_fail_ns; /* uv_hrtime of the last failed write */
  int64_t commit_groups;
  int open_rc; /* sqlite code of a failed open_rw/load */
};

/* --- small helpers ------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}

/* FNV-1a 64 with a final avalanche (murmur3 fmix64): cheap and well spread. */
static uint64_t id_hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ULL;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static int errno_of_sqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOMEM: return -ENOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return -EBUSY;
    case SQLITE_FULL: return -ENOSPC;
    default: return -EIO;
  }
}

/* --- growable string buffer with a maximum -------------------------------- */

typedef struct sbuf {
  char *p;
  size_t len, cap, max; /* max: the buffer refuses to grow past it */
  int err;              /* sticky: -ENOMEM or -EFBIG */
} sbuf;

static void sb_init(sbuf *b, size_t max) {
  memset(b, 0, sizeof(*b));
  b->max = max;
}
static void sb_free(sbuf *b) {
  free(b->p);
  memset(b, 0, sizeof(*b));
}

static bool sb_reserve(sbuf *b, size_t extra) {
  if (b->err) return false;
  if (extra > b->max || b->len > b->max - extra) {
    b->err = -EFBIG;
    return false;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return true;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < need) ncap *= 2;
  char *np = realloc(b->p, ncap);
  if (!np) {
    b->err = -ENOMEM;
    return false;
  }
  b->p = np;
  b->cap = ncap;
  return true;
}

static void sb_add(sbuf *b, const void *s, size_t n) {
  if (!sb_reserve(b, n)) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(tmp)) {
    b->err = b->err ? b->err : -EINVAL;
    return;
  }
  sb_add(b, tmp, (size_t)n);
}

/* Append s as a JSON string literal (quoted, escaped; bytes ≥ 0x80 pass). */
static void sb_json_str(sbuf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (!sb_reserve(b, n + 2)) return;
  b->p[b->len++] = '"';
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    sb_add(b, s + run, i - run);
    run = i + 1;
    char esc[7];
    switch (ch) {
      case '"': sb_add(b, "\\\"", 2); break;
      case '\\': sb_add(b, "\\\\", 2); break;
      case '\n': sb_add(b, "\\n", 2); break;
      case '\r': sb_add(b, "\\r", 2); break;
      case '\t': sb_add(b, "\\t", 2); break;
      default:
        memcpy(esc, "\\u00", 4);
        esc[4] = hex[ch >> 4];
        esc[5] = hex[ch & 15];
        sb_add(b, esc, 6);
    }
  }
  sb_add(b, s + run, n - run);
  sb_add(b, "\"", 1);
}

static void sb_time(sbuf *b, int64_t ms) {
  char t[TF_RFC3339_LEN];
  tf_format_ms(ms, t);
  sb_json_str(b, t, strlen(t));
}

static bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Append the stored event with seq and ingested_at (and event_id when the
 * agent assigned it: such ids start "ferry:" and are never in the stored
 * JSON) added as the object's last members. Text splicing, no reparse: the
 * stored body is the validator's normal form, one JSON object. A body that
 * is not object-shaped (never written by this module) is replaced by an
 * object holding only the ids, which the collector rejects → dead-letter. */
static void splice_event(sbuf *b, const char *body, size_t len, const char *event_id, size_t id_len,
                         int64_t seq, int64_t ingested_ms) {
  size_t s = 0, e = len;
  while (s < e && is_ws(body[s])) s++;
  while (e > s && is_ws(body[e - 1])) e--;
  bool with_id = id_len >= 6 && memcmp(event_id, "ferry:", 6) == 0;
  bool shaped = e - s >= 2 && body[s] == '{' && body[e - 1] == '}';
  if (shaped) {
    size_t k = s + 1;
    while (k < e - 1 && is_ws(body[k])) k++;
    sb_add(b, body + s, e - 1 - s);
    if (k < e - 1) sb_add(b, ",", 1);
  } else {
    sb_add(b, "{", 1);
    with_id = true;
  }
  if (with_id) {
    sb_add(b, "\"event_id\":", 11);
    sb_json_str(b, event_id, id_len);
    sb_add(b, ",", 1);
  }
  sb_fmt(b, "\"seq\":%" PRId64 ",\"ingested_at\":", seq);
  sb_time(b, ingested_ms);
  sb_add(b, "}", 1);
}

/* --- the dedup filter (worker only) ---------------------------------------- */

static int64_t filt_seq(uint64_t slot, int64_t base) {
  uint32_t lo = (uint32_t)slot;
  return base + (int64_t)(uint32_t)(lo - (uint32_t)base);
}

static int filt_alloc(idfilter *f, size_t nslots) {
  uint64_t *s = calloc(nslots, sizeof(uint64_t));
  if (!s) return -ENOMEM;
  free(f->slots);
  f->slots = s;
  f->n = nslots;
  f->used = 0;
  return 0;
}

static void filt_free(idfilter *f) {
  free(f->slots);
  memset(f, 0, sizeof(*f));
}

/* Home position of a position hash in a table of n slots (multiply-shift:
 * any n works, so the table grows by less than doubling). */
static size_t filt_home(uint64_t ph, size_t n) { return (size_t)(((ph >> 32) * (uint64_t)n) >> 32); }

static void filt_put(idfilter *f, uint64_t slot, uint64_t ph) {
  size_t i = filt_home(ph, f->n);
  while (f->slots[i]) i = i + 1 == f->n ? 0 : i + 1;
  f->slots[i] = slot;
  f->used++;
}

static uint64_t filt_slot(uint64_t h, int64_t seq) {
  uint64_t fp = (h >> 32) | 1; /* never 0, so a slot is never 0 */
  return fp << 32 | (uint32_t)seq;
}

/* The slot's position is derived from the fingerprint so a rebuild can
 * re-place slots without the original hash. */
static uint64_t filt_pos_hash(uint64_t slot) { return (slot >> 32) * 0x9e3779b97f4a7c15ULL; }

/* Slots a table holding `live` entries is rebuilt to. */
static size_t filt_size_for(size_t live) {
  size_t n = live / FILTER_GROW_DEN * FILTER_GROW_NUM + FILTER_GROW_NUM;
  return n < FILTER_MIN_SLOTS ? FILTER_MIN_SLOTS : n;
}

/* Can a table within max_slots hold `live` entries? */
static bool filt_fits(size_t live, size_t max_slots) { return live <= max_slots / 100 * FILTER_FULL_PCT; }

/* Keep the slots whose seq lies in [lo, hi) (all others are stale) in a table
 * 0.4 full after `extra` more inserts, within max_slots. -E2BIG when the live
 * slots do not fit the bound, -ENOMEM (the table is left as it was). */
static int filt_rebuild(idfilter *f, int64_t lo, int64_t hi, size_t extra, size_t max_slots) {
  size_t live = 0;
  for (size_t i = 0; f->slots && i < f->n; i++) {
    int64_t s = f->slots[i] ? filt_seq(f->slots[i], lo) : -1;
    if (f->slots[i] && s >= lo && s < hi) live++;
  }
  if (!filt_fits(live + extra, max_slots)) return -E2BIG;
  size_t n = filt_size_for(live + extra);
  if (n > max_slots) n = max_slots;
  idfilter nf = {0};
  if (filt_alloc(&nf, n) < 0) return -ENOMEM;
  for (size_t i = 0; f->slots && i < f->n; i++) {
    int64_t s = f->slots[i] ? filt_seq(f->slots[i], lo) : -1;
    if (f->slots[i] && s >= lo && s < hi) filt_put(&nf, f->slots[i], filt_pos_hash(f->slots[i]));
  }
  free(f->slots);
  *f = nf;
  return 0;
}

static int exec_pragma(sqlite3 *db, const char *name, long long v);

/* --- statement helpers (worker) ------------------------------------------- */

static sqlite3_stmt *st(journal *j, int id) {
  sqlite3_stmt *s = j->st[id];
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

/* Step a statement that returns no rows; leaves it reset. */
static int run(journal *j, int id) {
  sqlite3_stmt *s = j->st[id];
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static int run_plain(journal *j, int id) {
  st(j, id);
  return run(j, id);
}

static int64_t pragma_int(journal *j, int id, int *rc) {
  sqlite3_stmt *s = st(j, id);
  int r = sqlite3_step(s);
  int64_t v = r == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  if (r != SQLITE_ROW && rc) *rc = r == SQLITE_DONE ? SQLITE_ERROR : r;
  return v;
}

static int64_t live_bytes_now(journal *j, int *rc) {
  int64_t pc = pragma_int(j, JS_PAGE_COUNT, rc);
  int64_t fl = pragma_int(j, JS_FREELIST_COUNT, rc);
  return (pc - fl) * j->page_size;
}

static void set_writable(journal *j, bool ok, const char *why) {
  j->writable = ok;
  if (ok) j->unwritable_reason[0] = '\0';
  else snprintf(j->unwritable_reason, sizeof(j->unwritable_reason), "%s", why);
}

/* The table cannot hold the backlog within its bound: index events(event_id)
 * and dedup with it. Runs inside the caller's transaction (the index then
 * covers every row inserted so far, this transaction's included). 0 or
 * -ENOMEM / -EIO (the caller fails its request). */
static int to_sql_dedup(journal *j) {
  int rc = sqlite3_exec(j->db, JSQL_CREATE_ID_INDEX, NULL, NULL, NULL);
  if (rc != SQLITE_OK) return (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM : -EIO;
  filt_free(&j->filt);
  j->sql_dedup = true;
  j->dedup_switches++;
  return 0;
}

/* Outside any transaction: shrink an oversized table; in SQL mode, back to
 * the table once the backlog fits in half its bound, or (after a rollback
 * undid the index) make the index again. */
static void dedup_settle(journal *j) {
  if (!j->sql_dedup) {
    /* a drained backlog leaves a big table of stale slots: shrink it once it
     * is 4× larger than the backlog needs (rare, O(table) on the worker) */
    if (j->filt.slots && j->filt.n > FILTER_MIN_SLOTS &&
        j->filt.n / 4 > filt_size_for((size_t)j->cur.backlog))
      filt_rebuild(&j->filt, j->cur.backlog ? j->cur.min_seq : j->cur.next_seq, j->cur.next_seq, 0,
                   j->filt_max_slots);
    return;
  }
  if (filt_fits((size_t)j->cur.backlog * 2, j->filt_max_slots)) {
    idfilter nf = {0};
    if (filt_alloc(&nf, filt_size_for((size_t)j->cur.backlog)) < 0) return;
    sqlite3_stmt *s = st(j, JS_SCAN_IDS);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(s, 1);
      uint64_t slot =
          filt_slot(id_hash(id ? id : "", (size_t)sqlite3_column_bytes(s, 1)), sqlite3_column_int64(s, 0));
      filt_put(&nf, slot, filt_pos_hash(slot));
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE || nf.used != (size_t)j->cur.backlog) {
      filt_free(&nf);
      return;
    }
    /* the table is complete: the index may go (kept if that fails) */
    sqlite3_exec(j->db, JSQL_DROP_ID_INDEX, NULL, NULL, NULL);
    j->filt = nf;
    j->sql_dedup = false;
    j->dedup_switches++;
    return;
  }
  sqlite3_exec(j->db, JSQL_CREATE_ID_INDEX, NULL, NULL, NULL);
}

/* Is an event with this id pending (committed or earlier in the running
 * transaction)? 1 yes, 0 no, <0 sqlite error code negated. */
static int is_pending(journal *j, const char *id, size_t idlen, uint64_t h, int64_t lo, int64_t hi) {
  if (j->sql_dedup) {
    sqlite3_stmt *s = st(j, JS_FIND_ID);
    sqlite3_bind_text(s, 1, id, (int)idlen, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : -rc;
  }
  if (!j->filt.slots) return 0;
  uint64_t want = filt_slot(h, 0) >> 32;
  size_t i = filt_home(filt_pos_hash(filt_slot(h, 0)), j->filt.n);
  for (; j->filt.slots[i]; i = i + 1 == j->filt.n ? 0 : i + 1) {
    uint64_t sl = j->filt.slots[i];
    if (sl >> 32 != want) continue;
    int64_t seq = filt_seq(sl, lo);
    if (seq < lo || seq >= hi) continue;
    sqlite3_stmt *s = st(j, JS_GET_ID);
    sqlite3_bind_int64(s, 1, seq);
    int rc = sqlite3_step(s);
    int hit = 0;
    if (rc == SQLITE_ROW) {
      const char *t = (const char *)sqlite3_column_text(s, 0);
      size_t tl = (size_t)sqlite3_column_bytes(s, 0);
      hit = t && tl == idlen && memcmp(t, id, idlen) == 0;
    } else if (rc != SQLITE_DONE) {
      sqlite3_reset(s);
      return -rc;
    }
    sqlite3_reset(s);
    if (hit) return 1;
  }
  return 0;
}

/* Record a new pending event in the filter, sweeping or growing it when half
 * full. lo is a seq ≤ every pending seq in either outcome of the running
 * transaction; hi is one past the highest seq handed out. */
static int filt_add(journal *j, uint64_t h, int64_t seq, int64_t lo, int64_t hi) {
  idfilter *f = &j->filt;
  if (j->sql_dedup) return 0; /* the index covers the row the caller just inserted */
  if (!f->slots || (f->used + 1) * 100 > f->n * FILTER_SWEEP_PCT) {
    int r = filt_rebuild(f, lo, hi, 1, j->filt_max_slots);
    if (r == -E2BIG) return to_sql_dedup(j);
    if (r < 0) return r;
  }
  uint64_t slot = filt_slot(h, seq);
  filt_put(f, slot, filt_pos_hash(slot));
  return 0;
}

/* The lowest seq any pending event can have during the transaction. */
static int64_t filt_lo(const journal *j) { return j->cur.backlog ? j->cur.min_seq : j->cur.next_seq; }

/* --- after a transaction ------------------------------------------------- */

static void publish(journal *j) {
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
  snprintf(s->quarantine_reason, sizeof(s->quarantine_reason), "%s", j->quarantine_reason);
  s->writable = j->writable;
  snprintf(s->unwritable_reason, sizeof(s->unwritable_reason), "%s", j->unwritable_reason);
  uv_mutex_unlock(&j->slock);
}

static int64_t wal_size(journal *j) {
  struct stat sb;
  return stat(j->wal_path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* Refresh oldest/live/WAL figures after a transaction, checkpoint when the
 * WAL passed half its bound, and publish. */
static void refresh(journal *j) {
  sqlite3_stmt *s = st(j, JS_OLDEST);
  if (sqlite3_step(s) == SQLITE_ROW) {
    j->cur.min_seq = sqlite3_column_int64(s, 0);
    j->cur.oldest_ms = sqlite3_column_int64(s, 1);
  } else {
    j->cur.min_seq = 0;
    j->cur.oldest_ms = 0;
  }
  sqlite3_reset(s);
  int rc = SQLITE_OK;
  int64_t live = live_bytes_now(j, &rc);
  if (rc == SQLITE_OK) j->live_bytes = live;
  j->wal_bytes = wal_size(j);
  if (j->wal_bytes > j->max_wal / 2) {
    sqlite3_exec(j->db, JSQL_CKPT_TRUNCATE, NULL, NULL, NULL);
    j->wal_bytes = wal_size(j);
  }
  dedup_settle(j);
  publish(j);
}

/* Finish a write transaction: COMMIT, or ROLLBACK on failure. Returns the
 * sqlite code. */
static int finish_tx(journal *j, int rc) {
  if (rc == SQLITE_OK) rc = run_plain(j, JS_COMMIT);
  if (rc != SQLITE_OK && !sqlite3_get_autocommit(j->db)) run_plain(j, JS_ROLLBACK);
  return rc;
}

static void note_write_failure(journal *j, int rc) {
  j->last_write_fail_ns = uv_hrtime();
  char why[128];
  snprintf(why, sizeof(why), "journal write failed: %s", sqlite3_errstr(rc));
  if ((rc & 0xff) == SQLITE_FULL) snprintf(why, sizeof(why), "disk full: %s", sqlite3_errstr(rc));
  set_writable(j, false, why);
}

/* --- commit ---------------------------------------------------------------- */

/* Overflow: called after request c inserted its events (seqs ≥ first). */
static int overflow(journal *j, journal_commit *c, jstate *tx, int64_t first) {
  int64_t slack = 16 * j->page_size;
  if (j->live_bytes + 2 * j->tx_added + slack <= j->max_journal)
    return SQLITE_OK; /* cannot be over yet: skip the PRAGMAs */
  int rc = SQLITE_OK;
  int64_t live = live_bytes_now(j, &rc);
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
  sqlite3_stmt *s = st(j, JS_OLDEST_SIZES);
  sqlite3_bind_int64(s, 1, first);
  while (sum < need && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    cutoff = sqlite3_column_int64(s, 0);
    if (!from) from = cutoff;
    sum += sqlite3_column_int64(s, 1) + EVENT_ROW_OVERHEAD;
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return rc;
  if (!from) return SQLITE_OK; /* only this request's events: keep them (bound + one request) */
  s = st(j, JS_DELETE_UPTO);
  sqlite3_bind_int64(s, 1, cutoff);
  if ((rc = run(j, JS_DELETE_UPTO)) != SQLITE_OK) return rc;
  int64_t n = sqlite3_changes(j->db);
  s = st(j, JS_INSERT_DROPPED);
  sqlite3_bind_int64(s, 1, from);
  sqlite3_bind_int64(s, 2, cutoff);
  sqlite3_bind_text(s, 3, "quota", -1, SQLITE_STATIC);
  if ((rc = run(j, JS_INSERT_DROPPED)) != SQLITE_OK) return rc;
  tx->backlog -= n;
  tx->dropped_total += n;
  return SQLITE_OK;
}

/* Insert one request's events. Returns a sqlite code (c->status may be set
 * to -ENOSPC with SQLITE_OK returned: the caller rolls back). */
static int commit_one(journal *j, journal_commit *c, jstate *tx, int64_t now) {
  int64_t first = tx->next_seq, lo = filt_lo(j);
  for (size_t i = 0; i < c->n; i++) {
    const ev_event *ev = &c->events[i];
    const char *body = ev->json ? ev->json : "{}";
    size_t blen = ev->json ? ev->json_len : 2;
    char idbuf[64];
    const char *id;
    size_t idlen;
    int64_t seq = tx->next_seq;
    if (ev->event_id) {
      id = ev->event_id;
      idlen = strlen(id);
    } else {
      int n = snprintf(idbuf, sizeof(idbuf), "ferry:%s:%" PRId64, j->epoch, seq);
      id = idbuf;
      idlen = (size_t)n;
    }
    uint64_t h = id_hash(id, idlen);
    if (ev->event_id) {
      int r = is_pending(j, id, idlen, h, lo, tx->next_seq);
      if (r < 0) return -r;
      if (r) {
        c->duplicates++;
        continue;
      }
    }
    sqlite3_stmt *s = st(j, JS_INSERT_EVENT);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_text(s, 2, id, (int)idlen, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now);
    sqlite3_bind_blob(s, 4, body, (int)blen, SQLITE_STATIC);
    int rc = run(j, JS_INSERT_EVENT);
    if (rc != SQLITE_OK) return rc;
    int fr = filt_add(j, h, seq, lo, seq + 1);
    if (fr < 0) return fr == -ENOMEM ? SQLITE_NOMEM : SQLITE_IOERR;
    tx->next_seq++;
    tx->backlog++;
    c->accepted++;
    j->tx_added += (int64_t)(blen + idlen) + EVENT_ROW_OVERHEAD;
  }
  if (!c->accepted) return SQLITE_OK;
  return overflow(j, c, tx, first);
}

static void fail_commit(journal_commit *c, int rc) {
  c->status = -EIO;
  c->accepted = c->duplicates = 0;
  snprintf(c->error, sizeof(c->error), "journal cannot be written: %s", sqlite3_errstr(rc));
}

static void do_commit_group(journal *j, journal_commit *list) {
  int64_t now = tf_now_ms();
  jstate tx = j->cur;
  j->tx_added = 0;
  j->commit_groups++;
  int rc = run_plain(j, JS_BEGIN);
  int changes0 = sqlite3_total_changes(j->db);
  bool aborted = rc != SQLITE_OK;
  int abort_rc = rc;
  for (journal_commit *c = list; c; c = c->next_) {
    c->status = 0;
    c->accepted = c->duplicates = 0;
    c->error[0] = '\0';
    if (aborted) continue;
    if ((rc = run_plain(j, JS_SAVEPOINT)) != SQLITE_OK) {
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
      if ((rc = run_plain(j, JS_RELEASE)) != SQLITE_OK) {
        aborted = true;
        abort_rc = rc;
      }
      continue;
    }
    /* this request failed: undo it alone */
    if (rc != SQLITE_OK) fail_commit(c, rc);
    else c->accepted = c->duplicates = 0;
    if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_NOMEM) note_write_failure(j, rc);
    tx = sp;
    j->tx_added = added0;
    if (sqlite3_get_autocommit(j->db)) { /* SQLite rolled back everything */
      aborted = true;
      abort_rc = rc;
      continue;
    }
    int r1 = run_plain(j, JS_ROLLBACK_TO), r2 = run_plain(j, JS_RELEASE);
    if (r1 != SQLITE_OK || r2 != SQLITE_OK) {
      aborted = true;
      abort_rc = r1 != SQLITE_OK ? r1 : r2;
    }
  }
  if (!aborted) {
    rc = SQLITE_OK;
    if (tx.next_seq != j->cur.next_seq || tx.dropped_total != j->cur.dropped_total) {
      sqlite3_stmt *s = st(j, JS_UPDATE_META);
      sqlite3_bind_int64(s, 1, tx.next_seq);
      sqlite3_bind_int64(s, 2, tx.dropped_total);
      rc = run(j, JS_UPDATE_META);
    }
    bool wrote = sqlite3_total_changes(j->db) != changes0;
    rc = finish_tx(j, rc);
    if (rc == SQLITE_OK) {
      j->cur = tx;
      if (wrote) set_writable(j, true, NULL);
      refresh(j);
      return;
    }
    abort_rc = rc;
  } else if (!sqlite3_get_autocommit(j->db)) {
    run_plain(j, JS_ROLLBACK);
  }
  /* the whole transaction is gone: every request that had not failed alone
   * fails now (none of its events is stored) */
  note_write_failure(j, abort_rc);
  for (journal_commit *c = list; c; c = c->next_)
    if (c->status == 0) fail_commit(c, abort_rc);
  refresh(j);
}

/* --- upload batch -------------------------------------------------------- */

static void do_batch(journal *j, journal_batch *b) {
  int64_t now = tf_now_ms();
  sbuf head, evs, tail;
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

  sb_str(&head, "{\"agent_id\":");
  sb_json_str(&head, j->agent_id, strlen(j->agent_id));
  sb_fmt(&head, ",\"epoch\":\"%s\",\"events\":[", j->epoch);

  /* every unreported dropped range, within the collector's count limit and
   * half the byte budget (the rest follow in the next request) */
  sb_str(&tail, "],\"dropped\":[");
  sqlite3_stmt *s = st(j, JS_READ_DROPPED);
  sqlite3_bind_int64(s, 1, JOURNAL_MAX_DROPPED_RANGES);
  size_t nd = 0;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    size_t mark = tail.len;
    if (nd) sb_add(&tail, ",", 1);
    sb_fmt(&tail, "{\"from_seq\":%" PRId64 ",\"to_seq\":%" PRId64 ",\"reason\":",
           (int64_t)sqlite3_column_int64(s, 1), (int64_t)sqlite3_column_int64(s, 2));
    const char *reason = (const char *)sqlite3_column_text(s, 3);
    sb_json_str(&tail, reason ? reason : "", reason ? strlen(reason) : 0);
    sb_add(&tail, "}", 1);
    if (nd && tail.len > budget_max / 2) {
      tail.len = mark;
      break;
    }
    b->dropped_upto_rowid = sqlite3_column_int64(s, 0);
    nd++;
  }
  sqlite3_reset(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) goto sqlfail;
  double age = j->cur.backlog && j->cur.oldest_ms ? (double)(now - j->cur.oldest_ms) / 1000.0 : 0.0;
  if (age < 0) age = 0;
  sb_fmt(&tail,
         "],\"stats\":{\"backlog\":%" PRId64 ",\"oldest_pending_s\":%.3f},\"sent_at\":", j->cur.backlog, age);
  sb_time(&tail, now);
  sb_add(&tail, "}", 1);

  if (b->max_events) {
    size_t fixed = head.len + tail.len;
    size_t budget = budget_max > fixed ? budget_max - fixed : 0;
    s = st(j, JS_READ_EVENTS);
    sqlite3_bind_int64(s, 1, (int64_t)b->max_events);
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
      if (b->n_events && (evs.len > budget || evs.err == -EFBIG)) {
        evs.len = mark;
        evs.err = 0;
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
    b->status = head.err ? head.err : evs.err ? evs.err : tail.err;
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
    b->status = head.err;
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
  b->status = errno_of_sqlite(rc);
out:
  if (b->status) {
    free(b->seqs);
    b->seqs = NULL;
    b->n_events = 0;
    b->first_seq = b->last_seq = 0;
    b->idem_key[0] = '\0';
    b->dropped_upto_rowid = 0;
  }
  sb_free(&head);
  sb_free(&evs);
  sb_free(&tail);
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
static int dead_cap(journal *j, jstate *tx) {
  if (tx->dead_bytes <= j->max_dead) return SQLITE_OK;
  int64_t need = tx->dead_bytes - j->max_dead, sum = 0, cutoff = 0;
  int rc = SQLITE_OK;
  sqlite3_stmt *s = st(j, JS_DL_OLDEST_SIZES);
  while (sum < need && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    cutoff = sqlite3_column_int64(s, 0);
    sum += sqlite3_column_int64(s, 1) + DL_ROW_OVERHEAD;
  }
  sqlite3_reset(s);
  if (!cutoff) return SQLITE_OK;
  s = st(j, JS_DL_DELETE_UPTO);
  sqlite3_bind_int64(s, 1, cutoff);
  if ((rc = run(j, JS_DL_DELETE_UPTO)) != SQLITE_OK) return rc;
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
    int rc = run_plain(j, JS_BEGIN);
    int64_t gone = 0;
    size_t stop = i + ACK_STEP_EVENTS < b->n_events ? i + ACK_STEP_EVENTS : b->n_events;
    for (size_t k = i; rc == SQLITE_OK && k < stop; k++) {
      bool rejected = false;
      for (size_t r = 0; r < a->n_rejected && !rejected; r++) rejected = a->rejected[r].seq == b->seqs[k];
      if (rejected) continue;
      sqlite3_stmt *s = st(j, JS_DELETE_EVENT);
      sqlite3_bind_int64(s, 1, b->seqs[k]);
      if ((rc = run(j, JS_DELETE_EVENT)) == SQLITE_OK) gone += sqlite3_changes(j->db);
    }
    rc = finish_tx(j, rc);
    if (rc != SQLITE_OK) {
      note_write_failure(j, rc);
      return;
    }
    j->cur.backlog -= gone;
    refresh(j); /* checkpoints once the WAL passed half its bound */
    sqlite3_exec(j->db, JSQL_CKPT_PASSIVE, NULL, NULL, NULL);
    i = stop;
  }
}

static void do_ack(journal *j, journal_ack *a) {
  const journal_batch *b = a->batch;
  int64_t now = tf_now_ms();
  jstate tx = j->cur;
  a->status = 0;
  if (j->fsync) run_plain(j, JS_SYNC_RELAXED);
  int rc = run_plain(j, JS_BEGIN);
  for (size_t i = 0; rc == SQLITE_OK && i < a->n_rejected; i++) {
    int64_t seq = a->rejected[i].seq;
    if (!batch_has(b, seq)) continue;
    sqlite3_stmt *s = st(j, JS_DL_MOVE);
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
    s = st(j, JS_DELETE_EVENT);
    sqlite3_bind_int64(s, 1, seq);
    if ((rc = run(j, JS_DELETE_EVENT)) != SQLITE_OK) break;
    s = st(j, JS_INSERT_DROPPED);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int64(s, 2, seq);
    sqlite3_bind_text(s, 3, "dead_letter", -1, SQLITE_STATIC);
    if ((rc = run(j, JS_INSERT_DROPPED)) != SQLITE_OK) break;
    tx.backlog--;
    tx.dead_n++;
    tx.dead_bytes += sz + DL_ROW_OVERHEAD;
  }
  if (rc == SQLITE_OK && b->n_events) {
    /* every pending seq in [first, last] was in the batch: batches take the
     * oldest events and later events get higher seqs */
    sqlite3_stmt *s = st(j, JS_DELETE_RANGE);
    sqlite3_bind_int64(s, 1, b->first_seq);
    sqlite3_bind_int64(s, 2, b->last_seq);
    if ((rc = run(j, JS_DELETE_RANGE)) == SQLITE_OK) tx.backlog -= sqlite3_changes(j->db);
  }
  if (rc == SQLITE_OK && b->dropped_upto_rowid > 0) {
    sqlite3_stmt *s = st(j, JS_DELETE_DROPPED_UPTO);
    sqlite3_bind_int64(s, 1, b->dropped_upto_rowid);
    rc = run(j, JS_DELETE_DROPPED_UPTO);
  }
  if (rc == SQLITE_OK) rc = dead_cap(j, &tx);
  rc = finish_tx(j, rc);
  if (j->fsync) run_plain(j, JS_SYNC_FULL);
  if (rc == SQLITE_OK) {
    j->cur = tx;
    set_writable(j, true, NULL);
  } else {
    a->status = errno_of_sqlite(rc) == -ENOSPC ? -EIO : errno_of_sqlite(rc);
    note_write_failure(j, rc);
    if ((rc & 0xff) == SQLITE_FULL) {
      refresh(j);
      ack_in_steps(j, a);
    }
  }
  refresh(j);
}

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
  sbuf line, out;
  sb_init(&line, 64 * 1024);
  sb_init(&out, max);
  sqlite3_stmt *s = st(j, JS_DL_SELECT_ALL);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    line.len = 0;
    line.err = 0;
    const char *id = (const char *)sqlite3_column_text(s, 1);
    const char *body = (const char *)sqlite3_column_blob(s, 3);
    size_t blen = (size_t)sqlite3_column_bytes(s, 3);
    const char *err = (const char *)sqlite3_column_text(s, 4);
    sb_fmt(&line, "{\"seq\":%" PRId64 ",\"event_id\":", (int64_t)sqlite3_column_int64(s, 0));
    sb_json_str(&line, id ? id : "", id ? strlen(id) : 0);
    sb_str(&line, ",\"ingested_at\":");
    sb_time(&line, sqlite3_column_int64(s, 2));
    sb_str(&line, ",\"failed_at\":");
    sb_time(&line, sqlite3_column_int64(s, 5));
    sb_str(&line, ",\"error\":");
    sb_json_str(&line, err ? err : "", err ? strlen(err) : 0);
    sb_str(&line, ",\"event\":");
    size_t k = 0;
    while (k < blen && is_ws(body[k])) k++;
    if (body && k < blen && body[k] == '{') sb_add(&line, body, blen);
    else sb_str(&line, "null");
    sb_str(&line, "}\n");
    if (line.err) {
      d->status = line.err;
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
        d->status = out.err;
        break;
      }
    }
    d->count++;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    d->status = errno_of_sqlite(rc);
    snprintf(d->error, sizeof(d->error), "export failed: %s", sqlite3_errstr(rc));
  }
  sqlite3_reset(s);
  sb_free(&line);
  if (d->status == 0 && d->out_fd < 0) {
    d->out = out.p ? out.p : strdup("");
    d->out_len = out.len;
    if (!d->out) d->status = -ENOMEM;
  } else {
    sb_free(&out);
  }
}

static void dl_write(journal *j, journal_dl *d) {
  int64_t now = tf_now_ms();
  jstate tx = j->cur;
  j->tx_added = 0;
  int rc = run_plain(j, JS_BEGIN);
  if (rc == SQLITE_OK && d->kind == JOURNAL_DL_REQUEUE) {
    int64_t lo = filt_lo(j);
    sqlite3_stmt *s = st(j, JS_DL_SELECT_ALL);
    int r;
    while ((r = sqlite3_step(s)) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(s, 1);
      size_t idlen = (size_t)sqlite3_column_bytes(s, 1);
      const void *body = sqlite3_column_blob(s, 3);
      int blen = sqlite3_column_bytes(s, 3);
      uint64_t h = id_hash(id ? id : "", idlen);
      int p = is_pending(j, id ? id : "", idlen, h, lo, tx.next_seq);
      if (p < 0) {
        rc = -p;
        break;
      }
      if (p) {
        d->duplicates++;
        continue;
      }
      sqlite3_stmt *ins = st(j, JS_INSERT_EVENT);
      sqlite3_bind_int64(ins, 1, tx.next_seq);
      sqlite3_bind_text(ins, 2, id ? id : "", (int)idlen, SQLITE_TRANSIENT);
      sqlite3_bind_int64(ins, 3, now);
      sqlite3_bind_blob(ins, 4, body ? body : "", blen, SQLITE_TRANSIENT);
      if ((rc = run(j, JS_INSERT_EVENT)) != SQLITE_OK) break;
      if (filt_add(j, h, tx.next_seq, lo, tx.next_seq + 1) < 0) {
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
      s = st(j, JS_UPDATE_META);
      sqlite3_bind_int64(s, 1, tx.next_seq);
      sqlite3_bind_int64(s, 2, tx.dropped_total);
      rc = run(j, JS_UPDATE_META);
    }
    if (rc == SQLITE_OK) rc = run_plain(j, JS_DL_PURGE);
  } else if (rc == SQLITE_OK) {
    rc = run_plain(j, JS_DL_PURGE);
    if (rc == SQLITE_OK) d->count = sqlite3_changes(j->db);
  }
  if (rc == SQLITE_OK) {
    tx.dead_n = 0;
    tx.dead_bytes = 0;
  }
  rc = finish_tx(j, rc);
  if (rc == SQLITE_OK) {
    j->cur = tx;
    set_writable(j, true, NULL);
  } else {
    d->status = errno_of_sqlite(rc) == -ENOSPC ? -EIO : errno_of_sqlite(rc);
    d->count = d->duplicates = 0;
    snprintf(d->error, sizeof(d->error), "dead-letter %s failed: %s",
             d->kind == JOURNAL_DL_REQUEUE ? "requeue" : "purge", sqlite3_errstr(rc));
    note_write_failure(j, rc);
  }
  refresh(j);
}

static void do_dl(journal *j, journal_dl *d) {
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

/* --- the worker ------------------------------------------------------------ */

#define APPEND(head, tail, item)      \
  do {                                \
    (item)->next_ = NULL;             \
    if (tail) (tail)->next_ = (item); \
    else (head) = (item);             \
    (tail) = (item);                  \
  } while (0)

#define SPLICE(dhead, dtail, list)                             \
  do {                                                         \
    for (__typeof__(list) it_ = (list), nx_; it_; it_ = nx_) { \
      nx_ = it_->next_;                                        \
      APPEND(dhead, dtail, it_);                               \
    }                                                          \
  } while (0)

static void worker_shutdown(journal *j) {
  /* clean shutdown: mark, then checkpoint so the WAL is empty */
  st(j, JS_SET_CLEAN);
  sqlite3_bind_int(j->st[JS_SET_CLEAN], 1, 1);
  run(j, JS_SET_CLEAN);
  sqlite3_exec(j->db, JSQL_CKPT_TRUNCATE, NULL, NULL, NULL);
  for (int i = 0; i < JS_COUNT_; i++) {
    sqlite3_finalize(j->st[i]);
    j->st[i] = NULL;
  }
  sqlite3_close(j->db);
  j->db = NULL;
}

/* Take queued commit requests for one group commit (under qlock): at least
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
  int rc = run_plain(j, JS_BEGIN);
  if (rc == SQLITE_OK) {
    st(j, JS_SET_CLEAN);
    sqlite3_bind_int(j->st[JS_SET_CLEAN], 1, 0);
    rc = run(j, JS_SET_CLEAN);
  }
  rc = finish_tx(j, rc);
  if (rc == SQLITE_OK) set_writable(j, true, NULL);
  else note_write_failure(j, rc);
  refresh(j);
}

static void worker(void *arg) {
  journal *j = arg;
  for (;;) {
    uv_mutex_lock(&j->qlock);
    bool probe_due = false;
    while ((!j->q_commit && !j->q_ack && !j->q_batch && !j->q_dl && !j->stopping) ||
           (j->hold && !j->stopping)) {
      if (j->writable || j->hold) {
        uv_cond_wait(&j->qcond, &j->qlock);
      } else if (uv_hrtime() - j->last_write_fail_ns >= WRITE_PROBE_EVERY_NS) {
        probe_due = true;
        break;
      } else {
        uv_cond_timedwait(&j->qcond, &j->qlock, WRITE_PROBE_EVERY_NS);
      }
    }
    journal_commit *commits = take_commits(j);
    journal_ack *acks = j->q_ack;
    journal_batch *batches = j->q_batch;
    journal_dl *dls = j->q_dl;
    int64_t max_pages = j->test_max_pages;
    j->test_max_pages = 0;
    bool stop = j->stopping && !commits && !acks && !batches && !dls;
    j->q_ack = j->q_ack_tail = NULL;
    j->q_batch = j->q_batch_tail = NULL;
    j->q_dl = j->q_dl_tail = NULL;
    uv_mutex_unlock(&j->qlock);
    if (stop) break;
    if (max_pages > 0) exec_pragma(j->db, "max_page_count", (long long)max_pages);
    /* unwritable and no commit to try it with: a small write of its own,
     * so /readyz recovers by itself once space is back (reads and uploads
     * keep coming while the collector is away, so this cannot wait for an
     * idle moment) */
    if (!j->writable && !commits &&
        (probe_due || uv_hrtime() - j->last_write_fail_ns >= WRITE_PROBE_EVERY_NS))
      probe_write(j);
    if (probe_due && !commits && !acks && !batches && !dls) continue;
    if (commits) do_commit_group(j, commits);
    for (journal_ack *a = acks; a; a = a->next_) do_ack(j, a);
    for (journal_batch *b = batches; b; b = b->next_) do_batch(j, b);
    for (journal_dl *d = dls; d; d = d->next_) do_dl(j, d);
    uv_mutex_lock(&j->dlock);
    SPLICE(j->d_commit, j->d_commit_tail, commits);
    SPLICE(j->d_ack, j->d_ack_tail, acks);
    SPLICE(j->d_batch, j->d_batch_tail, batches);
    SPLICE(j->d_dl, j->d_dl_tail, dls);
    uv_mutex_unlock(&j->dlock);
    uv_async_send(&j->async);
  }
  worker_shutdown(j);
}

/* Loop thread: run the done callbacks of completed ops. */
static void deliver(journal *j) {
  uv_mutex_lock(&j->dlock);
  journal_commit *c = j->d_commit;
  journal_ack *a = j->d_ack;
  journal_batch *b = j->d_batch;
  journal_dl *d = j->d_dl;
  j->d_commit = j->d_commit_tail = NULL;
  j->d_ack = j->d_ack_tail = NULL;
  j->d_batch = j->d_batch_tail = NULL;
  j->d_dl = j->d_dl_tail = NULL;
  uv_mutex_unlock(&j->dlock);
  int n = 0;
  /* done may resubmit (which reuses next_), so read next_ first */
  for (journal_commit *nx; c; c = nx, n++) {
    nx = c->next_;
    c->done(c);
  }
  for (journal_ack *nx; a; a = nx, n++) {
    nx = a->next_;
    a->done(a);
  }
  for (journal_batch *nx; b; b = nx, n++) {
    nx = b->next_;
    b->done(b);
  }
  for (journal_dl *nx; d; d = nx, n++) {
    nx = d->next_;
    d->done(d);
  }
  j->outstanding -= n;
  if (j->outstanding == 0 && !j->closing) uv_unref((uv_handle_t *)&j->async);
}

static void on_async(uv_async_t *h) { deliver(h->data); }

/* Loop thread: account an op that will complete. */
static void track(journal *j) {
  if (j->outstanding++ == 0) uv_ref((uv_handle_t *)&j->async);
}

int journal_submit(journal *j, journal_commit *c) {
  if (!j || !c || !c->done || (c->n && !c->events)) return -EINVAL;
  if (j->closing) return -ECANCELED;
  size_t bytes = 0;
  for (size_t i = 0; i < c->n; i++) bytes += c->events[i].json ? c->events[i].json_len : 2;
  uv_mutex_lock(&j->qlock);
  if (j->q_commit_n >= JOURNAL_QUEUE_MAX_REQUESTS ||
      (j->q_commit_n && j->q_commit_bytes + bytes > JOURNAL_QUEUE_MAX_BYTES)) {
    uv_mutex_unlock(&j->qlock);
    return -EAGAIN;
  }
  c->bytes_ = bytes;
  APPEND(j->q_commit, j->q_commit_tail, c);
  j->q_commit_n++;
  j->q_commit_bytes += bytes;
  uv_cond_signal(&j->qcond);
  uv_mutex_unlock(&j->qlock);
  track(j);
  return 0;
}

int journal_read_batch(journal *j, journal_batch *b) {
  if (!j || !b || !b->done) return -EINVAL;
  if (j->closing) return -ECANCELED;
  uv_mutex_lock(&j->qlock);
  APPEND(j->q_batch, j->q_batch_tail, b);
  uv_cond_signal(&j->qcond);
  uv_mutex_unlock(&j->qlock);
  track(j);
  return 0;
}

int journal_apply_ack(journal *j, journal_ack *a) {
  if (!j || !a || !a->done || !a->batch || (a->n_rejected && !a->rejected)) return -EINVAL;
  if (j->closing) return -ECANCELED;
  uv_mutex_lock(&j->qlock);
  APPEND(j->q_ack, j->q_ack_tail, a);
  uv_cond_signal(&j->qcond);
  uv_mutex_unlock(&j->qlock);
  track(j);
  return 0;
}

int journal_dead_letter(journal *j, journal_dl *d) {
  if (!j || !d || !d->done) return -EINVAL;
  if (j->closing) return -ECANCELED;
  uv_mutex_lock(&j->qlock);
  APPEND(j->q_dl, j->q_dl_tail, d);
  uv_cond_signal(&j->qcond);
  uv_mutex_unlock(&j->qlock);
  track(j);
  return 0;
}

void journal_test_hold(journal *j, bool hold) {
  uv_mutex_lock(&j->qlock);
  j->hold = hold;
  uv_cond_signal(&j->qcond);
  uv_mutex_unlock(&j->qlock);
}

void journal_test_max_pages(journal *j, int64_t pages) {
  uv_mutex_lock(&j->qlock);
  j->test_max_pages = pages;
  uv_mutex_unlock(&j->qlock);
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
  uv_mutex_lock(&j->qlock);
  ret->queued = (int64_t)j->q_commit_n;
  uv_mutex_unlock(&j->qlock);
}

/* --- open ------------------------------------------------------------------- */

static void close_db(journal *j) {
  for (int i = 0; i < JS_COUNT_; i++) {
    sqlite3_finalize(j->st[i]);
    j->st[i] = NULL;
  }
  sqlite3_close(j->db);
  j->db = NULL;
  free(j->filt.slots);
  memset(&j->filt, 0, sizeof(j->filt));
}

static void free_journal(journal *j) {
  if (!j) return;
  close_db(j);
  free(j->path);
  free(j->wal_path);
  free(j->shm_path);
  free(j->dir);
  free(j->base);
  free(j->agent_id);
  free(j->machine_id);
  if (j->locks_inited) {
    uv_mutex_destroy(&j->qlock);
    uv_cond_destroy(&j->qcond);
    uv_mutex_destroy(&j->dlock);
    uv_mutex_destroy(&j->slock);
  }
  free(j);
}

static void on_close(uv_handle_t *h) { free_journal(h->data); }

void journal_close(journal *j) {
  if (!j || j->closing) return;
  j->closing = true;
  uv_mutex_lock(&j->qlock);
  j->stopping = true;
  uv_cond_signal(&j->qcond);
  uv_mutex_unlock(&j->qlock);
  uv_thread_join(&j->thread);
  deliver(j);
  uv_close((uv_handle_t *)&j->async, on_close);
}

typedef enum { PROBE_FRESH, PROBE_OK, PROBE_QUARANTINE } probe_verdict;

static int64_t query_int(sqlite3 *db, const char *sql, int *rc) {
  sqlite3_stmt *s = NULL;
  int r = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
  int64_t v = 0;
  if (r == SQLITE_OK) {
    r = sqlite3_step(s);
    if (r == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
      r = SQLITE_OK;
    } else if (r == SQLITE_DONE) {
      r = SQLITE_OK;
    }
  }
  sqlite3_finalize(s);
  *rc = r;
  return v;
}

static bool rc_means_not_a_db(int rc) {
  int p = rc & 0xff;
  return p == SQLITE_NOTADB || p == SQLITE_CORRUPT || p == SQLITE_FORMAT;
}

/* Look at an existing journal read-only, writing nothing to it. Sets
 * *verdict and, for quarantine, reason; *uv to its user_version. */
static int probe(journal *j, probe_verdict *verdict, int *uv, char *reason, size_t rlen, char *err,
                 size_t errlen) {
  struct stat sb;
  *uv = 0;
  if (stat(j->path, &sb) < 0) {
    if (errno != ENOENT) {
      int e = errno;
      set_err(err, errlen, "journal %s: %s", j->path, strerror(e));
      return -e;
    }
    /* no journal: a WAL left without its database belongs to nothing */
    unlink(j->wal_path);
    unlink(j->shm_path);
    *verdict = PROBE_FRESH;
    return 0;
  }
  if (access(j->path, R_OK | W_OK) < 0) {
    int e = errno;
    set_err(err, errlen, "journal %s: %s", j->path, strerror(e));
    return -e;
  }
  /* A rollback journal beside it is hot: the power went while the journal
   * was being created (before the switch to WAL mode). A read-only
   * connection cannot roll it back and every read fails with "readonly
   * database", which would keep the agent from ever starting; reading
   * read-write lets SQLite roll it back (restoring the file as it was before
   * that transaction) and nothing else is written. */
  char *hot_path = xasprintf("%s-journal", j->path);
  bool hot = hot_path && access(hot_path, F_OK) == 0;
  free(hot_path);
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(j->path, &db,
                           (hot ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    snprintf(reason, rlen, "cannot open as a database: %s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    *verdict = PROBE_QUARANTINE;
    return 0;
  }
  sqlite3_stmt *s = NULL;
  int r = 0;
  int64_t v = query_int(db, JSQL_USER_VERSION, &rc);
  if (rc != SQLITE_OK) goto bad;
  *uv = (int)v;
  int64_t app = query_int(db, JSQL_APPLICATION_ID, &rc);
  if (rc != SQLITE_OK) goto bad;
  /* every journal from schema 2 on carries ferry's application id; schema 1
   * had none, so an id-less file is ours only up to version 1 */
  if ((app != 0 && app != JOURNAL_APPLICATION_ID) || (app == 0 && v > 1)) {
    snprintf(reason, rlen, "not a ferry journal (application_id 0x%08" PRIx64 ", schema version %" PRId64 ")",
             (uint64_t)(uint32_t)app, v);
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  if (v > JOURNAL_SCHEMA_VERSION) {
    char by[80] = "";
    if (sqlite3_prepare_v2(db, JSQL_READ_WRITER_VERSION, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
      snprintf(by, sizeof(by), " (written by ferry-agent %.40s)", (const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    s = NULL;
    set_err(err, errlen,
            "journal %s has schema version %" PRId64 "%s, newer than this agent's %d;"
            " run a newer ferry-agent or move the file away",
            j->path, v, by, JOURNAL_SCHEMA_VERSION);
    r = -EPROTO;
    goto out;
  }
  if (v == 0) {
    int64_t n = query_int(db, JSQL_COUNT_OBJECTS, &rc);
    if (rc != SQLITE_OK) goto bad;
    if (n == 0) {
      *verdict = PROBE_FRESH; /* an empty database file */
      goto out;
    }
    snprintf(reason, rlen, "not a ferry journal (schema version 0 with %" PRId64 " objects)", n);
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  if (query_int(db, JSQL_HAS_META, &rc) != 1 || rc != SQLITE_OK) {
    if (rc != SQLITE_OK) goto bad;
    snprintf(reason, rlen, "not a ferry journal (no meta table)");
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  rc = sqlite3_prepare_v2(db, JSQL_READ_META, -1, &s, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE || rc == SQLITE_OK) {
      snprintf(reason, rlen, "journal meta row missing");
      *verdict = PROBE_QUARANTINE;
      goto out;
    }
    goto bad;
  }
  const char *aid = (const char *)sqlite3_column_text(s, 1);
  const char *mid = (const char *)sqlite3_column_text(s, 2);
  int clean = sqlite3_column_int(s, 4);
  if (!aid || strcmp(aid, j->agent_id) != 0) {
    snprintf(reason, rlen, "agent id changed (journal was made for \"%.40s\")", aid ? aid : "");
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  if (!mid || strcmp(mid, j->machine_id) != 0) {
    snprintf(reason, rlen, "machine id changed (journal was made for \"%.40s\")", mid ? mid : "");
    *verdict = PROBE_QUARANTINE;
    goto out;
  }
  sqlite3_finalize(s);
  s = NULL;
  if (!clean) {
    rc = sqlite3_prepare_v2(db, JSQL_QUICK_CHECK, -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    const char *res = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(s, 0) : NULL;
    if (!res || strcmp(res, "ok") != 0) {
      snprintf(reason, rlen, "quick_check failed after an unclean shutdown: %.80s",
               res ? res : sqlite3_errmsg(db));
      *verdict = PROBE_QUARANTINE;
      goto out;
    }
  }
  *verdict = PROBE_OK;
  goto out;
bad:
  if (rc_means_not_a_db(rc)) {
    snprintf(reason, rlen, "not a database: %s", sqlite3_errmsg(db));
    *verdict = PROBE_QUARANTINE;
  } else {
    set_err(err, errlen, "journal %s: %s", j->path, sqlite3_errmsg(db));
    r = -EIO;
  }
out:
  sqlite3_finalize(s);
  sqlite3_close(db);
  return r;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Keep the newest QUARANTINE_KEEP quarantined journals (names sort by time). */
static void prune_quarantine(const char *qdir, const char *base) {
  DIR *dir = opendir(qdir);
  if (!dir) return;
  char **names = NULL;
  size_t n = 0, cap = 0, blen = strlen(base);
  struct dirent *de;
  while ((de = readdir(dir))) {
    if (strncmp(de->d_name, base, blen) != 0 || de->d_name[blen] != '.' || ends_with(de->d_name, "-wal") ||
        ends_with(de->d_name, "-shm"))
      continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 8;
      char **nn = realloc(names, ncap * sizeof(*names));
      if (!nn) break;
      names = nn;
      cap = ncap;
    }
    if (!(names[n] = strdup(de->d_name))) break;
    n++;
  }
  closedir(dir);
  if (n) qsort(names, n, sizeof(*names), cmp_str);
  for (size_t i = 0; i < n; i++) {
    if (n - i > QUARANTINE_KEEP) {
      static const char *const sfx[] = {"", "-wal", "-shm"};
      for (size_t k = 0; k < 3; k++) {
        char *p = xasprintf("%s/%s%s", qdir, names[i], sfx[k]);
        if (p) unlink(p);
        free(p);
      }
    }
    free(names[i]);
  }
  free(names);
}

/* Move the journal and its -wal/-shm into quarantine/ beside it. */
static int quarantine(journal *j, const char *reason, char *err, size_t errlen) {
  char *qdir = xasprintf("%s/quarantine", j->dir);
  if (!qdir) return -ENOMEM;
  if (mkdir(qdir, 0750) < 0 && errno != EEXIST) {
    int e = errno;
    set_err(err, errlen, "cannot create %s: %s", qdir, strerror(e));
    free(qdir);
    return -e;
  }
  int64_t now = tf_now_ms();
  time_t secs = (time_t)(now / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char stamp[40];
  snprintf(stamp, sizeof(stamp), "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000));
  char *dest = NULL;
  for (int k = 0; k < 1000; k++) {
    free(dest);
    dest =
        k ? xasprintf("%s/%s.%s-%d", qdir, j->base, stamp, k) : xasprintf("%s/%s.%s", qdir, j->base, stamp);
    struct stat sb;
    if (!dest || stat(dest, &sb) < 0) break;
  }
  int r = 0;
  char *dwal = dest ? xasprintf("%s-wal", dest) : NULL;
  char *dshm = dest ? xasprintf("%s-shm", dest) : NULL;
  if (!dest || !dwal || !dshm) {
    r = -ENOMEM;
  } else if (rename(j->path, dest) < 0) {
    r = -errno;
    set_err(err, errlen, "cannot quarantine %s (%s): %s", j->path, reason, strerror(-r));
  } else {
    if (rename(j->wal_path, dwal) < 0 && errno == ENOENT) (void)0;
    if (rename(j->shm_path, dshm) < 0 && errno == ENOENT) (void)0;
    unlink(j->wal_path); /* if a rename failed, never pair a stale WAL with the new file */
    unlink(j->shm_path);
    prune_quarantine(qdir, j->base);
    j->quarantined = 1;
    snprintf(j->quarantine_reason, sizeof(j->quarantine_reason), "%s", reason);
  }
  free(dest);
  free(dwal);
  free(dshm);
  free(qdir);
  return r;
}

static int new_epoch(char out[17]) {
  uint8_t b[8];
  size_t got = 0;
  while (got < sizeof(b)) {
    ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    got += (size_t)n;
  }
  for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
  return 0;
}

static int exec_pragma(sqlite3 *db, const char *name, long long v) {
  char sql[128];
  snprintf(sql, sizeof(sql), JSQL_PRAGMA_SET_FMT, name, v);
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Migrations from version v to v+1, run in one transaction with the
 * user_version and application_id updates; index 0 would be 0→1, which
 * creation covers. A new journal is made as version 1 and then migrated in
 * its creating transaction, so the migration path is the path every journal
 * takes. */
static const char *const migrations[JOURNAL_SCHEMA_VERSION] = {NULL, JSQL_MIGRATE_V1_V2};

static int migrate(journal *j, int from) {
  int rc = SQLITE_OK;
  for (int v = from; rc == SQLITE_OK && v < JOURNAL_SCHEMA_VERSION; v++)
    if (migrations[v]) rc = sqlite3_exec(j->db, migrations[v], NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = exec_pragma(j->db, "application_id", JOURNAL_APPLICATION_ID);
  if (rc == SQLITE_OK) rc = exec_pragma(j->db, "user_version", JOURNAL_SCHEMA_VERSION);
  return rc;
}

static int open_rw(journal *j, bool fresh, int uv, char *err, size_t errlen) {
  int rc = sqlite3_open_v2(j->path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           NULL);
  if (rc != SQLITE_OK) goto fail;
  sqlite3_extended_result_codes(j->db, 1);
  if ((rc = sqlite3_exec(j->db, JSQL_PRAGMA_SETUP, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
  char sql[128];
  snprintf(sql, sizeof(sql), JSQL_PRAGMA_SYNC_FMT, j->fsync ? "FULL" : "NORMAL");
  if ((rc = sqlite3_exec(j->db, sql, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
  /* WAL: auto-checkpoint at a quarter of the bound, truncate to a quarter */
  long long ckpt_pages = j->max_wal / 4 / 4096;
  if (ckpt_pages < 16) ckpt_pages = 16;
  if ((rc = exec_pragma(j->db, "cache_size", -(long long)CACHE_KIB)) != SQLITE_OK ||
      (rc = exec_pragma(j->db, "journal_size_limit", (long long)(j->max_wal / 4))) != SQLITE_OK ||
      (rc = exec_pragma(j->db, "wal_autocheckpoint", ckpt_pages)) != SQLITE_OK)
    goto fail;
  {
    sqlite3_stmt *s = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(j->db, JSQL_JOURNAL_MODE, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      mode = (const char *)sqlite3_column_text(s, 0);
    bool wal = mode && strcmp(mode, "wal") == 0;
    sqlite3_finalize(s);
    if (!wal) {
      set_err(err, errlen, "journal %s: cannot use WAL mode on this file system", j->path);
      return -EIO;
    }
  }
  if (fresh) {
    if ((rc = sqlite3_exec(j->db, JSQL_BEGIN, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    sqlite3_stmt *s = NULL;
    if (new_epoch(j->epoch) < 0) {
      sqlite3_exec(j->db, JSQL_ROLLBACK, NULL, NULL, NULL);
      set_err(err, errlen, "getrandom failed: %s", strerror(errno));
      return -EIO;
    }
    if ((rc = sqlite3_exec(j->db, JSQL_SCHEMA_V1, NULL, NULL, NULL)) == SQLITE_OK &&
        (rc = sqlite3_prepare_v2(j->db, JSQL_INSERT_META, -1, &s, NULL)) == SQLITE_OK) {
      sqlite3_bind_text(s, 1, j->epoch, -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 2, j->agent_id, -1, SQLITE_STATIC);
      sqlite3_bind_text(s, 3, j->machine_id, -1, SQLITE_STATIC);
      sqlite3_bind_int64(s, 4, tf_now_ms());
      rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
    }
    sqlite3_finalize(s);
    if (rc == SQLITE_OK) rc = migrate(j, 1);
    if (rc == SQLITE_OK) rc = sqlite3_exec(j->db, JSQL_COMMIT, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
      sqlite3_exec(j->db, JSQL_ROLLBACK, NULL, NULL, NULL);
      goto fail;
    }
  } else if (uv < JOURNAL_SCHEMA_VERSION) {
    if ((rc = sqlite3_exec(j->db, JSQL_BEGIN, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    rc = migrate(j, uv);
    if (rc == SQLITE_OK) j->migrated_from = uv;
    if (rc == SQLITE_OK) rc = sqlite3_exec(j->db, JSQL_COMMIT, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
      sqlite3_exec(j->db, JSQL_ROLLBACK, NULL, NULL, NULL);
      goto fail;
    }
  }
  return 0;
fail:
  j->open_rc = rc;
  set_err(err, errlen, "journal %s: %s", j->path, j->db ? sqlite3_errmsg(j->db) : sqlite3_errstr(rc));
  return errno_of_sqlite(rc) == -ENOSPC ? -EIO : errno_of_sqlite(rc);
}

/* Read meta and counts, rebuild the dedup filter, prepare statements, mark
 * the journal as running (clean_shutdown = 0). */
static int load(journal *j, char *err, size_t errlen) {
  sqlite3_stmt *s = NULL;
  int rc = sqlite3_prepare_v2(j->db, JSQL_READ_META, -1, &s, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
    const char *ep = (const char *)sqlite3_column_text(s, 0);
    snprintf(j->epoch, sizeof(j->epoch), "%s", ep ? ep : "");
    j->cur.next_seq = sqlite3_column_int64(s, 3);
    j->cur.dropped_total = sqlite3_column_int64(s, 5);
    rc = SQLITE_OK;
  } else if (rc == SQLITE_DONE) {
    rc = SQLITE_CORRUPT;
  }
  sqlite3_finalize(s);
  s = NULL;
  if (rc != SQLITE_OK) goto fail;
  j->cur.backlog = query_int(j->db, JSQL_COUNT_EVENTS, &rc);
  if (rc != SQLITE_OK) goto fail;
  if ((rc = sqlite3_prepare_v2(j->db, JSQL_DEAD_TOTALS, -1, &s, NULL)) == SQLITE_OK &&
      (rc = sqlite3_step(s)) == SQLITE_ROW) {
    j->cur.dead_n = sqlite3_column_int64(s, 0);
    j->cur.dead_bytes = sqlite3_column_int64(s, 1) + j->cur.dead_n * DL_ROW_OVERHEAD;
    rc = SQLITE_OK;
  }
  sqlite3_finalize(s);
  s = NULL;
  if (rc != SQLITE_OK) goto fail;
  j->page_size = query_int(j->db, JSQL_PAGE_SIZE, &rc);
  if (rc != SQLITE_OK || j->page_size <= 0) goto fail;
  for (int i = 0; i < JS_COUNT_; i++)
    if ((rc = sqlite3_prepare_v3(j->db, journal_sql_text[i], -1, SQLITE_PREPARE_PERSISTENT, &j->st[i],
                                 NULL)) != SQLITE_OK)
      goto fail;
  /* oldest pending (min_seq) first: the filter's window starts there */
  s = st(j, JS_OLDEST);
  if (sqlite3_step(s) == SQLITE_ROW) {
    j->cur.min_seq = sqlite3_column_int64(s, 0);
    j->cur.oldest_ms = sqlite3_column_int64(s, 1);
  }
  sqlite3_reset(s);
  s = NULL;
  if (!filt_fits((size_t)j->cur.backlog, j->filt_max_slots)) {
    /* a backlog past the table's bound: dedup by the index */
    if ((rc = sqlite3_exec(j->db, JSQL_CREATE_ID_INDEX, NULL, NULL, NULL)) != SQLITE_OK) goto fail;
    j->sql_dedup = true;
  } else if ((rc = sqlite3_exec(j->db, JSQL_DROP_ID_INDEX, NULL, NULL, NULL)) != SQLITE_OK) {
    goto fail;
  } else if (filt_alloc(&j->filt, filt_size_for((size_t)j->cur.backlog)) < 0) {
    set_err(err, errlen, "out of memory for the dedup table");
    return -ENOMEM;
  }
  if (j->sql_dedup) {
    rc = SQLITE_OK;
  } else if ((rc = sqlite3_prepare_v2(j->db, JSQL_SCAN_IDS, -1, &s, NULL)) == SQLITE_OK) {
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(s, 1);
      uint64_t slot =
          filt_slot(id_hash(id ? id : "", (size_t)sqlite3_column_bytes(s, 1)), sqlite3_column_int64(s, 0));
      filt_put(&j->filt, slot, filt_pos_hash(slot));
    }
    rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_OK) goto fail;
  st(j, JS_SET_CLEAN);
  sqlite3_bind_int(j->st[JS_SET_CLEAN], 1, 0);
  if ((rc = run(j, JS_SET_CLEAN)) != SQLITE_OK) goto fail;
  if ((rc = sqlite3_prepare_v2(j->db, JSQL_SET_WRITER_VERSION, -1, &s, NULL)) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, FERRY_VERSION, -1, SQLITE_STATIC);
    rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(j->db);
  }
  sqlite3_finalize(s);
  s = NULL;
  if (rc != SQLITE_OK) goto fail;
  j->writable = true;
  j->wal_bytes = wal_size(j);
  int prc = SQLITE_OK;
  j->live_bytes = live_bytes_now(j, &prc);
  if (j->wal_bytes > j->max_wal / 2) sqlite3_exec(j->db, JSQL_CKPT_TRUNCATE, NULL, NULL, NULL);
  publish(j);
  return 0;
fail:
  j->open_rc = rc;
  set_err(err, errlen, "journal %s: %s", j->path, sqlite3_errmsg(j->db));
  return errno_of_sqlite(rc) == -ENOSPC ? -EIO : errno_of_sqlite(rc);
}

int journal_open(uv_loop_t *loop, const journal_opts *opts, journal **ret, char *err, size_t errlen) {
  if (!loop || !opts || !opts->path || !opts->agent_id || !ret) {
    set_err(err, errlen, "journal: path and agent id are required");
    return -EINVAL;
  }
  journal *j = calloc(1, sizeof(*j));
  if (!j) {
    set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  j->loop = loop;
  j->fsync = opts->durability_fsync;
  j->reject = opts->overflow_reject;
  j->max_journal = opts->max_journal_bytes > 0 ? opts->max_journal_bytes : (int64_t)1 << 30;
  j->max_wal = opts->max_wal_bytes > 0 ? opts->max_wal_bytes : (int64_t)64 << 20;
  {
    int64_t mb = opts->dedup_max_bytes > 0 ? opts->dedup_max_bytes : DEDUP_DEFAULT_MAX_BYTES;
    size_t slots = (size_t)(mb / (int64_t)sizeof(uint64_t));
    j->filt_max_slots = slots < 2 * FILTER_MIN_SLOTS ? 2 * FILTER_MIN_SLOTS : slots;
  }
  j->max_dead = opts->max_dead_letter_bytes > 0 ? opts->max_dead_letter_bytes : (int64_t)64 << 20;
  j->path = xstrdup(opts->path);
  j->wal_path = xasprintf("%s-wal", opts->path);
  j->shm_path = xasprintf("%s-shm", opts->path);
  j->agent_id = xstrdup(opts->agent_id);
  j->machine_id = xstrdup(opts->machine_id ? opts->machine_id : "");
  const char *slash = strrchr(opts->path, '/');
  j->dir = slash ? (slash == opts->path ? xstrdup("/") : strndup(opts->path, (size_t)(slash - opts->path)))
                 : xstrdup(".");
  j->base = xstrdup(slash ? slash + 1 : opts->path);
  if (!j->path || !j->wal_path || !j->shm_path || !j->agent_id || !j->machine_id || !j->dir || !j->base) {
    free_journal(j);
    set_err(err, errlen, "out of memory");
    return -ENOMEM;
  }
  if (!*j->base) {
    free_journal(j);
    set_err(err, errlen, "journal path %s names a directory", opts->path);
    return -EISDIR;
  }
  if (uv_mutex_init(&j->qlock) || uv_cond_init(&j->qcond) || uv_mutex_init(&j->dlock) ||
      uv_mutex_init(&j->slock)) {
    free(j); /* the process is out of resources; nothing else to undo that matters */
    set_err(err, errlen, "cannot initialise journal locks");
    return -ENOMEM;
  }
  j->locks_inited = true;
  probe_verdict verdict = PROBE_FRESH;
  int uv = 0;
  char reason[128] = "";
  int r = probe(j, &verdict, &uv, reason, sizeof(reason), err, errlen);
  if (r == 0 && verdict == PROBE_QUARANTINE) {
    r = quarantine(j, reason, err, errlen);
    verdict = PROBE_FRESH;
  }
  if (r == 0) r = open_rw(j, verdict == PROBE_FRESH, uv, err, errlen);
  if (r == 0) r = load(j, err, errlen);
  if (r < 0 && verdict != PROBE_FRESH && rc_means_not_a_db(j->open_rc)) {
    /* passed the probe (clean shutdown, so no quick_check) yet damaged */
    snprintf(reason, sizeof(reason), "damaged journal: %s", sqlite3_errstr(j->open_rc));
    close_db(j);
    memset(&j->cur, 0, sizeof(j->cur));
    r = quarantine(j, reason, err, errlen);
    if (r == 0) r = open_rw(j, true, 0, err, errlen);
    if (r == 0) r = load(j, err, errlen);
  }
  if (r < 0) {
    free_journal(j);
    return r;
  }
  publish(j);
  if ((r = uv_async_init(loop, &j->async, on_async)) < 0) {
    set_err(err, errlen, "uv_async_init: %s", uv_strerror(r));
    free_journal(j);
    return r;
  }
  j->async.data = j;
  uv_unref((uv_handle_t *)&j->async);
  if ((r = uv_thread_create(&j->thread, worker, j)) < 0) {
    set_err(err, errlen, "cannot start the journal thread: %s", uv_strerror(r));
    j->closing = true;
    uv_close((uv_handle_t *)&j->async, on_close);
    return r;
  }
  *ret = j;
  return 0;
}
