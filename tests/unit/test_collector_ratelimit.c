/* test_collector_ratelimit: the per-agent token bucket and in-progress cap —
 * burst then refusal with a Retry-After that matches the rate, refill over
 * time, agents independent, release reopening the concurrency cap, and the
 * bounded table sweeping idle agents when full. The clock is passed in. */
#include <stdio.h>

#include "check.h"
#include "ratelimit.h"

static void test_rate(void) {
  rl_table *t = NULL;
  rl_config c = {.rate = 2, .burst = 3, .max_concurrent = 100};
  CHECK_EQ_INT(rl_new(&c, &t), 0);
  rl_entry *e[8];
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
  rl_entry *e1, *e2, *e3;
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
  rl_entry *e[6];
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

int main(void) {
  test_rate();
  test_concurrent();
  test_bounded();
  return check_finish("test_collector_ratelimit");
}
