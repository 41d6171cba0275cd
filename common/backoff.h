/* backoff: exponential retry delays with full jitter (AWS architecture blog's
 * "full jitter": uniform in [0, min(max, initial·2^attempt)]), and the SPEC's
 * Retry-After rule (the server's delay capped by max, plus at most 10 %).
 * Pure arithmetic over a caller-owned state so it is trivially testable. */
#ifndef FERRY_BACKOFF_H
#define FERRY_BACKOFF_H

#include <stdint.h>

typedef struct backoff {
  double initial_s;
  double max_s;
  unsigned attempt; /* failures since the last success */
  uint64_t rng;     /* xorshift state, never 0 */
} backoff;

void backoff_init(backoff *b, double initial_s, double max_s, uint64_t seed);
/* Delay before the next try after a failure; advances attempt. */
double backoff_next(backoff *b);
/* Delay "at --retry-max": uniform [0, max]; advances attempt. */
double backoff_at_max(backoff *b);
/* Delay after a Retry-After of ra_s seconds: min(ra_s, max) · (1 + U[0, 0.1]).
 * Advances attempt too (the answer was a failure). NaN or negative ra_s → 0. */
double backoff_retry_after(backoff *b, double ra_s);
/* The current upper bound min(max, initial·2^attempt). */
double backoff_ceiling(const backoff *b);
void backoff_reset(backoff *b);
/* Uniform double in [0, 1) from the state. */
double backoff_uniform(backoff *b);

#endif
