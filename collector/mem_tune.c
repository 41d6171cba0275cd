/* mem_tune: see mem_tune.h. */
#include "mem_tune.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

bool mt_env_sets_mmap(const char *mmap_env, const char *tunables) {
  return (mmap_env && *mmap_env) || (tunables && strstr(tunables, "glibc.malloc.mmap_threshold="));
}

int mt_apply(int64_t arenas, mt_applied *ret) {
  memset(ret, 0, sizeof(*ret));
  int r = 0;
#if defined(__GLIBC__) && defined(M_ARENA_MAX) && defined(M_MMAP_THRESHOLD)
  if (arenas > 0 || !getenv("MALLOC_ARENA_MAX")) { /* else glibc applied it at start */
    int n = arenas > 0 ? (int)arenas : 2;
    if (mallopt(M_ARENA_MAX, n) == 1) ret->arenas = n;
    else r = -EINVAL;
  }
  if (!mt_env_sets_mmap(getenv("MALLOC_MMAP_THRESHOLD_"), getenv("GLIBC_TUNABLES"))) {
    /* a fixed threshold also ends glibc's raising it (and the trim
     * threshold with it) after each large free */
    if (mallopt(M_MMAP_THRESHOLD, MT_MMAP_THRESHOLD) == 1) ret->mmap_threshold = MT_MMAP_THRESHOLD;
    else r = -EINVAL;
  }
#else
  (void)arenas;
#endif
  return r;
}
