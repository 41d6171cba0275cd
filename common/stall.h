/* stall: decide whether a piece of work is stuck, for the systemd watchdog.
 * A tracker watches one "pipe" (the journal's commit queue, the uploader,
 * the collector's writer): the caller samples it now and then with whether
 * work is waiting and a counter that advances when work completes. A pipe is
 * stalled when work has been waiting for longer than a limit without the
 * counter moving; an idle pipe is never stalled. Pure arithmetic over the
 * caller's clock, so it is testable without waiting. */
#ifndef FERRY_STALL_H
#define FERRY_STALL_H

#include <stdbool.h>
#include <stdint.h>

typedef struct stall_track {
  bool started;
  uint64_t last_count;
  uint64_t good_ms; /* last sample that was idle or showed progress */
} stall_track;

/* Record a sample at now_ms; returns how long (ms) work has been waiting
 * without progress, 0 when idle or progressing. The first sample counts as
 * progress. */
uint64_t stall_observe(stall_track *t, bool busy, uint64_t count, uint64_t now_ms);

#endif
