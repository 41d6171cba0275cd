/* test_collector_ratelimit: the per-agent token bucket and in-progress cap —
 * burst then refusal with a Retry-After that matches the rate, refill over
 * time, agents independent, release reopening the concurrency cap, and the
 * bounded table sweeping idle agents when full; the collector-wide slots,
 * queue, turns and byte budget. The clock is passed in. */
#include <stdio.h>

#include "check.h"
#include "ratelimit.h"

static void test_rate(void) {
  rl_table *t = NULL;
  rl_config c = {.rate = 2, .burst = 3, .max_concurrent = 100};
  CHECK_EQ_INT(rl_new(&c, &t), 0);
  rl_ticket *e[8];
  unsigned retry = 0;
  uint64_t now = 1000000;
  for (int i = 0; i < 3; i++) CHECK_EQ_INT(rl_admit(t, "a", now, &e[i], &retry), RL_OK);
  CHECK_EQ_INT(rl_admit(t, "a", now, &e[3], &retry), RL_RATE);
  CHECK_EQ_INT(retry, 1);                                    /* one token at 2/s: 0.5 s, rounded up to 1 */
  CHECK_EQ_INT(rl_admit(t, "b", now, &e[4], &retry), RL_OK); /* b has its own bucket */
  CHECK_EQ_INT(rl_admit(t, "a", now + 499, &e[3], &retry), RL_RATE);
  CHECK_EQ_INT(rl_admit(t, "a", now + 500, &e[3], &retry), RL_OK);
  for (int i = 0; i < 5; i++) rl_release(e[i]);
  rl_free(t);

  /* slow rate: Retry-After covers the wait */
  c.rate = 0.25;
  c.burst = 1;
  CHECK_EQ_INT(rl_new(&c, &t), 0);
  CHECK_EQ_INT(rl_admit(t, "a", now, &e[0], &retry), RL_OK);
  CHECK_EQ_INT(rl_admit(t, "a", now, &e[1], &retry), RL_RATE);
  CHECK_EQ_INT(retry, 4);
  CHECK_EQ_INT(rl_admit(t, "a", now + 3000, &e[1], &retry), RL_RATE);
  CHECK_EQ_INT(retry, 1);
  rl_release(e[0]);
  rl_free(t);
}

static void test_concurrent(void) {
  rl_table *t = NULL;
  rl_config c = {.rate = 0, .burst = 1, .max_concurrent = 2};
  CHECK_EQ_INT(rl_new(&c, &t), 0);
  rl_ticket *e1, *e2, *e3;
  unsigned retry = 0;
  CHECK_EQ_INT(rl_admit(t, "a", 5, &e1, &retry), RL_OK);
  CHECK_EQ_INT(rl_admit(t, "a", 5, &e2, &retry), RL_OK);
  CHECK_EQ_INT(rl_admit(t, "a", 5, &e3, &retry), RL_CONCURRENT);
  CHECK_EQ_INT(retry, 1);
  rl_release(e1);
  CHECK_EQ_INT(rl_admit(t, "a", 5, &e3, &retry), RL_OK); /* no rate limit: only the cap */
  rl_release(e2);
  rl_release(e3);
  rl_free(t);
}

static void test_bounded(void) {
  rl_table *t = NULL;
  rl_config c = {.rate = 1, .burst = 1, .max_concurrent = 1, .max_agents = 4};
  CHECK_EQ_INT(rl_new(&c, &t), 0);
  rl_ticket *e[6];
  unsigned retry = 0;
  char id[16];
  for (int i = 0; i < 4; i++) {
    snprintf(id, sizeof(id), "agent-%d", i);
    CHECK_EQ_INT(rl_admit(t, id, 1000, &e[i], &retry), RL_OK);
  }
  CHECK_EQ_INT(rl_count(t), 4);
  /* full, every entry in use: refused, nothing evicted */
  CHECK_EQ_INT(rl_admit(t, "agent-9", 1000, &e[4], &retry), RL_FULL);
  CHECK_EQ_INT(rl_count(t), 4);
  /* released and refilled: swept to make room (at most once a second) */
  for (int i = 0; i < 4; i++) rl_release(e[i]);
  CHECK_EQ_INT(rl_admit(t, "agent-9", 3000, &e[4], &retry), RL_OK);
  CHECK_EQ_INT(rl_count(t), 1);
  rl_release(e[4]);
  rl_free(t);
}

static int go_calls;
static void count_go(void *arg) {
  (void)arg;
  go_calls++;
}

/* The collector-wide bound: max_inflight applied, queue_max more admitted
 * and queued in order; past it 429 (RL_BUSY) and the refused agent is owed
 * the next free place, ahead of an agent that was not refused. */
static void test_inflight_turns(void) {
  rl_table *t = NULL;
  rl_config c = {.max_inflight = 2, .queue_max = 1, .rate = 0, .burst = 1, .max_concurrent = 100};
  CHECK_EQ_INT(rl_new(&c, &t), 0);
  rl_ticket *a1, *a2, *a3, *b1 = NULL, *x = NULL;
  unsigned retry = 0;
  uint64_t now = 10000;
  go_calls = 0;
  CHECK_EQ_INT(rl_admit(t, "big", now, &a1, &retry), RL_OK);
  CHECK_EQ_INT(rl_admit(t, "big", now, &a2, &retry), RL_OK);
  CHECK_EQ_INT(rl_pending(t), 2);
  CHECK(rl_start(a1, count_go, NULL));
  CHECK(rl_start(a2, count_go, NULL));
  CHECK_EQ_INT(rl_inflight(t), 2);
  CHECK_EQ_INT(rl_admit(t, "big", now, &a3, &retry), RL_OK); /* the queue's one place */
  CHECK(!rl_start(a3, count_go, NULL));                      /* queued */
  CHECK_EQ_INT(rl_admit(t, "small", now, &b1, &retry), RL_BUSY);
  CHECK(retry >= 1);
  CHECK_EQ_INT(rl_waiting(t, now), 1);
  /* a slot frees: the queued batch runs */
  rl_release(a1);
  CHECK_EQ_INT(go_calls, 1);
  CHECK_EQ_INT(rl_inflight(t), 2);
  CHECK_EQ_INT(rl_pending(t), 0);
  /* big asks again at once: the free place is small's */
  CHECK_EQ_INT(rl_admit(t, "big", now + 1, &x, &retry), RL_BUSY);
  CHECK_EQ_INT(rl_waiting(t, now + 1), 2);
  CHECK_EQ_INT(rl_admit(t, "small", now + 2, &b1, &retry), RL_OK);
  CHECK_EQ_INT(rl_waiting(t, now + 2), 1);
  CHECK(!rl_start(b1, count_go, NULL));
  /* full again; big is still owed a turn and takes the next place */
  CHECK_EQ_INT(rl_admit(t, "third", now + 3, &x, &retry), RL_BUSY);
  rl_release(a2); /* b1 runs */
  CHECK_EQ_INT(go_calls, 2);
  CHECK_EQ_INT(rl_admit(t, "big", now + 4, &a1, &retry), RL_OK);
  /* a queued request that ends before its turn leaves the queue */
  CHECK(!rl_start(a1, count_go, NULL));
  rl_release(a1);
  CHECK_EQ_INT(rl_pending(t), 0);
  /* a waiter that never comes back loses its turn after Retry-After + grace */
  CHECK_EQ_INT(rl_waiting(t, now + 5), 1);                          /* third */
  CHECK_EQ_INT(rl_admit(t, "other", now + 5, &x, &retry), RL_BUSY); /* the free place is third's */
  CHECK_EQ_INT(rl_waiting(t, now + 60000), 0);
  CHECK_EQ_INT(rl_admit(t, "other", now + 60000, &x, &retry), RL_OK);
  rl_release(x);
  rl_release(a3);
  rl_release(b1);
  CHECK_EQ_INT(rl_inflight(t), 0);
  CHECK_EQ_INT(go_calls, 2);
  rl_free(t);
}

/* Retry-After follows the queue: waiters over the rate batches complete. */
static void test_inflight_retry_after(void) {
  rl_table *t = NULL;
  rl_config c = {.max_inflight = 1, .rate = 0, .burst = 1, .max_concurrent = 100};
  CHECK_EQ_INT(rl_new(&c, &t), 0);
  rl_ticket *e = NULL, *x = NULL;
  unsigned retry = 0;
  uint64_t now = 5000;
  /* two completions a second for a few seconds */
  for (int i = 0; i < 8; i++) {
    CHECK_EQ_INT(rl_admit(t, "a", now, &e, &retry), RL_OK);
    CHECK(rl_start(e, count_go, NULL));
    now += 500;
    rl_release(e);
  }
  CHECK_EQ_INT(rl_admit(t, "a", now, &e, &retry), RL_OK);
  CHECK(rl_start(e, count_go, NULL));
  char id[16];
  unsigned last = 0;
  for (int i = 0; i < 10; i++) {
    snprintf(id, sizeof(id), "w%d", i);
    CHECK_EQ_INT(rl_admit(t, id, now, &x, &retry), RL_BUSY);
    CHECK(retry >= last);
    last = retry;
  }
  CHECK(last >= 4 && last <= 6); /* the 10th waiter: ~ 10 / 2 per s */
  CHECK_EQ_INT(rl_waiting(t, now), 10);
  rl_release(e);
  rl_free(t);
}

/* The byte budget (queue_bytes): the bodies of the batches admitted and not
 * applied yet are counted once, from the Content-Length at admission, then
 * by the body once in; they leave the count exactly once, when the batch
 * gets its slot or ends before it (queued or not). Past the budget a
 * request is refused like a full queue (RL_BUSY, its agent owed a turn);
 * a batch larger than the whole budget is admitted when nothing waits. */
static void test_queue_bytes(void) {
  rl_table *t = NULL;
  rl_config c = {
      .max_inflight = 1, .queue_max = 10, .queue_bytes = 1000, .rate = 0, .burst = 1, .max_concurrent = 100};
  CHECK_EQ_INT(rl_new(&c, &t), 0);
  rl_ticket *run = NULL, *q1 = NULL, *q2 = NULL, *x = NULL, *big = NULL;
  unsigned retry = 0;
  uint64_t now = 20000;
  go_calls = 0;
  CHECK_EQ_INT(rl_admit_sized(t, "a", 5000, now, &run, &retry), RL_OK); /* over the budget, alone */
  CHECK_EQ_INT(rl_pending_bytes(t), 5000);
  CHECK(rl_start(run, count_go, NULL)); /* its slot: no longer waiting */
  CHECK_EQ_INT(rl_pending_bytes(t), 0);
  rl_ticket_bytes(run, 9999); /* a running batch is not counted */
  CHECK_EQ_INT(rl_pending_bytes(t), 0);
  CHECK_EQ_INT(rl_admit_sized(t, "b", 600, now, &q1, &retry), RL_OK);
  CHECK_EQ_INT(rl_admit_sized(t, "c", 0, now, &q2, &retry), RL_OK); /* chunked: size not known yet */
  CHECK_EQ_INT(rl_pending_bytes(t), 600);
  rl_ticket_bytes(q1, 500); /* the body in: 500 after all (counted instead, not besides) */
  rl_ticket_bytes(q2, 300);
  CHECK_EQ_INT(rl_pending_bytes(t), 800);
  CHECK(!rl_start(q1, count_go, NULL));
  CHECK(!rl_start(q2, count_go, NULL));
  CHECK_EQ_INT(rl_pending_bytes(t), 800);
  /* 800 + 300 > 1000: refused, a place in the queue notwithstanding */
  CHECK_EQ_INT(rl_admit_sized(t, "d", 300, now, &x, &retry), RL_BUSY);
  CHECK(retry >= 1);
  CHECK_EQ_INT(rl_waiting(t, now), 1);
  /* 200 more would fit, but the room is d's (owed as a place is) */
  CHECK_EQ_INT(rl_admit_sized(t, "e", 200, now, &x, &retry), RL_BUSY);
  CHECK_EQ_INT(rl_waiting(t, now), 2);
  /* q2 ends while queued: its bytes leave once */
  rl_release(q2);
  CHECK_EQ_INT(rl_pending_bytes(t), 500);
  CHECK_EQ_INT(rl_admit_sized(t, "d", 300, now + 1, &x, &retry), RL_OK);
  CHECK_EQ_INT(rl_pending_bytes(t), 800);
  /* the running batch ends: q1 takes the slot, its bytes leave the count */
  rl_release(run);
  CHECK_EQ_INT(go_calls, 1);
  CHECK_EQ_INT(rl_pending_bytes(t), 300);
  rl_release(q1); /* q1 was running: nothing more leaves */
  CHECK_EQ_INT(rl_pending_bytes(t), 300);
  CHECK(rl_start(x, count_go, NULL));
  CHECK_EQ_INT(rl_pending_bytes(t), 0);
  /* nothing is queued: a batch larger than the budget is admitted (e, back for
   * its turn, with a bigger body than it was refused with), the next refused */
  CHECK_EQ_INT(rl_admit_sized(t, "e", 4000, now + 2, &big, &retry), RL_OK);
  CHECK_EQ_INT(rl_waiting(t, now + 2), 0);
  CHECK_EQ_INT(rl_admit_sized(t, "f", 1, now + 2, &q1, &retry), RL_BUSY);
  rl_release(big); /* ends before its turn (a client gone mid-body) */
  CHECK_EQ_INT(rl_pending_bytes(t), 0);
  CHECK_EQ_INT(rl_pending(t), 0);
  rl_release(x);
  CHECK_EQ_INT(rl_inflight(t), 0);
  CHECK_EQ_INT(rl_pending_bytes(t), 0);
  rl_free(t);
}

int main(void) {
  test_queue_bytes();
  test_inflight_turns();
  test_inflight_retry_after();
  test_rate();
  test_concurrent();
  test_bounded();
  return check_finish("test_collector_ratelimit");
}
