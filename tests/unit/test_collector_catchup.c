/* test_collector_catchup: the backlog trend and catch-up estimate per agent —
 * unknown before two reports a span apart, a draining backlog gives a
 * negative trend and a finite catch-up time, a growing one none, an empty
 * backlog is caught up, silence makes it stale, and the table stays bounded. */
#include <stdio.h>

#include "catchup.h"
#include "check.h"

static void test_trend(void) {
  cu_table *t = cu_new(0);
  CHECK(t != NULL);
  cu_estimate e = cu_get(t, "a", 1000);
  CHECK(!e.has_trend && !e.has_eta);
  CHECK_EQ_INT(cu_note(t, "a", 100000, 1000), 0);
  e = cu_get(t, "a", 1000);
  CHECK(!e.has_trend && !e.has_eta);
  /* 10k events drained per second */
  CHECK_EQ_INT(cu_note(t, "a", 90000, 2000), 0);
  CHECK_EQ_INT(cu_note(t, "a", 80000, 3000), 0);
  e = cu_get(t, "a", 3000);
  CHECK(e.has_trend);
  CHECK(e.trend_per_s < -9999 && e.trend_per_s > -10001);
  CHECK(e.has_eta);
  CHECK(e.catch_up_s > 7.9 && e.catch_up_s < 8.1);
  /* another agent whose backlog grows: a trend, no catch-up time */
  CHECK_EQ_INT(cu_note(t, "b", 10, 1000), 0);
  CHECK_EQ_INT(cu_note(t, "b", 30, 3000), 0);
  e = cu_get(t, "b", 3000);
  CHECK(e.has_trend && e.trend_per_s > 9 && e.trend_per_s < 11);
  CHECK(!e.has_eta);
  /* drained: caught up */
  CHECK_EQ_INT(cu_note(t, "a", 0, 5000), 0);
  e = cu_get(t, "a", 5000);
  CHECK(e.has_eta && e.catch_up_s == 0);
  /* silence: stale */
  e = cu_get(t, "a", 5000 + 200000);
  CHECK(!e.has_trend && !e.has_eta);
  cu_free(t);
}

static void test_bounded(void) {
  cu_table *t = cu_new(8);
  char id[32];
  for (int i = 0; i < 100; i++) {
    snprintf(id, sizeof(id), "agent-%d", i);
    CHECK_EQ_INT(cu_note(t, id, i, (uint64_t)(1000 + i)), 0);
  }
  /* the 8 heard from last are kept, each with its own figures */
  for (int i = 92; i < 100; i++) {
    snprintf(id, sizeof(id), "agent-%d", i);
    cu_estimate e = cu_get(t, id, 1200);
    CHECK(!e.has_trend);
    CHECK_EQ_INT(cu_note(t, id, i, 4000), 0);
    e = cu_get(t, id, 4000);
    CHECK(e.has_trend && e.trend_per_s == 0);
  }
  snprintf(id, sizeof(id), "agent-%d", 3);
  CHECK_EQ_INT(cu_note(t, id, 5, 4000), 0);
  CHECK_EQ_INT(cu_note(t, id, 5, 4000), 0);
  cu_free(t);
}

int main(void) {
  test_trend();
  test_bounded();
  return check_finish("test_collector_catchup");
}
