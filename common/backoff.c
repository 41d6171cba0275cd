/* backoff: how long to wait before the next upload attempt. Full jitter
 * spreads a fleet of agents that all lost the collector at the same moment
 * so they do not return in lockstep; the Retry-After rule honours a server
 * that says when to come back, bounded by our own --retry-max. Pure
 * arithmetic on caller-owned state: deterministic for a given seed. */
#include "backoff.h"

#include <limits.h>
#include <math.h>

#define BACKOFF_SEED_DEFAULT UINT64_C(0x9E3779B97F4A7C15)
#define BACKOFF_RA_JITTER    0.1 /* Retry-After gets at most 10 % on top */

void backoff_init(backoff *b, double initial_s, double max_s, uint64_t seed) {
  /* nonsense bounds are made harmless rather than rejected: the option
   * table already enforces sane ranges */
  if (!(initial_s >= 0) || isinf(initial_s)) initial_s = 0;
  if (!(max_s >= 0) || isinf(max_s)) max_s = 0;
  b->initial_s = initial_s;
  b->max_s = max_s;
  b->attempt = 0;
  b->rng = seed ? seed : BACKOFF_SEED_DEFAULT; /* xorshift state must never be 0 */
}

/* xorshift64*: small, fast, good enough for jitter (not for secrets). */
static uint64_t next_u64(backoff *b) {
  uint64_t x = b->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  b->rng = x;
  return x * UINT64_C(0x2545F4914F6CDD1D);
}

double backoff_uniform(backoff *b) {
  return (double)(next_u64(b) >> 11) * (1.0 / 9007199254740992.0); /* 53 bits / 2^53 */
}

double backoff_ceiling(const backoff *b) {
  double c = b->initial_s;
  if (c <= 0) return 0;
  /* doubling stops at max, so this never overflows and ends within ~2100
   * steps even for a huge attempt count */
  for (unsigned i = 0; i < b->attempt && c < b->max_s; i++) c *= 2;
  return c < b->max_s ? c : b->max_s;
}

static void advance(backoff *b) {
  if (b->attempt < UINT_MAX) b->attempt++;
}

double backoff_next(backoff *b) {
  double d = backoff_uniform(b) * backoff_ceiling(b);
  advance(b);
  return d;
}

double backoff_at_max(backoff *b) {
  double d = backoff_uniform(b) * b->max_s;
  advance(b);
  return d;
}

double backoff_retry_after(backoff *b, double ra_s) {
  if (!(ra_s >= 0)) ra_s = 0; /* NaN or negative: no wait asked */
  double base = ra_s < b->max_s ? ra_s : b->max_s;
  double d = base * (1.0 + BACKOFF_RA_JITTER * backoff_uniform(b));
  advance(b);
  return d;
}

void backoff_reset(backoff *b) { b->attempt = 0; }
