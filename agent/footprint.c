/* footprint: see footprint.h. Kept apart from main.c so the memory policy is
 * one short file to read and to tune. */
#include "footprint.h"

#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

void footprint_apply(void) {
  /* libuv reads this when the threadpool starts (the first uv_queue_work) */
  setenv("UV_THREADPOOL_SIZE", FOOTPRINT_THREADPOOL_SIZE, 0);
#ifdef __GLIBC__
  /* Setting the thresholds explicitly also turns off glibc's dynamic mmap
   * threshold, which would otherwise rise to the largest block freed (an
   * upload body) and keep such blocks on the heap from then on. */
  mallopt(M_ARENA_MAX, FOOTPRINT_ARENA_MAX);
  mallopt(M_MMAP_THRESHOLD, FOOTPRINT_MMAP_THRESHOLD);
  mallopt(M_TRIM_THRESHOLD, FOOTPRINT_TRIM_THRESHOLD);
#endif
}
