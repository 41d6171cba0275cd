/* up_lanes: which events the next upload takes (SPEC §6.2). Two lanes over the
 * journal's seqs: *live* — events ingested less than live_window ago — goes
 * first, oldest-first among them; *backfill* — everything older — follows in
 * the remaining capacity, oldest-first. A batch is always one run of pending
 * seqs that no other upload in flight covers, so uploads never overlap and an
 * Idempotency-Key ({first}-{last}) always names the same events.
 *
 * Seqs grow with ingest time, so the lanes split at one seq, live_from: the
 * first seq ingested within the window. It is found from marks — (seq, time)
 * pairs noted as next_seq moves, at most one per LN_MARK_MS — kept in a
 * bounded ring; a full ring forgets its oldest mark (live_from then errs
 * towards backfill, never the other way). Events found in the journal at
 * start are backfill.
 *
 * The live figures for status: acknowledged runs at or above live_from are
 * kept as a small set of seq intervals, so live = seqs in [live_from,
 * next_seq) not acknowledged; backfill = the rest of the backlog.
 *
 * Pure: no I/O, clocks passed in (monotonic ms). */
#ifndef FERRY_AGENT_UP_LANES_H
#define FERRY_AGENT_UP_LANES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LN_MARKS   1024
#define LN_MARK_MS 50
#define LN_DONE    64

typedef enum { LN_LIVE = 0, LN_BACKFILL = 1 } ln_lane;

typedef struct ln_range {
  int64_t lo, hi; /* seqs, inclusive */
} ln_range;

typedef struct ln_state {
  uint64_t window_ms; /* 0: one lane (everything is backfill, oldest-first) */
  struct {
    int64_t seq; /* events from this seq on were ingested at t_ms or later */
    uint64_t t_ms;
  } marks[LN_MARKS];
  size_t m_head, m_n;
  int64_t next_seq;       /* the highest next_seq noted */
  int64_t start_seq;      /* next_seq at start: seqs below it are backfill */
  ln_range done[LN_DONE]; /* acknowledged runs, sorted, disjoint, not adjacent */
  size_t n_done;
} ln_state;

void ln_init(ln_state *s, double live_window_s, int64_t next_seq, uint64_t now_ms);
/* A new window (a reload); marks are kept. */
void ln_set_window(ln_state *s, double live_window_s);
/* The journal's next_seq at now_ms (call on every commit; cheap). */
void ln_note_next_seq(ln_state *s, int64_t next_seq, uint64_t now_ms);
/* The first live seq at now_ms (next_seq when nothing is live). */
int64_t ln_live_from(const ln_state *s, uint64_t now_ms);
/* A batch [first, last] was acknowledged (every seq in it left the journal). */
void ln_note_acked(ln_state *s, int64_t first, int64_t last, uint64_t now_ms);

typedef struct ln_split {
  int64_t live, backfill; /* pending events in each lane */
  double live_oldest_s;   /* age of the oldest pending live event (0: none) */
} ln_split;
/* Split a backlog of `backlog` pending events (the journal's figure). */
void ln_get_split(const ln_state *s, int64_t backlog, uint64_t now_ms, ln_split *ret);

/* The seqs the next read of lane may cover: the first run of [lane's lower
 * bound, lane's upper bound] not covered by any range in busy[0..n_busy)
 * (uploads in flight or being read). false when the lane has no such run. */
bool ln_pick(const ln_state *s, ln_lane lane, uint64_t now_ms, const ln_range *busy, size_t n_busy,
             ln_range *ret);

#endif
