/* store_rollup: the backend-neutral steps of rollup upkeep both store
 * backends share (docs/metrics.md): which hours a newly stored event makes
 * stale, and rebuilding a claimed set of dirty hours — each run of
 * consecutive hours in one call, then each day they touch once. The
 * backends keep what differs: how marks are written and hours claimed
 * (SQLite: one writer; PostgreSQL: advisory locks across replicas). */
#ifndef FERRY_COLLECTOR_STORE_ROLLUP_H
#define FERRY_COLLECTOR_STORE_ROLLUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* The hours [*ret_h0, *ret_h1) a newly stored event e makes stale, without
 * a next-event lookup: a superset that costs nothing to find. */
void sr_stale_hours(const ev_event *e, int64_t max_state_ms, int64_t *ret_h0, int64_t *ret_h1);

typedef struct sr_writer {
  void *ctx;
  /* Rebuild every rollup row of hours [h0, h1) from the events. */
  int (*write_hours)(void *ctx, int64_t h0, int64_t h1);
  /* Refill one day's rows from its hour rows. */
  int (*write_day)(void *ctx, int64_t day);
  /* Optional: *ret = whether an hour of day is still marked (write_hours
   * has unmarked the hours it rebuilt). Readers use a day's rows only when
   * none of its hours is marked, so such a day is left for the rebuild that
   * clears its last mark: after a backfill that marked every hour each day
   * is refilled once, not once per piece. NULL: every day touched is
   * refilled (PostgreSQL: replicas rebuild hours of one day side by side,
   * each would see the other's hours as still marked). */
  int (*day_pending)(void *ctx, int64_t day, bool *ret);
} sr_writer;

/* Rebuild hours[0..n) (ascending, distinct): runs of consecutive hours,
 * then their days in ascending order (so per-day locks never deadlock),
 * those day_pending leaves for later excepted.
 * Stops at the first failure and returns it; 0 when all were written. */
int sr_rebuild(const int64_t *hours, size_t n, const sr_writer *w);

#endif
