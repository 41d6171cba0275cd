/* test_collector_series: how GET /v1/metrics/series cuts a window into UTC
 * hour/day buckets — partial edges, exact boundaries, negative times, the
 * bucket cap — and which step names it accepts. */
#include <errno.h>

#include "check.h"
#include "series.h"

#define H  SERIES_HOUR_MS
#define D  SERIES_DAY_MS
#define T0 INT64_C(1772352000000) /* 2026-03-01T08:00:00Z, hour-aligned */

static void test_step(void) {
  CHECK_EQ_INT(series_step_ms(NULL), H);
  CHECK_EQ_INT(series_step_ms("hour"), H);
  CHECK_EQ_INT(series_step_ms("day"), D);
  CHECK_EQ_INT(series_step_ms("Hour"), -EINVAL);
  CHECK_EQ_INT(series_step_ms(""), -EINVAL);
  CHECK_EQ_INT(series_step_ms("minute"), -EINVAL);
}

static void test_aligned(void) {
  series_bucket b[8];
  CHECK_EQ_INT(series_count(T0, T0 + 3 * H, H), 3);
  CHECK_EQ_INT(series_plan(T0, T0 + 3 * H, H, b, 8), 3);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ_INT(b[i].start_ms, T0 + i * H);
    CHECK_EQ_INT(b[i].end_ms, T0 + (i + 1) * H);
  }
}

static void test_partial_edges(void) {
  series_bucket b[8];
  /* 08:20 → 11:05: [08:20,09) [09,10) [10,11) [11,11:05) */
  int64_t from = T0 + 20 * 60000, to = T0 + 3 * H + 5 * 60000;
  CHECK_EQ_INT(series_plan(from, to, H, b, 8), 4);
  CHECK_EQ_INT(b[0].start_ms, from);
  CHECK_EQ_INT(b[0].end_ms, T0 + H);
  CHECK_EQ_INT(b[1].start_ms, T0 + H);
  CHECK_EQ_INT(b[3].start_ms, T0 + 3 * H);
  CHECK_EQ_INT(b[3].end_ms, to);
  /* inside one hour */
  CHECK_EQ_INT(series_plan(T0 + 1, T0 + 2, H, b, 8), 1);
  CHECK_EQ_INT(b[0].start_ms, T0 + 1);
  CHECK_EQ_INT(b[0].end_ms, T0 + 2);
  /* ends one ms after a boundary: a 1 ms last bucket */
  CHECK_EQ_INT(series_plan(T0, T0 + H + 1, H, b, 8), 2);
  CHECK_EQ_INT(b[1].start_ms, T0 + H);
  CHECK_EQ_INT(b[1].end_ms, T0 + H + 1);
}

static void test_days(void) {
  series_bucket b[8];
  int64_t midnight = (T0 / D) * D;
  CHECK_EQ_INT(series_plan(T0, T0 + 2 * D, D, b, 8), 3);
  CHECK_EQ_INT(b[0].start_ms, T0);
  CHECK_EQ_INT(b[0].end_ms, midnight + D);
  CHECK_EQ_INT(b[1].end_ms, midnight + 2 * D);
  CHECK_EQ_INT(b[2].end_ms, T0 + 2 * D);
}

static void test_negative(void) {
  series_bucket b[8];
  /* before 1970: floor, not truncation */
  CHECK_EQ_INT(series_plan(-H - 1, 1, H, b, 8), 3);
  CHECK_EQ_INT(b[0].start_ms, -H - 1);
  CHECK_EQ_INT(b[0].end_ms, -H);
  CHECK_EQ_INT(b[1].end_ms, 0);
  CHECK_EQ_INT(b[2].end_ms, 1);
}

static void test_bounds(void) {
  series_bucket b[4];
  CHECK_EQ_INT(series_count(T0, T0, H), 0);
  CHECK_EQ_INT(series_count(T0 + 1, T0, H), 0);
  CHECK_EQ_INT(series_plan(T0, T0 + 5 * H, H, b, 4), 0); /* needs 5 */
  CHECK_EQ_INT(series_plan(T0, T0 + 4 * H, H, b, 4), 4);
  /* 31 days of hours fit, with one partial hour on each side */
  CHECK_EQ_INT(series_count(T0 + 1, T0 + 31 * D - 1, H), 31 * 24);
  CHECK_EQ_INT(series_count(T0 + 1, T0 + 31 * D + 1, H), SERIES_MAX_BUCKETS);
  CHECK(series_count(T0, T0 + 93 * D, H) > SERIES_MAX_BUCKETS);
  CHECK(series_count(T0 + 1, T0 + 93 * D, D) <= SERIES_MAX_BUCKETS);
}

int main(void) {
  test_step();
  test_aligned();
  test_partial_edges();
  test_days();
  test_negative();
  test_bounds();
  return check_finish("test_collector_series");
}
