/* footprint: process-wide settings that bound the agent's resident memory —
 * glibc malloc arenas and trim/mmap thresholds, and the libuv threadpool
 * size — applied once at the top of main, before any thread exists.
 *
 * Why: every thread that mallocs gets its own glibc arena (up to 8 × cores),
 * each keeping freed memory around; large buffers (ingest bodies, upload
 * bodies, compression output) recycled through the heap keep the high-water
 * mark resident; and the libuv threadpool starts four threads where the
 * ingest parse needs about one per core. Figures in docs/benchmarks.md. */
#ifndef FERRY_AGENT_FOOTPRINT_H
#define FERRY_AGENT_FOOTPRINT_H

/* Threads in the libuv threadpool unless UV_THREADPOOL_SIZE is already set. */
#define FOOTPRINT_THREADPOOL_SIZE "2"
/* malloc arenas shared by all threads (the main arena included). */
#define FOOTPRINT_ARENA_MAX       2
/* Blocks at least this large are mmap'd and returned to the kernel on free. */
#define FOOTPRINT_MMAP_THRESHOLD  (128 * 1024)
/* Free memory at the top of the heap above this is returned to the kernel. */
#define FOOTPRINT_TRIM_THRESHOLD  (256 * 1024)

/* Apply the settings. Never fails (an unsupported setting is skipped). */
void footprint_apply(void);

#endif
