/* xorshift: the seeded generator the unit tests draw their random cases from
 * (Marsaglia's xorshift64): a test keeps its own state, so the same seed
 * gives the same cases on every run and every machine. */
#ifndef FERRY_TEST_XORSHIFT_H
#define FERRY_TEST_XORSHIFT_H

#include <stdint.h>

static inline uint64_t xorshift64(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

#endif
