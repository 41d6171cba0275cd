/* sizes.h: configured byte counts are int64_t (options go up to TiB), memory
 * bounds are size_t. On 32-bit targets a plain cast wraps (4GiB becomes 0, a
 * bound that refuses everything); size_from_i64() saturates instead. */
#ifndef FERRY_SIZES_H
#define FERRY_SIZES_H

#include <stddef.h>
#include <stdint.h>

/* v as a size_t: 0 when negative, SIZE_MAX when it does not fit. */
static inline size_t size_from_i64(int64_t v) {
  if (v <= 0) return 0;
#if SIZE_MAX < INT64_MAX
  if (v > (int64_t)SIZE_MAX) return SIZE_MAX;
#endif
  return (size_t)v;
}

#endif
