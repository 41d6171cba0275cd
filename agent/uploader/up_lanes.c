/* up_lanes: the live/backfill split of the journal's seqs (see up_lanes.h). */
#include "up_lanes.h"

#include <string.h>

void ln_init(ln_state *s, double live_window_s, int64_t next_seq, uint64_t now_ms) {
  memset(s, 0, sizeof(*s));
  (void)now_ms;
  ln_set_window(s, live_window_s);
  s->next_seq = next_seq;
  s->start_seq = next_seq;
}

void ln_set_window(ln_state *s, double live_window_s) {
  s->window_ms = live_window_s > 0 ? (uint64_t)(live_window_s * 1000.0 + 0.5) : 0;
}

static size_t ln__idx(const ln_state *s, size_t i) { return (s->m_head + i) % LN_MARKS; }

void ln_note_next_seq(ln_state *s, int64_t next_seq, uint64_t now_ms) {
  if (next_seq <= s->next_seq) return;
  /* events from the previous next_seq on were ingested about now */
  if (s->m_n) {
    size_t last = ln__idx(s, s->m_n - 1);
    if (now_ms < s->marks[last].t_ms + LN_MARK_MS) { /* same mark: it already covers them */
      s->next_seq = next_seq;
      return;
    }
  }
  if (s->m_n == LN_MARKS) { /* forget the oldest */
    s->m_head = (s->m_head + 1) % LN_MARKS;
    s->m_n--;
  }
  size_t k = ln__idx(s, s->m_n++);
  s->marks[k].seq = s->next_seq;
  s->marks[k].t_ms = now_ms;
  s->next_seq = next_seq;
}

int64_t ln_live_from(const ln_state *s, uint64_t now_ms) {
  if (!s->window_ms) return s->next_seq;
  uint64_t edge = now_ms > s->window_ms ? now_ms - s->window_ms : 0;
  /* marks are in time order: the first one inside the window */
  size_t lo = 0, hi = s->m_n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->marks[ln__idx(s, mid)].t_ms < edge) lo = mid + 1;
    else hi = mid;
  }
  int64_t from = lo < s->m_n ? s->marks[ln__idx(s, lo)].seq : s->next_seq;
  return from < s->start_seq ? s->start_seq : from;
}

/* The ingest time of seq (the mark that covers it), 0 when unknown. */
static uint64_t ln__time_of(const ln_state *s, int64_t seq) {
  size_t lo = 0, hi = s->m_n; /* last mark with mark.seq <= seq */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->marks[ln__idx(s, mid)].seq <= seq) lo = mid + 1;
    else hi = mid;
  }
  return lo ? s->marks[ln__idx(s, lo - 1)].t_ms : 0;
}

/* Forget acknowledged runs wholly below seq. */
static void ln__prune(ln_state *s, int64_t below) {
  size_t k = 0;
  while (k < s->n_done && s->done[k].hi < below) k++;
  if (k) {
    memmove(s->done, s->done + k, (s->n_done - k) * sizeof(s->done[0]));
    s->n_done -= k;
  }
}

void ln_note_acked(ln_state *s, int64_t first, int64_t last, uint64_t now_ms) {
  if (first > last) return;
  ln__prune(s, ln_live_from(s, now_ms));
  ln_range r = {first, last};
  /* merge with every run it touches */
  size_t i = 0;
  while (i < s->n_done && s->done[i].hi + 1 < r.lo) i++;
  size_t j = i;
  while (j < s->n_done && s->done[j].lo <= r.hi + 1) {
    if (s->done[j].lo < r.lo) r.lo = s->done[j].lo;
    if (s->done[j].hi > r.hi) r.hi = s->done[j].hi;
    j++;
  }
  if (j - i == 0 && s->n_done == LN_DONE) { /* full: forget the lowest run (live then errs high) */
    if (i == 0) return;
    memmove(s->done, s->done + 1, (LN_DONE - 1) * sizeof(s->done[0]));
    s->n_done--;
    i--;
    j--;
  }
  memmove(s->done + i + 1, s->done + j, (s->n_done - j) * sizeof(s->done[0]));
  s->done[i] = r;
  s->n_done = s->n_done - (j - i) + 1;
}

void ln_get_split(const ln_state *s, int64_t backlog, uint64_t now_ms, ln_split *ret) {
  memset(ret, 0, sizeof(*ret));
  int64_t from = ln_live_from(s, now_ms);
  int64_t live = s->next_seq - from;
  int64_t oldest = from;
  for (size_t i = 0; i < s->n_done; i++) {
    int64_t lo = s->done[i].lo < from ? from : s->done[i].lo;
    int64_t hi = s->done[i].hi >= s->next_seq ? s->next_seq - 1 : s->done[i].hi;
    if (hi >= lo) live -= hi - lo + 1;
    if (lo <= oldest && hi >= oldest) oldest = hi + 1;
  }
  if (live < 0) live = 0;
  if (live > backlog) live = backlog;
  ret->live = live;
  ret->backfill = backlog - live;
  if (live > 0 && oldest < s->next_seq) {
    uint64_t t = ln__time_of(s, oldest);
    if (t && now_ms > t) ret->live_oldest_s = (double)(now_ms - t) / 1000.0;
  }
}

bool ln_pick(const ln_state *s, ln_lane lane, uint64_t now_ms, const ln_range *busy, size_t n_busy,
             ln_range *ret) {
  int64_t from = ln_live_from(s, now_ms);
  ln_range r = lane == LN_LIVE ? (ln_range){from, INT64_MAX} : (ln_range){1, from - 1};
  if (lane == LN_LIVE && !s->window_ms) return false; /* one lane: all is backfill */
  if (lane == LN_BACKFILL && !s->window_ms) r.hi = INT64_MAX;
  /* move lo past every busy range that covers it (busy ranges are few) */
  for (bool moved = true; moved;) {
    moved = false;
    for (size_t i = 0; i < n_busy; i++)
      if (busy[i].lo <= r.lo && busy[i].hi >= r.lo) {
        if (busy[i].hi == INT64_MAX) return false;
        r.lo = busy[i].hi + 1;
        moved = true;
      }
  }
  for (size_t i = 0; i < n_busy; i++)
    if (busy[i].lo > r.lo && busy[i].lo - 1 < r.hi) r.hi = busy[i].lo - 1;
  if (r.lo > r.hi) return false;
  if (lane == LN_LIVE && r.lo >= s->next_seq) return false; /* nothing live yet */
  *ret = r;
  return true;
}
