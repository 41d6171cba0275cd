/* metrics: the productivity figures of SPEC §3 "Metrics", computed exactly from
 * deduplicated events. This module is pure computation — no HTTP, no database,
 * no clock, no logging — so every storage backend (SQLite, PostgreSQL) and the
 * incremental layer (rollup.h) reuse one definition of the rules.
 *
 * The rules, as implemented here:
 *  - A worker's state events are put in timeline order: ts, then event_id, then
 *    agent_id, both in byte order (strcmp). A state event's interval is
 *    [ts, min(ts of that worker's next state event, ts + max_state)): equal ts
 *    make the earlier one last 0 ms; after the cap the worker has no state.
 *  - The interval belongs to the starting event's workstation; a state runs on
 *    past the time of the query (nothing here knows "now").
 *  - Durations are computed on the whole timeline, then cut to the window
 *    [from, to), in integer milliseconds.
 *  - A worker (workstation) is "in the window" when an event of it has ts in
 *    the window (a product_count naming a worker is that worker's event; any
 *    event naming a workstation is that workstation's), or when it has state
 *    time (absent included) of positive length inside the window.
 *  - Lists hold exactly the ids in the window, sorted by strcmp (UTF-8 byte
 *    order).
 *
 * Performance: metrics_compute is O(n log n) in the events it is given; give
 * it only the events metrics_fetch_range names. */
#ifndef FERRY_METRICS_H
#define FERRY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MS_PER_HOUR INT64_C(3600000)

/* Same numeric values as ev_type in common/event.h, so a cast converts. */
typedef enum {
  METRICS_WORKING = 0,
  METRICS_IDLE = 1,
  METRICS_ABSENT = 2,
  METRICS_PRODUCT_COUNT = 3
} metrics_type;

/* One deduplicated event as the store holds it. Strings are borrowed; the
 * caller keeps them alive for the duration of each call. */
typedef struct metrics_event {
  const char *event_id; /* NULL is read as "" */
  const char *agent_id; /* NULL is read as "" */
  int64_t ts_ms;        /* UTC ms */
  metrics_type type;
  const char *worker_id;      /* required for state events; may be NULL for product_count */
  const char *workstation_id; /* required */
  int64_t count;              /* product_count units; ignored on state events */
} metrics_event;

/* One state interval [start_ms, end_ms) of one worker. */
typedef struct metrics_interval {
  int64_t start_ms;
  int64_t end_ms;             /* ≥ start_ms; == start_ms for a tie loser or max_state 0 */
  metrics_type type;          /* METRICS_WORKING, _IDLE or _ABSENT */
  const char *workstation_id; /* borrowed from the starting event */
  size_t event_index;         /* index of the starting event in the input array */
} metrics_interval;

/* A plain time span, for metrics_union_ms. */
typedef struct metrics_span {
  int64_t start_ms;
  int64_t end_ms;
} metrics_span;

typedef struct metrics_worker {
  const char *worker_id; /* owned by the metrics_result */
  int64_t working_ms, idle_ms, absent_ms;
  int64_t units;          /* product_count with this worker_id and ts in the window */
  int64_t events;         /* this worker's events with ts in the window */
  double utilization_pct; /* 100·working/(working+idle); 0 when both are 0 */
  double units_per_hour;  /* units/(working h); 0 when working is 0 */
} metrics_worker;

typedef struct metrics_station {
  const char *workstation_id; /* owned by the metrics_result */
  int64_t occupancy_ms;       /* union of working-or-idle intervals at the station */
  int64_t working_ms;         /* union of working intervals at the station */
  int64_t units;              /* product_count at the station with ts in the window */
  int64_t events;             /* events naming the station with ts in the window */
  double utilization_pct;     /* 100·working/occupancy; 0 when occupancy is 0 */
  double units_per_hour;      /* units/(occupancy h); 0 when occupancy is 0 */
} metrics_station;

typedef struct metrics_factory {
  int64_t workers;            /* workers in the window */
  int64_t workstations;       /* workstations in the window */
  int64_t events;             /* deduplicated events with ts in the window */
  int64_t working_ms;         /* sum of workers' working_ms */
  int64_t units;              /* all product_count units in the window, no-worker ones included */
  double units_per_hour;      /* units / window hours */
  double avg_utilization_pct; /* mean utilization over workers with working+idle > 0; else 0 */
  double utilization_pct;     /* 100·Σworking/Σ(working+idle) over the workers; 0 when the sum is 0 */
} metrics_factory;

typedef struct metrics_result {
  int64_t from_ms, to_ms;
  metrics_worker *workers; /* sorted by worker_id (strcmp), exactly the workers in the window */
  size_t n_workers;
  metrics_station *stations; /* sorted by workstation_id (strcmp) */
  size_t n_stations;
  metrics_factory factory;
  char *ids_; /* private: storage of the id strings */
} metrics_result;

/* Timeline order of two events: ts_ms, then event_id, then agent_id (strcmp).
 * Returns <0, 0, >0. Worker ids are not compared. */
int metrics_event_cmp(const metrics_event *a, const metrics_event *b);

/* Derive the state intervals of ONE worker. evs: that worker's events, sorted
 * by metrics_event_cmp; product_count events among them are skipped (they
 * neither start nor end a state). Writes one interval per state event, in
 * order, to out (room for n) and returns how many it wrote. max_state_ms ≥ 0. */
size_t metrics_worker_intervals(const metrics_event *evs, size_t n, int64_t max_state_ms,
                                metrics_interval *out);

/* Length of the union of n spans (empty or inverted spans count 0). Sorts
 * spans in place by start. O(n log n). */
int64_t metrics_union_ms(metrics_span *spans, size_t n);

/* The events a window [from_ms, to_ms) needs: every event with ts in
 * [*ret_lo_ms, *ret_hi_ms) = [from − max_state, to). Why that is enough:
 *  - a state starting before from − max_state ends (by its cap) before from;
 *  - a state starting in [from − max_state, to) is cut at to; the event that
 *    ends it matters only when it comes before to (then it is in the range).
 *    A next state event at or after to cannot change min(next, cap, to), so
 *    "the first state event at or after to" need not be fetched.
 * Extra events outside the range are harmless. */
void metrics_fetch_range(int64_t from_ms, int64_t to_ms, int64_t max_state_ms, int64_t *ret_lo_ms,
                         int64_t *ret_hi_ms);

/* Compute all figures for the window [from_ms, to_ms) from the n deduplicated
 * events in evs (any order; at least those metrics_fetch_range names; extra
 * ones are fine). from_ms < to_ms, max_state_ms ≥ 0.
 * Returns 0 and fills *ret (free with metrics_result_clear), or -EINVAL (bad
 * window, unknown type, a state event without worker_id, an event without
 * workstation_id) or -ENOMEM; *ret is untouched on failure. */
int metrics_compute(const metrics_event *evs, size_t n, int64_t from_ms, int64_t to_ms, int64_t max_state_ms,
                    metrics_result *ret);

/* A part of the timeline, for computing a window piece by piece (the
 * events of a long or crowded range in bounded slices, rollup_query.c):
 * only events with ts in [lo_ms, hi_ms) are counted, and only state time
 * inside it. The events given must still decide every interval that
 * reaches into the clip: those with ts in the clip and, for each worker,
 * its last state event before lo_ms. The figures of consecutive clips add
 * up to those of their union (sums, and unions of station intervals cut
 * to disjoint pieces). */
typedef struct metrics_clip {
  int64_t lo_ms, hi_ms;
} metrics_clip;

/* metrics_compute counting only what falls in *clip (NULL: everything). The
 * lists then hold the ids with an event or positive state time in the clip;
 * the derived doubles are those of the clipped sums. */
int metrics_compute_clip(const metrics_event *evs, size_t n, int64_t from_ms, int64_t to_ms,
                         int64_t max_state_ms, const metrics_clip *clip, metrics_result *ret);

/* Releases what metrics_compute / rollup_combine filled in; takes NULL; leaves
 * *r zeroed. */
void metrics_result_clear(metrics_result *r);

/* Binary search of the sorted lists; NULL when the id is not in the window
 * (the HTTP layer answers zeros for a known id, 404 for one never seen). */
const metrics_worker *metrics_find_worker(const metrics_result *r, const char *worker_id);
const metrics_station *metrics_find_station(const metrics_result *r, const char *workstation_id);

/* ---- Shared with rollup.c only (module-internal, "metrics__" prefix). ---- */

/* Per-bucket sums for contiguous buckets [lo + k·width, lo + (k+1)·width),
 * k in [0, count): what metrics_compute needs with one bucket (the window) and
 * what rollup_build needs with hour buckets. Rows exist only for ids with an
 * event or positive state time in the bucket, sorted by (bucket, id). */
typedef struct metrics__wrow {
  size_t bucket, id; /* id indexes grid.worker_ids */
  int64_t working_ms, idle_ms, absent_ms, units, events;
} metrics__wrow;

typedef struct metrics__srow {
  size_t bucket, id; /* id indexes grid.station_ids */
  int64_t occupancy_ms, working_ms, units, events;
  int64_t state_ms; /* sum of state time of any type at the station (membership) */
} metrics__srow;

typedef struct metrics__grid {
  const char **worker_ids; /* sorted, unique, borrowed from the events */
  size_t n_worker_ids;
  const char **station_ids;
  size_t n_station_ids;
  metrics__wrow *w;
  size_t nw;
  metrics__srow *s;
  size_t ns;
  int64_t *bucket_events; /* [count]: all events with ts in the bucket */
  int64_t *bucket_units;  /* [count]: all product_count units, no-worker ones included */
  size_t count;
} metrics__grid;

int metrics__grid_compute(const metrics_event *evs, size_t n, int64_t max_state_ms, int64_t lo, int64_t width,
                          size_t count, metrics__grid *ret);
/* The same with every event in a group (group[i] < ngroups; rollup_site.c:
 * its (site, workstation)): worker rows are per (worker, group of the event
 * that started the state or of the event itself), row id = worker rank ·
 * ngroups + group; station rows are per group, row id = group. */
int metrics__grid_compute_grouped(const metrics_event *evs, size_t n, int64_t max_state_ms, int64_t lo,
                                  int64_t width, size_t count, const size_t *group, size_t ngroups,
                                  const metrics_clip *clip, metrics__grid *ret);
void metrics__grid_clear(metrics__grid *g);

/* Fill the derived doubles and the factory's workers, workstations,
 * working_ms, units_per_hour and avg_utilization_pct of a result whose sums,
 * lists (sorted) and factory events/units are set. One place, so the exact and
 * the rollup paths give bit-identical doubles. */
void metrics__derive(metrics_result *r);

#endif
