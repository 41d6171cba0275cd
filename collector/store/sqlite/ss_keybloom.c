/* ss_keybloom: see ss_keybloom.h. */
#include "ss_keybloom.h"

#include <errno.h>
#include <stdlib.h>

int ssb_init(ssk_bloom *b, uint64_t keys, size_t max_bytes) {
  size_t bytes = SSB_MIN_BYTES;
  while (bytes < max_bytes && (uint64_t)bytes * 8 < keys * 2 * SSB_BITS_PER_KEY) bytes *= 2;
  uint64_t *line = calloc(bytes / 8, 8);
  if (!line) return -ENOMEM;
  ssb_free(b);
  b->line = line;
  b->bytes = bytes;
  return 0;
}

/* The key's line and its four bits there (each 9 bits of a mixed key). */
static uint64_t ssb__mix(int64_t key) {
  uint64_t x = (uint64_t)key;
  x ^= x >> 33;
  x *= UINT64_C(0xff51afd7ed558ccd);
  x ^= x >> 33;
  x *= UINT64_C(0xc4ceb9fe1a85ec53);
  return x ^ (x >> 33);
}

void ssb_add(ssk_bloom *b, int64_t key) {
  if (!b->bytes) return;
  uint64_t x = ssb__mix(key), *w = b->line + ((x >> 36) & (b->bytes / 64 - 1)) * 8;
  for (int i = 0; i < 4; i++) {
    unsigned bit = (unsigned)(x >> (9 * i)) & 511;
    w[bit >> 6] |= UINT64_C(1) << (bit & 63);
  }
  b->keys++;
}

bool ssb_maybe(const ssk_bloom *b, int64_t key) {
  if (!b->bytes) return true;
  uint64_t x = ssb__mix(key);
  const uint64_t *w = b->line + ((x >> 36) & (b->bytes / 64 - 1)) * 8;
  for (int i = 0; i < 4; i++) {
    unsigned bit = (unsigned)(x >> (9 * i)) & 511;
    if (!(w[bit >> 6] & (UINT64_C(1) << (bit & 63)))) return false;
  }
  return true;
}

bool ssb_full(const ssk_bloom *b, size_t max_bytes) {
  return b->bytes && b->bytes < max_bytes && b->keys * SSB_BITS_PER_KEY > (uint64_t)b->bytes * 8;
}

void ssb_free(ssk_bloom *b) {
  free(b->line);
  b->line = NULL;
  b->bytes = 0;
  b->keys = 0;
}
