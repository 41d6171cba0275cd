/* journal_pending.c: "is this event_id already pending?" — the in-memory
 * dedup filter (fingerprint table) and its switch to an SQL index when the
 * backlog outgrows the table's bound (the "Dedup" notes in journal.c say
 * why it is shaped so). Worker thread only (and journal_open's load). */
#define _GNU_SOURCE
#include "journal_int.h"

#include <errno.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
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

/* The table is FILTER_SEGS open-addressing sub-tables; a slot's segment and
 * its home in it come from its fingerprint (journal__filt_pos_hash), so each
 * segment is swept, grown or shrunk on its own: a rebuild copies one
 * segment, never the whole table (the peak is the table plus 1/64 of it, not
 * old + new), and segments reach their growth points at different times, so
 * the table as a whole stays near the middle of its fill range. */

static int64_t filt_seq(uint64_t slot, int64_t base) {
  uint32_t lo = (uint32_t)slot;
  return base + (int64_t)(uint32_t)(lo - (uint32_t)base);
}

static idseg *filt_seg(idfilter *f, uint64_t ph) { return &f->seg[ph >> (64 - FILTER_SEG_BITS)]; }

/* Home position of a position hash in a segment of n slots (multiply-shift
 * on the bits below the segment's: any n works, so a segment grows by less
 * than doubling). */
static size_t filt_home(uint64_t ph, size_t n) {
  return (size_t)((((ph >> (32 - FILTER_SEG_BITS)) & 0xffffffffULL) * (uint64_t)n) >> 32);
}

static void seg_put(idseg *g, uint64_t slot, uint64_t ph) {
  size_t i = filt_home(ph, g->n);
  while (g->slots[i]) i = i + 1 == g->n ? 0 : i + 1;
  g->slots[i] = slot;
  g->used++;
}

void journal__filt_free(idfilter *f) {
  for (size_t k = 0; k < FILTER_SEGS; k++) free(f->seg[k].slots);
  memset(f, 0, sizeof(*f));
}

/* Slots a segment holding `live` entries is rebuilt to. */
static size_t seg_size_for(size_t live) {
  size_t n = live / FILTER_GROW_DEN * FILTER_GROW_NUM + FILTER_GROW_NUM;
  return n < FILTER_SEG_MIN ? FILTER_SEG_MIN : n;
}

/* An empty table sized for `live` entries spread over the segments, within
 * max_slots. */
int journal__filt_init(idfilter *f, size_t live, size_t max_slots) {
  journal__filt_free(f);
  size_t per = seg_size_for(live / FILTER_SEGS + 1);
  if (per > max_slots / FILTER_SEGS) per = max_slots / FILTER_SEGS;
  if (per < FILTER_SEG_MIN) per = FILTER_SEG_MIN;
  for (size_t k = 0; k < FILTER_SEGS; k++) {
    if (!(f->seg[k].slots = calloc(per, sizeof(uint64_t)))) {
      journal__filt_free(f);
      return -ENOMEM;
    }
    f->seg[k].n = per;
    f->n += per;
  }
  return 0;
}

uint64_t journal__filt_slot(uint64_t h, int64_t seq) {
  uint64_t fp = (h >> 32) | 1; /* never 0, so a slot is never 0 */
  return fp << 32 | (uint32_t)seq;
}

/* The slot's segment and position are derived from the fingerprint so a
 * rebuild can re-place slots without the original hash. */
uint64_t journal__filt_pos_hash(uint64_t slot) { return (slot >> 32) * 0x9e3779b97f4a7c15ULL; }

/* Slots a whole table holding `live` entries is built with. */
size_t journal__filt_size_for(size_t live) { return FILTER_SEGS * seg_size_for(live / FILTER_SEGS + 1); }

/* Can a table within max_slots hold `live` entries? */
bool journal__filt_fits(size_t live, size_t max_slots) { return live <= max_slots / 100 * FILTER_FULL_PCT; }

/* Rebuild segment g keeping the slots whose seq lies in [lo, hi) (all others
 * are stale), sized for `extra` more inserts, the whole table within
 * max_slots. -E2BIG when its live slots do not fit, -ENOMEM (the segment is
 * left as it was). */
static int seg_rebuild(idfilter *f, idseg *g, int64_t lo, int64_t hi, size_t extra, size_t max_slots) {
  size_t live = 0;
  for (size_t i = 0; i < g->n; i++) {
    int64_t s = g->slots[i] ? filt_seq(g->slots[i], lo) : -1;
    if (g->slots[i] && s >= lo && s < hi) live++;
  }
  size_t n = seg_size_for(live + extra), others = f->n - g->n;
  if (others + n > max_slots) n = max_slots > others ? max_slots - others : 0;
  if ((live + extra) * 100 > n * FILTER_SWEEP_PCT) return -E2BIG;
  uint64_t *ns = calloc(n, sizeof(uint64_t));
  if (!ns) return -ENOMEM;
  idseg ng = {.slots = ns, .n = n, .used = 0};
  for (size_t i = 0; i < g->n; i++) {
    int64_t s = g->slots[i] ? filt_seq(g->slots[i], lo) : -1;
    if (g->slots[i] && s >= lo && s < hi) seg_put(&ng, g->slots[i], journal__filt_pos_hash(g->slots[i]));
  }
  free(g->slots);
  f->n = others + n;
  f->used = f->used - g->used + ng.used;
  *g = ng;
  return 0;
}

/* Sweep every segment (stale slots out, each sized for what it holds). */
static int filt_sweep(idfilter *f, int64_t lo, int64_t hi, size_t max_slots) {
  for (size_t k = 0; k < FILTER_SEGS; k++) {
    int r = seg_rebuild(f, &f->seg[k], lo, hi, 0, max_slots);
    if (r < 0) return r;
  }
  return 0;
}

/* Put a slot in the table, sweeping (and growing) its segment first when it
 * is past FILTER_SWEEP_PCT; when the bound leaves no room, every segment is
 * swept once before giving up with -E2BIG. */
int journal__filt_insert(idfilter *f, uint64_t slot, int64_t lo, int64_t hi, size_t max_slots) {
  uint64_t ph = journal__filt_pos_hash(slot);
  idseg *g = filt_seg(f, ph);
  if ((g->used + 1) * 100 > g->n * FILTER_SWEEP_PCT) {
    int r = seg_rebuild(f, g, lo, hi, 1, max_slots);
    if (r == -E2BIG) {
      if ((r = filt_sweep(f, lo, hi, max_slots)) == 0) r = seg_rebuild(f, g, lo, hi, 1, max_slots);
    }
    if (r < 0) return r;
  }
  seg_put(g, slot, ph);
  f->used++;
  return 0;
}

/* The page cache the dedup mode wants: CACHE_KIB while the table answers
 * (appends and seq-ordered reads), CACHE_SQL_DEDUP_KIB while the index does
 * (its lookups land anywhere in it). An SQLite result code. */
int journal__dedup_cache(journal *j) {
  int kib = j->sql_dedup ? CACHE_SQL_DEDUP_KIB : CACHE_KIB;
  if (kib == j->cache_kib) return SQLITE_OK;
  int rc = journal__exec_pragma(j->db, "cache_size", -(long long)kib);
  if (rc == SQLITE_OK) j->cache_kib = kib;
  return rc;
}

/* CREATE INDEX events_event_id (IF NOT EXISTS): an SQLite result code. Its
 * sort of every pending id would run wholly in memory under the
 * connection's temp_store=MEMORY (tens of MiB at a million pending ids,
 * kept by malloc afterwards), so the sort spills to temporary files past
 * the page cache instead: temp_store is FILE for this statement. When the
 * setting cannot change (a temporary database already open in a
 * transaction) the index is made in memory all the same. The heap is
 * trimmed after: the sorter's blocks were freed inside it. */
int journal__create_id_index(journal *j) {
  bool spill = sqlite3_exec(j->db, JSQL_TEMP_STORE_FILE, NULL, NULL, NULL) == SQLITE_OK;
  int rc = sqlite3_exec(j->db, JSQL_CREATE_ID_INDEX, NULL, NULL, NULL);
  if (spill) sqlite3_exec(j->db, JSQL_TEMP_STORE_MEMORY, NULL, NULL, NULL);
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  return rc;
}

/* The table cannot hold the backlog within its bound: index events(event_id)
 * and dedup with it. Runs inside the caller's transaction (the index then
 * covers every row inserted so far, this transaction's included). 0 or
 * -ENOMEM / -EIO (the caller fails its request). */
static int to_sql_dedup(journal *j) {
  int rc = journal__create_id_index(j);
  if (rc != SQLITE_OK) return (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM : -EIO;
  journal__filt_free(&j->filt);
  j->sql_dedup = true;
  j->dedup_switches++;
  journal__dedup_cache(j); /* a smaller cache only costs speed */
  return 0;
}

/* A table holding every pending event's id, read from the events table
 * (journal_open and the way back from SQL dedup). 0, -E2BIG (it does not fit
 * the bound), -ENOMEM or -EIO; *out is empty on failure. */
int journal__filt_load(journal *j, sqlite3_stmt *scan, idfilter *out) {
  int64_t lo = journal__filt_lo(j), hi = j->cur.next_seq;
  int r = journal__filt_init(out, (size_t)j->cur.backlog, j->filt_max_slots), rc = SQLITE_DONE;
  while (r == 0 && (rc = sqlite3_step(scan)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(scan, 1);
    uint64_t slot = journal__filt_slot(journal__id_hash(id ? id : "", (size_t)sqlite3_column_bytes(scan, 1)),
                                       sqlite3_column_int64(scan, 0));
    r = journal__filt_insert(out, slot, lo, hi, j->filt_max_slots);
  }
  if (r == 0 && rc != SQLITE_DONE) r = (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM : -EIO;
  sqlite3_reset(scan);
  if (r < 0) journal__filt_free(out);
  return r;
}

/* Outside any transaction: shrink an oversized table; in SQL mode, back to
 * the table once the backlog fits in half its bound, or (after a rollback
 * undid the index) make the index again. */
void journal__dedup_settle(journal *j) {
  if (!j->sql_dedup) {
    /* a drained backlog leaves a big table of stale slots: shrink it once it
     * is 4× larger than the backlog needs (rare, O(table) on the worker) */
    if (j->filt.n > FILTER_MIN_SLOTS && j->filt.n / 4 > journal__filt_size_for((size_t)j->cur.backlog)) {
      filt_sweep(&j->filt, journal__filt_lo(j), j->cur.next_seq, j->filt_max_slots);
#ifdef __GLIBC__
      /* the old segments below the mmap threshold were freed inside malloc's
       * heaps, between blocks still in use: give those pages back too */
      malloc_trim(0);
#endif
    }
    return;
  }
  if (journal__filt_fits((size_t)j->cur.backlog * 2, j->filt_max_slots)) {
    idfilter nf = {0};
    if (journal__filt_load(j, journal__st(j, JS_SCAN_IDS), &nf) < 0 || nf.used != (size_t)j->cur.backlog) {
      journal__filt_free(&nf);
      return;
    }
    /* the table is complete: the index may go (kept if that fails) */
    sqlite3_exec(j->db, JSQL_DROP_ID_INDEX, NULL, NULL, NULL);
    j->filt = nf;
    j->sql_dedup = false;
    j->dedup_switches++;
    journal__dedup_cache(j);
    return;
  }
  journal__create_id_index(j);
}

/* Start loading the filter slots a lookup of hash h will read: a commit
 * calls it a few events ahead, so the table's cache misses overlap instead
 * of stalling each lookup in turn (the table is megabytes, read at random). */
void journal__filt_prefetch(const journal *j, uint64_t h) {
  if (j->sql_dedup || !j->filt.n) return;
  uint64_t ph = journal__filt_pos_hash(journal__filt_slot(h, 0));
  const idseg *g = &j->filt.seg[ph >> (64 - FILTER_SEG_BITS)];
  __builtin_prefetch(&g->slots[filt_home(ph, g->n)]);
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
  if (!j->filt.n) return 0;
  uint64_t want = journal__filt_slot(h, 0) >> 32, ph = journal__filt_pos_hash(journal__filt_slot(h, 0));
  const idseg *g = filt_seg(&j->filt, ph);
  for (size_t i = filt_home(ph, g->n); g->slots[i]; i = i + 1 == g->n ? 0 : i + 1) {
    uint64_t sl = g->slots[i];
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

/* Record a new pending event in the filter. lo is a seq ≤ every pending seq
 * in either outcome of the running transaction; hi is one past the highest
 * seq handed out. Past the table's bound, dedup switches to SQL. */
int journal__filt_add(journal *j, uint64_t h, int64_t seq, int64_t lo, int64_t hi) {
  if (j->sql_dedup) return 0; /* the index covers the row the caller just inserted */
  if (!j->filt.n) {
    int r = journal__filt_init(&j->filt, 0, j->filt_max_slots);
    if (r < 0) return r;
  }
  int r = journal__filt_insert(&j->filt, journal__filt_slot(h, seq), lo, hi, j->filt_max_slots);
  return r == -E2BIG ? to_sql_dedup(j) : r;
}

/* The lowest seq any pending event can have during the transaction. */
int64_t journal__filt_lo(const journal *j) { return j->cur.backlog ? j->cur.min_seq : j->cur.next_seq; }
