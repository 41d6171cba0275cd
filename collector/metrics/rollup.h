/* rollup: hour buckets that let the collector answer a 30-day metrics window
 * without rescanning its events. Pure functions, no database: the store keeps
 * the bucket rows in tables, asks this module which hours an insert makes
 * stale and what their rows now are, and combines rows with an exact
 * computation of the two partial edge hours. The combined figures equal
 * metrics_compute over the same events, bit for bit.
 *
 * Why the sums are additive: every figure is a sum over time of a quantity cut
 * to the window — state time per worker, event counts, units — or the length
 * of a union of intervals per station. Intervals cut to disjoint hours are
 * disjoint, so the union over a window is the sum of the per-hour unions.
 * Membership ("in the window") is an OR over the hours, kept as counts
 * (events) and sums (state time) whose sign is what matters.
 *
 * How a store uses it:
 *  - Persist three tables, one row per non-empty cell:
 *      worker_hour(hour, worker_id, working_ms, idle_ms, absent_ms, units, events)
 *      station_hour(hour, workstation_id, occupancy_ms, working_ms, units, events, state_ms)
 *      hour(hour, events, units)
 *    keyed by (hour, id) / hour.
 *  - On insert of newly stored events (duplicates change nothing): for each
 *    one, rollup_stale_hours with the ts of that worker's next state event in
 *    timeline order (looked up after the batch is in the store). Union the
 *    ranges; for each range [h0, h1): fetch events with ts in
 *    rollup_build_fetch_range(h0, h1), rollup_build them, and in the same
 *    transaction delete every bucket row with hour in [h0, h1) and insert the
 *    returned rows. A retention delete is handled the same way (next = the
 *    next state event left after the delete).
 *    The next-event lookup, in SQL with BINARY collation (memcmp = strcmp
 *    order): state events of the worker with (ts, event_id, agent_id) >
 *    (e.ts, e.event_id, e.agent_id), ORDER BY those, LIMIT 1. Instead of
 *    recomputing inside the ingest transaction a store may record the ranges
 *    as dirty hours and refresh them later, as long as a query first
 *    refreshes (or computes exactly, as edges) the dirty hours it reads.
 *  - Buckets depend on max_state: persist the max_state they were built with
 *    and rebuild them all when it changes. (A huge max_state makes stale
 *    ranges huge; the configuration should bound it.)
 *  - On a query [from, to): rollup_plan_window; sum the bucket rows with hour
 *    in [plan.h_lo, plan.h_hi) (rows are additive, so SQL SUM ... GROUP BY id
 *    may pre-aggregate them, or the rows can be streamed); metrics_compute each
 *    plan edge on the events in its fetch range; rollup_combine (or the
 *    rollup_acc_* calls) gives the figures. */
#ifndef FERRY_ROLLUP_H
#define FERRY_ROLLUP_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

#define ROLLUP_HOUR_MS METRICS_MS_PER_HOUR

/* Bucket rows. Plain integers and one id string, so each is a table row. The
 * id strings of rows filled by rollup_build belong to the rollup_buckets;
 * rows passed in by a store may point anywhere for the duration of the call. */
typedef struct rollup_worker_hour {
  int64_t hour; /* hour index: floor(ts_ms / ROLLUP_HOUR_MS) */
  const char *worker_id;
  int64_t working_ms; /* state time cut to the hour */
  int64_t idle_ms;
  int64_t absent_ms;
  int64_t units;  /* product_count naming the worker, ts in the hour */
  int64_t events; /* the worker's events with ts in the hour (has_event = events > 0) */
} rollup_worker_hour;

typedef struct rollup_station_hour {
  int64_t hour;
  const char *workstation_id;
  int64_t occupancy_ms; /* union of all workers' working-or-idle time at the station, in the hour */
  int64_t working_ms;   /* union of working time, in the hour */
  int64_t units;        /* product_count at the station, ts in the hour */
  int64_t events;       /* events naming the station, ts in the hour */
  int64_t state_ms;     /* sum of all workers' state time of any type (absent included) at
                            the station in the hour; only "> 0" is used (membership) */
} rollup_station_hour;

typedef struct rollup_hour {
  int64_t hour;
  int64_t events; /* all deduplicated events with ts in the hour */
  int64_t units;  /* all product_count units, no-worker ones included */
} rollup_hour;

/* The rows of the hours [h0, h1); only non-empty rows are present. Sorted by
 * (hour, id). */
typedef struct rollup_buckets {
  int64_t h0, h1;
  rollup_worker_hour *workers;
  size_t n_workers;
  rollup_station_hour *stations;
  size_t n_stations;
  rollup_hour *hours;
  size_t n_hours;
  char *ids_; /* private: storage of the id strings */
} rollup_buckets;

/* floor(ts_ms / ROLLUP_HOUR_MS), also for negative ts. */
int64_t rollup_hour_of(int64_t ts_ms);
/* floor(hour / 24): the UTC day of an hour index. */
int64_t rollup_day_of_hour(int64_t hour);

/* The events rollup_build needs for the hours [h0, h1): ts in
 * [*ret_lo_ms, *ret_hi_ms) (metrics_fetch_range of the hours' span). */
void rollup_build_fetch_range(int64_t h0, int64_t h1, int64_t max_state_ms, int64_t *ret_lo_ms,
                              int64_t *ret_hi_ms);

/* (a) Compute the bucket rows of the hours [h0, h1) (h0 < h1) from the
 * deduplicated events evs (at least those rollup_build_fetch_range names, any
 * order). Returns 0 and fills *ret (free with rollup_buckets_clear), or
 * -EINVAL / -ENOMEM with *ret untouched. */
int rollup_build(const metrics_event *evs, size_t n, int64_t max_state_ms, int64_t h0, int64_t h1,
                 rollup_buckets *ret);
/* The same counting only what falls in *clip (metrics.h): the rows of one
 * slice of the hours' events; the rows of consecutive slices add up, row by
 * row, to those of one build. */
int rollup_build_clip(const metrics_event *evs, size_t n, int64_t max_state_ms, int64_t h0, int64_t h1,
                      const metrics_clip *clip, rollup_buckets *ret);
void rollup_buckets_clear(rollup_buckets *b);

/* (b) The hours [*ret_h0, *ret_h1) whose buckets a newly stored event e makes
 * stale (also right for a deleted e). For a product_count: its hour. For a
 * state event: from its hour to the hour holding the end of its own interval,
 * min(next, ts + max_state), where next_state_ts_ms is the ts of the same
 * worker's next state event after e in timeline order (NULL: none, or not
 * looked up — then ts + max_state, a superset).
 * The previous state event's interval is shortened (or lengthened, on delete)
 * only inside [e.ts, min(next, e.ts + max_state)) — it started at or before
 * e.ts and its cap is no later than e's — so the range starts at e's hour, not
 * at the previous event's. */
void rollup_stale_hours(const metrics_event *e, const int64_t *next_state_ts_ms, int64_t max_state_ms,
                        int64_t *ret_h0, int64_t *ret_h1);

/* A query window split into whole hours (from buckets) and up to two partial
 * edges (computed exactly). */
typedef struct rollup_edge {
  int64_t from_ms, to_ms;           /* the edge window, for metrics_compute */
  int64_t fetch_lo_ms, fetch_hi_ms; /* its events: ts in [fetch_lo_ms, fetch_hi_ms) */
} rollup_edge;

typedef struct rollup_plan {
  int64_t from_ms, to_ms;
  int64_t h_lo, h_hi;   /* bucket hours [h_lo, h_hi); empty when equal */
  int64_t d_lo, d_hi;   /* whole UTC days [d_lo, d_hi) inside [h_lo, h_hi) (day =
                            floor(hour / 24)); empty when equal. Optional: a store
                            that also keeps day rows — each the sum of its day's 24
                            hour rows, refreshed with them — reads those days from
                            the day rows and only the hours [h_lo, 24·d_lo) and
                            [24·d_hi, h_hi) from hour rows, through rollup_acc. */
  size_t n_edges;       /* 0, 1 or 2 */
  rollup_edge edges[2]; /* in time order */
} rollup_plan;

/* Split [from_ms, to_ms) (from < to). A window without a whole hour in it is
 * one edge covering all of it. Returns 0 or -EINVAL. */
int rollup_plan_window(int64_t from_ms, int64_t to_ms, int64_t max_state_ms, rollup_plan *ret);

/* (c) Combine: the figures of plan's window from the bucket rows (rows whose
 * hour is outside [plan.h_lo, plan.h_hi) are ignored; rows may be NULL when
 * the plan has no whole hour) and the metrics_compute results of plan's edges,
 * in order (edge windows must match the plan: -EINVAL otherwise). Equals
 * metrics_compute over the whole window. *ret is freed with
 * metrics_result_clear. Cost O(rows + ids·log ids). */
int rollup_combine(const rollup_plan *plan, const rollup_buckets *rows, const metrics_result *edges,
                   size_t n_edges, metrics_result *ret);

/* The same combination, streamed: for a store that reads rows one by one, or
 * pre-aggregated (SUM ... GROUP BY id — rows are additive, the hour field is
 * not read). The caller picks the rows; nothing is filtered by hour here. */
typedef struct rollup_acc rollup_acc;
rollup_acc *rollup_acc_new(void);                                        /* NULL on ENOMEM */
int rollup_acc_add_worker(rollup_acc *a, const rollup_worker_hour *row); /* 0 / -ENOMEM */
int rollup_acc_add_station(rollup_acc *a, const rollup_station_hour *row);
void rollup_acc_add_hour(rollup_acc *a, const rollup_hour *row);
int rollup_acc_add_result(rollup_acc *a, const metrics_result *edge); /* all its entries are members */
/* Produce the figures of [from_ms, to_ms); the accumulator stays usable only
 * for rollup_acc_free. */
int rollup_acc_finish(rollup_acc *a, int64_t from_ms, int64_t to_ms, metrics_result *ret);
rollup_acc *rollup_acc_free(rollup_acc *a); /* takes NULL, returns NULL */

#endif
