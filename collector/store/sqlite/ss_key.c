/* ss_key: see ss_key.h. */
#include "ss_key.h"

#define SS_KEY_LOW_BITS 40
#define SS_KEY_LOW_MASK ((UINT64_C(1) << SS_KEY_LOW_BITS) - 1)
#define SS_KEY_DIGITS   12 /* 10^12 < 2^40 */

static uint64_t ss__fnv(uint64_t h, const char *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= UINT64_C(1099511628211);
  }
  return h;
}

int64_t ss_key64(const char *agent_id, size_t agent_len, const char *event_id, size_t event_len) {
  size_t d = event_len; /* start of the trailing digits */
  while (d > 0 && event_id[d - 1] >= '0' && event_id[d - 1] <= '9') d--;
  uint64_t h = ss__fnv(UINT64_C(1469598103934665603), agent_id, agent_len);
  h = ss__fnv(h, "", 1); /* the NUL between the two ids */
  h = ss__fnv(h, event_id, d);
  if (d == event_len) return (int64_t)(h ^ (h >> 29)); /* no trailing digits: the whole hash */
  size_t from = event_len - d > SS_KEY_DIGITS ? event_len - SS_KEY_DIGITS : d;
  uint64_t low = 0;
  for (size_t i = from; i < event_len; i++) low = low * 10 + (uint64_t)(event_id[i] - '0');
  /* fold the hash into 24 bits (the high bits of FNV mix best) */
  uint64_t top = (h ^ (h >> 24) ^ (h >> 48)) >> SS_KEY_LOW_BITS;
  return (int64_t)((top << SS_KEY_LOW_BITS) | (low & SS_KEY_LOW_MASK));
}
