/* series: how GET /v1/metrics/series cuts a window into buckets — pure
 * arithmetic, apart from HTTP and the store, so it is unit-tested on its own.
 * Buckets are aligned to multiples of the step since the Unix epoch (UTC hour
 * or UTC day boundaries); the first starts at `from` and the last ends at
 * `to`, so the two edge buckets may be partial. */
#ifndef FERRY_COLLECTOR_SERIES_H
#define FERRY_COLLECTOR_SERIES_H

#include <stddef.h>
#include <stdint.h>

#define SERIES_HOUR_MS     INT64_C(3600000)
#define SERIES_DAY_MS      INT64_C(86400000)
/* Most buckets one answer holds: 31 days of hours (a 93-day window needs step=day). */
#define SERIES_MAX_BUCKETS 745

typedef struct series_bucket {
  int64_t start_ms, end_ms; /* [start, end), start < end */
} series_bucket;

/* The step named by a query value: NULL or "hour" → hour, "day" → day.
 * Returns the width in ms, or -EINVAL for anything else. */
int64_t series_step_ms(const char *value);

/* How many buckets [from_ms, to_ms) (from < to) needs with width_ms > 0. */
size_t series_count(int64_t from_ms, int64_t to_ms, int64_t width_ms);

/* Fill out[0..n) with the buckets (n = series_count(...), at most max);
 * returns n, or 0 when more than max would be needed. */
size_t series_plan(int64_t from_ms, int64_t to_ms, int64_t width_ms, series_bucket *out, size_t max);

#endif
