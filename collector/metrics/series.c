/* series: bucket arithmetic for the series endpoint (see series.h). */
#include "series.h"

#include <errno.h>
#include <string.h>

/* floor(a / b) for b > 0, also for negative a */
static int64_t se__floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

int64_t series_step_ms(const char *value) {
  if (!value || strcmp(value, "hour") == 0) return SERIES_HOUR_MS;
  if (strcmp(value, "day") == 0) return SERIES_DAY_MS;
  return -EINVAL;
}

size_t series_count(int64_t from_ms, int64_t to_ms, int64_t width_ms) {
  if (from_ms >= to_ms || width_ms <= 0) return 0;
  int64_t first = se__floor_div(from_ms, width_ms);
  int64_t last = se__floor_div(to_ms - 1, width_ms); /* the boundary slot holding to − 1 ms */
  return (size_t)(last - first + 1);
}

size_t series_plan(int64_t from_ms, int64_t to_ms, int64_t width_ms, series_bucket *out, size_t max) {
  size_t n = series_count(from_ms, to_ms, width_ms);
  if (n == 0 || n > max) return 0;
  int64_t start = from_ms;
  int64_t next = (se__floor_div(from_ms, width_ms) + 1) * width_ms;
  for (size_t i = 0; i < n; i++) {
    int64_t end = next < to_ms ? next : to_ms;
    out[i].start_ms = start;
    out[i].end_ms = end;
    start = end;
    next += width_ms;
  }
  return n;
}
