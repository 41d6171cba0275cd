/* journal_pending.c: "is this event_id already pending?" — the in-memory
 * dedup filter (fingerprint table) and its switch to an SQL index when the
 * backlog outgrows the table's bound (the "Dedup" notes in journal.c say
 * why it is shaped so). Worker thread only (and journal_open's load). */
#define _GNU_SOURCE
#include "journal_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* FNV-1a 64 with a final avalanche (murmur3 fmix64): cheap and well spread. */
uint64_t journal__id_hash(const char *s, size_t n) {
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

/* --- the dedup filter (worker only) ---------------------------------------- */

static int64_t filt_seq(uint64_t slot, int64_t base) {
  uint32_t lo = (uint32_t)slot;
  return base + (int64_t)(uint32_t)(lo - (uint32_t)base);
}

int journal__filt_alloc(idfilter *f, size_t nslots) {
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

void journal__filt_put(idfilter *f, uint64_t slot, uint64_t ph) {
  size_t i = filt_home(ph, f->n);
  while (f->slots[i]) i = i + 1 == f->n ? 0 : i + 1;
  f->slots[i] = slot;
  f->used++;
}

uint64_t journal__filt_slot(uint64_t h, int64_t seq) {
  uint64_t fp = (h >> 32) | 1; /* never 0, so a slot is never 0 */
  return fp << 32 | (uint32_t)seq;
}

/* The slot's position is derived from the fingerprint so a rebuild can
 * re-place slots without the original hash. */
uint64_t journal__filt_pos_hash(uint64_t slot) { return (slot >> 32) * 0x9e3779b97f4a7c15ULL; }

/* Slots a table holding `live` entries is rebuilt to. */
size_t journal__filt_size_for(size_t live) {
  size_t n = live / FILTER_GROW_DEN * FILTER_GROW_NUM + FILTER_GROW_NUM;
  return n < FILTER_MIN_SLOTS ? FILTER_MIN_SLOTS : n;
}

/* Can a table within max_slots hold `live` entries? */
bool journal__filt_fits(size_t live, size_t max_slots) { return live <= max_slots / 100 * FILTER_FULL_PCT; }

/* Keep the slots whose seq lies in [lo, hi) (all others are stale) in a table
 * 0.4 full after `extra` more inserts, within max_slots. -E2BIG when the live
 * slots do not fit the bound, -ENOMEM (the table is left as it was). */
static int filt_rebuild(idfilter *f, int64_t lo, int64_t hi, size_t extra, size_t max_slots) {
  size_t live = 0;
  for (size_t i = 0; f->slots && i < f->n; i++) {
    int64_t s = f->slots[i] ? filt_seq(f->slots[i], lo) : -1;
    if (f->slots[i] && s >= lo && s < hi) live++;
  }
  if (!journal__filt_fits(live + extra, max_slots)) return -E2BIG;
  size_t n = journal__filt_size_for(live + extra);
  if (n > max_slots) n = max_slots;
  idfilter nf = {0};
  if (journal__filt_alloc(&nf, n) < 0) return -ENOMEM;
  for (size_t i = 0; f->slots && i < f->n; i++) {
    int64_t s = f->slots[i] ? filt_seq(f->slots[i], lo) : -1;
    if (f->slots[i] && s >= lo && s < hi)
      journal__filt_put(&nf, f->slots[i], journal__filt_pos_hash(f->slots[i]));
  }
  free(f->slots);
  *f = nf;
  return 0;
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
void journal__dedup_settle(journal *j) {
  if (!j->sql_dedup) {
    /* a drained backlog leaves a big table of stale slots: shrink it once it
     * is 4× larger than the backlog needs (rare, O(table) on the worker) */
    if (j->filt.slots && j->filt.n > FILTER_MIN_SLOTS &&
        j->filt.n / 4 > journal__filt_size_for((size_t)j->cur.backlog))
      filt_rebuild(&j->filt, j->cur.backlog ? j->cur.min_seq : j->cur.next_seq, j->cur.next_seq, 0,
                   j->filt_max_slots);
    return;
  }
  if (journal__filt_fits((size_t)j->cur.backlog * 2, j->filt_max_slots)) {
    idfilter nf = {0};
    if (journal__filt_alloc(&nf, journal__filt_size_for((size_t)j->cur.backlog)) < 0) return;
    sqlite3_stmt *s = journal__st(j, JS_SCAN_IDS);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
      const char *id = (const char *)sqlite3_column_text(s, 1);
      uint64_t slot = journal__filt_slot(journal__id_hash(id ? id : "", (size_t)sqlite3_column_bytes(s, 1)),
                                         sqlite3_column_int64(s, 0));
      journal__filt_put(&nf, slot, journal__filt_pos_hash(slot));
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

/* Start loading the filter slots a lookup of hash h will read: a commit
 * calls it a few events ahead, so the table's cache misses overlap instead
 * of stalling each lookup in turn (the table is megabytes, read at random). */
void journal__filt_prefetch(const journal *j, uint64_t h) {
  if (j->sql_dedup || !j->filt.slots) return;
  size_t i = filt_home(journal__filt_pos_hash(journal__filt_slot(h, 0)), j->filt.n);
  __builtin_prefetch(&j->filt.slots[i]);
}

/* Is an event with this id pending (committed or earlier in the running
 * transaction)? 1 yes, 0 no, <0 sqlite error code negated. */
int journal__is_pending(journal *j, const char *id, size_t idlen, uint64_t h, int64_t lo, int64_t hi) {
  if (j->sql_dedup) {
    sqlite3_stmt *s = journal__st(j, JS_FIND_ID);
    sqlite3_bind_text(s, 1, id, (int)idlen, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_ROW) return 1;
    return rc == SQLITE_DONE ? 0 : -rc;
  }
  if (!j->filt.slots) return 0;
  uint64_t want = journal__filt_slot(h, 0) >> 32;
  size_t i = filt_home(journal__filt_pos_hash(journal__filt_slot(h, 0)), j->filt.n);
  for (; j->filt.slots[i]; i = i + 1 == j->filt.n ? 0 : i + 1) {
    uint64_t sl = j->filt.slots[i];
    if (sl >> 32 != want) continue;
    int64_t seq = filt_seq(sl, lo);
    if (seq < lo || seq >= hi) continue;
    sqlite3_stmt *s = journal__st(j, JS_GET_ID);
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
int journal__filt_add(journal *j, uint64_t h, int64_t seq, int64_t lo, int64_t hi) {
  idfilter *f = &j->filt;
  if (j->sql_dedup) return 0; /* the index covers the row the caller just inserted */
  if (!f->slots || (f->used + 1) * 100 > f->n * FILTER_SWEEP_PCT) {
    int r = filt_rebuild(f, lo, hi, 1, j->filt_max_slots);
    if (r == -E2BIG) return to_sql_dedup(j);
    if (r < 0) return r;
  }
  uint64_t slot = journal__filt_slot(h, seq);
  journal__filt_put(f, slot, journal__filt_pos_hash(slot));
  return 0;
}

/* The lowest seq any pending event can have during the transaction. */
int64_t journal__filt_lo(const journal *j) { return j->cur.backlog ? j->cur.min_seq : j->cur.next_seq; }
