/* test_collector_mem_tune: the malloc settings the collector applies at
 * start hold — a block past the threshold is mapped on its own and given
 * back when freed, also after a larger block was freed (glibc's default
 * would have raised the threshold to it and kept the next such block in the
 * heap) — and the environment's own choice of threshold is respected. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mem_tune.h"

#if defined(__SANITIZE_ADDRESS__)
#define MT_NO_GLIBC_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MT_NO_GLIBC_MALLOC 1
#endif
#endif
#if !defined(__GLIBC__)
#define MT_NO_GLIBC_MALLOC 1
#endif

#ifndef MT_NO_GLIBC_MALLOC
#include <malloc.h>

static size_t mapped(void) { return mallinfo2().hblkhd; }

/* n bytes, touched: whether they were mapped on their own, and whether
 * freeing them gave the mapping back. */
static void block(size_t n, int *ret_mapped, int *ret_returned) {
  size_t m0 = mapped();
  volatile char *p = malloc(n);
  CHECK(p != NULL);
  if (!p) return;
  memset((char *)p, 1, n);
  *ret_mapped = mapped() >= m0 + n;
  free((char *)p);
  *ret_returned = mapped() <= m0;
}

static void test_threshold(void) {
  mt_applied ap;
  CHECK_EQ_INT(mt_apply(2, &ap), 0);
  CHECK_EQ_INT(ap.arenas, 2);
  if (mt_env_sets_mmap(getenv("MALLOC_MMAP_THRESHOLD_"), getenv("GLIBC_TUNABLES"))) {
    CHECK_EQ_INT((int)ap.mmap_threshold, 0);
    printf("test_collector_mem_tune: the environment sets the threshold; mapping checks skipped\n");
    return;
  }
  CHECK_EQ_INT((int)ap.mmap_threshold, MT_MMAP_THRESHOLD);
  int m = 0, back = 0;
  block(8u << 20, &m, &back); /* a big slice, freed */
  CHECK(m && back);
  /* the next block past the threshold: still its own mapping, still given back */
  block(3u << 20, &m, &back);
  CHECK(m && back);
  block(MT_MMAP_THRESHOLD * 2, &m, &back);
  CHECK(m && back);
  /* well under it: from the heap */
  block(MT_MMAP_THRESHOLD / 4, &m, &back);
  CHECK(!m);
}
#else
static void test_threshold(void) {
  mt_applied ap;
  (void)mt_apply(2, &ap); /* must not fail the start; nothing to observe */
  printf("test_collector_mem_tune: not glibc's malloc here; mapping checks skipped\n");
}
#endif

static void test_env(void) {
  CHECK(!mt_env_sets_mmap(NULL, NULL));
  CHECK(!mt_env_sets_mmap("", NULL));
  CHECK(mt_env_sets_mmap("262144", NULL));
  CHECK(mt_env_sets_mmap(NULL, "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=65536"));
  CHECK(!mt_env_sets_mmap(NULL, "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=65536"));
}

int main(void) {
  test_env();
  test_threshold();
  return check_finish("test_collector_mem_tune");
}
