/* mem_tune: the glibc malloc settings the collector applies at start, before
 * any thread: how many arenas its threads share, and a fixed size from which
 * an allocation gets its own mapping (returned to the system when freed).
 * Why: a query's stale-hour build beside the writer's rebuild allocates
 * slices of events of a few MiB each; with glibc's default the mmap
 * threshold grows to the largest block freed, so those slices moved into
 * the heap and the holes they left between the page caches' pages stayed
 * resident: up to 62 of the collector's 133 MiB at the peak after a 10M-event
 * backfill were free heap (docs/benchmarks.md, "Collector memory
 * right after a backfill"). */
#ifndef FERRY_COLLECTOR_MEM_TUNE_H
#define FERRY_COLLECTOR_MEM_TUNE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Blocks of at least this many bytes are mapped on their own: a slice's
 * largest arrays are; an ingest batch's buffers (a few hundred KiB for 1,000
 * events) stay in the heap — at 128 KiB, mapping and faulting them in again
 * for every batch cost about 0.5 µs of CPU per ingested event. */
#define MT_MMAP_THRESHOLD (1024 * 1024)

typedef struct mt_applied {
  int arenas;            /* the arena limit set (0: none set here) */
  size_t mmap_threshold; /* the threshold set (0: none set here) */
} mt_applied;

/* Whether the environment already chose the mmap threshold (glibc applies
 * MALLOC_MMAP_THRESHOLD_ and GLIBC_TUNABLES' glibc.malloc.mmap_threshold
 * itself at start): each argument is that variable's value or NULL. */
bool mt_env_sets_mmap(const char *mmap_env, const char *tunables);

/* Apply the settings: arenas from the malloc-arenas option (0 = 2, unless
 * MALLOC_ARENA_MAX is set), the mmap threshold unless the environment chose
 * one. Returns 0, or -EINVAL when glibc refused one (the rest applied);
 * *ret says what was set. A no-op returning 0 where malloc is not glibc's. */
int mt_apply(int64_t arenas, mt_applied *ret);

#endif
