/* test_agent_lanes: the uploader's two lanes and its pace, without a network —
 * the live/backfill boundary follows ingest time, picks never overlap an
 * upload in flight, live goes first and oldest-first, the split for status
 * counts acknowledged runs, one lane when the window is 0, bounded marks;
 * AIMD widens on fast acks and halves on busy answers or slow ones. */
#include <stdio.h>

#include "check.h"
#include "up_lanes.h"
#include "up_pacing.h"

static void test_boundary(void) {
  ln_state s;
  /* 1000 events in the journal at start (seqs 1..1000): backfill */
  ln_init(&s, 30, 1001, 100000);
  CHECK_EQ_INT(ln_live_from(&s, 100000), 1001);
  ln_range r;
  CHECK(!ln_pick(&s, LN_LIVE, 100000, NULL, 0, &r));
  CHECK(ln_pick(&s, LN_BACKFILL, 100000, NULL, 0, &r));
  CHECK_EQ_INT(r.lo, 1);
  CHECK_EQ_INT(r.hi, 1000);
  /* 10 events a second for a minute */
  for (int i = 1; i <= 60; i++) ln_note_next_seq(&s, 1001 + 10 * i, 100000 + (uint64_t)i * 1000);
  uint64_t now = 160000;
  /* live: ingested in [130 s, 160 s]: the events committed from t=130 on */
  int64_t from = ln_live_from(&s, now);
  CHECK_EQ_INT(from, 1001 + 10 * 29);
  CHECK(ln_pick(&s, LN_LIVE, now, NULL, 0, &r));
  CHECK_EQ_INT(r.lo, from);
  CHECK(ln_pick(&s, LN_BACKFILL, now, NULL, 0, &r));
  CHECK_EQ_INT(r.lo, 1);
  CHECK_EQ_INT(r.hi, from - 1);
  ln_split sp;
  ln_get_split(&s, 1600, now, &sp);
  CHECK_EQ_INT(sp.live, 1601 - from);
  CHECK_EQ_INT(sp.backfill, 1600 - sp.live);
  CHECK(sp.live_oldest_s > 29 && sp.live_oldest_s <= 30);
  /* acknowledged live runs leave the live figure; the oldest moves up */
  ln_note_acked(&s, from, from + 99, now);
  ln_get_split(&s, 1500, now, &sp);
  CHECK_EQ_INT(sp.live, 1601 - from - 100);
  CHECK(sp.live_oldest_s > 19 && sp.live_oldest_s <= 20);
  ln_note_acked(&s, from + 100, 1600, now);
  ln_get_split(&s, 1300, now, &sp);
  CHECK_EQ_INT(sp.live, 0);
  CHECK_EQ_INT(sp.backfill, 1300);
  CHECK(sp.live_oldest_s == 0);
}

static void test_no_overlap(void) {
  ln_state s;
  ln_init(&s, 30, 1, 0);
  ln_note_next_seq(&s, 5001, 1000);  /* 5000 events at t=1 s */
  ln_note_next_seq(&s, 6001, 40000); /* 1000 more at t=40 s */
  uint64_t now = 45000;
  CHECK_EQ_INT(ln_live_from(&s, now), 5001);
  ln_range busy[4], r;
  /* a live read in progress: [5001, ∞) */
  CHECK(ln_pick(&s, LN_LIVE, now, NULL, 0, &r));
  CHECK_EQ_INT(r.lo, 5001);
  CHECK(r.hi == INT64_MAX);
  busy[0] = r;
  CHECK(!ln_pick(&s, LN_LIVE, now, busy, 1, &r)); /* one live read at a time */
  /* backfill beside it, bounded below it */
  CHECK(ln_pick(&s, LN_BACKFILL, now, busy, 1, &r));
  CHECK_EQ_INT(r.lo, 1);
  CHECK_EQ_INT(r.hi, 5000);
  busy[1] = (ln_range){1, 2000}; /* read: 2000 events */
  busy[0] = (ln_range){5001, 6000};
  CHECK(ln_pick(&s, LN_BACKFILL, now, busy, 2, &r));
  CHECK_EQ_INT(r.lo, 2001);
  CHECK_EQ_INT(r.hi, 5000);
  /* the live batch answered; new events: live picks after nothing busy */
  ln_note_acked(&s, 5001, 6000, now);
  ln_note_next_seq(&s, 6011, now);
  busy[0] = (ln_range){2001, 5000};
  CHECK(ln_pick(&s, LN_LIVE, now + 10, busy, 2, &r));
  CHECK_EQ_INT(r.lo, 5001); /* the journal skips the acknowledged seqs */
  /* a backfill range that straddles a gap between two busy ones */
  busy[0] = (ln_range){1, 100};
  busy[1] = (ln_range){201, 300};
  CHECK(ln_pick(&s, LN_BACKFILL, now, busy, 2, &r));
  CHECK_EQ_INT(r.lo, 101);
  CHECK_EQ_INT(r.hi, 200);
  /* everything of the lane busy */
  busy[0] = (ln_range){1, 5000};
  CHECK(!ln_pick(&s, LN_BACKFILL, now, busy, 1, &r));
}

static void test_one_lane(void) {
  ln_state s;
  ln_init(&s, 0, 1, 0);
  ln_note_next_seq(&s, 101, 1000);
  ln_range r;
  CHECK(!ln_pick(&s, LN_LIVE, 2000, NULL, 0, &r));
  CHECK(ln_pick(&s, LN_BACKFILL, 2000, NULL, 0, &r));
  CHECK_EQ_INT(r.lo, 1);
  CHECK(r.hi == INT64_MAX);
  ln_split sp;
  ln_get_split(&s, 100, 2000, &sp);
  CHECK_EQ_INT(sp.live, 0);
  CHECK_EQ_INT(sp.backfill, 100);
}

static void test_bounded_marks(void) {
  ln_state s;
  ln_init(&s, 30, 1, 0);
  /* one event every 10 ms: marks coalesce to one per LN_MARK_MS */
  for (int i = 1; i <= 5000; i++) ln_note_next_seq(&s, 1 + i, (uint64_t)i * 10);
  uint64_t now = 50000;
  int64_t from = ln_live_from(&s, now);
  CHECK(from >= 2001 - 1 && from <= 2001 + LN_MARK_MS / 10);
  /* more marks in the window than the ring holds: the oldest are forgotten
   * and the boundary errs towards backfill (higher) */
  ln_init(&s, 100, 1, 0);
  for (int i = 1; i <= 5000; i++) ln_note_next_seq(&s, 1 + i, (uint64_t)i * 60);
  now = 300000;
  from = ln_live_from(&s, now);
  CHECK(from > 5001 - 100000 / 60);
  CHECK(from < 5001);
  /* many disjoint acknowledged runs: bounded, never below the truth */
  for (int i = 0; i < 200; i++) ln_note_acked(&s, from + 2 * i, from + 2 * i, now);
  CHECK(s.n_done <= LN_DONE);
  ln_split sp;
  ln_get_split(&s, 100000, now, &sp);
  CHECK(sp.live >= 5001 - from - 200);
}

static void test_pacing(void) {
  pc_state p;
  pc_init(&p, 4);
  CHECK_EQ_INT(pc_allowed(&p), 1);
  for (int i = 0; i < 20; i++) pc_on_ack(&p, 50);
  CHECK_EQ_INT(pc_allowed(&p), 4);
  pc_on_busy(&p);
  CHECK_EQ_INT(pc_allowed(&p), 2);
  pc_on_busy(&p);
  pc_on_busy(&p);
  CHECK_EQ_INT(pc_allowed(&p), 1);
  pc_on_ack(&p, 50);
  CHECK_EQ_INT(pc_allowed(&p), 2);
  pc_on_ack(&p, 5000); /* a slow answer: halve */
  CHECK_EQ_INT(pc_allowed(&p), 1);
  pc_set_max(&p, 1);
  for (int i = 0; i < 20; i++) pc_on_ack(&p, 50);
  CHECK_EQ_INT(pc_allowed(&p), 1);
}

int main(void) {
  test_boundary();
  test_no_overlap();
  test_one_lane();
  test_bounded_marks();
  test_pacing();
  return check_finish("test_agent_lanes");
}
