/* ss_keyfold: see ss_keyfold.h. */
#include "ss_keyfold.h"

#include <errno.h>

static bool ssk__hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool ssk_random(const char *event_id, size_t len) {
  if (len == 0 || event_id[len - 1] < '0' || event_id[len - 1] > '9') return true; /* a hash key */
  if (len < 36) return false;
  const char *u = event_id + len - 36; /* 8-4-4-4-12 */
  for (size_t i = 0; i < 36; i++) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? u[i] != '-' : !ssk__hex(u[i])) return false;
  }
  return true;
}

int ssk_open(store_sqlite *s) {
  s->kf.piece = -1;
  s->kf.n = -1;
  return ss__scalar(s, SS_EVENTS_MAX, "count stored events", &s->kf.stored);
}

static int64_t ssk__isqrt(int64_t v) {
  int64_t r = 0;
  for (int64_t bit = (int64_t)1 << 62; bit > 0; bit >>= 2) {
    if (v >= r + bit) {
      v -= r + bit;
      r = (r >> 1) + bit;
    } else {
      r >>= 1;
    }
  }
  return r;
}

int64_t ssk_threshold(const store_sqlite *s) {
  if (s->kf.fold_at > 0) return s->kf.fold_at;
  int64_t stored = s->kf.stored > INT64_MAX / SSK_PER_COMMIT ? INT64_MAX / SSK_PER_COMMIT : s->kf.stored;
  int64_t t = ssk__isqrt(stored * SSK_PER_COMMIT);
  return t < SSK_FOLD_MIN ? SSK_FOLD_MIN : t > SSK_FOLD_MAX ? SSK_FOLD_MAX : t;
}

static int ssk__probe(store_sqlite *s, int which, int64_t h, const char *agent, const char *event_id,
                      int64_t *ret_hash) {
  sqlite3_stmt *st = ss__stmt(s, which);
  sqlite3_bind_int64(st, 1, h);
  ss__text(st, 2, agent);
  ss__text(st, 3, event_id);
  int rc, found = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW)
    if (sqlite3_column_int(st, 0)) {
      *ret_hash = sqlite3_column_int64(st, 1);
      found = 1;
      break;
    }
  int r = rc == SQLITE_ROW || rc == SQLITE_DONE ? found : ss__fail(s, "look up event");
  sqlite3_reset(st);
  return r;
}

static size_t ssk__bloom_max(const store_sqlite *s) {
  return s->kf.bloom_max ? s->kf.bloom_max : SSK_BLOOM_MAX_BYTES;
}

/* (Re)build the filter from both tables' keys, sized for what is stored;
 * the old one goes first (memory stays bounded by one filter). Without
 * memory for it, or with a bound under SSB_MIN_BYTES, every lookup goes
 * to the tables, as before there was a filter. */
static int ssk__bloom_build(store_sqlite *s) {
  uint64_t keys = s->kf.stored > 0 ? (uint64_t)s->kf.stored : 0;
  if (s->kf.bloom.keys > keys) keys = s->kf.bloom.keys;
  ssb_free(&s->kf.bloom);
  s->kf.bloom_failed = true; /* until it is whole */
  if (ssk__bloom_max(s) < SSB_MIN_BYTES || ssb_init(&s->kf.bloom, keys, ssk__bloom_max(s)) < 0) return 0;
  sqlite3_stmt *st = ss__stmt(s, SS_KEY_ALL);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) ssb_add(&s->kf.bloom, sqlite3_column_int64(st, 0));
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    ssb_free(&s->kf.bloom);
    return ss__fail(s, "read event keys");
  }
  s->kf.bloom_failed = false;
  return 0;
}

int ssk_find(store_sqlite *s, bool random, int64_t h, const char *agent, const char *event_id,
             int64_t *ret_hash) {
  if (!random) return ssk__probe(s, SS_KEY_PROBE, h, agent, event_id, ret_hash);
  int r = ssk__probe(s, SS_KEYNEW_PROBE, h, agent, event_id, ret_hash);
  if (r != 0) return r;
  if (((!s->kf.bloom.bytes && !s->kf.bloom_failed) || ssb_full(&s->kf.bloom, ssk__bloom_max(s))) &&
      (r = ssk__bloom_build(s)) < 0)
    return r;
  if (!ssb_maybe(&s->kf.bloom, h)) return 0;
  return ssk__probe(s, SS_KEY_PROBE, h, agent, event_id, ret_hash);
}

int ssk_insert(store_sqlite *s, bool random, int64_t h, int64_t rseq) {
  sqlite3_stmt *st = ss__stmt(s, random ? SS_KEYNEW_INSERT : SS_KEY_INSERT);
  sqlite3_bind_int64(st, 1, h);
  sqlite3_bind_int64(st, 2, rseq);
  int r = ss__exec(s, st, "insert event key");
  if (r == 0) ssb_add(&s->kf.bloom, h); /* no filter yet: nothing */
  if (r == 0 && random && s->kf.n >= 0) s->kf.n++;
  if (r == 0 && rseq > s->kf.stored) s->kf.stored = rseq;
  return r;
}

int ssk_fold(store_sqlite *s) {
  int r;
  if (s->kf.piece < 0) {
    if (s->kf.n < 0 && (r = ss__scalar(s, SS_KEYNEW_COUNT, "count waiting keys", &s->kf.n)) < 0) return r;
    if (s->kf.n < ssk_threshold(s)) return 0;
    s->kf.piece = 0;
  }
  /* piece i: the keys whose top four bits (as unsigned) are i, in signed order */
  uint64_t lo = (uint64_t)s->kf.piece << 60, hi = lo + ((UINT64_C(1) << 60) - 1), flip = UINT64_C(1) << 63;
  int64_t from = (int64_t)(lo ^ flip), to = (int64_t)(hi ^ flip);
  sqlite3_stmt *st = ss__stmt(s, SS_KEYNEW_FOLD);
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  if ((r = ss__exec(s, st, "fold event keys")) < 0) return r;
  st = ss__stmt(s, SS_KEYNEW_DROP);
  sqlite3_bind_int64(st, 1, from);
  sqlite3_bind_int64(st, 2, to);
  if ((r = ss__exec(s, st, "drop folded event keys")) < 0) return r;
  if (s->kf.n >= 0) {
    s->kf.n -= sqlite3_changes64(s->db);
    if (s->kf.n < 0) s->kf.n = -1;
  }
  if (++s->kf.piece == SSK_PIECES) s->kf.piece = -1;
  return 0;
}

void ssk_close(store_sqlite *s) { ssb_free(&s->kf.bloom); }

void ssk_tx_end(store_sqlite *s, bool committed) {
  if (!committed) s->kf.n = -1;
}
