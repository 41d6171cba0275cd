/* rollup_query: the backend-neutral half of a store's metrics read (SPEC §3,
 * docs/metrics.md). A window is split by rollup_plan_window into whole days,
 * hours and exact edges; clean days and hours come from stored rollup rows,
 * hours still marked dirty are built from their events, the edges are
 * computed with metrics_compute, and everything is combined in a rollup_acc.
 * This module holds that plan walk once; a backend (store_sqlite_metrics.c,
 * store_pg_metrics.c) supplies the few reads it needs as callbacks. */
#ifndef FERRY_COLLECTOR_ROLLUP_QUERY_H
#define FERRY_COLLECTOR_ROLLUP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"
#include "rollup.h"
#include "rollup_site.h"
#include "rollup_slices.h"
#include "store.h"

typedef enum { RQ_WORKERS = 0, RQ_STATIONS = 1, RQ_TOTALS = 2 } rq_table;

/* Called by rq_backend.events with the events it read. */
typedef int (*rq_events_fn)(void *arg, const metrics_event *ev, const char *const *sites, size_t n);

typedef struct rq_backend {
  void *ctx; /* the backend's handle, passed to every callback */
  int64_t max_state_ms;
  char *err; /* the backend's error text (set on failures here) */
  size_t errlen;
  /* Every stored event with ts in [lo, hi) (only worker's when worker is not
   * NULL), handed to fn(arg, ...) while the backend holds them; returns fn's
   * result, or a negative errno with err set. */
  int (*events)(void *ctx, int64_t lo, int64_t hi, const char *worker, rq_events_fn fn, void *arg);
  /* Optional: the same read capped at a slice's worth of events
   * (rollup_slices.h). With it, the builds and edges below hold at most
   * slice_events events at a time (0: RSL_SLICE_EVENTS); without it, each
   * reads its whole range with events (one slice). */
  rsl_read_fn read_capped;
  size_t slice_events;
  /* Add the stored rows of table for [a, b) — days when days, else hours —
   * to acc (id: only that worker's or station's; unused for RQ_TOTALS). */
  int (*sum)(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id, rollup_acc *acc);
  /* The same from the site rows (rollup_site.h) passing f: RQ_WORKERS sums
   * cells, RQ_STATIONS site-station rows, RQ_TOTALS their events and units. */
  int (*sum_site)(void *ctx, rq_table table, bool days, int64_t a, int64_t b, const char *id,
                  const rsite_filter *f, rollup_acc *acc);
  /* The dirty hours in [h_lo, h_hi), ascending (malloc'd, caller frees). */
  int (*dirty_hours)(void *ctx, int64_t h_lo, int64_t h_hi, int64_t **ret, size_t *ret_n);
  /* One snapshot for the reads of a query (begin_read returns 0 or a
   * negative errno; end_read ends what begin_read opened). May be NULL. */
  int (*begin_read)(void *ctx, bool *ret_opened);
  void (*end_read)(void *ctx, bool opened);
  /* Optional: called with enter true before a query builds a piece of its
   * stale hours from their events, false after (the store's build_gate.h:
   * at most as many such builds at once as CPU cores). Not called by
   * rq_build_each's own users. */
  void (*build_turn)(void *ctx, bool enter);
} rq_backend;

/* The rollup rows (when use->buckets) and site rows (when use->site) of
 * hours [h0, h1), slice by slice (rollup_slices.h): each call gets one
 * slice's rows, valid for the call, and the rows of all calls add up, row by
 * row (same hour and ids: sum every field), to those of one build. One read
 * of the events serves both. */
typedef struct rq_build_use {
  int (*buckets)(void *u, const rollup_buckets *b);
  int (*site)(void *u, const rsite_rows *rows);
  void *u;
} rq_build_use;
int rq_build_each(const rq_backend *be, int64_t h0, int64_t h1, const char *worker, const rq_build_use *use);

/* The figures of q's window (the store_ops.metrics contract). */
int rq_metrics(const rq_backend *be, const st_metrics_query *q, metrics_result *ret);

#endif
